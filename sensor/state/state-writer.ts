// Packet-thread side of the state writer (state-writer-thread.ts): starts
// the thread, hands it breaches and the packet part of each snapshot, and
// hears back what it wrote. The packet thread never waits for LMDB while
// input flows: reports are picked up between batches (receiveMessageOnPort,
// which needs no turn of the event loop — a file is read without one).
import { join } from 'node:path';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { BUNDLED, PACKAGE_ROOT } from '../core/package-root.ts';
import type { CoreImage } from '../core/core-image.ts';
import type { Breach } from '../models/breach.ts';
import type { Checkpoint } from './snapshot-store.ts';
import type { SensorStatus } from './status-store.ts';
import type { RawInventory } from './inventory.ts';
import type { LearnTableStats } from '../core/wasm-core.ts';
import type { WriterInit, WriterMessage, WriterReport } from './state-writer-thread.ts';

/** Test-only fault injection (test/state-resume.test.ts): the process is killed once this many snapshots with an input part-way read are written. */
const KILL_AFTER_SNAPSHOT = Number(process.env.EDGE_SENSOR_TEST_KILL_AFTER_SNAPSHOT ?? 0);

/** Spare chunk buffers kept at most (64 KiB each: 1 GiB). */
const MAX_SPARE = 16384;

export interface SnapshotStats { written: number; last_bytes: number; last_ms: number; max_ms: number; pending: number }

export class StateWriter {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  /** the port a detection thread posts its breaches and snapshot parts to (taken once) */
  private detectionPort: MessagePort | null;
  private nextId = 1;
  private readonly inFlight = new Set<number>();
  /** snapshots whose checkpoint has an input part-way read, and how many of those were written (fault injection) */
  private readonly partway = new Set<number>();
  private partwayWritten = 0;
  private waiters: { id: number; resolve: () => void }[] = [];
  private closed: Promise<Extract<WriterReport, { kind: 'closed' }>> | null = null;
  private resolveClosed: ((r: Extract<WriterReport, { kind: 'closed' }>) => void) | null = null;
  /** the thread failed (it says why): nothing more is written */
  error: string | null = null;
  readonly stats: SnapshotStats = { written: 0, last_bytes: 0, last_ms: 0, max_ms: 0, pending: 0 };
  /** chunk buffers of written images, handed back for the next (core-image.ts takeImage) */
  readonly spare: Uint8Array[] = [];

  constructor(readonly dir: string, withDetection: boolean) {
    const main = new MessageChannel();
    const det = withDetection ? new MessageChannel() : null;
    this.port = main.port1;
    this.detectionPort = det?.port1 ?? null;
    const init: WriterInit = { dir, main: main.port2, detection: det?.port2 ?? null };
    const transferList = det ? [main.port2, det.port2] : [main.port2];
    this.worker = BUNDLED
      ? new Worker(join(PACKAGE_ROOT, 'build', 'js', 'state', 'state-writer-thread.cjs'), { workerData: { stateWriter: init }, transferList })
      : new Worker(join(PACKAGE_ROOT, 'sensor', 'core', 'ts-worker.mjs'), {
        workerData: { entry: new URL('./state-writer-thread.ts', import.meta.url).href, stateWriter: init }, transferList,
      });
    this.port.on('message', (r: WriterReport) => this.report(r));
    this.worker.once('error', (e) => this.report({ kind: 'failed', error: e.message }));
    this.worker.unref();
    this.port.unref();
  }

  /** For the detection thread (transfer it there): once. */
  takeDetectionPort(): MessagePort {
    const p = this.detectionPort;
    if (!p) throw new Error('the state writer was started without a detection thread');
    this.detectionPort = null;
    return p;
  }

  /** Store breaches raised in this thread (inline detection). */
  breaches(list: Breach[]): void {
    if (list.length && !this.error) this.post({ kind: 'breaches', breaches: list });
  }

  /** The detection part of snapshot `id`, from this thread (inline detection: its state; the packet core's image holds its learning). */
  detectionPart(id: number, state: Uint8Array, inventory?: RawInventory, tables?: LearnTableStats[]): void {
    if (!this.error) this.post({ kind: 'detection', id, image: null, state, inventory, tables }, inventory ? [inventory.rows.buffer as ArrayBuffer] : []);
  }

