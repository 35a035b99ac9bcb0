// Incidents: related model breaches grouped across devices, sensors and
// time, in the manner of Darktrace's Cyber AI Analyst — what an analyst
// reads first, instead of every breach on its own.
//
// Two breaches belong to one incident when they share an address within
// the time window of each other's incident:
//   - the same device (a device's breaches over a morning are one story);
//   - linked devices: a breach on A names B as its peer (A scanned or
//     logged into B), and B then breaches — scan, lateral movement,
//     exfiltration from B is one incident;
//   - a shared endpoint: two devices breaching towards the same outside
//     address (the same command-and-control server).
// Addresses are taken as one network across sensors: sensors that watch
// the same datacenter from two places see the same devices. (Sites whose
// private ranges overlap would be joined wrongly; not handled yet.)
//
// It is streaming (learn_one style, obvious state): add() takes one breach
// and returns its incident, merging incidents a breach links. Memory is
// bounded: at most `maxIncidents` incidents (the least recently active is
// closed and forgotten, counted) and `maxTimeline` breaches each (later
// ones are counted, not listed). Arrival order does not matter within the
// window: a late sensor's breach joins the incident it belongs to.
import { createHash } from 'node:crypto';

/** What the correlator needs of a breach (the sensor's Breach JSON has all of it). */
export interface IncidentBreach {
  id: string;
  /** RFC 3339 */
  time: string;
  model: string;
  title: string;
  score: number;
  mitre: string[];
  device: { ip: string };
  peer?: { ip: string; port?: number };
  summary: string;
  /** a meta model's breach: the ids it sums up */
  related?: string[];
}

export interface TimelineEntry {
  sensor: string;
  seq: number;
  id: string;
  time: string;
  model: string;
  title: string;
  score: number;
  device: string;
  peer?: string;
  tactics: string[];
  summary: string;
  /** a meta model's breach (it sums up others) */
  meta?: true;
}

export interface Incident {
  id: string;
  title: string;
  /** 0–100: the breaches' scores combined as independent evidence, 100 × (1 − Π(1 − s/100)) */
  score: number;
  /** MITRE ATT&CK tactics, in kill-chain order */
  phases: string[];
  /** RFC 3339 */
  first: string;
  last: string;
  devices: string[];
  sensors: string[];
  breaches: number;
  /** in time order; at most maxTimeline entries (the earliest kept) */
  timeline: TimelineEntry[];
  summary: string;
}

export interface CorrelatorOptions {
  /** seconds: a breach joins an incident whose span it comes within this of (default 6 h) */
  windowS?: number;
  maxIncidents?: number;
  maxTimeline?: number;
}

/** ATT&CK technique → tactic, for the techniques our models map to (sub-techniques fall back to their parent). */
const TACTIC_OF: Record<string, string> = {
  T1046: 'Discovery', T1110: 'Credential Access', T1021: 'Lateral Movement', T1039: 'Collection', T1074: 'Collection',
  T1071: 'Command and Control', T1571: 'Command and Control', T1572: 'Command and Control', T1573: 'Command and Control', T1568: 'Command and Control',
  T1041: 'Exfiltration', T1048: 'Exfiltration', T1029: 'Exfiltration', T1498: 'Impact', T1499: 'Impact',
  T1595: 'Reconnaissance', T1190: 'Initial Access', T1133: 'Initial Access', T1078: 'Defense Evasion',
};
const KILL_CHAIN = ['Reconnaissance', 'Resource Development', 'Initial Access', 'Execution', 'Persistence', 'Privilege Escalation', 'Defense Evasion',
  'Credential Access', 'Discovery', 'Lateral Movement', 'Collection', 'Command and Control', 'Exfiltration', 'Impact'];

export function tacticsOf(mitre: readonly string[]): string[] {
  const out = new Set<string>();
  for (const t of mitre) {
    const tactic = TACTIC_OF[t] ?? TACTIC_OF[t.split('.')[0]!];
    if (tactic) out.add(tactic);
  }
  return [...out].sort((a, b) => KILL_CHAIN.indexOf(a) - KILL_CHAIN.indexOf(b));
}

interface Open {
  id: string;
  firstMs: number;
  lastMs: number;
  /** Π(1 − s/100) over every breach */
  clear: number;
  breaches: number;
  timeline: TimelineEntry[];
  devices: Set<string>;
  sensors: Set<string>;
  addresses: Set<string>;
}

