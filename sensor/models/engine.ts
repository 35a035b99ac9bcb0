// The model engine: takes the observations the core's gate let through
// (each says which models' filters it passed), keeps each model's metric
// over its window per device (and peer or port), and raises a breach when
// the metric reaches the threshold — unless the learning period, the
// device's baseline or the model's throttle says not yet.
//
// Windows are 12 buckets wide, so a window's total is exact to within one
// bucket at its old edge; an observation older than the window's newest
// bucket by a whole window is dropped (counted). Each model keeps at most
// `maxKeys` windows (window-store.ts: flat typed arrays, the least recently
// touched forgotten when full) and as many throttles, counted, so memory is
// bounded however many devices and peers a flood brings. Throttles live
// apart from windows: forgetting a window does not let its device alert
// again. Addresses become text only when a breach, a tag or a peer group
// needs them.
import { communityId } from '../flows/community-id.ts';
import { isV4Mapped } from '../flows/ip-address.ts';
import { flowUid } from '../flows/uid.ts';
import { FEATURE_INDEX, type ObservationView } from '../learn/observation.ts';
import type { Category, Model } from './model.ts';
import { buildBreach, type Breach } from './breach.ts';
import { breachId } from './breach-id.ts';
import { MetaEngine, type MetaModel } from './meta.ts';
import { TailEstimator } from './adaptive.ts';
import { forgetOldest } from './bounded.ts';
import { DeviceTags } from './tags.ts';
import { BUCKETS, WindowStore } from './window-store.ts';
import { SavedStateError } from './saved-fields.ts';
import { decayRisk, decayedRisk } from './risk.ts';


export interface EngineOptions {
  /** capture seconds from the capture's start during which only compliance models alert (default one day; 0 = off) */
  learningS?: number;
  /** history a device needs before baseline models judge it (default: the learning period, at least an hour) */
  baselineS?: number;
  /** windows (and throttles) kept per model */
  maxKeys?: number;
  communityIdSeed?: number;
  /** device tags (models' exclude_tags) */
  tags?: DeviceTags;
  /** meta models judged on every breach (default none) */
  metas?: readonly MetaModel[];
  /** is (port, proto) normal for the device's peer group? (models with skip_group_port) */
  groupNormal?: (device: string, port: number, proto: number) => boolean;
  /** what else names a device (its MAC, its cloud interface), added to each breach's device */
  describeDevice?: (device: string) => { mac?: string; interface?: string } | undefined;
  onBreach: (b: Breach) => void;
}

/**
 * What the engine saw. The suppressed_* counters count observations that
 * took a window to its threshold but were held back (a long scan during the
 * learning period counts once per probe past the threshold).
 */
export interface EngineCounters {
  observations: number;
  breaches: number;
  suppressed_learning: number;
  suppressed_baseline: number;
  suppressed_throttle: number;
  /** observations of a device whose tags the model excludes */
  suppressed_tagged: number;
  /** observations past a model's own threshold but under the threshold adapted to this network */
  suppressed_adaptive: number;
  /** observations on a port most of the device's peer group use (models with skip_group_port) */
  suppressed_group: number;
  /** breaches of meta models (included in breaches) */
  meta_breaches: number;
  /** observations older than their window by more than the window: dropped */
  late: number;
  windows_forgotten: number;
  /** throttles forgotten before they expired (a flood over more keys than maxKeys) */
  throttles_forgotten: number;
}

const BASE_SCORE: Record<Category, number> = { critical: 75, suspicious: 55, compliance: 40, informational: 20 };

