// The detection thread: pattern-of-life learning, the models and the breach
// sink, off the packet path. It takes each pull of the packet core from the
// shared ring (detection-ring.ts) — the learning log and the flow records —
// and learns it with a Wasm core of its own exactly as the packet core would
// have learned it in place (Detector.pullShipped → WasmCore.learnShipped),
// so the breaches are those of inline detection. Started by
// ThreadedDetection; blocks in Atomics.wait between pulls.
import { workerData, type MessagePort } from 'node:worker_threads';
import { REC_SIZE } from '../core/flow-record.ts';
import { WasmCore } from '../core/wasm-core.ts';
import { Detector } from '../models/detector.ts';
import { BreachWriter } from '../sinks/breach-writer.ts';
import { consume, consumed, waitForBatch } from '../sinks/ring-wait.ts';
import { receiveReporterNames } from '../sinks/reporter-names.ts';
import { C_BYTES, C_DEAD, C_FLAGS, F_END, F_NAMES, RING_SLOTS, SECTION_HEADER } from './detection-ring.ts';
import type { DetectionSummary, DetectorSetup } from './detection-stage.ts';

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
  const detector = new Detector(core, { ...init.setup, reporterName: (id) => reporterNames.get(id), onBreach: (b) => sink.write(b) });
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
}

if (workerData?.detection) {
  const init = workerData.detection as DetectionInit;
  consume(init.control, C_DEAD, (ctl) => loop(init, ctl));
}
