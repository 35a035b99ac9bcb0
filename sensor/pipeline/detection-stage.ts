// The detection stage of a pipeline (analyze, run): the breach sink and the
// detector, set up together from the same options and closed together into
// the summary's `detection`. Two ways to run it, with the same breaches:
//   threaded  (--breaches, the default) learning, models and the breach sink
//             run in a detection thread with a Wasm core of its own; the
//             packet thread only ships each pull's learning log and records
//             to it (threaded-detection.ts). On two cores the packet path
//             keeps most of its speed.
//   inline    (onBreach in tests, --inline-detection) all of it in the packet
//             thread, learning from the packet core's own log (this file).
// The breach sink is opened first, before any flow sink: the flow writer
// thread would keep the process alive if this open failed after it started.
import type { LearnCapacities, WasmCore } from '../core/wasm-core.ts';
import type { Log } from '../log/logger.ts';
import type { Breach } from '../models/breach.ts';
import { Detector, type DetectSummary } from '../models/detector.ts';
import type { MetaModel } from '../models/meta.ts';
import type { Model } from '../models/model.ts';
import type { TagConfig } from '../models/tags.ts';
import { BreachWriter } from '../sinks/breach-writer.ts';
import type { SinkCounters } from '../sinks/fd-write.ts';
import { ThreadedDetection } from './threaded-detection.ts';
import type { StateWriter } from '../state/state-writer.ts';
import type { CoreImage } from '../core/core-image.ts';
import { deserialize, serialize } from 'node:v8';
import { restoring } from '../models/saved-fields.ts';
import type { ReporterIds } from '../flowlogs/flow-event.ts';

/** The detection options analyze and run share. */
export interface DetectionOptions {
  /** model breaches as JSON lines to this file ("-" = stdout); turns detection on */
  breachesTo?: string;
  /** model breaches in this thread (tests); turns detection on, in the packet thread */
  onBreach?: (b: Breach) => void;
  /** learn and judge in the packet thread, not a detection thread (the same breaches; one core busy instead of two) */
  inlineDetection?: boolean;
  /** the model catalogue (default: built-in) */
  models?: readonly Model[];
  /** meta models (default: built-in) */
  metas?: readonly MetaModel[];
  /** device tags: tag → addresses or networks (models' exclude_tags) */
  tags?: TagConfig;
  /** capture seconds of learning before non-compliance models alert (default one day; 0 = off) */
  learningS?: number;
  /** history a device needs before baseline models judge it (default: the learning period, at least an hour) */
  baselineS?: number;
  /** devices whose most similar devices the detection summary lists */
  similar?: readonly string[];
  /**
   * Inputs that cannot wait (`run` with a flow collector listening): when
   * the detection thread falls behind, the learning of the pulls that find
   * its ring full is dropped, counted, instead of the packet thread waiting
   * for it — a flood then slows detection, not intake (a socket that is not
   * read loses datagrams in the kernel). Files and pipes are read at the pace
   * detection keeps, so their breaches are exact.
   */
  shedWhenBehind?: boolean;
  /** the learning tables' capacities and model windows per model (--memory) */
  capacities?: LearnCapacities;
  maxKeys?: number;
  /** durable state (--state): breaches and snapshot parts go to the writer; `restore` carries on from a snapshot's detection part */
  state?: { writer: StateWriter; restore: DetectionRestore | null };
}

/** A snapshot's detection part: the detector's state and, from a detection thread, its core's image. */
export interface DetectionRestore { image: CoreImage | null; state: Uint8Array }

/** What a detection thread needs to build the same Detector (structured-cloneable). */
export type DetectorSetup = Pick<DetectionOptions, 'models' | 'metas' | 'tags' | 'learningS' | 'baselineS' | 'similar' | 'capacities' | 'maxKeys'> & { localNets?: readonly string[]; communityIdSeed?: number };

export type DetectionSummary = DetectSummary & {
  sink?: SinkCounters & { target: string; error?: string };
  /** a live input's learning dropped while the detection thread was behind (shedWhenBehind) */
  shed?: { pulls: number; records: number; log_bytes: number };
  /** the detection thread failed: no breach after the failure was judged */
  error?: string;
};

