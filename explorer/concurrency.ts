/** A counting gate: at most `limit` jobs at once; a job over the limit is refused at once, not queued. */

export class SlotsBusyError extends Error {
  constructor(readonly limit: number, readonly retryAfterSeconds: number) {
    super(`all ${limit} slots are busy; retry in ${retryAfterSeconds} s`);
    this.name = "SlotsBusyError";
  }
}

export class ConcurrencyLimiter {
  private running = 0;
  /** Mean duration of recent jobs (ms), for Retry-After; null until one finished. */
  private meanMs: number | null = null;

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
  }

  get active(): number {
    return this.running;
  }

  /** Seconds a refused caller should wait: the recent mean job time, 1..60 s (5 s before any job finished). */
  retryAfterSeconds(): number {
    if (this.meanMs === null) return 5;
    return Math.min(60, Math.max(1, Math.ceil(this.meanMs / 1000)));
  }

  /** Run `job` in a free slot, or throw SlotsBusyError when all are taken. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) throw new SlotsBusyError(this.limit, this.retryAfterSeconds());
    this.running++;
    const started = Date.now();
    try {
      return await job();
    } finally {
      this.running--;
      const took = Date.now() - started;
      this.meanMs = this.meanMs === null ? took : 0.7 * this.meanMs + 0.3 * took;
    }
  }
}