export class ModelEngine {
  readonly counters: EngineCounters = {
    observations: 0, breaches: 0, suppressed_learning: 0, suppressed_baseline: 0, suppressed_throttle: 0, suppressed_tagged: 0, suppressed_adaptive: 0, suppressed_group: 0, meta_breaches: 0, late: 0, windows_forgotten: 0, throttles_forgotten: 0,
  };
  private windows: WindowStore[];
  /** per model: observations accounted (the clock of its windows' touch order) */
  private ticks: number[];
  /** per model: which key its windows use (bit 0: per peer, bit 1: per port), and this observation's keys by kind */
  private readonly keyKinds: number[];
  /** the key words of the window being accounted, and the observation's addresses as words */
  private readonly keyWords = new Uint32Array(9);
  private readonly devWords = new Uint32Array(4);
  private readonly peerWords = new Uint32Array(4);
  /** the observation's addresses as text, made when first needed */
  private devText: string | null = null;
  private peerText: string | null = null;
  /** per model: the distribution of its window peaks in this network (adaptive.ts) */
  private tails: TailEstimator[];
  /** per model: key → capture time until which it may not breach again (insertion order = expiry order) */
  private throttles: Map<string, number>[];
  private startTs = NaN;
  private readonly learningS: number;
  private readonly baselineS: number;
  private readonly maxKeys: number;
  private readonly risk = new Map<string, { score: number; t: number }>();
  private readonly tags: DeviceTags;
  private meta: MetaEngine | null;

  /** models in the order of the compiled program: bit i of an observation = models[i] */
  constructor(readonly models: readonly Model[], private readonly opts: EngineOptions) {
    this.maxKeys = opts.maxKeys ?? 50_000;
    this.windows = models.map(() => new WindowStore(this.maxKeys));
    this.ticks = models.map(() => 0);
    this.keyKinds = models.map((m) => (m.group.includes('peer') ? 1 : 0) | (m.group.includes('port') ? 2 : 0));
    this.tails = models.map(() => new TailEstimator());
    this.throttles = models.map(() => new Map());
    this.learningS = opts.learningS ?? 86400;
    this.baselineS = opts.baselineS ?? Math.max(this.learningS, 3600);
    this.tags = opts.tags ?? new DeviceTags();
    const metas = (opts.metas ?? []).filter((m) => m.enabled);
    this.meta = metas.length ? new MetaEngine(metas, this.maxKeys) : null;
  }

  /**
   * Where the capture starts (the learning period is counted from here):
   * the earliest of the first connection the core learned (which the gate
   * may never pass on) and every observation seen (records arrive up to the
   * lateness window out of order).
   */
  /** The newest capture time observed. */
  latest = -Infinity;

  startAt(ts: number): void {
    if (Number.isFinite(ts) && !(ts >= this.startTs)) this.startTs = ts;
  }

  observe(o: ObservationView): void {
    this.counters.observations++;
    const ts = o.ts;
    if (ts > this.latest) this.latest = ts;
    this.startAt(ts);
    const lo = o.modelsLo, hi = o.modelsHi;
    if (lo === 0 && hi === 0) return;
    this.devText = this.peerText = null;
    o.addressWords(false, this.devWords, 0);
    o.addressWords(true, this.peerWords, 0);
    for (let i = 0; i < this.models.length; i++) {
      if (((i < 32 ? lo >>> i : hi >>> (i - 32)) & 1) === 0) continue;
      this.account(i, o, ts);
    }
  }

  private device(o: ObservationView): string { return (this.devText ??= o.device()); }
  private peer(o: ObservationView): string { return (this.peerText ??= o.peer()); }

