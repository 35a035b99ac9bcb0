// The detection thread: pattern-of-life learning, the models and the breach
// sink, off the packet path. It takes each pull of the packet core from the
// shared ring (detection-ring.ts) — the learning log and the flow records —
// and learns it with a Wasm core of its own exactly as the packet core would
// have learned it in place (Detector.pullShipped → WasmCore.learnShipped),
// so the breaches are those of inline detection. Started by
// ThreadedDetection; blocks in Atomics.wait between pulls.
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { REC_SIZE } from '../core/flow-record.ts';
import { WasmCore } from '../core/wasm-core.ts';
import { Detector } from '../models/detector.ts';
import { BreachWriter } from '../sinks/breach-writer.ts';
import { consume, consumed, waitForBatch } from '../sinks/ring-wait.ts';
import { receiveReporterNames } from '../sinks/reporter-names.ts';
import { C_BYTES, C_DEAD, C_FLAGS, F_END, F_NAMES, F_SNAPSHOT, RING_SLOTS, SECTION_HEADER, SNAPSHOT_ID_SHIFT } from './detection-ring.ts';
import { deserialize, serialize } from 'node:v8';
import { SavedSettingsError, SavedStateError, restoring } from '../models/saved-fields.ts';
import type { Breach } from '../models/breach.ts';
import type { WriterMessage } from '../state/state-writer-thread.ts';
import type { DetectionRestore, DetectionSummary, DetectorSetup } from './detection-stage.ts';

export interface DetectionInit {
  /** Int32 control words (detection-ring.ts C_*) */
  control: SharedArrayBuffer;
  /** Float64Array[1]: capture time of the end (written before the F_END slot) */
  now: SharedArrayBuffer;
  /** RING_SLOTS slots of slotBytes, each a run of sections (detection-ring.ts) */
  ring: SharedArrayBuffer;
  slotBytes: number;
  /** the packet core's output region (records per pull at most) */
  outputRecords: number;
  /** the breach file, opened by the packet thread */
  breaches: { target: string; fd: number; owned: boolean };
  setup: DetectorSetup;
  /** where the thread reports at the end */
  done: MessagePort;
  /** flow-log reporter names (reporter-names.ts), one message before each slot flagged F_NAMES */
  names: MessagePort;
  /** durable state (--state): the state writer's port (breaches, this thread's snapshot parts), and the part to carry on from */
  /** `restored`: where the outcome of restoring goes ({ ok, error? }), when restoring */
  state: { port: MessagePort; restore: DetectionRestore | null; restored?: MessagePort } | null;
}

export interface DetectionDone {
  summary: DetectionSummary;
  /** the learner's counters (learn_*, dns_*): this thread's core counted them */
  counters: Record<string, number>;
  /** seconds: setting up, learning and judging pulls, waiting for them, the end's summary */
  timing: { setup_s: number; busy_s: number; waiting_s: number; summary_s: number };
}

function loop(init: DetectionInit, ctl: Int32Array): void {
  const t0 = performance.now();
  let busy = 0;
  // A core that only learns: no flow table to speak of, an output region as large as the packet core's.
  const core = new WasmCore({ flowCapacity: 16, fragCapacity: 16, chunkBytes: 1 << 16, outputRecords: init.outputRecords });
  const sink = new BreachWriter(init.breaches.target, init.breaches);
  const reporterNames = new Map<number, string>();
  const state = init.state;
  let raised: Breach[] = [];
  const spare: Uint8Array[] = [];
  const detector = new Detector(core, { ...init.setup, reporterName: (id) => reporterNames.get(id), onBreach: (b) => { sink.write(b); if (state) raised.push(b); } });
  if (state?.restore) {
    // the outcome goes back at once (ThreadedDetection.restored): the sensor refuses a state it cannot carry on from before reading any input
    try {
      restoring(() => {
        if (!state.restore!.image) throw new SavedStateError('the saved detection state has no image of the detection core');
        core.restore(state.restore!.image);
        detector.loadState(deserialize(state.restore!.state));
      });
      state.restored?.postMessage({ ok: true });
    } catch (e) {
      state.restored?.postMessage({ ok: false, error: (e as Error).message, settings: e instanceof SavedSettingsError });
      throw e;
    }
  }
  const t1 = performance.now();
  const words = new DataView(init.ring);
  for (let seq = 0; ; seq++) {
    waitForBatch(ctl, seq);
    const b0 = performance.now();
    const slot = seq % RING_SLOTS;
    const end = slot * init.slotBytes + Atomics.load(ctl, C_BYTES + slot);
    const flags = Atomics.load(ctl, C_FLAGS + slot);
    const last = (flags & F_END) !== 0;
    if (flags & F_NAMES) for (const [id, name] of receiveReporterNames(init.names, `slot ${seq}`)) reporterNames.set(id, name);
    // each section is one pull of the packet core, learned as that core would have learned it
    for (let at = slot * init.slotBytes; at < end;) {
      const logBytes = words.getUint32(at, true), count = words.getUint32(at + 4, true);
      const log = new Uint8Array(init.ring, at + SECTION_HEADER, logBytes);
      at += SECTION_HEADER + logBytes;
      detector.pullShipped(log, new Uint8Array(init.ring, at, count * REC_SIZE), count);
      at += count * REC_SIZE;
    }
    sink.flush();
    if (state && raised.length) { state.port.postMessage({ kind: 'breaches', breaches: raised } satisfies WriterMessage); raised = []; }
    if (state && (flags & F_SNAPSHOT)) {
      // after this slot's breaches on the same port: the writer stores them before the snapshot
      // the chunk buffers of this thread's earlier images, handed back by the writer once written
      for (let m = receiveMessageOnPort(state.port); m; m = receiveMessageOnPort(state.port)) {
        const r = m.message as { kind: string; buffers?: Uint8Array[] };
        if (r.kind === 'spare' && r.buffers && spare.length < 16384) spare.push(...r.buffers);
      }
      const image = core.image(spare);
      const now = detector.engine.latest;
      const m: WriterMessage = {
        kind: 'detection', id: flags >>> SNAPSHOT_ID_SHIFT, image, state: new Uint8Array(serialize(detector.saveState())),
        inventory: detector.inventoryRaw(Number.isFinite(now) ? now : 0), tables: detector.tables(),
      };
      state.port.postMessage(m, [...image.chunks.map((c) => c.bytes.buffer as ArrayBuffer), m.inventory!.rows.buffer as ArrayBuffer]);
    }
    consumed(ctl, seq);
    busy += performance.now() - b0;
    if (last) break;
  }
  const t2 = performance.now();
  const now = new Float64Array(init.now)[0]!;
  const summary: DetectionSummary = { ...detector.summary(now), sink: sink.close() };
  const counters = Object.fromEntries(Object.entries(core.counters()).filter(([k]) => k.startsWith('learn_') || k.startsWith('dns_')));
  const timing = { setup_s: (t1 - t0) / 1e3, busy_s: busy / 1e3, waiting_s: (t2 - t1 - busy) / 1e3, summary_s: (performance.now() - t2) / 1e3 };
  init.done.postMessage({ summary, counters, timing } satisfies DetectionDone);
  init.done.close();
  init.names.close();
  state?.port.close();
}

if (workerData?.detection) {
  const init = workerData.detection as DetectionInit;
  consume(init.control, C_DEAD, (ctl) => loop(init, ctl));
}
