// The aggregator's incidents: the correlator (incidents.ts) fed with every
// breach as it is stored, and rebuilt from the stored breaches at start.
// Incidents are derived state — a function of the breaches — so they are
// not stored themselves: replaying the store in time order at start gives
// the same incidents a running aggregator held (the correlator does not
// depend on arrival order within its window), and nothing can disagree
// with the breaches after a crash.
import type { AggregatorStore } from './aggregator-store.ts';
import type { ValidBreach } from '../uplink/protocol.ts';
import { IncidentCorrelator, type CorrelatorOptions, type Incident, type IncidentBreach } from './incidents.ts';

export class IncidentService {
  readonly correlator: IncidentCorrelator;
  /** breaches whose JSON lacked what the correlator needs (counted, skipped) */
  skipped = 0;

  constructor(opts: CorrelatorOptions = {}) {
    this.correlator = new IncidentCorrelator(opts);
  }

  /** Replay every stored breach in time order; returns how many. */
  rebuild(store: AggregatorStore): number {
    let n = 0;
    for (const b of store.breaches({ limit: Number.MAX_SAFE_INTEGER })) { this.add(b.sensor, b.seq, b.breach); n++; }
    return n;
  }

  /** A breach just stored (the sensor's JSON, validated on arrival). */
  add(sensor: string, seq: number, breach: Record<string, unknown>): string | null {
    const b = asIncidentBreach(breach);
    if (!b) { this.skipped++; return null; }
    return this.correlator.add(b, sensor, seq);
  }

  /** A batch just stored (the gRPC server's onStored): the JSON the protocol check parsed, not parsed again. */
  addStored(sensor: string, items: readonly ValidBreach[]): void {
    for (const it of items) this.add(sensor, it.seq, it.breach);
  }

  incidents(opts: { minScore?: number; limit?: number } = {}): Incident[] { return this.correlator.incidents(opts); }
  incident(id: string): Incident | null { return this.correlator.incident(id); }
  /** The id of the incident `id` is now part of (itself, or the one it was merged into); null when unknown. */
  resolve(id: string): string | null { return this.correlator.resolve(id); }
}

/** The fields the correlator reads, from breach JSON whose typed fields the protocol checked. */
function asIncidentBreach(x: Record<string, unknown>): IncidentBreach | null {
  const device = x.device as { ip?: unknown } | undefined;
  const peer = x.peer as { ip?: unknown; port?: unknown } | undefined;
  if (typeof x.id !== 'string' || typeof x.time !== 'string' || typeof x.model !== 'string' || typeof x.score !== 'number' || typeof device?.ip !== 'string') return null;
  return {
    id: x.id, time: x.time, model: x.model, score: x.score, device: { ip: device.ip },
    title: typeof x.title === 'string' ? x.title : x.model,
    mitre: Array.isArray(x.mitre) ? x.mitre.filter((t): t is string => typeof t === 'string') : [],
    summary: typeof x.summary === 'string' ? x.summary : '',
    ...(typeof peer?.ip === 'string' ? { peer: { ip: peer.ip, ...(typeof peer.port === 'number' ? { port: peer.port } : {}) } } : {}),
    ...(Array.isArray(x.related) ? { related: x.related.filter((r): r is string => typeof r === 'string') } : {}),
  };
}
