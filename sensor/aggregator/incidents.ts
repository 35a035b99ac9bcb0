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
//
// A merged-away id is remembered (what an analyst may hold: a link, an
// acknowledgement): resolve() follows it to the incident it is now part
// of, and that incident lists it in merged_ids. Bounded too: at most
// MAX_MERGED_IDS ids listed per incident, at most `maxIncidents` aliases
// (the oldest forgotten first), and an incident's go when it is forgotten.

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
  /** shared between entries inside the correlator (views copy it) */
  tactics: readonly string[];
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
  /** the ids of incidents merged into this one (it absorbed them, or one that had), earliest first; at most MAX_MERGED_IDS */
  merged_ids: string[];
}

/** merged ids an incident lists (and keeps resolvable while it is held) */
export const MAX_MERGED_IDS = 100;

export interface CorrelatorOptions {
  /** seconds: a breach joins an incident whose span it comes within this of (default 6 h) */
  windowS?: number;
  /**
   * A peer address named by more devices than this within the window is
   * popular (a CDN, a resolver, an update server): it no longer links
   * incidents as a shared endpoint or as a linked device (default 10).
   */
  popularPeerDevices?: number;
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

/** tacticsOf by the technique list joined: models map to a few fixed lists, so each is worked out once (the arrays are shared: do not change them) */
const tacticsCache = new Map<string, readonly string[]>();

function cachedTactics(mitre: readonly string[]): readonly string[] {
  const key = mitre.join(',');
  let t = tacticsCache.get(key);
  if (t === undefined) {
    t = Object.freeze(tacticsOf(mitre));
    // bounded: technique lists come from sensors
    if (tacticsCache.size < 4096) tacticsCache.set(key, t);
  }
  return t;
}

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
  /** when it was last touched (a counter): its live entry in the eviction queue */
  stamp: number;
  /** ids merged into it (null until a merge: most incidents never absorb another) */
  merged: string[] | null;
}

export interface CorrelatorStats {
  breaches: number; incidents: number; merged: number; evicted: number; timeline_dropped: number;
  /** breaches whose peer was popular, so did not link through it */
  popular_peers: number;
}

export class IncidentCorrelator {
  private readonly windowMs: number;
  private readonly maxIncidents: number;
  private readonly maxTimeline: number;
  /** incident by id */
  private readonly open = new Map<string, Open>();
  /**
   * Least recently touched first, for eviction: [incident, stamp] pairs
   * pushed on every touch; a pair whose stamp is no longer its incident's
   * (touched again since) or whose incident is gone is skipped when it
   * comes up, and the queue is compacted when mostly such pairs. (Deleting
   * and re-inserting into the Map would keep that order too, but a Map
   * whose oldest entries are deleted over and over leaves holes at its
   * front that every look at the oldest walks over: eviction became
   * quadratic, 11 µs a breach at 50,000 incidents.)
   */
  private queue: [Open, number][] = [];
  private queueHead = 0;
  private stamps = 0;
  /** address → the id of the incident that touches it, or a set of ids when more than one does (rare: one saves a Set per address) */
  private readonly byAddress = new Map<string, string | Set<string>>();
  /** a merged-away id → the id of the incident that absorbed it (which may itself have been absorbed since: resolve() follows) */
  private readonly aliases = new Map<string, string>();
  /** aliases in the order made, for forgetting the oldest past maxIncidents (entries already deleted are skipped) */
  private aliasQueue: string[] = [];
  private aliasHead = 0;
  readonly counters: CorrelatorStats = { breaches: 0, incidents: 0, merged: 0, evicted: 0, timeline_dropped: 0, popular_peers: 0 };
  private readonly popularAt: number;
  /**
   * peer address → the devices that named it and when they last did (at
   * most popularAt + 1 kept: enough to tell popular), for the addresses
   * some incident indexes (forgotten with them).
   */
  private readonly namers = new Map<string, Map<string, number>>();

  constructor(opts: CorrelatorOptions = {}) {
    this.windowMs = (opts.windowS ?? 6 * 3600) * 1000;
    this.popularAt = Math.max(1, opts.popularPeerDevices ?? 10);
    this.maxIncidents = Math.max(1, opts.maxIncidents ?? 50_000);
    this.maxTimeline = Math.max(1, opts.maxTimeline ?? 500);
  }

