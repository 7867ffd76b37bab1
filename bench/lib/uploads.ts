// The bytes and the memory watch W11 uses for our server and for its bare-Bun baseline alike.
import { memory } from "./util";

const BLOCK = 64 * 1024;

/** `count` distinct files of `size` bytes: a random 64 KiB block repeated, stamped per file and round. */
export function makeFiles(count: number, size: number, round: number): Uint8Array<ArrayBuffer>[] {
  const block = crypto.getRandomValues(new Uint8Array(Math.min(BLOCK, size)));
  return Array.from({ length: count }, (_, i) => {
    const b = new Uint8Array(size);
    for (let o = 0; o < size; o += block.byteLength) b.set(block.subarray(0, Math.min(block.byteLength, size - o)), o);
    // Distinct bytes so no two uploads share a hash (rounds included), at both ends of the file.
    b[0] = i;
    b[1] = round;
    b[size - 1] = i;
    return b;
  });
}

export const sha256 = (bytes: Uint8Array | ArrayBuffer) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

/** Wall time of `fn`, and the highest VmRSS of `pid` seen every 20 ms while it ran. */
export async function watched<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; ms: number; peakRss: number }> {
  let peakRss = memory(pid).rss;
  const poll = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, memory(pid).rss);
    } catch {}
  }, 20);
  const t0 = performance.now();
  try {
    const value = await fn();
    return { value, ms: performance.now() - t0, peakRss: Math.max(peakRss, memory(pid).rss) };
  } finally {
    clearInterval(poll);
  }
}

