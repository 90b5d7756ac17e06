// Keys that expire (request nonces, one-time login codes, page sessions), in memory:
// the file store keeps them here and in its claims log. Expired keys are swept every
// few seconds so a flood of requests cannot grow the map past what the clock window
// allows.

/** A set of keys, each with an expiry time. */
export class Ephemeral {
  private readonly keys = new Map<string, number>();
  private readonly sweep: NodeJS.Timeout;

  constructor(sweepEveryMs = 5000) {
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [k, exp] of this.keys) if (exp <= now) this.keys.delete(k);
    }, sweepEveryMs);
    this.sweep.unref();
  }

  /** How many keys are held (expired ones not yet swept included). */
  get size(): number {
    return this.keys.size;
  }

  /** Adds key unless it is there and not expired; true when added. */
  claim(key: string, expiresAtMs: number): boolean {
    if (this.holds(key)) return false;
    this.keys.set(key, expiresAtMs);
    return true;
  }

  /** Sets key as a log replays it (no check). */
  load(key: string, expiresAtMs: number): void {
    this.keys.set(key, expiresAtMs);
  }

  /** Removes key; true when it was there and not expired. */
  take(key: string): boolean {
    const held = this.holds(key);
    this.keys.delete(key);
    return held;
  }

  /** Whether key is there and not expired. */
  holds(key: string): boolean {
    const exp = this.keys.get(key);
    return exp !== undefined && exp > Date.now();
  }

  /** The keys not yet expired, with their expiry. */
  *entries(): IterableIterator<[string, number]> {
    const now = Date.now();
    for (const [k, exp] of this.keys) if (exp > now) yield [k, exp];
  }

  close(): void {
    clearInterval(this.sweep);
  }
}