  /** Learn one breach (from `sensor`, its sequence number `seq`); returns the id of the incident it is now part of. */
  add(b: IncidentBreach, sensor: string, seq: number): string {
    const t = Date.parse(b.time);
    const at = Number.isFinite(t) ? t : 0;
    const peer = b.peer?.ip ? b.peer.ip : null;
    const addresses = peer !== null && peer !== b.device.ip ? [b.device.ip, peer] : [b.device.ip];
    this.counters.breaches++;
    // A peer many devices name (a CDN, a resolver, a domain controller)
    // says nothing about a common attack: it links nothing, neither as an
    // endpoint this breach shares with other incidents nor, when it breaches
    // itself, to the incidents that named it. Merges made before it became
    // popular stay (so grouping past that point depends on arrival order;
    // below it, it does not).
    const peerPopular = peer !== null && peer !== b.device.ip && this.named(peer, b.device.ip, at);
    if (peerPopular) this.counters.popular_peers++;
    const devicePopular = this.isPopular(b.device.ip, at);
    // every incident this breach links, by a shared address within the window
    const linked: Open[] = [];
    for (const a of addresses) {
      if (a === peer && peerPopular) continue;
      const ids = this.byAddress.get(a);
      if (ids === undefined) continue;
      for (const id of typeof ids === 'string' ? [ids] : ids) {
        const inc = this.open.get(id)!;
        // a popular device links only to incidents it breached in, not to those that merely named it
        if (a === b.device.ip && devicePopular && !inc.devices.has(a)) continue;
        if (!linked.includes(inc) && at >= inc.firstMs - this.windowMs && at <= inc.lastMs + this.windowMs) linked.push(inc);
      }
    }
    let inc: Open;
    if (linked.length === 0) {
      inc = {
        id: incidentId(sensor, b.id), firstMs: at, lastMs: at, clear: 1, breaches: 0, timeline: [],
        devices: new Set(), sensors: new Set(), addresses: new Set(), stamp: 0, merged: null,
      };
      this.open.set(inc.id, inc);
      this.counters.incidents++;
    } else {
      // the earliest incident absorbs the others (its id stays: what an analyst may already hold)
      linked.sort((x, y) => x.firstMs - y.firstMs || (x.id < y.id ? -1 : 1));
      inc = linked[0]!;
      for (let k = 1; k < linked.length; k++) this.merge(inc, linked[k]!);
    }
    const entry: TimelineEntry = { sensor, seq, id: b.id, time: b.time, model: b.model, title: b.title, score: b.score, device: b.device.ip, tactics: cachedTactics(b.mitre), summary: b.summary };
    if (peer !== null) entry.peer = peer;
    if (b.related?.length) entry.meta = true;
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

  /** The id of the incident `id` is now part of: itself while held, the incident that absorbed it after a merge; null when unknown or forgotten. */
  resolve(id: string): string | null {
    let cur: string | undefined = id;
    // a chain (A into B, B into C) is at most as long as the aliases held
    for (let hops = 0; cur !== undefined && hops <= this.aliases.size; hops++) {
      if (this.open.has(cur)) return cur;
      cur = this.aliases.get(cur);
    }
    return null;
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
    for (const a of from.addresses) { this.unindex(from.id, a, false); this.index(into, a); }
    this.open.delete(from.id);
    this.counters.merged++;
    // `from` and the ids it had absorbed are now `into`'s
    const merged = into.merged ?? (into.merged = []);
    for (const id of [from.id, ...(from.merged ?? [])]) {
      if (merged.length < MAX_MERGED_IDS) merged.push(id);
    }
    this.aliases.set(from.id, into.id);
    this.aliasQueue.push(from.id);
    while (this.aliases.size > this.maxIncidents) this.aliases.delete(this.aliasQueue[this.aliasHead++]!);
    if (this.aliasHead > 1024 && this.aliasHead * 2 > this.aliasQueue.length) {
      this.aliasQueue = this.aliasQueue.slice(this.aliasHead);
      this.aliasHead = 0;
    }
    if (this.aliasQueue.length - this.aliasHead > 2 * this.aliases.size + 1024) {
      // mostly ids forgotten with their incidents: keep the live ones, in order
      this.aliasQueue = this.aliasQueue.slice(this.aliasHead).filter((id) => this.aliases.has(id));
      this.aliasHead = 0;
    }
  }

  private index(inc: Open, a: string): void {
    inc.addresses.add(a);
    const ids = this.byAddress.get(a);
    if (ids === undefined) this.byAddress.set(a, inc.id);
    else if (typeof ids !== 'string') ids.add(inc.id);
    else if (ids !== inc.id) this.byAddress.set(a, new Set([ids, inc.id]));
  }

  /** `device` named `peer` at `at`: whether the peer is now popular (more devices than popularAt named it within the window). */
  private named(peer: string, device: string, at: number): boolean {
    let m = this.namers.get(peer);
    if (!m) { m = new Map(); this.namers.set(peer, m); }
    m.set(device, Math.max(at, m.get(device) ?? -Infinity));
    if (m.size > this.popularAt + 1) {
      // keep the latest popularAt + 1 namers: enough to tell popular, bounded
      const oldest = [...m].sort((x, y) => x[1] - y[1]).slice(0, m.size - this.popularAt - 1);
      for (const [d] of oldest) m.delete(d);
    }
    return this.isPopular(peer, at);
  }

  private isPopular(address: string, at: number): boolean {
    const m = this.namers.get(address);
    if (!m || m.size <= this.popularAt) return false;
    let recent = 0;
    for (const t of m.values()) if (Math.abs(at - t) <= this.windowMs) recent++;
    return recent > this.popularAt;
  }

  /** `id` no longer touches `a`; when nothing does, `a` is forgotten (with its namers, unless `forget` is false: a merge moves it on at once). */
  private unindex(id: string, a: string, forget = true): void {
    const ids = this.byAddress.get(a);
    if (ids === id) { this.byAddress.delete(a); if (forget) this.namers.delete(a); }
    else if (typeof ids === 'object') {
      ids.delete(id);
      if (ids.size === 1) this.byAddress.set(a, ids.values().next().value as string);
    }
  }

  private touch(inc: Open): void {
    inc.stamp = ++this.stamps;
    this.queue.push([inc, inc.stamp]);
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    if (this.queue.length - this.queueHead > 2 * this.open.size + 1024) {
      // mostly stale pairs (incidents touched again or merged away): keep the live ones, in order
      this.queue = this.queue.slice(this.queueHead).filter(([i, stamp]) => i.stamp === stamp && this.open.get(i.id) === i);
      this.queueHead = 0;
    }
  }

  /** The least recently touched incident still open. */
  private oldest(): Open {
    for (;;) {
      const [inc, stamp] = this.queue[this.queueHead++]!;
      if (inc.stamp === stamp && this.open.get(inc.id) === inc) return inc;
    }
  }

  private bound(): void {
    while (this.open.size > this.maxIncidents) {
      const oldest = this.oldest();
      for (const a of oldest.addresses) this.unindex(oldest.id, a);
      this.open.delete(oldest.id);
      // the ids merged into it go with it
      if (oldest.merged) for (const id of oldest.merged) this.aliases.delete(id);
      this.counters.evicted++;
    }
  }
}

/**
 * Stable: a 64-bit FNV-1a hash of the sensor and breach that opened the
 * incident, so a rebuild after a restart gives the same ids. (Not a secret
 * and not chosen by anyone but the sensor that made the breach; a SHA-256
 * here was 7% of the correlator's time at one incident per breach.)
 */
export function incidentId(sensor: string, breachId: string): string {
  // two 32-bit halves of the 64-bit FNV-1a state (offset basis 0xcbf29ce484222325, prime 2^40 + 0x1b3)
  let hi = 0xcbf29ce4, lo = 0x84222325;
  const text = `${sensor}\u0000${breachId}`;
  for (let i = 0; i < text.length; i++) {
    lo = (lo ^ text.charCodeAt(i)) >>> 0;
    // (hi·2^32 + lo) × (2^40 + 0x1b3) mod 2^64
    const loMul = lo * 0x1b3;
    const carry = Math.floor(loMul / 0x100000000);
    const newLo = loMul >>> 0;
    hi = (Math.imul(hi, 0x1b3) + Math.imul(lo, 0x100) + carry) >>> 0;
    lo = newLo;
  }
  return `inc-${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`;
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
    merged_ids: inc.merged ? [...inc.merged] : [],
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
