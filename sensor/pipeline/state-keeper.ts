// Durable state for a pipeline (--state DIR): on start, the last snapshot
// to carry on from and the inputs' checkpoints; while input flows, a
// snapshot every `everyS` seconds of wall time at a batch boundary, where
// the cores, the detection and the checkpoint agree; at the end, the last.
//
// The packet thread only copies its core's memory (CoreImage) and hands it
// to the state writer thread, which does the LMDB work: the pause a
// snapshot costs ingestion is that copy (measured: `pause_ms` in the
// summary; with inline detection the detector's state too). A capture
// resumes at its byte position; a flow-record input at its record count —
// read again from its start, the records the core had dropped before it
// (EventPump.skipInput): readers are deterministic, and nothing is counted
// twice.
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../core/package-root.ts';
import type { SensorStatus } from '../state/status-store.ts';
import { createHash } from 'node:crypto';
import type { EventOptions, WasmCore } from '../core/wasm-core.ts';
import { ImageMismatchError, type CoreImage } from '../core/core-image.ts';
import type { Log } from '../log/logger.ts';
import { freshState, openStateDb } from '../state/state-db.ts';
import { acquireWriterLock } from '../state/writer-lock.ts';
import { readSnapshot, type Checkpoint, type InputCheckpoint, type WatchedFile } from '../state/snapshot-store.ts';
import { StateWriter, type SnapshotStats } from '../state/state-writer.ts';
import type { CapturePosition } from './capture-pump.ts';
import type { ReporterIds } from '../flowlogs/flow-event.ts';
import { openDetection, type DetectionRestore, type DetectionStage } from './detection-stage.ts';
import { StateError } from '../state/state-error.ts';
import { SavedSettingsError, SavedStateError } from '../models/saved-fields.ts';

export interface StateOptions {
  dir: string;
  /** move an existing state aside and start empty */
  fresh?: boolean;
  /** wall seconds between snapshots (default 60) */
  everyS?: number;
}

export interface StateSummary {
  dir: string;
  /** the snapshot this run carried on from */
  resumed_from: { taken_at: string; capture_ts: number | null } | null;
  snapshots: SnapshotStats & { pause_ms_max: number };
  breaches: { added: number; duplicates: number };
  error?: string;
}

/** The state was saved by another build or with other settings: refused, never misread (one line, like every StateError). */
export class StateSettingsError extends StateError {
  constructor(message: string, dir: string) { super(message, dir, 'SETTINGS'); this.name = 'StateSettingsError'; }
}

/** A state sound but saved by another build or under other settings. */
function otherSettings(dir: string, why: string): StateSettingsError {
  return new StateSettingsError(`the state in ${dir} was saved by another build of the sensor or with other settings (${why}): run with the options it was saved with, or start over with --fresh-state`, dir);
}

const HEAD_BYTES = 65536;
const VERSION = (() => { try { return String(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version); } catch { return 'unknown'; } })();

/** What makes an input the same one on resume: its size and the hash of its first 64 KiB (null: standard input, never resumed). */
export function inputIdentity(path: string): InputCheckpoint['identity'] | null {
  if (path === '-') return null;
  try {
    const st = statSync(path);
    if (!st.isFile()) return st.isDirectory() ? { size: -1, head: 'dir' } : null;
    const fd = openSync(path, 'r');
    try {
      const head = Buffer.alloc(Math.min(HEAD_BYTES, st.size));
      readSync(fd, head, 0, head.length, 0);
      return { size: st.size, head: createHash('sha256').update(head).digest('hex') };
    } finally { closeSync(fd); }
  } catch { return null; }
}

export class StateKeeper {
  readonly writer: StateWriter;
  private readonly inputs = new Map<string, InputCheckpoint>();
  private readonly everyMs: number;
  private lastAt = Date.now();
  private pauseMax = 0;
  private packetImage: CoreImage | null;
  readonly detection: DetectionRestore | null;
  readonly resumedFrom: StateSummary['resumed_from'];
  /** `run`: the watched files as the snapshot left them; the run keeps this current (watchedNow) */
  readonly watched: WatchedFile[];
  private readonly savedReporters: string[];
  private watchedNow: () => WatchedFile[] = () => this.watched;

