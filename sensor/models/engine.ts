// The model engine: takes the observations the core's gate let through
// (each says which models' filters it passed), keeps each model's metric
// over its window per device (and peer or port), and raises a breach when
// the metric reaches the threshold — unless the learning period, the
// device's baseline or the model's throttle says not yet.
//
// Windows are 12 buckets wide, so a window's total is exact to within one
// bucket at its old edge; each model keeps at most `maxKeys` windows (the
// least recently touched are forgotten and counted), so memory is bounded
// however many devices and peers a flood brings.
import { createHash } from 'node:crypto';
import { communityId } from '../flows/community-id.ts';
import { flowUid } from '../flows/uid.ts';
import { FEATURE_INDEX, type ObservationView } from '../learn/observation.ts';
import { parseAddress } from '../flows/ip-address.ts';
import type { Category, Model } from './model.ts';
import { buildBreach, type Breach } from './breach.ts';

const BUCKETS = 12;
const EVIDENCE = 5;

export interface EngineOptions {
  /** capture seconds from the first observation during which only compliance models alert (default one day; 0 = off) */
  learningS?: number;
  /** history a device needs before baseline models judge it (default: the learning period, at least an hour) */
  baselineS?: number;
  /** windows kept per model */
  maxKeys?: number;
  onBreach: (b: Breach) => void;
}

export interface EngineCounters {
  observations: number;
  breaches: number;
  /** breaches not raised: learning period, young device, throttle */
  suppressed_learning: number;
  suppressed_baseline: number;
  suppressed_throttle: number;
  windows_forgotten: number;
}

interface Evidence { serial: number; flowTs: number; dev: string; peer: string; devPort: number; peerPort: number; proto: number; originator: boolean }

interface Window {
  sums: Float64Array;
  buckets: Float64Array;
  evidence: Evidence[];
  throttledUntil: number;
}

const BASE_SCORE: Record<Category, number> = { critical: 75, suspicious: 55, compliance: 40, informational: 20 };

export class ModelEngine {
  readonly counters: EngineCounters = { observations: 0, breaches: 0, suppressed_learning: 0, suppressed_baseline: 0, suppressed_throttle: 0, windows_forgotten: 0 };
  private readonly windows: Map<string, Window>[];
  private firstTs = NaN;
  private readonly learningS: number;
  private readonly baselineS: number;
  private readonly maxKeys: number;
  private readonly risk = new Map<string, { score: number; t: number }>();

  /** models in the order of the compiled program: bit i of an observation = models[i] */
  constructor(readonly models: readonly Model[], private readonly opts: EngineOptions) {
    this.windows = models.map(() => new Map());
    this.learningS = opts.learningS ?? 86400;
    this.baselineS = opts.baselineS ?? Math.max(this.learningS, 3600);
    this.maxKeys = opts.maxKeys ?? 50_000;
  }

  observe(o: ObservationView): void {
    this.counters.observations++;
    const ts = o.ts;
    if (Number.isNaN(this.firstTs)) this.firstTs = ts;
    const lo = o.modelsLo, hi = o.modelsHi;
    if (lo === 0 && hi === 0) return;
    const device = o.device();
    let peer: string | null = null;
    for (let i = 0; i < 64; i++) {
      if (((i < 32 ? lo >>> i : hi >>> (i - 32)) & 1) === 0) continue;
      peer ??= o.peer();
      this.account(i, o, ts, device, peer);
    }
  }

