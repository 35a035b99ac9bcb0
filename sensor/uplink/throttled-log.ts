// Log lines of one kind at most once per interval: the first at once, the
// next after the interval with how many were held back. An aggregator that
// is down for an hour is one line per interval, not one per reconnect.
import type { Log } from '../log/logger.ts';

export class ThrottledLog {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(private readonly log: Log, private readonly intervalMs: number, private readonly now: () => number = Date.now) {}

  warn(kind: string, detail: Record<string, unknown>, msg: string): void { this.emit('warn', kind, detail, msg); }
  error(kind: string, detail: Record<string, unknown>, msg: string): void { this.emit('error', kind, detail, msg); }

  private emit(level: 'warn' | 'error', kind: string, detail: Record<string, unknown>, msg: string): void {
    const t = this.now();
    const prev = this.last.get(kind);
    if (prev && t - prev.at < this.intervalMs) { prev.held++; return; }
    this.last.set(kind, { at: t, held: 0 });
    this.log[level]({ ...detail, ...(prev?.held ? { held_back: prev.held } : {}) }, msg);
  }
}
