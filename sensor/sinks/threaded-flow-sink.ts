// Main-thread side of the writer thread: copies raw flow records into slots
// of the shared ring (flow-batch.ts), publishes each full slot with one
// Atomics store and wake, and bounds the queue — when the writer falls
// behind, the packet path waits instead of buffering without limit.
//
// With `lazy` (analyze of small files) the thread starts with the first
// batch sent, and a run whose records all fit one partial batch never starts
// it: close() formats them right here. Starting a worker costs ~50 ms, a
// third of such a run. Otherwise it starts at once, so that its start
// overlaps the reading.
import { closeSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { BUNDLED, PACKAGE_ROOT } from '../core/package-root.ts';
import type { WriterDone, WriterInit } from './flow-writer-thread.ts';
import { ReporterNamesOut } from './reporter-names.ts';
import { openTarget, type SinkCounters } from './fd-write.ts';
import { RecordWriter } from './record-writer.ts';

import { REC_SIZE } from '../core/flow-record.ts';
import type { ReporterIds } from '../flowlogs/flow-event.ts';
import { BATCH_RECORDS, C_COUNT, C_DEAD, C_FLAGS, CONTROL_WORDS, F_END, F_NAMES, MAX_IN_FLIGHT, RING_SLOTS } from './flow-batch.ts';
import { publish, waitForRoom } from './ring-wait.ts';

/**
 * The writer's JavaScript heap holds little (the formatter's memory is Wasm):
 * a small old generation keeps its RSS small and flat.
 */
const WRITER_LIMITS = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 };
/** A partial batch older than this is sent anyway, so a live pipe sees flows promptly. */
const MAX_BATCH_AGE_MS = 200;

export class ThreadedFlowSink {
  private readonly fd: number;
  private readonly ownsFd: boolean;
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  /** records the writer has written (kept by it in shared memory: readable even if it dies) */
  private readonly sentShared = new Float64Array(new SharedArrayBuffer(8));
  /** records handed to the writer */
  private handed = 0;
  private worker: Worker | null = null;
  /** the writer thread was started (a lazy sink whose records fit one partial batch never starts it) */
  get threadStarted(): boolean { return this.worker !== null; }
  private names: MessageChannel['port1'] | null = null;
  private namesOut: ReporterNamesOut | null = null;
  private finished: Promise<WriterDone> | null = null;
  private readonly opts: { localNets?: string[]; communityIdSeed?: number };
  /** Fixed memory: RING_SLOTS slots, no buffer per batch for either heap to collect. */
  private readonly ring = new SharedArrayBuffer(RING_SLOTS * BATCH_RECORDS * REC_SIZE);
  private produced = 0;
  private pending = new Uint8Array(this.ring, 0, BATCH_RECORDS * REC_SIZE);
  private pendingCount = 0;
  private pendingSince = 0;
  private ageTimer: NodeJS.Timeout | null = null;
  private ended = false;
  private closing: Promise<SinkCounters & { error?: string }> | null = null;
  /** the writer thread is gone (crashed, or finished): nothing waits for it any more */
  private dead = false;

  private readonly reporters: ReporterIds | undefined;

  /** how long the writer may take nothing while a batch waits before it is given up as gone */
  private readonly stallMs: number;
  private stalled = false;

  /**
   * `reporters`: names of the reporter ids on records of flow-record sources (sent along as they appear);
   * `stallMs`: see publish (default 2 minutes: a disk can stall for long, a dead writer never recovers)
   */
  constructor(readonly target: string, opts: { localNets?: string[]; communityIdSeed?: number; reporters?: ReporterIds; lazy?: boolean; stallMs?: number } = {}) {
    this.stallMs = opts.stallMs ?? 120_000;
    this.reporters = opts.reporters;
    // Opened here so a bad path fails at once, in the caller's thread.
    ({ fd: this.fd, owned: this.ownsFd } = openTarget(target));
    this.opts = { localNets: opts.localNets, communityIdSeed: opts.communityIdSeed };
    if (!opts.lazy) this.start();
  }

