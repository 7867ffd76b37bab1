// Reproducible property tests: every fc.assert takes its seed from here, FC_SEED when set (CI may pin
// it, a developer replays a failure with it), else a random one; either way it is printed first.
import fc from "fast-check";

export function propertyParams<T>(name: string, params: fc.Parameters<T> = {}): fc.Parameters<T> {
  const fromEnv = process.env.FC_SEED;
  const seed = fromEnv !== undefined && fromEnv !== "" ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed)) throw new Error(`FC_SEED must be an integer, got "${fromEnv}"`);
  console.log(`[property] ${name}: seed ${seed} (replay with FC_SEED=${seed})`);
  return { ...params, seed };
}
