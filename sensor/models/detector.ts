// Where flows become breaches: sets up the core's learning tables and the
// models' compiled filters, then after every batch pulls the observations
// the gate let through and feeds them to the model engine. The pipelines
// (analyze, run) call pull(core) before draining each batch of records.
import { readFileSync } from 'node:fs';
import { DEFAULT_LEARN_CAPACITIES, type DeviceProfileRow, type LearnCapacities, type LearnTableStats, type WasmCore } from '../core/wasm-core.ts';
import { SavedStateError } from './saved-fields.ts';
import { INVENTORY_ROW, type RawInventory } from '../state/inventory.ts';
import { LocalNets } from '../flows/local-nets.ts';
import { formatMac, parseAddress } from '../flows/ip-address.ts';
import { ObservationView } from '../learn/observation.ts';
import { BUILTIN_MODELS } from './catalogue.ts';
import { compileModels } from './compile.ts';
import { ModelEngine, type EngineCounters } from './engine.ts';
import { parseModels, ModelError, type Model } from './model.ts';
import { BUILTIN_META_MODELS, parseMetaModels, type MetaModel } from './meta.ts';
import { DeviceTags, type TagConfig } from './tags.ts';
import { MIN_CONNS, PeerGroups } from '../learn/peer-groups.ts';

/**
 * The shape of saveState()'s value. The core's layout digest guards the
 * Wasm state against another build; this guards the JS side, which can
 * change while the core does not: bump it with any change to what
 * saveState() or the stores it calls keep.
 */
export const DETECTION_STATE_VERSION = 1;
import type { Breach } from './breach.ts';

export interface DetectOptions {
  /** the catalogue (default: the built-in models) */
  models?: readonly Model[];
  /** meta models (default: the built-in ones) */
  metas?: readonly MetaModel[];
  /** device tags: tag → addresses or networks */
  tags?: TagConfig;
  /** capture seconds of learning before non-compliance models alert (default 86400; 0 = off) */
  learningS?: number;
  baselineS?: number;
  /** how long a contact counts for an endpoint's rarity (default 7 days) */
  retentionS?: number;
  capacities?: LearnCapacities;
  /** model windows (and throttles) per model at most (default 50,000) */
  maxKeys?: number;
  localNets?: readonly string[];
  communityIdSeed?: number;
  /** devices whose most similar devices the summary lists */
  similar?: readonly string[];
  /** the name of a flow-log reporter id (a cloud interface), for breaches */
  reporterName?: (id: number) => string | undefined;
  onBreach: (b: Breach) => void;
}

/** Capture seconds between rebuilds of the peer groups from the core's tables. */
const GROUPS_EVERY_S = 6 * 3600;

export interface DetectSummary extends EngineCounters {
  models: number;
  by_model: Record<string, number>;
  /** the devices with the highest rolling anomaly score at the end of the input */
  top_devices: { device: string; risk: number }[];
  /** the core's learning tables: capacity, bytes per entry, entries in use, evictions */
  tables: LearnTableStats[];
  /** models whose threshold this network's tail has raised (adaptive.ts) */
  adapted_thresholds: { model: string; threshold: number; own: number; samples: number }[];
  /** devices clustered by behaviour at the end of the input (sensor/learn/peer-groups.ts) */
  peer_groups: ReturnType<PeerGroups['describe']>;
  /** for each device asked about (--similar): the most similar devices */
  similar?: Record<string, { device: string; similarity: number }[]>;
}

export interface DetectionConfig {
  models: Model[];
  metas: MetaModel[];
  tags: TagConfig;
}

/**
 * Read a detection config (--models FILE): JSON, either a list of models or
 * {"models": [...], "meta_models": [...], "tags": {"security-scanner":
 * ["10.10.0.18"], …}}. Models and meta models are merged into the built-in
 * ones by id; tags are checked here, so a typo stops the run with its place.
 */
export function loadDetectionConfig(path: string | undefined): DetectionConfig {
  if (!path) return { models: [...BUILTIN_MODELS], metas: [...BUILTIN_META_MODELS], tags: {} };
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(path, 'utf8')); } catch (e) { throw new ModelError(`${path}: ${(e as Error).message}`); }
  return parseDetectionConfig(raw, path);
}