export interface CorrelatorStats { breaches: number; incidents: number; merged: number; evicted: number; timeline_dropped: number }

export class IncidentCorrelator {
  private readonly windowMs: number;
  private readonly maxIncidents: number;
  private readonly maxTimeline: number;
  /** incident by id, in least-recently-touched-first order (Map insertion order, re-inserted on touch) */
  private readonly open = new Map<string, Open>();
  /** address → ids of the incidents that touch it */
  private readonly byAddress = new Map<string, Set<string>>();
  readonly counters: CorrelatorStats = { breaches: 0, incidents: 0, merged: 0, evicted: 0, timeline_dropped: 0 };

  constructor(opts: CorrelatorOptions = {}) {
    this.windowMs = (opts.windowS ?? 6 * 3600) * 1000;
    this.maxIncidents = Math.max(1, opts.maxIncidents ?? 50_000);
    this.maxTimeline = Math.max(1, opts.maxTimeline ?? 500);
  }

  /** Learn one breach (from `sensor`, its sequence number `seq`); returns the id of the incident it is now part of. */
  add(b: IncidentBreach, sensor: string, seq: number): string {
    const t = Date.parse(b.time);
    const at = Number.isFinite(t) ? t : 0;
    const addresses = [b.device.ip, ...(b.peer?.ip ? [b.peer.ip] : [])];
    this.counters.breaches++;
    // every incident this breach links, by a shared address within the window
    const linked: Open[] = [];
    for (const a of addresses) {
      for (const id of this.byAddress.get(a) ?? []) {
        const inc = this.open.get(id)!;
        if (!linked.includes(inc) && at >= inc.firstMs - this.windowMs && at <= inc.lastMs + this.windowMs) linked.push(inc);
      }
    }
    let inc: Open;
    if (linked.length === 0) {
      inc = {
        id: incidentId(sensor, b.id), firstMs: at, lastMs: at, clear: 1, breaches: 0, timeline: [],
        devices: new Set(), sensors: new Set(), addresses: new Set(),
      };
      this.open.set(inc.id, inc);
      this.counters.incidents++;
    } else {
      // the earliest incident absorbs the others (its id stays: what an analyst may already hold)
      linked.sort((x, y) => x.firstMs - y.firstMs || (x.id < y.id ? -1 : 1));
      inc = linked[0]!;
      for (const other of linked.slice(1)) this.merge(inc, other);
    }
    const entry: TimelineEntry = {
      sensor, seq, id: b.id, time: b.time, model: b.model, title: b.title, score: b.score, device: b.device.ip,
      ...(b.peer?.ip ? { peer: b.peer.ip } : {}), tactics: tacticsOf(b.mitre), summary: b.summary, ...(b.related?.length ? { meta: true as const } : {}),
    };
    this.append(inc, entry, at);
    inc.clear *= 1 - Math.min(100, Math.max(0, b.score)) / 100;
    inc.breaches++;
    inc.devices.add(b.device.ip);
    inc.sensors.add(sensor);
    for (const a of addresses) this.index(inc, a);
    this.touch(inc);
    this.bound();
    return inc.id;
  }

  incident(id: string): Incident | null {
    const inc = this.open.get(id);
    return inc ? view(inc) : null;
  }

  /** Every incident held, highest score first (then latest first). */
  incidents(opts: { minScore?: number; limit?: number } = {}): Incident[] {
    const out: Incident[] = [];
    for (const inc of this.open.values()) {
      const v = view(inc);
      if (opts.minScore !== undefined && v.score < opts.minScore) continue;
      out.push(v);
    }
    out.sort((a, b) => b.score - a.score || (a.last < b.last ? 1 : a.last > b.last ? -1 : 0));
    return opts.limit !== undefined ? out.slice(0, opts.limit) : out;
  }

  get size(): number { return this.open.size; }

  private append(inc: Open, e: TimelineEntry, at: number): void {
    if (at < inc.firstMs) inc.firstMs = at;
    if (at > inc.lastMs) inc.lastMs = at;
    // kept in time order; a late breach is inserted where it belongs
    let i = inc.timeline.length;
    while (i > 0 && inc.timeline[i - 1]!.time > e.time) i--;
    inc.timeline.splice(i, 0, e);
    if (inc.timeline.length > this.maxTimeline) { inc.timeline.pop(); this.counters.timeline_dropped++; }
  }

