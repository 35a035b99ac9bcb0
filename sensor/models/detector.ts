// Where flows become breaches: sets up the core's learning tables and the
// models' compiled filters, then after every batch pulls the observations
// the gate let through and feeds them to the model engine. The pipelines
// (analyze, run) call pull(core) before draining each batch of records.
import { readFileSync } from 'node:fs';
import { DEFAULT_LEARN_CAPACITIES, type LearnCapacities, type WasmCore } from '../core/wasm-core.ts';
import { LocalNets } from '../flows/local-nets.ts';
import { ObservationView } from '../learn/observation.ts';
import { BUILTIN_MODELS } from './catalogue.ts';
import { compileModels } from './compile.ts';
import { ModelEngine, type EngineCounters } from './engine.ts';
import { parseModels, ModelError, type Model } from './model.ts';
import type { Breach } from './breach.ts';

export interface DetectOptions {
  /** the catalogue (default: the built-in models) */
  models?: readonly Model[];
  /** capture seconds of learning before non-compliance models alert (default 86400; 0 = off) */
  learningS?: number;
  baselineS?: number;
  /** how long a contact counts for an endpoint's rarity (default 7 days) */
  retentionS?: number;
  capacities?: LearnCapacities;
  localNets?: readonly string[];
  communityIdSeed?: number;
  onBreach: (b: Breach) => void;
}

export interface DetectSummary extends EngineCounters {
  models: number;
  by_model: Record<string, number>;
  /** the devices with the highest rolling anomaly score at the end of the input */
  top_devices: { device: string; risk: number }[];
}

/** Read a --models file: JSON, merged into the built-in catalogue by id. */
export function loadModels(path: string | undefined): Model[] {
  if (!path) return [...BUILTIN_MODELS];
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(path, 'utf8')); } catch (e) { throw new ModelError(`${path}: ${(e as Error).message}`); }
  return parseModels(raw, path, BUILTIN_MODELS);
}

export class Detector {
  readonly engine: ModelEngine;
  private readonly byModel = new Map<string, number>();

  constructor(core: WasmCore, opts: DetectOptions) {
    const models = (opts.models ?? BUILTIN_MODELS).filter((m) => m.enabled);
    const nets = new LocalNets(opts.localNets);
    core.enableLearning({ ...DEFAULT_LEARN_CAPACITIES, ...opts.capacities }, nets.networks, {
      retentionS: opts.retentionS ?? 7 * 86400, recountS: 6 * 3600, emitAll: false,
    });
    core.setGateProgram(compileModels(models));
    this.engine = new ModelEngine(models, {
      learningS: opts.learningS, baselineS: opts.baselineS, communityIdSeed: opts.communityIdSeed,
      onBreach: (b) => { this.byModel.set(b.model, (this.byModel.get(b.model) ?? 0) + 1); opts.onBreach(b); },
    });
  }

  /** Learn the core's latest records and judge what the gate passed. */
  private readonly view = new ObservationView();

  pull(core: WasmCore): void {
    core.drainObservations((bytes, n) => {
      this.engine.startAt(core.learnFirstTs());
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < n; i++) this.engine.observe(this.view.select(bytes, dv, i));
    });
  }

  summary(now: number): DetectSummary {
    return { models: this.engine.models.length, ...this.engine.counters, by_model: Object.fromEntries(this.byModel), top_devices: this.engine.deviceRisk(now, 10) };
  }
}