  /** Whether a snapshot is still being written (one at a time: the next waits). */
  get busy(): boolean {
    this.poll();
    return this.inFlight.size > 0;
  }

  /**
   * Start snapshot `id` (nextSnapshotId): the packet part now; with
   * `detectionPart`, the detection side sends its part under the same id. The image's
   * chunks are handed over, not copied.
   */
  /** The id of the next snapshot (its detection part is asked for under it before the packet part is sent). */
  nextSnapshotId(): number { return this.nextId++; }

  snapshot(id: number, image: CoreImage | null, checkpoint: Checkpoint, captureTs: number | null, detectionPart: boolean, status: SensorStatus, pauseMs: number): number {
    if (this.error) return id;
    this.inFlight.add(id);
    if (KILL_AFTER_SNAPSHOT > 0 && checkpoint.inputs.some((i) => !i.done)) this.partway.add(id);
    this.stats.pending = this.inFlight.size;
    this.post({ kind: 'packet', id, image, checkpoint, captureTs, detectionPart, status, pauseMs }, image ? image.chunks.map((c) => c.bytes.buffer as ArrayBuffer) : []);
    return id;
  }

  /** Give up waiting for snapshot `id` (its detection part will never come: the thread is gone); the writer drops it with the next one. */
  abandon(id: number): void {
    this.inFlight.delete(id);
    this.partway.delete(id);
    this.settle();
  }

  /** Resolves once snapshot `id` is written (or the writer failed). */
  written(id: number): Promise<void> {
    this.poll();
    if (!this.inFlight.has(id) || this.error) return Promise.resolve();
    this.port.ref();
    return new Promise((resolve) => this.waiters.push({ id, resolve }));
  }

  /** Everything written, the store closed. */
  async close(status: SensorStatus): Promise<{ breaches: { added: number; duplicates: number }; snapshots: SnapshotStats; error?: string }> {
    if (!this.closed) {
      this.closed = new Promise((r) => (this.resolveClosed = r));
      this.port.ref();
      this.post({ kind: 'close', status });
    }
    const r = this.error ? null : await Promise.race([this.closed, this.failedPromise()]);
    await this.worker.terminate();
    return { breaches: r?.breaches ?? { added: 0, duplicates: 0 }, snapshots: { ...this.stats }, ...(this.error ? { error: this.error } : {}) };
  }

  private failWaiters: (() => void)[] = [];
  private failedPromise(): Promise<null> {
    return new Promise((resolve) => this.failWaiters.push(() => resolve(null)));
  }

  private post(m: WriterMessage, transfer: ArrayBuffer[] = []): void {
    this.port.postMessage(m, transfer);
  }

  /** Reports that arrived while this thread was busy (spare buffers among them). */
  poll(): void {
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) this.report(m.message as WriterReport);
  }

  private report(r: WriterReport): void {
    if (r.kind === 'written') {
      this.inFlight.delete(r.id);
      this.stats.written++;
      if (this.partway.delete(r.id) && ++this.partwayWritten === KILL_AFTER_SNAPSHOT) process.kill(process.pid, 'SIGKILL');
      this.stats.last_bytes = r.bytes;
      this.stats.last_ms = Math.round(r.ms);
      this.stats.max_ms = Math.max(this.stats.max_ms, this.stats.last_ms);
    } else if (r.kind === 'failed') {
      this.error ??= r.error;
      this.inFlight.clear();
      for (const f of this.failWaiters.splice(0)) f();
    } else if (r.kind === 'spare') {
      if (this.spare.length < MAX_SPARE) this.spare.push(...r.buffers.slice(0, MAX_SPARE - this.spare.length));
    } else if (r.kind === 'closed') {
      this.resolveClosed?.(r);
    }
    this.settle();
  }

  /** Waiters of snapshots no longer in flight are resolved. */
  private settle(): void {
    this.stats.pending = this.inFlight.size;
    const still = this.waiters.filter((w) => this.inFlight.has(w.id));
    for (const w of this.waiters) if (!this.inFlight.has(w.id)) w.resolve();
    this.waiters = still;
    if (!still.length && !this.closed) this.port.unref();
  }
}