export function parseDetectionConfig(raw: unknown, where: string): DetectionConfig {
  if (Array.isArray(raw)) return { models: parseModels(raw, where, BUILTIN_MODELS), metas: [...BUILTIN_META_MODELS], tags: {} };
  if (typeof raw !== 'object' || raw === null) throw new ModelError(`${where}: expected a list of models or {"models", "meta_models", "tags"}`);
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!['models', 'meta_models', 'tags'].includes(k)) throw new ModelError(`${where}: unknown field ${k} (known: models, meta_models, tags)`);
  const tags = (r.tags ?? {}) as TagConfig;
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) throw new ModelError(`${where}.tags: expected {"tag": ["address or network", …]}`);
  try { new DeviceTags(tags); } catch (e) { throw new ModelError(`${where}.tags: ${(e as Error).message}`); }
  return {
    models: r.models === undefined ? [...BUILTIN_MODELS] : parseModels(r.models, `${where}.models`, BUILTIN_MODELS),
    metas: parseMetaModels(r.meta_models, `${where}.meta_models`),
    tags,
  };
}

export class Detector {
  readonly engine: ModelEngine;
  private readonly byModel = new Map<string, number>();
  private readonly byDevice = new Map<string, number>();
  private readonly tags: DeviceTags;
  private readonly tagConfig: TagConfig;
  private readonly reporterName: ((id: number) => string | undefined) | undefined;
  private groups: PeerGroups | null = null;
  private nextGroups = NaN;
  private readonly similarAsked: readonly string[];

  constructor(private readonly core: WasmCore, opts: DetectOptions) {
    const models = (opts.models ?? BUILTIN_MODELS).filter((m) => m.enabled);
    const nets = new LocalNets(opts.localNets);
    core.enableLearning({ ...DEFAULT_LEARN_CAPACITIES, ...opts.capacities }, nets.networks, {
      retentionS: opts.retentionS ?? 7 * 86400, recountS: 6 * 3600, emitAll: false,
    });
    core.setGateProgram(compileModels(models));
    this.similarAsked = opts.similar ?? [];
    this.tags = new DeviceTags(opts.tags);
    this.tagConfig = opts.tags ?? {};
    this.reporterName = opts.reporterName;
    this.engine = new ModelEngine(models, {
      learningS: opts.learningS, baselineS: opts.baselineS, communityIdSeed: opts.communityIdSeed, maxKeys: opts.maxKeys,
      tags: this.tags, metas: opts.metas ?? BUILTIN_META_MODELS,
      groupNormal: (device, port, proto) => this.groups?.portNormal(device, port, proto) ?? false,
      describeDevice: (ip) => {
        const addr = parseAddress(ip);
        const info = addr ? core.learnDeviceInfo(addr.bytes) : null;
        if (!info) return undefined;
        const name = info.reporter !== undefined ? opts.reporterName?.(info.reporter) : undefined;
        return { ...(info.mac ? { mac: formatMac(info.mac) } : {}), ...(name ? { interface: name } : {}) };
      },
      onBreach: (b) => {
        this.byModel.set(b.model, (this.byModel.get(b.model) ?? 0) + 1);
        this.byDevice.set(b.device.ip, (this.byDevice.get(b.device.ip) ?? 0) + 1);
        opts.onBreach(b);
      },
    });
  }

