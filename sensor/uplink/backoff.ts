// Reconnect delays: exponential with full jitter (a uniform draw between 0
// and the capped exponential), so a fleet of sensors that lost the same
// aggregator does not come back in lock step when it returns.

export interface BackoffOptions {
  /** the cap of the first delay (default 250 ms) */
  initialMs?: number;
  /** the largest cap (default 30 s) */
  maxMs?: number;
  /** uniform in [0, 1): injectable so tests are deterministic (default Math.random) */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 250;
    this.maxMs = opts.maxMs ?? 30_000;
    this.random = opts.random ?? Math.random;
  }

  /** The delay before the next attempt; each call doubles the cap, up to maxMs. */
  next(): number {
    const cap = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * cap);
  }

  /** A connection that worked: the next failure starts from the first delay again. */
  reset(): void {
    this.attempt = 0;
  }
}