  private account(i: number, o: ObservationView, ts: number): void {
    const m = this.models[i]!;
    if (m.exclude_tags.length && this.tags.size > 0 && this.tags.any(this.device(o), m.exclude_tags)) { this.counters.suppressed_tagged++; return; }
    if (m.skip_group_port && this.opts.groupNormal?.(this.device(o), o.feature(FEATURE_INDEX.port), o.proto)) { this.counters.suppressed_group++; return; }
    const kind = this.keyKinds[i]!;
    const k = this.keyWords;
    k.set(this.devWords, 0);
    if (kind & 1) k.set(this.peerWords, 4); else k.fill(0, 4, 8);
    k[8] = kind & 2 ? o.feature(FEATURE_INDEX.port) >>> 0 : 0;
    const store = this.windows[i]!;
    const width = m.window_s / BUCKETS;
    const b = Math.floor(ts / width);
    const forgotten = store.forgotten;
    const s = store.slotFor(k, b, ++this.ticks[i]!);
    if (store.forgotten !== forgotten) this.counters.windows_forgotten++;
    if (!store.created && b <= store.newest(s) - BUCKETS) { this.counters.late++; return; }
    store.add(s, b, m.metric.kind === 'count' ? 1 : o.feature(FEATURE_INDEX[m.metric.feature]));
    store.evidence(s, b, o.serial, o.flowTs, o.devicePort, o.peerPort, o.proto, o.feature(FEATURE_INDEX.originator) === 1, this.peerWords);
    const total = store.total(s);
    // a window period ended: its peak is one sample of this network's distribution
    const ended = store.peak(s, b, total);
    if (ended > 0) this.tails[i]!.learnOne(ended, ts);
    if (total < m.threshold) return;
    const th = m.adaptive ? this.tails[i]!.threshold(m.threshold, ts) : { value: m.threshold, adapted: false };
    if (total < th.value) { this.counters.suppressed_adaptive++; return; }
    if (m.category !== 'compliance' && this.learningS > 0 && ts < this.startTs + this.learningS) { this.counters.suppressed_learning++; return; }
    if (m.baseline && o.feature(FEATURE_INDEX.device_age_s) < this.baselineS) { this.counters.suppressed_baseline++; return; }
    let key = this.device(o);
    if (kind & 1) key += `|${this.peer(o)}`;
    if (kind & 2) key += `|${o.feature(FEATURE_INDEX.port)}`;
    const throttles = this.throttles[i]!;
    const until = throttles.get(key);
    if (until !== undefined && ts < until) { this.counters.suppressed_throttle++; return; }
    throttles.delete(key);
    if (throttles.size >= this.maxKeys) this.counters.throttles_forgotten += forgetOldest(throttles, (until) => until > ts);
    throttles.set(key, ts + m.throttle_s);
    const score = scoreOf({ category: m.category, threshold: th.value }, total);
    const seed = this.opts.communityIdSeed ?? 0;
    const dev = communityBytes(store.key(s));
    const evidence = store.evidenceFlows(s).map((e) => {
      const other = communityBytes(e.peer);
      return {
        uid: flowUid(e.serial, e.flowTs),
        community_id: e.originator
          ? communityId(dev, other, e.proto, e.devPort, e.peerPort, seed)
          : communityId(other, dev, e.proto, e.peerPort, e.devPort, seed),
      };
    });
    const id = breachId(`${m.id}|${key}|${ts}`);
    const breach = buildBreach(m, o.snapshot(), { id, total, score, evidence, threshold: th.value, adapted: th.adapted });
    this.raise(breach, ts);
  }

  /** The device's MAC and cloud interface, where learned, into the breach. */
  private describe(b: Breach): void {
    const more = this.opts.describeDevice?.(b.device.ip);
    if (more && (more.mac || more.interface)) b.device = { ip: b.device.ip, ...more };
  }

  /** Emit a breach, add it to the device's risk, and let the meta models judge it. */
  private raise(breach: Breach, ts: number): void {
    this.describe(breach);
    this.counters.breaches++;
    this.addRisk(breach.device.ip, breach.score, ts);
    this.opts.onBreach(breach);
    if (!this.meta) return;
    for (const mb of this.meta.judge(breach, (d, tags) => this.tags.any(d, tags))) {
      this.describe(mb);
      this.counters.meta_breaches++;
      this.counters.breaches++;
      this.addRisk(mb.device.ip, mb.score, ts);
      this.opts.onBreach(mb);
    }
  }

  /**
   * Everything the engine has learned and holds open, as a structured-
   * cloneable value: per model (by id) its windows, tail and throttles; the
   * devices' risk; the meta models' memory; the counters.
   */
  saveState(): unknown {
    return {
      models: this.models.map((m, i) => ({ id: m.id, windows: this.windows[i]!.saveState(), tick: this.ticks[i]!, tail: this.tails[i]!.saveState(), throttles: new Map(this.throttles[i]!) })),
      startTs: this.startTs, latest: this.latest, risk: new Map([...this.risk].map(([d, r]) => [d, { ...r }])),
      meta: this.meta?.saveState() ?? null, counters: { ...this.counters },
    };
  }