  private readonly view = new ObservationView();
  private readonly judge = (bytes: Uint8Array, n: number): void => {
    this.engine.startAt(this.core.learnFirstTs());
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) this.engine.observe(this.view.select(bytes, dv, i));
  };

  /** Learn the core's latest records (and its learning log) and judge what the gate passed. */
  pull(core: WasmCore): void {
    core.drainObservations(this.judge);
    this.regroup(core);
  }

  /** The same for a batch another core took (a detection thread: detection-thread.ts). */
  pullShipped(log: Uint8Array, records: Uint8Array, count: number): void {
    this.core.learnShipped(log, records, count, this.judge);
    this.regroup(this.core);
  }

  /** Peer groups from the tables every few hours of capture time (the observation region is drained now). */
  private regroup(core: WasmCore): void {
    const now = this.engine.latest;
    if (Number.isNaN(this.nextGroups)) { if (Number.isFinite(now)) this.nextGroups = now + GROUPS_EVERY_S; }
    else if (now >= this.nextGroups) {
      this.groupRows = core.learnProfiles(MIN_CONNS);
      this.groups = new PeerGroups(this.groupRows);
      this.nextGroups = now + GROUPS_EVERY_S;
    }
  }

  /** the profiles the peer groups in force were built from (a snapshot keeps these, and builds the same groups again) */
  private groupRows: DeviceProfileRow[] | null = null;

  /**
   * The JS side of detection as a structured-cloneable value (the learning
   * itself is in the core: WasmCore.image()). With the core's image taken at
   * the same point, a restored detector raises what this one would have.
   */
  saveState(): unknown {
    return { version: DETECTION_STATE_VERSION, engine: this.engine.saveState(), byModel: new Map(this.byModel), byDevice: new Map(this.byDevice), nextGroups: this.nextGroups, groupRows: this.groupRows };
  }

  loadState(saved: unknown): void {
    const s = saved as { version?: number; engine: unknown; byModel: Map<string, number>; byDevice?: Map<string, number>; nextGroups: number; groupRows: DeviceProfileRow[] | null };
    if (!s || !(s.byModel instanceof Map) || typeof s.nextGroups !== 'number') throw new SavedStateError('detector: no saved state');
    if (s.version !== DETECTION_STATE_VERSION) throw new SavedStateError(`detector: saved by a version that keeps its state as format ${s.version ?? 0}, this one reads format ${DETECTION_STATE_VERSION}`);
    if (s.groupRows !== null && !Array.isArray(s.groupRows)) throw new SavedStateError('detector: saved peer groups are damaged');
    // (built before anything is applied: a damaged part leaves this detector as it was)
    const groups = s.groupRows ? new PeerGroups(s.groupRows) : null;
    this.engine.loadState(s.engine);
    this.byModel.clear();
    for (const [k, v] of s.byModel) this.byModel.set(k, v);
    this.byDevice.clear();
    for (const [k, v] of s.byDevice ?? []) this.byDevice.set(k, v);
    this.nextGroups = s.nextGroups;
    this.groupRows = s.groupRows;
    this.groups = groups;
  }

  /**
   * The device inventory as the learner holds it now, raw, with what only
   * this thread knows of it (each device's rolling risk at capture time
   * `now`, breaches, tags, reporter names): the state writer formats the
   * rows (sensor/state/inventory.ts). Call with the observation region
   * drained, after a pull.
   */
  inventoryRaw(now: number): RawInventory {
    const { rows, count } = this.core.learnInventoryRaw();
    const ids = new Set<number>();
    const dv = new DataView(rows.buffer, rows.byteOffset, rows.byteLength);
    for (let i = 0; i < count; i++) { const r = dv.getUint32(i * INVENTORY_ROW + 40, true); if (r) ids.add(r); }
    return {
      rows, count, now, risk: this.engine.riskEntries(), breaches: [...this.byDevice], tags: this.tagConfig,
      reporters: [...ids].map((id) => [id, this.reporterName?.(id) ?? ''] as [number, string]).filter(([, n]) => n !== ''),
      groups: (this.groups?.groups ?? []).filter((g) => g.members.length >= 2).flatMap((g) => g.members.map((ip) => [ip, g.id] as [string, number])),
    };
  }

  /** The learning tables' statistics (capacity, use, evictions). */
  tables(): LearnTableStats[] { return this.core.learnTables(); }

  /** The summary at the end of the input (peer groups rebuilt from the final tables: call after the last pull). */
  summary(now: number): DetectSummary {
    const groups = new PeerGroups(this.core.learnProfiles(MIN_CONNS));
    return {
      models: this.engine.models.length, ...this.engine.counters, by_model: Object.fromEntries(this.byModel), top_devices: this.engine.deviceRisk(now, 10),
      tables: this.core.learnTables(),
      adapted_thresholds: this.engine.thresholds(now).filter((t) => t.adapted).map(({ adapted: _a, ...t }) => t),
      peer_groups: groups.describe(),
      ...(this.similarAsked.length ? { similar: Object.fromEntries(this.similarAsked.map((ip) => [ip, groups.similar(ip)])) } : {}),
    };
  }
}
