// The detection stage of a pipeline (analyze, run): the breach sink and the
// detector, set up together from the same options and closed together into
// the summary's `detection`. The breach sink is opened first, before any
// flow sink: the flow writer thread would keep the process alive if this
// open failed after it started.
import type { WasmCore } from '../core/wasm-core.ts';
import type { Log } from '../log/logger.ts';
import type { Breach } from '../models/breach.ts';
import { Detector, type DetectSummary } from '../models/detector.ts';
import type { MetaModel } from '../models/meta.ts';
import type { Model } from '../models/model.ts';
import type { TagConfig } from '../models/tags.ts';
import { BreachWriter } from '../sinks/breach-writer.ts';
import type { SinkCounters } from '../sinks/fd-write.ts';

/** The detection options analyze and run share. */
export interface DetectionOptions {
  /** model breaches as JSON lines to this file ("-" = stdout); turns detection on */
  breachesTo?: string;
  /** model breaches in this thread (tests); turns detection on */
  onBreach?: (b: Breach) => void;
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
}

export type DetectionSummary = DetectSummary & { sink?: SinkCounters & { target: string; error?: string } };

export class DetectionStage {
  private constructor(private readonly detector: Detector, private readonly sink: BreachWriter | null) {}

  /** The stage, or null when neither breachesTo nor onBreach asks for detection. */
  static open(core: WasmCore, opts: DetectionOptions & { localNets?: readonly string[]; communityIdSeed?: number }): DetectionStage | null {
    if (!opts.breachesTo && !opts.onBreach) return null;
    const sink = opts.breachesTo ? new BreachWriter(opts.breachesTo) : null;
    const detector = new Detector(core, {
      models: opts.models, metas: opts.metas, tags: opts.tags, similar: opts.similar, learningS: opts.learningS, baselineS: opts.baselineS,
      localNets: opts.localNets, communityIdSeed: opts.communityIdSeed,
      onBreach: (b) => { sink?.write(b); opts.onBreach?.(b); },
    });
    return new DetectionStage(detector, sink);
  }

  /** Learn the core's latest records and judge what the gate passed (before each batch of records is drained). */
  /** Judge the core's latest observations and write the breaches they raised. */
  pull(core: WasmCore): void {
    this.detector.pull(core);
    this.sink?.flush();
  }

  /** The summary at capture time `now`, the breach sink closed (its failure logged). */
  finish(now: number, log: Log): DetectionSummary {
    const out: DetectionSummary = { ...this.detector.summary(now), ...(this.sink ? { sink: this.sink.close() } : {}) };
    if (out.sink?.error) log.error({ target: out.sink.target, error: out.sink.error }, 'cannot write breaches');
    return out;
  }
}
