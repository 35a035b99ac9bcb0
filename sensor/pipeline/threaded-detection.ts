// Packet-thread side of the detection thread: after every pull of the packet
// core it copies the core's learning log and output records into the slot
// being filled of the shared ring (detection-ring.ts), and publishes full
// slots with one Atomics store and wake. The thread (detection-thread.ts) learns them with a core of its
// own in the same order, judges them and writes the breaches. At most
// MAX_IN_FLIGHT slots wait: when the thread falls behind, the packet path
// waits instead of buffering without limit.
import { closeSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { REC_SIZE } from '../core/flow-record.ts';
import { BUNDLED, PACKAGE_ROOT } from '../core/package-root.ts';
import type { WasmCore } from '../core/wasm-core.ts';
import type { Log } from '../log/logger.ts';
import { BUILTIN_MODELS } from '../models/catalogue.ts';
import { compileModels } from '../models/compile.ts';
import { SavedSettingsError, SavedStateError } from '../models/saved-fields.ts';
import { openTarget } from '../sinks/fd-write.ts';
import { hasRoom, publish, waitForRoom } from '../sinks/ring-wait.ts';
import { C_BYTES, C_DEAD, C_FLAGS, CONTROL_WORDS, F_END, F_NAMES, F_SNAPSHOT, MAX_IN_FLIGHT, MAX_SLOT_AGE_MS, MIN_SLOT_BYTES, RING_SLOTS, SECTION_HEADER, SNAPSHOT_ID_SHIFT } from './detection-ring.ts';
import type { ReporterIds } from '../flowlogs/flow-event.ts';
import { ReporterNamesOut } from '../sinks/reporter-names.ts';
import type { DetectionOptions, DetectionStage, DetectionSummary, DetectorSetup } from './detection-stage.ts';
import type { DetectionDone, DetectionInit } from './detection-thread.ts';

/** How long the thread may take nothing while a slot waits before it is given up as gone (a disk can stall for long, a dead thread never recovers). */
const STALL_MS = 120_000;

export class ThreadedDetection implements DetectionStage {
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  private readonly nowWord = new Float64Array(new SharedArrayBuffer(8));
  private readonly ring: SharedArrayBuffer;
  private readonly bytes: Uint8Array;
  private readonly words: DataView;
  private readonly slotBytes: number;
  /** the largest section a pull can make (a full log and a full output region) */
  private readonly maxSection: number;
  private readonly worker: Worker;
  private readonly done: Promise<DetectionDone>;
  private produced = 0;
  /** bytes of sections in the slot being filled, and when its first one came */
  private fill = 0;
  private fillSince = 0;
  private ageTimer: NodeJS.Timeout | null = null;
  /** the thread is gone (failed, or stalled): pulls are dropped, counted */
  private dead: 'dead' | 'stalled' | null = null;
  private recordsLost = 0;
  /** shedWhenBehind: pulls not waited for but dropped while the ring was full */
  private readonly shedWhenBehind: boolean;
  private readonly shed = { pulls: 0, records: 0, log_bytes: 0 };
  private shedWarnedAt = 0;
  private readonly shedLog: Log | null;
  private learnCounters: Record<string, number> = {};
  private readonly target: string;

  private readonly stallMs: number;

  private readonly names: MessageChannel['port1'];
  /** The breach file this stage opened (-1: none, or stdout), closed once the thread has ended. */
  private breachFd: number;
  private readonly namesOut: ReporterNamesOut;

  /**
   * `stallMs`: see send() (default 2 minutes); `reporters`: flow-log reporter
   * names, posted to the thread as they appear; `shedWhenBehind`: drop a
   * pull's learning rather than wait for room (DetectionOptions), warning
   * through `log` at most every 10 s.
   */
  constructor(core: WasmCore, breachesTo: string, setup: DetectorSetup, opts: { stallMs?: number; reporters?: ReporterIds; shedWhenBehind?: boolean; log?: Log; state?: DetectionOptions['state'] } = {}) {
    this.target = breachesTo;
    this.stallMs = opts.stallMs ?? STALL_MS;
    this.shedWhenBehind = opts.shedWhenBehind ?? false;
    this.shedLog = opts.log ?? null;
    // Models the core cannot take fail here, at once, as they do inline (the thread compiles them again).
    compileModels((setup.models ?? BUILTIN_MODELS).filter((m) => m.enabled));
    // Opened here so a bad path fails at once, in the caller's thread, and
    // closed here (finish()): a worker closing a descriptor it did not open
    // makes Node warn ("closed but not opened in unmanaged mode").
    const opened = openTarget(breachesTo);
    this.breachFd = opened.owned ? opened.fd : -1;
    const breaches = { target: breachesTo, fd: opened.fd, owned: false };
    core.enableLearnLog();
    const outputRecords = core.outputCapacity;
    this.maxSection = SECTION_HEADER + core.learnLogCapacity + outputRecords * REC_SIZE;
    this.slotBytes = Math.max(MIN_SLOT_BYTES, 2 * this.maxSection);
    this.ring = new SharedArrayBuffer(RING_SLOTS * this.slotBytes);
    this.bytes = new Uint8Array(this.ring);
    this.words = new DataView(this.ring);
    const port = new MessageChannel();
    const names = new MessageChannel();
    this.names = names.port1;
    this.namesOut = new ReporterNamesOut(opts.reporters, names.port1);
    const statePort = opts.state?.writer.takeDetectionPort() ?? null;
    const restoring = statePort && opts.state?.restore ? new MessageChannel() : null;
    const init: DetectionInit = {
      control: this.control.buffer as SharedArrayBuffer, now: this.nowWord.buffer as SharedArrayBuffer, ring: this.ring,
      slotBytes: this.slotBytes, outputRecords, breaches, setup, done: port.port2, names: names.port2,
      state: statePort ? { port: statePort, restore: opts.state?.restore ?? null, ...(restoring ? { restored: restoring.port2 } : {}) } : null,
    };
    const transferList = [port.port2, names.port2, ...(statePort ? [statePort] : []), ...(restoring ? [restoring.port2] : [])];
    // The bundled CLI starts the bundled thread (plain JS, quick to start);
    // from the TypeScript sources it is loaded through tsx.
    const worker = BUNDLED
      ? new Worker(join(PACKAGE_ROOT, 'build', 'js', 'pipeline', 'detection-thread.cjs'), { workerData: { detection: init }, transferList })
      : new Worker(join(PACKAGE_ROOT, 'sensor', 'core', 'ts-worker.mjs'), {
        workerData: { entry: new URL('./detection-thread.ts', import.meta.url).href, detection: init }, transferList,
      });
    this.worker = worker;
    this.done = new Promise((resolve, reject) => {
      port.port1.once('message', (m: DetectionDone) => { port.port1.close(); resolve(m); });
      worker.once('error', reject);
      worker.once('exit', (code) => {
        // the report and the exit come on different ports: the report may not have been delivered yet
        const m = receiveMessageOnPort(port.port1);
        if (m) { resolve(m.message as DetectionDone); return; }
        // gone without a report: later pulls are dropped at once (one that waits for room meanwhile notices by the stall)
        Atomics.store(this.control, C_DEAD, 1);
        reject(new Error(`detection thread exited (${code}) before finishing`));
      });
    });
    // A rejection before finish() is awaited must not crash the process.
    this.done.catch(() => {});
    if (restoring) {
      const out = restoring.port1;
      this.restored = new Promise<void>((resolve, reject) => {
        const settle = (m: { ok: boolean; error?: string; settings?: boolean }) => {
          out.close();
          if (m.ok) resolve();
          else reject(new (m.settings ? SavedSettingsError : SavedStateError)(m.error ?? 'the detection thread could not restore its state'));
        };
        out.once('message', settle);
        worker.once('exit', () => {
          const m = receiveMessageOnPort(out);
          settle(m ? m.message : { ok: false, error: 'the detection thread ended while restoring its state' });
        });
      });
      this.restored.catch(() => {});
    }
    this.ended = this.done.then(() => {}, () => {});
  }

  pull(core: WasmCore): void {
    core.takeLearnBatch((log, records, count) => {
      if (log.length === 0 && count === 0) return;
      if (!this.dead && Atomics.load(this.control, C_DEAD) !== 0) this.dead = 'dead';
      if (this.dead) { this.recordsLost += count; return; }
      if (this.fill === 0) {
        if (this.shedWhenBehind && !hasRoom(this.control, this.produced, MAX_IN_FLIGHT)) { this.shedPull(log.length, count); return; }
        this.startSlot();
      }
      const at = (this.produced % RING_SLOTS) * this.slotBytes + this.fill;
      this.words.setUint32(at, log.length, true);
      this.words.setUint32(at + 4, count, true);
      this.bytes.set(log, at + SECTION_HEADER);
      this.bytes.set(records.subarray(0, count * REC_SIZE), at + SECTION_HEADER + log.length);
      this.fill += SECTION_HEADER + log.length + count * REC_SIZE;
      if (this.slotBytes - this.fill < this.maxSection || Date.now() - this.fillSince >= MAX_SLOT_AGE_MS) this.send(0);
    });
  }

  /**
   * The thread sends its part of snapshot `id` to the state writer once it
   * has learned every pull so far: the slot being filled is published now,
   * flagged (empty, if it must be).
   */
  snapshot(id: number): boolean {
    if (!this.dead && Atomics.load(this.control, C_DEAD) !== 0) this.dead = 'dead';
    if (this.dead) return false;
    if (this.fill === 0) {
      if (!this.roomForSlot()) return false;
      this.startSlot();
    }
    this.send(F_SNAPSHOT | (id << SNAPSHOT_ID_SHIFT));
    return true;
  }

  /** Resolves once the thread has ended, well or not (a snapshot part it owed will not come). */
  readonly ended: Promise<void>;
  /** Restoring a snapshot: resolves once the thread has, rejects (SavedStateError) when it cannot. */
  readonly restored?: Promise<void>;

  /**
   * A slot that must not be dropped (a snapshot's, the end's) is started only
   * with room for it: shedding pulls check before they start one, and so must
   * these, or a full ring's unread slot would be overwritten. False: the
   * thread is gone.
   */
  private roomForSlot(): boolean {
    if (!this.shedWhenBehind || hasRoom(this.control, this.produced, MAX_IN_FLIGHT)) return true;
    const room = waitForRoom(this.control, this.produced, MAX_IN_FLIGHT, C_DEAD, this.stallMs);
    if (room === 'ok') return true;
    this.dead = room;
    return false;
  }

  /** A slot's first section starts its clock; the timer publishes it when input goes quiet (a live pipe between packets). */
  private startSlot(): void {
    this.fillSince = Date.now();
    this.ageTimer = setTimeout(() => { this.ageTimer = null; if (this.fill > 0) this.send(0); }, MAX_SLOT_AGE_MS);
    this.ageTimer.unref();
  }

  /**
   * Publish the slot being filled, then wait for a free one to fill next
   * (false once the thread is gone: it said it failed, or it vanished — killed,
   * out of memory — and took nothing for stallMs, since its 'exit' event
   * cannot run while this thread waits).
   */
  private send(flags: number): boolean {
    if (this.ageTimer) { clearTimeout(this.ageTimer); this.ageTimer = null; }
    const slot = this.produced % RING_SLOTS;
    // names first: the thread reads them when it takes this slot (its records' reporters are registered by now)
    if (this.namesOut.postNew()) flags |= F_NAMES;
    Atomics.store(this.control, C_BYTES + slot, this.fill);
    Atomics.store(this.control, C_FLAGS + slot, flags);
    publish(this.control, ++this.produced);
    this.fill = 0;
    if (this.dead) return false;
    // shedding: the next pull looks for room itself, and is dropped if there is none (the end still waits)
    if (this.shedWhenBehind && (flags & F_END) === 0) return true;
    const room = waitForRoom(this.control, this.produced, MAX_IN_FLIGHT, C_DEAD, this.stallMs);
    if (room === 'ok') return true;
    this.dead = room;
    return false;
  }

  private shedPull(logBytes: number, records: number): void {
    this.shed.pulls++;
    this.shed.records += records;
    this.shed.log_bytes += logBytes;
    const now = Date.now();
    if (this.shedLog && now - this.shedWarnedAt >= 10_000) {
      this.shedWarnedAt = now;
      this.shedLog.warn({ ...this.shed }, 'detection thread behind: learning of this input shed (flows are still written)');
    }
  }

  async finish(now: number, log: Log): Promise<DetectionSummary> {
    this.nowWord[0] = now;
    if (!this.dead && (this.fill > 0 || this.roomForSlot())) this.send(F_END);
    let out: DetectionSummary;
    try {
      if (this.dead === 'stalled') throw new Error(`took nothing for ${this.stallMs / 1000} s: given up`);
      const waited = performance.now();
      const d = await this.done;
      out = d.summary;
      this.learnCounters = d.counters;
      log.debug({ ...d.timing, tail_s: (performance.now() - waited) / 1e3, slots: this.produced }, 'detection thread timing');
    } catch (e) {
      out = failedSummary(this.target, `detection thread failed: ${(e as Error).message}`);
      log.error({ error: out.error, records_not_learned: this.recordsLost }, 'detection thread failed');
    } finally {
      if (this.ageTimer) { clearTimeout(this.ageTimer); this.ageTimer = null; }
      this.names.close();
      await this.worker.terminate();
      if (this.breachFd >= 0) { closeSync(this.breachFd); this.breachFd = -1; }
    }
    if (out.sink?.error) log.error({ target: out.sink.target, error: out.sink.error }, 'cannot write breaches');
    if (this.shedWhenBehind) out = { ...out, shed: { ...this.shed } };
    return out;
  }

  mergeCounters(into: Record<string, number>): void {
    // added: the packet core's learn_* counters are 0 but for learning-log entries it had no room for
    for (const [k, v] of Object.entries(this.learnCounters)) into[k] = (into[k] ?? 0) + v;
  }
}

/**
 * The summary of a detection thread that did not report: its counts are
 * lost with it (zeros here, not what it raised), and its breach file is
 * incomplete — an error of the breach sink, so the run fails as it does when
 * breaches cannot be written (the CLI exits 1 on sink errors).
 */
function failedSummary(target: string, error: string): DetectionSummary {
  return {
    models: 0, observations: 0, breaches: 0, suppressed_learning: 0, suppressed_baseline: 0, suppressed_throttle: 0, suppressed_tagged: 0,
    suppressed_adaptive: 0, suppressed_group: 0, meta_breaches: 0, late: 0, windows_forgotten: 0, throttles_forgotten: 0,
    by_model: {}, top_devices: [], tables: [], adapted_thresholds: [], peer_groups: [],
    sink: { target, received: 0, sent: 0, errors: 1, discarded: 0, error },
    error,
  };
}