  private account(i: number, o: ObservationView, ts: number, device: string, peer: string): void {
    const m = this.models[i];
    if (!m) return;
    const map = this.windows[i]!;
    let key = device;
    if (m.group.includes('peer')) key += `|${peer}`;
    if (m.group.includes('port')) key += `|${o.feature(FEATURE_INDEX.port)}`;
    let w = map.get(key);
    const fresh = w === undefined;
    if (w) map.delete(key); // re-inserted below: the map's order is least recently touched first
    else {
      w = { sums: new Float64Array(BUCKETS), buckets: new Float64Array(BUCKETS).fill(-1), evidence: [], throttledUntil: -Infinity };
      if (map.size >= this.maxKeys) {
        map.delete(map.keys().next().value!);
        this.counters.windows_forgotten++;
      }
    }
    map.set(key, w);
    const width = m.window_s / BUCKETS;
    const b = Math.floor(ts / width);
    const slot = ((b % BUCKETS) + BUCKETS) % BUCKETS;
    if (w.buckets[slot] !== b) { w.buckets[slot] = b; w.sums[slot] = 0; }
    if (fresh && m.window_seed && m.metric.kind === 'count') w.sums[slot]! += Math.max(0, Math.round(o.feature(FEATURE_INDEX[m.window_seed])) - 1);
    w.sums[slot]! += m.metric.kind === 'count' ? 1 : o.feature(FEATURE_INDEX[m.metric.feature]);
    w.evidence.push({ serial: o.serial, flowTs: o.flowTs, dev: device, peer, devPort: o.devicePort, peerPort: o.peerPort, proto: o.proto, originator: o.feature(FEATURE_INDEX.originator) === 1 });
    if (w.evidence.length > EVIDENCE) w.evidence.shift();
    let total = 0;
    for (let s = 0; s < BUCKETS; s++) if (w.buckets[s]! > b - BUCKETS) total += w.sums[s]!;
    if (total < m.threshold) return;
    if (m.category !== 'compliance' && ts < this.firstTs + this.learningS) { this.counters.suppressed_learning++; return; }
    if (m.baseline && o.feature(FEATURE_INDEX.device_age_s) < this.baselineS) { this.counters.suppressed_baseline++; return; }
    if (ts < w.throttledUntil) { this.counters.suppressed_throttle++; return; }
    w.throttledUntil = ts + m.throttle_s;
    const score = scoreOf(m, total);
    const evidence = w.evidence.map((e) => ({
      uid: flowUid(e.serial, e.flowTs),
      community_id: e.originator
        ? communityId(addr(e.dev), addr(e.peer), e.proto, e.devPort, e.peerPort)
        : communityId(addr(e.peer), addr(e.dev), e.proto, e.peerPort, e.devPort),
    }));
    const id = createHash('sha1').update(`${m.id}|${key}|${ts}`).digest('hex').slice(0, 16);
    const breach = buildBreach(m, o.snapshot(), { id, total, score, evidence, group: m.group });
    this.counters.breaches++;
    this.addRisk(device, score, ts);
    this.opts.onBreach(breach);
  }

  /**
   * Each device's rolling anomaly score: its breach scores, decayed with a
   * one-day half-life (the way evidence accumulates in Slips or a host risk
   * score in Elastic), at capture time `now`, highest first.
   */
  deviceRisk(now: number, top = 20): { device: string; risk: number }[] {
    return [...this.risk.entries()]
      .map(([device, r]) => ({ device, risk: Math.round(r.score * 2 ** (-(Math.max(0, now - r.t)) / 86400) * 10) / 10 }))
      .sort((a, b) => b.risk - a.risk)
      .slice(0, top);
  }

  private addRisk(device: string, score: number, t: number): void {
    const r = this.risk.get(device);
    if (!r) { this.risk.set(device, { score, t }); return; }
    r.score = r.score * 2 ** (-(Math.max(0, t - r.t)) / 86400) + score;
    r.t = Math.max(r.t, t);
  }
}

/** The category's base score, raised with how far past the threshold the metric went (10× = +25). */
export function scoreOf(m: Model, total: number): number {
  const base = BASE_SCORE[m.category];
  const excess = m.threshold > 0 ? Math.min(1, Math.max(0, Math.log10(total / m.threshold))) : 1;
  return Math.min(100, Math.round(base + 25 * excess));
}

/** The address bytes Community ID hashes: 4 for IPv4, 16 for IPv6. */
function addr(text: string): Uint8Array {
  const a = parseAddress(text);
  if (!a) return new Uint8Array(16);
  return a.version === 4 ? a.bytes.subarray(12, 16) : a.bytes;
}