export interface DetectionStage {
  /** Learn the core's latest pull (before its records are drained) and write the breaches it raised. */
  pull(core: WasmCore): void;
  /** The summary at capture time `now`, the breach sink closed (failures logged). */
  finish(now: number, log: Log): Promise<DetectionSummary>;
  /** Send this stage's part of snapshot `id` to the state writer, as of the pulls so far; false when none will come (the detection thread is gone). */
  snapshot(id: number): boolean;
  /** A detection thread: resolves once it has ended (a part it owed will not come). */
  readonly ended?: Promise<void>;
  /** A detection thread restoring a snapshot: resolves once it has, rejects with a SavedStateError when it cannot. */
  readonly restored?: Promise<void>;
  /** After finish: the learner's counters (learn_*, dns_*) into the run's counters, where the learning ran elsewhere. */
  mergeCounters(into: Record<string, number>): void;
}

/** The stage, or null when neither breachesTo nor onBreach asks for detection. `reporters`: the flow-log reporters' names (cloud interfaces on breaches). */
export function openDetection(core: WasmCore, opts: DetectionOptions & { localNets?: readonly string[]; communityIdSeed?: number; reporters?: ReporterIds; log?: Log }): DetectionStage | null {
  if (!opts.breachesTo && !opts.onBreach) return null;
  const setup: DetectorSetup = {
    models: opts.models, metas: opts.metas, tags: opts.tags, similar: opts.similar, learningS: opts.learningS, baselineS: opts.baselineS,
    capacities: opts.capacities, maxKeys: opts.maxKeys,
    localNets: opts.localNets, communityIdSeed: opts.communityIdSeed,
  };
  if (opts.breachesTo && !opts.onBreach && !opts.inlineDetection) return new ThreadedDetection(core, opts.breachesTo, setup, { reporters: opts.reporters, shedWhenBehind: opts.shedWhenBehind, log: opts.log, state: opts.state });
  const reporters = opts.reporters;
  return new InlineDetection(core, { ...setup, reporterName: reporters ? (id) => reporters.name(id) || undefined : undefined }, opts.breachesTo, opts.onBreach, opts.state);
}

/** Learning and judging in the packet thread. */
class InlineDetection implements DetectionStage {
  private readonly detector: Detector;
  private readonly sink: BreachWriter | null;
  /** breaches raised since the last pull, for the state writer */
  private raised: Breach[] = [];

  constructor(core: WasmCore, setup: DetectorSetup & { reporterName?: (id: number) => string | undefined }, breachesTo: string | undefined, onBreach: ((b: Breach) => void) | undefined,
    private readonly state: DetectionOptions['state']) {
    const sink = breachesTo ? new BreachWriter(breachesTo) : null;
    this.sink = sink;
    this.detector = new Detector(core, { ...setup, onBreach: (b) => { sink?.write(b); onBreach?.(b); if (state) this.raised.push(b); } });
    // the packet core's image (restored by the pipeline) holds the learning; this is the rest
    if (state?.restore) restoring(() => this.detector.loadState(deserialize(state.restore!.state)));
  }

  pull(core: WasmCore): void {
    this.detector.pull(core);
    this.sink?.flush();
    if (this.state && this.raised.length) { this.state.writer.breaches(this.raised); this.raised = []; }
  }

  snapshot(id: number): boolean {
    if (!this.state) return false;
    const now = this.detector.engine.latest;
    this.state.writer.detectionPart(id, new Uint8Array(serialize(this.detector.saveState())),
      this.detector.inventoryRaw(Number.isFinite(now) ? now : 0), this.detector.tables());
    return true;
  }

  async finish(now: number, log: Log): Promise<DetectionSummary> {
    const out: DetectionSummary = { ...this.detector.summary(now), ...(this.sink ? { sink: this.sink.close() } : {}) };
    if (out.sink?.error) log.error({ target: out.sink.target, error: out.sink.error }, 'cannot write breaches');
    return out;
  }

  mergeCounters(): void { /* the packet core learned: its counters have them */ }
}