  private merge(into: Open, from: Open): void {
    for (const e of from.timeline) this.append(into, e, Date.parse(e.time));
    // (entries `from` had already dropped stay counted in timeline_dropped)
    into.firstMs = Math.min(into.firstMs, from.firstMs);
    into.lastMs = Math.max(into.lastMs, from.lastMs);
    into.clear *= from.clear;
    into.breaches += from.breaches;
    for (const d of from.devices) into.devices.add(d);
    for (const s of from.sensors) into.sensors.add(s);
    for (const a of from.addresses) { this.byAddress.get(a)?.delete(from.id); this.index(into, a); }
    this.open.delete(from.id);
    this.counters.merged++;
  }

  private index(inc: Open, a: string): void {
    inc.addresses.add(a);
    let ids = this.byAddress.get(a);
    if (!ids) { ids = new Set(); this.byAddress.set(a, ids); }
    ids.add(inc.id);
  }

  private touch(inc: Open): void {
    this.open.delete(inc.id);
    this.open.set(inc.id, inc);
  }

  private bound(): void {
    while (this.open.size > this.maxIncidents) {
      const oldest = this.open.values().next().value as Open;
      for (const a of oldest.addresses) {
        const ids = this.byAddress.get(a);
        ids?.delete(oldest.id);
        if (ids && ids.size === 0) this.byAddress.delete(a);
      }
      this.open.delete(oldest.id);
      this.counters.evicted++;
    }
  }
}

/** Stable: the sensor and breach that opened the incident. */
function incidentId(sensor: string, breachId: string): string {
  return `inc-${createHash('sha256').update(`${sensor}\0${breachId}`).digest('hex').slice(0, 16)}`;
}

function view(inc: Open): Incident {
  const phases = new Set<string>();
  for (const e of inc.timeline) for (const t of e.tactics) phases.add(t);
  const ordered = [...phases].sort((a, b) => KILL_CHAIN.indexOf(a) - KILL_CHAIN.indexOf(b));
  const devices = [...inc.devices].sort();
  const sensors = [...inc.sensors].sort();
  const score = Math.round(100 * (1 - inc.clear) * 10) / 10;
  return {
    id: inc.id, title: title(ordered, devices), score, phases: ordered,
    first: new Date(inc.firstMs).toISOString(), last: new Date(inc.lastMs).toISOString(),
    devices, sensors, breaches: inc.breaches, timeline: inc.timeline.map((e) => ({ ...e, tactics: [...e.tactics] })),
    summary: summarize(inc, ordered, devices, sensors),
  };
}

function title(phases: string[], devices: string[]): string {
  const chain = phases.length ? phases.join(' → ') : 'Unusual activity';
  return devices.length === 1 ? `${chain} on ${devices[0]}` : `${chain} across ${devices.length} devices`;
}

/**
 * A few plain sentences: the span, then per phase in kill-chain order the
 * strongest breach's own summary (which carries the key details, e.g.
 * "scanned 508 hosts on 4 ports in 5 minutes"), naming the device.
 */
function summarize(inc: Open, phases: string[], devices: string[], sensors: string[]): string {
  const span = duration(inc.lastMs - inc.firstMs);
  const head = `${inc.breaches} breach${inc.breaches === 1 ? '' : 'es'} on ${devices.length === 1 ? devices[0] : `${devices.length} devices (${list(devices)})`}` +
    `${span ? ` over ${span}` : ''}, seen by ${sensors.length === 1 ? `sensor ${sensors[0]}` : `sensors ${list(sensors)}`}.`;
  const parts: string[] = [];
  const said = new Set<string>();
  for (const p of phases.length ? phases : ['']) {
    const candidates = inc.timeline.filter((e) => (p ? e.tactics.includes(p) : e.tactics.length === 0) && !said.has(e.id));
    if (!candidates.length) continue;
    // a phase is told by the breach that saw it, not a meta model's sum of breaches (it names its models, not what happened)
    const best = candidates.reduce((a, b) => ((!b.meta && a.meta) || (!!b.meta === !!a.meta && b.score > a.score) ? b : a));
    said.add(best.id);
    parts.push(`${p ? `${p}: ` : ''}${best.summary.replace(/\.$/, '')} (${best.title}, score ${best.score}).`);
  }
  return [head, ...parts].join(' ');
}

function list(xs: string[]): string {
  return xs.length <= 4 ? xs.join(', ') : `${xs.slice(0, 4).join(', ')} and ${xs.length - 4} more`;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return s > 0 ? `${s} s` : '';
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
}