  /** Open the state (moved aside first with opts.fresh) and read its last snapshot; the writer thread opens it after this thread has closed it. */
  static async open(opts: StateOptions, log: Log, detectionThread: boolean): Promise<StateKeeper> {
    if (opts.fresh) {
      const aside = freshState(opts.dir);
      if (aside) log.info({ state: opts.dir, moved_to: aside }, 'old state moved aside (--fresh-state)');
    }
    const db = openStateDb(opts.dir);
    let saved, release: (() => void) | null = null;
    try {
      release = acquireWriterLock(db.dir);
      saved = readSnapshot(db);
    } catch (e) {
      release?.();
      throw e;
    } finally { await db.close(); }
    const keeper = new StateKeeper(opts, log, detectionThread, saved);
    keeper.releaseLock = release;
    return keeper;
  }

  /** the state's writer lock (writer-lock.ts), released once the writer has closed */
  private releaseLock: (() => void) | null = null;

  private constructor(readonly opts: StateOptions, private readonly log: Log, detectionThread: boolean, saved: ReturnType<typeof readSnapshot>) {
    this.packetImage = saved?.packetImage ?? null;
    this.detection = saved?.detection ? { image: saved.detectionImage, state: saved.detection.state } : null;
    this.resumedFrom = saved ? { taken_at: saved.taken_at, capture_ts: saved.capture_ts } : null;
    for (const c of saved?.checkpoint.inputs ?? []) this.inputs.set(c.name, c);
    this.watched = saved?.checkpoint.watched ?? [];
    this.savedReporters = saved?.checkpoint.reporters ?? [];
    this.everyMs = (opts.everyS ?? 60) * 1000;
    this.writer = new StateWriter(opts.dir, detectionThread);
  }

  /** Carry the packet core on from the snapshot (call once the core is set up as the saving run's was). */
  restoreCore(core: WasmCore): void {
    if (!this.packetImage) return;
    try {
      core.restore(this.packetImage);
    } catch (e) {
      if (e instanceof ImageMismatchError) throw otherSettings(this.opts.dir, e.message);
      throw e;
    }
    this.packetImage = null; // the chunks are the core's now
  }

  /** The input's checkpoint when it is the same input as saved (else it is read from its start). */
  checkpoint(path: string): InputCheckpoint | null {
    const c = this.inputs.get(path);
    if (!c) return null;
    const id = inputIdentity(path);
    if (!id || id.size !== c.identity.size || id.head !== c.identity.head) {
      this.log.warn({ input: path }, 'input differs from the one the state saw under this name: read from its start');
      this.inputs.delete(path);
      return null;
    }
    return c;
  }

  /** The reporters' ids as saved, and where they are kept current: call before any input is read. */
  trackReporters(reporters: ReporterIds): void {
    reporters.loadState(this.savedReporters);
    this.reporters = reporters;
  }
  private reporters: ReporterIds | null = null;

  /** `run`: where the watched files' checkpoint comes from at each snapshot. */
  trackWatched(now: () => WatchedFile[]): void { this.watchedNow = now; }

  /** Whether a snapshot is due (`run` takes it between steps, on its clock tick). */
  get due(): boolean { return Date.now() - this.lastAt >= this.everyMs && !this.writer.busy && !this.writer.error; }

  /** A snapshot now (`run`, at a point where the core and the checkpoints agree). */
  snapshotNow(core: WasmCore, detection: DetectionStage | null, captureTs: number | null): void {
    if (!this.writer.error) this.take(core, detection, captureTs);
  }

  /** Record where a capture stands without a snapshot (the last one, at the end, takes it). */
  checkpointPosition(path: string, pos: CapturePosition): void {
    const id = inputIdentity(path);
    if (id) this.inputs.set(path, { name: path, identity: id, position: { ...pos }, done: false });
  }

  /** A flow-record input's batch reached the core, `events` of it so far: a snapshot if one is due. */
  afterEvents(path: string, events: number, core: WasmCore, detection: DetectionStage | null, captureTs: number | null): void {
    if (!this.due) return;
    const id = inputIdentity(path);
    if (!id || id.size < 0) return; // a folder: no single file's identity to resume against
    this.inputs.set(path, { name: path, identity: id, events, done: false });
    this.take(core, detection, captureTs);
  }

  /** A capture's batch ended at `pos`: a snapshot if one is due and none is being written. */
  afterBatch(path: string, pos: CapturePosition, core: WasmCore, detection: DetectionStage | null, captureTs: number | null): void {
    if (!this.due) return;
    const id = inputIdentity(path);
    if (id) this.inputs.set(path, { name: path, identity: id, position: { ...pos }, done: false });
    this.take(core, detection, captureTs);
  }

  /** An input was read to its end: checkpointed as done, in a snapshot now. */
  inputDone(path: string, core: WasmCore, detection: DetectionStage | null, captureTs: number | null): void {
    const id = inputIdentity(path);
    if (!id) return;
    this.inputs.set(path, { name: path, identity: id, done: true });
    if (!this.writer.error) this.take(core, detection, captureTs);
  }

