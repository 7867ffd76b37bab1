// A bounded map that empties itself when its storage says something changed underneath it: the
// caches in Deps are these, each given the version source of the storage it fronts (SQLite's
// data_version for other processes' commits; a cluster's would be its bus).
import type { Cache } from "../ports/stores";

export class VersionedCache<K, V> implements Cache<K, V> {
  private readonly entries = new Map<K, V>();
  private seen: number;

  /**
   * @param version changes whenever entries may be stale (read on every get, so it must be cheap)
   * @param maxEntries past it the cache starts over (a miss is one indexed query)
   */
  constructor(
    private readonly version: () => number,
    private readonly maxEntries: number,
  ) {
    this.seen = version();
  }

  get(key: K): V | undefined {
    const version = this.version();
    if (version !== this.seen) {
      this.entries.clear();
      this.seen = version;
    }
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) this.entries.clear();
    this.entries.set(key, value);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
