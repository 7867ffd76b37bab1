// Password hashing: argon2id through Bun.password, with a cap on concurrent hashes so a login
// flood queues instead of exhausting memory (each hash holds memoryCost KiB while it runs).

let memoryCost = 19_456; // KiB; OWASP's minimum for argon2id with t=2, p=1
const timeCost = 2;
let maxConcurrent = 4;
let running = 0;
const waiting: (() => void)[] = [];

export function configurePasswords(options: { memoryKib: number; maxConcurrent?: number }) {
  memoryCost = options.memoryKib;
  if (options.maxConcurrent) maxConcurrent = options.maxConcurrent;
}

async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= maxConcurrent) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export const hashPassword = (password: string) =>
  withSlot(() => Bun.password.hash(password, { algorithm: "argon2id", memoryCost, timeCost }));

export const verifyPassword = (password: string, hash: string) =>
  withSlot(() => Bun.password.verify(password, hash).catch(() => false));

// Verified against when the user does not exist, so both failures cost one hash.
let dummyHash: Promise<string> | undefined;
export const dummyPasswordHash = () => (dummyHash ??= hashPassword("not-a-real-password-" + crypto.randomUUID()));