  /** What `edge-sensor status` shows of this process (the writer adds the snapshot, tables and inputs). */
  private status(core: WasmCore, running: boolean): SensorStatus {
    const counters = core.counters();
    return {
      updated_at: new Date().toISOString(), pid: process.pid, running, version: VERSION, counters,
      evictions: Object.fromEntries(Object.entries(counters).filter(([k]) => k.includes('evict'))),
    };
  }

  private take(core: WasmCore, detection: DetectionStage | null, captureTs: number | null): number {
    const t0 = performance.now();
    this.writer.poll();
    const image = core.image(this.writer.spare);
    const copied = performance.now() - t0;
    const watched = this.watchedNow();
    const reporters = this.reporters?.saveState() ?? [];
    const checkpoint: Checkpoint = { inputs: [...this.inputs.values()], ...(watched.length ? { watched } : {}), ...(reporters.length ? { reporters } : {}) };
    const id = this.writer.nextSnapshotId();
    // asked first: a detection thread that is gone sends no part, and the writer must not wait for one
    const detectionPart = detection?.snapshot(id) ?? false;
    this.writer.snapshot(id, image, checkpoint, captureTs, detectionPart, this.status(core, true), copied);
    const pause = performance.now() - t0;
    if (pause > this.pauseMax) this.pauseMax = pause;
    this.lastAt = Date.now();
    return id;
  }

  /** The end of the input: a last snapshot (unless `snapshot` is false), every write done, the writer closed. */
  async finish(core: WasmCore, detection: DetectionStage | null, captureTs: number | null, snapshot: boolean): Promise<StateSummary> {
    if (snapshot && !this.writer.error) {
      const id = this.take(core, detection, captureTs);
      // a detection thread that dies after it was asked owes a part it will not send: stop waiting when it has ended
      const gone = detection?.ended?.then(() => 'gone' as const);
      if (await Promise.race([this.writer.written(id).then(() => 'written' as const), ...(gone ? [gone] : [])]) === 'gone' && this.writer.busy) {
        this.writer.abandon(id);
        this.log.error({ state: this.opts.dir }, 'the detection thread ended before its part of the last snapshot: the state stays at the snapshot before');
      }
    }
    const r = await this.writer.close(this.status(core, false));
    this.releaseLock?.();
    if (r.error) this.log.error({ state: this.opts.dir, error: r.error }, 'cannot keep state');
    return {
      dir: this.opts.dir, resumed_from: this.resumedFrom,
      snapshots: { ...r.snapshots, pause_ms_max: Math.round(this.pauseMax * 10) / 10 }, breaches: r.breaches,
      ...(r.error ? { error: r.error } : {}),
    };
  }
}

/**
 * Detection as the pipelines (analyze, run) open it, with durable state when
 * `state` is given: the state first (its lock and last snapshot), the core
 * laid out as the saving run laid it out (the flow-event merger at once, so
 * the layout does not depend on the inputs), detection with the state's
 * writer and its saved part, then the core and the reporters' ids restored.
 */
export async function openDetectionWithState(
  core: WasmCore,
  detection: Parameters<typeof openDetection>[1] & { reporters: ReporterIds },
  state: StateOptions | undefined,
  events: EventOptions | undefined,
  log: Log,
): Promise<{ keeper: StateKeeper | null; detector: DetectionStage | null }> {
  if (!state) return { keeper: null, detector: openDetection(core, detection) };
  const threaded = !!detection.breachesTo && !detection.onBreach && !detection.inlineDetection;
  const keeper = await StateKeeper.open(state, log, threaded);
  core.enableEvents(events);
  let detector: DetectionStage | null;
  try {
    detector = openDetection(core, { ...detection, state: { writer: keeper.writer, restore: keeper.detection } });
    // a detection thread restores in its own time: wait, so a state it cannot carry on from is refused before any input is read
    await detector?.restored;
  } catch (e) {
    if (e instanceof SavedSettingsError) throw otherSettings(state.dir, e.message);
    if (e instanceof SavedStateError) throw new StateSettingsError(`the state in ${state.dir} cannot be restored (${e.message}): start over with --fresh-state`, state.dir);
    throw e;
  }
  if (!detector && keeper.detection) throw new StateSettingsError(`the state in ${state.dir} was saved with detection on: run with --breaches, or start over with --fresh-state`, state.dir);
  keeper.restoreCore(core);
  keeper.trackReporters(detection.reporters);
  return { keeper, detector };
}
