// Input errors — from the Wasm core's E_* counters and from the JS edge
// (unreadable files, corrupt gzip, unknown formats) — are counted by kind and
// reported rate-limited: the first occurrence of a kind immediately with its
// byte offset, then at most one update per kind per interval, then a final
// summary. A flood of garbage never floods the log.
import type { Log } from './logger.ts';
import { COUNTERS } from '../core/counters.ts';
import type { WasmCore } from '../core/wasm-core.ts';

const CORE_ERRORS = COUNTERS.filter((c) => c.isError);

export class InputErrorReporter {
  private readonly seen = new Map<string, number>();
  private readonly lastLogAt = new Map<string, number>();
  private readonly edgeCounts = new Map<string, number>();

  constructor(
    private readonly log: Log,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** An error found outside the core (file level). */
  edgeError(kind: string, input: string, detail: Record<string, unknown> = {}): void {
    const n = (this.edgeCounts.get(kind) ?? 0) + 1;
    this.edgeCounts.set(kind, n);
    this.maybeLog(kind, n, { input, ...detail });
  }

  /** Look at the core's error counters after a batch; log new kinds and rate-limited updates. */
  checkCore(core: WasmCore, input: string): void {
    for (const def of CORE_ERRORS) {
      const v = core.counterAt(def.index);
      if (v === 0 || v === this.seen.get(def.name)) continue;
      this.seen.set(def.name, v);
      const off = core.errorOffsets(def.index);
      this.maybeLog(def.name, v, { input, description: def.description, first_offset: off.first, last_offset: off.last });
    }
  }

  private maybeLog(kind: string, count: number, detail: Record<string, unknown>): void {
    const t = this.now();
    const last = this.lastLogAt.get(kind);
    if (last !== undefined && t - last < this.intervalMs) return;
    this.lastLogAt.set(kind, t);
    this.log.warn({ kind, count, ...detail }, count === 1 || last === undefined ? `input error: ${kind}` : `input error: ${kind} (repeated)`);
  }

  /** Every error kind with its count (core + edge). */
  totals(core?: WasmCore): Record<string, number> {
    const out: Record<string, number> = {};
    if (core) for (const def of CORE_ERRORS) { const v = core.counterAt(def.index); if (v) out[def.name] = v; }
    for (const [k, v] of this.edgeCounts) out[k] = (out[k] ?? 0) + v;
    return out;
  }
}