  /** Start the writer thread (with the first batch sent). */
  private start(): void {
    const names = new MessageChannel();
    const done = new MessageChannel();
    this.names = names.port1;
    this.namesOut = new ReporterNamesOut(this.reporters, names.port1);
    const init: WriterInit = {
      fd: this.fd, localNets: this.opts.localNets, communityIdSeed: this.opts.communityIdSeed,
      control: this.control.buffer as SharedArrayBuffer, ring: this.ring, names: names.port2, done: done.port2,
      sent: this.sentShared.buffer as SharedArrayBuffer,
    };
    const transferList = [names.port2, done.port2];
    // The bundled CLI starts the bundled writer (plain JS, quick to start);
    // from the TypeScript sources the writer is loaded through tsx.
    const worker = BUNDLED
      ? new Worker(join(PACKAGE_ROOT, 'build', 'js', 'sinks', 'flow-writer-thread.cjs'), { workerData: { flowWriter: init }, transferList, resourceLimits: WRITER_LIMITS })
      : new Worker(join(PACKAGE_ROOT, 'sensor', 'core', 'ts-worker.mjs'), {
        workerData: { entry: new URL('./flow-writer-thread.ts', import.meta.url).href, flowWriter: init },
        transferList,
        resourceLimits: WRITER_LIMITS,
      });
    this.worker = worker;
    this.finished = new Promise((resolve, reject) => {
      done.port1.once('message', (m: WriterDone) => { done.port1.close(); resolve(m); });
      worker.once('error', (e) => { this.dead = true; reject(e); });
      worker.once('exit', (code) => {
        this.dead = true;
        // the report and the exit come on different ports: the report may not have been delivered yet
        const m = receiveMessageOnPort(done.port1);
        if (m) resolve(m.message as WriterDone);
        else reject(new Error(`flow writer thread exited (${code}) before finishing`));
      });
    });
    // A rejection before close() is awaited must not crash the process.
    this.finished.catch(() => {});
  }

  /** close() without a writer thread: the pending partial batch formatted and written in this thread. */
  private closeInline(): SinkCounters & { error?: string } {
    try {
      const out = new RecordWriter({ fd: this.fd, ...this.opts });
      if (this.reporters) out.setReporters(this.reporters.entriesFrom(1));
      out.writeRecords(this.pending, this.pendingCount);
      return out.counters;
    } catch (e) {
      // the formatter could not be set up (a bad network list): nothing written
      return { received: this.pendingCount, sent: 0, errors: 1, discarded: this.pendingCount, error: (e as Error).message };
    }
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
    this.publish(this.pendingCount, 0);
    this.pending = new Uint8Array(this.ring, (this.produced % RING_SLOTS) * BATCH_RECORDS * REC_SIZE, BATCH_RECORDS * REC_SIZE);
    this.pendingCount = 0;
  }

  /** Hand the slot being filled to the writer (waiting while MAX_IN_FLIGHT are ahead of it). */
  private publish(count: number, flags: number): void {
    if (!this.worker) this.start();
    const ctl = this.control;
    // Wait for a free slot (ring-wait.ts: a writer that failed or vanished ends the wait).
    if (!this.dead) {
      const room = waitForRoom(ctl, this.produced, MAX_IN_FLIGHT, C_DEAD, this.stallMs);
      if (room !== 'ok') { this.dead = true; this.stalled = room === 'stalled'; }
    }
    this.handed += count;
    // A dead writer takes nothing more: the records are counted as discarded by close().
    if (this.dead) return;
    const slot = this.produced % RING_SLOTS;
    // names first: the writer reads them when it takes this slot
    if (this.namesOut!.postNew()) flags |= F_NAMES;
    Atomics.store(ctl, C_COUNT + slot, count);
    Atomics.store(ctl, C_FLAGS + slot, flags);
    this.produced++;
    publish(ctl, this.produced);
  }

  /**
   * Wait until every record is written; returns the sink's counters. If the
   * writer thread failed, the counters say so (error, records discarded)
   * rather than throwing: the run's other results stand.
   */
  close(): Promise<SinkCounters & { error?: string }> {
    // once: a second call gets the same counters (and never closes the fd twice)
    return this.closing ??= this.closeOnce();
  }

  private async closeOnce(): Promise<SinkCounters & { error?: string }> {
    if (this.ageTimer) { clearTimeout(this.ageTimer); this.ageTimer = null; }
    if (!this.worker) {
      this.ended = true;
      try { return this.closeInline(); } finally { if (this.ownsFd) closeSync(this.fd); }
    }
    if (!this.ended) {
      this.ended = true;
      if (this.pendingCount > 0) this.send();
      this.publish(0, F_END);
    }
    if (this.stalled) {
      const sent = this.sentShared[0]!;
      this.names?.close();
      await this.worker.terminate();
      if (this.ownsFd) closeSync(this.fd);
      return { received: this.handed, sent, errors: 1, discarded: this.handed - sent, error: `flow writer thread took nothing for ${this.stallMs / 1000} s: given up` };
    }
    try {
      const d = await this.finished!;
      return { received: d.received, sent: d.sent, errors: d.errors, discarded: d.discarded, error: d.error };
    } catch (e) {
      const sent = this.sentShared[0]!;
      return { received: this.handed, sent, errors: 1, discarded: this.handed - sent, error: `flow writer thread failed: ${(e as Error).message}` };
    } finally {
      this.names?.close();
      await this.worker?.terminate();
      if (this.ownsFd) closeSync(this.fd);
    }
  }
}
