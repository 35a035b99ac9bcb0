// Main-thread side of the writer thread: ships batches of raw flow records
// (one copy of the core's output region per batch, transferred, not cloned)
// and bounds the queue — when the writer falls behind, the packet path waits
// instead of buffering without limit.
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BUNDLED, PACKAGE_ROOT } from '../core/package-root.ts';
import type { WriterDone, WriterInit, WriterMessage } from './flow-writer-thread.ts';
import type { SinkCounters } from './fd-write.ts';

import { REC_SIZE } from '../core/flow-record.ts';
import type { ReporterIds } from '../flowlogs/flow-event.ts';

// Records per message to the writer (the core drains after every chunk, often only a few records).
import { BATCH_RECORDS } from './flow-batch.ts';
/** At most this many batches (4096 × 224 B = 896 KiB each) wait for the writer; the ring has one slot more. */
const MAX_IN_FLIGHT = 8;
/**
 * The writer needs little heap (a 4 MiB line buffer, the batch in hand): a
 * small old generation makes V8 collect the transferred batches promptly
 * instead of letting RSS creep up with the length of the input (measured:
 * 2 M flow records, peak RSS 209 → see README).
 */
const WRITER_LIMITS = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 };
/** A partial batch older than this is sent anyway, so a live pipe sees flows promptly. */
const MAX_BATCH_AGE_MS = 200;

export class ThreadedFlowSink {
  private readonly worker: Worker;
  private readonly fd: number;
  private readonly ownsFd: boolean;
  private readonly inFlight: Int32Array;
  private readonly finished: Promise<WriterDone>;
  /**
   * Batches live in a ring shared with the writer: MAX_IN_FLIGHT + 1 slots,
   * so the slot being filled is never one the writer still reads. Fixed
   * memory, no buffer per batch for either heap to collect.
   */
  private readonly ring = new SharedArrayBuffer((MAX_IN_FLIGHT + 1) * BATCH_RECORDS * REC_SIZE);
  private slot = 0;
  private pending = new Uint8Array(this.ring, 0, BATCH_RECORDS * REC_SIZE);
  private pendingCount = 0;
  private pendingSince = 0;
  private ageTimer: NodeJS.Timeout | null = null;

  private readonly reporters: ReporterIds | undefined;
  private reportersSent = 0;

  /** `reporters`: names of the reporter ids on records of flow-record sources (sent along as they appear) */
  constructor(readonly target: string, opts: { localNets?: string[]; communityIdSeed?: number; reporters?: ReporterIds } = {}) {
    this.reporters = opts.reporters;
    // Opened here so a bad path fails at once, in the caller's thread.
    if (target === '-') { this.fd = 1; this.ownsFd = false; }
    else { this.fd = openSync(target, 'w'); this.ownsFd = true; }
    const shared = new SharedArrayBuffer(4);
    this.inFlight = new Int32Array(shared);
    const init: WriterInit = { fd: this.fd, localNets: opts.localNets, communityIdSeed: opts.communityIdSeed, inFlight: shared, ring: this.ring };
    // The bundled CLI starts the bundled writer (plain JS, quick to start);
    // from the TypeScript sources the writer is loaded through tsx.
    this.worker = BUNDLED
      ? new Worker(join(PACKAGE_ROOT, 'build', 'js', 'sinks', 'flow-writer-thread.mjs'), { workerData: { flowWriter: init }, resourceLimits: WRITER_LIMITS })
      : new Worker(join(PACKAGE_ROOT, 'sensor', 'core', 'ts-worker.mjs'), {
        workerData: { entry: new URL('./flow-writer-thread.ts', import.meta.url).href, flowWriter: init },
        resourceLimits: WRITER_LIMITS,
      });
    this.finished = new Promise((resolve, reject) => {
      this.worker.on('message', (m: WriterDone) => { if (m.type === 'done') resolve(m); });
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`flow writer thread exited (${code}) before finishing`)));
    });
    // A rejection before close() is awaited must not crash the process.
    this.finished.catch(() => {});
  }

  /** Copy `count` raw records (a view the caller reuses) into the current batch. */
  writeBatch(records: Uint8Array, count: number): void {
    let done = 0;
    while (done < count) {
      if (this.pendingCount === 0) this.startBatch();
      const take = Math.min(count - done, BATCH_RECORDS - this.pendingCount);
      this.pending.set(records.subarray(done * REC_SIZE, (done + take) * REC_SIZE), this.pendingCount * REC_SIZE);
      this.pendingCount += take;
      done += take;
      if (this.pendingCount === BATCH_RECORDS) this.send();
    }
  }

  /**
   * A new batch starts its clock. The timer sends it when input goes quiet (a
   * live pipe between packets); flushIfStale covers a busy input whose reads
   * never give timers a turn.
   */
  private startBatch(): void {
    this.pendingSince = Date.now();
    this.ageTimer = setTimeout(() => { this.ageTimer = null; if (this.pendingCount > 0) this.send(); }, MAX_BATCH_AGE_MS);
    this.ageTimer.unref();
  }

  /** Send a partial batch if it has waited long enough (call between chunks of input). */
  flushIfStale(): void {
    if (this.pendingCount > 0 && Date.now() - this.pendingSince >= MAX_BATCH_AGE_MS) this.send();
  }

  private send(): void {
    if (this.ageTimer) { clearTimeout(this.ageTimer); this.ageTimer = null; }
    for (let v = Atomics.load(this.inFlight, 0); v >= MAX_IN_FLIGHT; v = Atomics.load(this.inFlight, 0)) {
      Atomics.wait(this.inFlight, 0, v, 50);
    }
    const count = this.pendingCount;
    const slot = this.slot;
    // ≤ MAX_IN_FLIGHT batches in flight (waited for above) and the writer
    // takes them in order: the next slot of the ring is free
    this.slot = (slot + 1) % (MAX_IN_FLIGHT + 1);
    this.pending = new Uint8Array(this.ring, this.slot * BATCH_RECORDS * REC_SIZE, BATCH_RECORDS * REC_SIZE);
    this.pendingCount = 0;
    Atomics.add(this.inFlight, 0, 1);
    const msg: WriterMessage = { type: 'batch', slot, count };
    if (this.reporters && this.reporters.size > this.reportersSent) {
      msg.reporters = this.reporters.entriesFrom(this.reportersSent);
      this.reportersSent = this.reporters.size;
    }
    this.worker.postMessage(msg);
  }

  /** Wait until every record is written; returns the sink's counters. */
  async close(): Promise<SinkCounters & { error?: string }> {
    if (this.pendingCount > 0) this.send();
    this.worker.postMessage({ type: 'end' } satisfies WriterMessage);
    try {
      const d = await this.finished;
      return { received: d.received, sent: d.sent, errors: d.errors, discarded: d.discarded, error: d.error };
    } finally {
      await this.worker.terminate();
      if (this.ownsFd) closeSync(this.fd);
    }
  }
}
