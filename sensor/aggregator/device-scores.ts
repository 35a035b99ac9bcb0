// Each device's rolling scores at the aggregator: how much its breaches
// say about it over the last hour, day and week, for the devices API — the
// number an analyst sorts a fleet by. Like incidents, derived state: fed
// with every breach as it is stored and rebuilt from the stored breaches at
// start, so it cannot disagree with them after a restart.
//
// A window's score combines the breaches' scores in it as independent
// evidence, as an incident's does: 100 × (1 − Π(1 − s/100)). Windows end at
// the newest breach time the aggregator holds (the sensors' capture clock,
// not the wall clock), so three days of capture replayed in a minute score
// as they would have live.
//
// A device keeps one factor per 5 minutes with breaches, for a week: a
// window takes every 5-minute bucket that overlaps it, so it is exact to
// 5 minutes (the last hour is the last hour, not the clock hour).
//
// Bounded: at most maxDevices devices and maxBuckets buckets over all of
// them (a device breaching every minute for a week holds 2,016); past
// either, the tenth least recently breaching devices are forgotten at once
// (sorting once per tenth keeps the cost per breach logarithmic; a Map
// re-inserted on every update would be cheaper to order but slow to evict
// from, see incidents.ts).
import type { ValidBreach } from '../uplink/protocol.ts';
import type { AggregatorStore } from './aggregator-store.ts';

const BUCKET_MS = 5 * 60_000;
const HOUR_MS = 3600_000;
/** each window's length in hours */
export const SCORE_WINDOWS = { '1h': 1, '24h': 24, '7d': 168 } as const;
export type ScoreWindow = keyof typeof SCORE_WINDOWS;
const KEEP_BUCKETS = (SCORE_WINDOWS['7d'] * HOUR_MS) / BUCKET_MS;

export interface DeviceScore {
  /** 0–100 per window, rounded to 0.1 */
  scores: Record<ScoreWindow, number>;
  /** breaches in the last week (of the capture clock) */
  breaches_7d: number;
  /** RFC 3339: its newest breach */
  last_breach: string;
}

interface Entry {
  /** 5-minute bucket index → Π(1 − s/100) of its breaches, and how many */
  buckets: Map<number, { clear: number; n: number }>;
  lastMs: number;
}

export class DeviceScores {
  private readonly devices = new Map<string, Entry>();
  /** the newest breach time seen: where every window ends */
  private nowMs = -Infinity;
  private buckets = 0;
  evicted = 0;

  constructor(private readonly maxDevices = 200_000, private readonly maxBuckets = 2_000_000) {}

  /** One stored breach of `sensor` on device `ip` (canonical form), at `timeMs` with `score`. */
  add(sensor: string, ip: string, timeMs: number, score: number): void {
    if (!Number.isFinite(timeMs)) return;
    const key = deviceKey(sensor, ip);
    let e = this.devices.get(key);
    if (!e) {
      e = { buckets: new Map(), lastMs: timeMs };
      this.devices.set(key, e);
    }
    const bucket = Math.floor(timeMs / BUCKET_MS);
    const b = e.buckets.get(bucket);
    const clear = 1 - Math.min(100, Math.max(0, score)) / 100;
    if (b) { b.clear *= clear; b.n++; } else { e.buckets.set(bucket, { clear, n: 1 }); this.buckets++; }
    if (timeMs > e.lastMs) e.lastMs = timeMs;
    if (timeMs > this.nowMs) this.nowMs = timeMs;
    if (e.buckets.size > KEEP_BUCKETS) {
      const oldest = Math.floor(e.lastMs / BUCKET_MS) - KEEP_BUCKETS;
      for (const k of e.buckets.keys()) if (k <= oldest) { e.buckets.delete(k); this.buckets--; }
    }
    if (this.devices.size > this.maxDevices || this.buckets > this.maxBuckets) this.evictOldest();
  }

  /** Replay every stored breach (the store's time index); returns how many. */
  rebuild(store: Pick<AggregatorStore, 'breachIndex'>): number {
    let n = 0;
    for (const b of store.breachIndex()) { this.add(b.sensor, b.device_ip, b.time_ms, b.score); n++; }
    return n;
  }

  /** A batch just stored (the gRPC server's onStored). */
  addStored(sensor: string, items: readonly ValidBreach[]): void {
    for (const it of items) this.add(sensor, it.device_ip, it.time_ms, it.score);
  }

  /** The device's scores now (the newest breach time), or null when it has no breach kept. */
  score(sensor: string, ip: string): DeviceScore | null {
    const e = this.devices.get(deviceKey(sensor, ip));
    if (!e) return null;
    const scores = {} as Record<ScoreWindow, number>;
    let week = 0;
    for (const [name, hours] of Object.entries(SCORE_WINDOWS) as [ScoreWindow, number][]) {
      // every bucket that overlaps (now − window, now]
      const from = this.nowMs - hours * HOUR_MS;
      let clear = 1, n = 0;
      for (const [bucket, b] of e.buckets) if ((bucket + 1) * BUCKET_MS > from) { clear *= b.clear; n += b.n; }
      scores[name] = Math.round(1000 * (1 - clear)) / 10;
      if (name === '7d') week = n;
    }
    return { scores, breaches_7d: week, last_breach: new Date(e.lastMs).toISOString() };
  }

  /** Every device with a breach kept, as [sensor, ip]. */
  *keys(): Generator<[string, string]> {
    for (const key of this.devices.keys()) {
      const at = key.indexOf('\u0000');
      yield [key.slice(0, at), key.slice(at + 1)];
    }
  }

  get size(): number { return this.devices.size; }
  /** 5-minute buckets held over all devices (bounded by maxBuckets) */
  get bucketCount(): number { return this.buckets; }

  private evictOldest(): void {
    const drop = Math.max(1, Math.floor(this.devices.size / 10));
    const byAge = [...this.devices].sort((a, b) => a[1].lastMs - b[1].lastMs).slice(0, drop);
    for (const [key, e] of byAge) { this.devices.delete(key); this.buckets -= e.buckets.size; }
    this.evicted += byAge.length;
  }
}

const deviceKey = (sensor: string, ip: string) => `${sensor}\u0000${ip}`;