  /**
   * Carry on from saveState()'s value. Models are matched by id: a model
   * added since starts empty, one removed is dropped, one retuned keeps its
   * windows (the same metric over the same keys).
   */
  loadState(saved: unknown): void {
    const s = saved as { models: { id: string; windows: unknown; tick: number; tail: unknown; throttles: Map<string, number> }[]; startTs: number; latest: number; risk: Map<string, { score: number; t: number }>; meta: unknown; counters: EngineCounters };
    if (!s || !Array.isArray(s.models) || !(s.risk instanceof Map)) throw new SavedStateError('model engine: no saved state');
    if (typeof s.startTs !== 'number' || typeof s.latest !== 'number' || typeof s.counters !== 'object' || s.counters === null) throw new SavedStateError('model engine: saved times or counters missing');
    // Everything is loaded into new stores first and swapped in at the end: a
    // damaged later part leaves the engine as it was, never half restored.
    const byId = new Map(s.models.map((m) => [m?.id, m]));
    const windows = this.models.map(() => new WindowStore(this.maxKeys));
    const tails = this.models.map(() => new TailEstimator());
    const ticks = this.models.map(() => 0);
    const throttles = this.models.map(() => new Map<string, number>());
    this.models.forEach((m, i) => {
      const was = byId.get(m.id);
      if (!was) return;
      if (typeof was.tick !== 'number' || !(was.throttles instanceof Map)) throw new SavedStateError(`model engine: saved state of model ${m.id} is damaged`);
      windows[i]!.loadState(was.windows);
      tails[i]!.loadState(was.tail);
      ticks[i] = was.tick;
      throttles[i] = new Map(was.throttles);
    });
    let meta = this.meta;
    if (this.meta && s.meta) {
      meta = new MetaEngine(this.meta.metas, this.maxKeys);
      meta.loadState(s.meta);
    }
    this.windows = windows;
    this.tails = tails;
    this.ticks = ticks;
    this.throttles = throttles;
    this.meta = meta;
    this.startTs = s.startTs;
    this.latest = s.latest;
    this.risk.clear();
    for (const [d, r] of s.risk) this.risk.set(d, r);
    Object.assign(this.counters, s.counters);
  }

  /** Each model's threshold in force at capture time `now` (adapted to this network, or its own). */
  thresholds(now: number): { model: string; threshold: number; own: number; adapted: boolean; samples: number }[] {
    return this.models.map((m, i) => {
      const th = m.adaptive ? this.tails[i]!.threshold(m.threshold, now) : { value: m.threshold, adapted: false };
      return { model: m.id, threshold: th.value, own: m.threshold, adapted: th.adapted, samples: Math.round(this.tails[i]!.samples) };
    });
  }

  /**
   * Each device's rolling anomaly score: its breach scores, decayed with a
   * one-day half-life (the way evidence accumulates in Slips or a host risk
   * score in Elastic), at capture time `now`, highest first.
   */
  deviceRisk(now: number, top = 20): { device: string; risk: number }[] {
    return [...this.risk.entries()]
      .map(([device, r]) => ({ device, risk: decayedRisk(r.score, r.t, now) }))
      .sort((a, b) => b.risk - a.risk)
      .slice(0, top);
  }

  /** Every device's rolling score as [device, score, its time], undecayed (the inventory decays it: sensor/state/inventory.ts). */
  riskEntries(): [string, number, number][] {
    return [...this.risk].map(([d, r]) => [d, r.score, r.t]);
  }

  private addRisk(device: string, score: number, t: number): void {
    const r = this.risk.get(device);
    if (!r) { this.risk.set(device, { score, t }); return; }
    r.score = decayRisk(r.score, r.t, t) + score;
    r.t = Math.max(r.t, t);
  }
}

/** The category's base score, raised with how far past the threshold the metric went (10× = +25). */
export function scoreOf(m: Pick<Model, 'category' | 'threshold'>, total: number): number {
  const base = BASE_SCORE[m.category];
  const excess = m.threshold > 0 ? Math.min(1, Math.max(0, Math.log10(total / m.threshold))) : 1;
  return Math.min(100, Math.round(base + 25 * excess));
}

/** An address of 4 big-endian words as the bytes Community ID hashes: 4 for IPv4 (mapped), 16 for IPv6. */
function communityBytes(words: Uint32Array): Uint8Array {
  const a = new Uint8Array(16);
  for (let w = 0; w < 4; w++) { const x = words[w]!; a[4 * w] = x >>> 24; a[4 * w + 1] = (x >>> 16) & 255; a[4 * w + 2] = (x >>> 8) & 255; a[4 * w + 3] = x & 255; }
  return isV4Mapped(a) ? a.subarray(12, 16) : a;
}
