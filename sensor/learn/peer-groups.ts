// Peer groups: devices clustered by what they do, so a deviation can be
// judged against similar devices — "unusual for this device, normal for its
// group" — and an analyst can ask which devices behave like this one.
//
// Each device's profile comes from the core's tables (WasmCore.learnProfiles):
// the ports it uses as a client, the share of its connections it answers
// (client or server), and when in the day it is active. Similarity, 0–1:
//   0.5 × Jaccard of client ports (what it talks)
// + 0.3 × cosine of the hour-of-day profile (when it works)
// + 0.2 × (1 − |difference of answered shares|) (client or server)
// Groups are the connected components of "similarity ≥ GROUP_AT" among the
// devices with enough history (at most MAX_DEVICES, the most active: the
// all-pairs pass is quadratic). A device's group knows which client ports
// most of its members use.
import type { DeviceProfileRow } from '../core/wasm-core.ts';

export const GROUP_AT = 0.6;
/** Connections (week profile) before a device's behaviour is judged at all. */
export const MIN_CONNS = 50;
export const MAX_DEVICES = 1000;
/** A port is normal for a group when at least this share of its members use it as clients. */
export const PORT_NORMAL_SHARE = 0.5;
/** Groups this small say nothing about what is normal. */
export const MIN_GROUP = 3;

export interface PeerGroup { id: number; members: string[]; ports: Map<number, number> }

export function similarity(a: DeviceProfileRow, b: DeviceProfileRow): number {
  let inter = 0;
  for (const p of a.clientPorts) if (b.clientPorts.has(p)) inter++;
  const union = a.clientPorts.size + b.clientPorts.size - inter;
  let dot = 0, na = 0, nb = 0;
  for (let h = 0; h < 24; h++) { dot += a.hours[h]! * b.hours[h]!; na += a.hours[h]! ** 2; nb += b.hours[h]! ** 2; }
  return mix(jaccard(inter, union), cosine(dot, na, nb), a.served, b.served);
}

// The three parts and their weights, in one place: similarity() and the
// all-pairs pass (similarAtLeast) must come to the same value.
const W_PORTS = 0.5, W_HOURS = 0.3, W_ROLE = 0.2;
const jaccard = (inter: number, union: number): number => (union > 0 ? inter / union : 1);
const cosine = (dot: number, na: number, nb: number): number => (na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0);
const mix = (jac: number, cos: number, servedA: number, servedB: number): number =>
  W_PORTS * jac + W_HOURS * cos + W_ROLE * (1 - Math.abs(servedA - servedB));

/** A profile made ready for the all-pairs pass: sorted ports, the hours' sum of squares (as similarity() sums it). */
interface Prepared { ports: Uint32Array; hours: Float64Array; squares: number; served: number }

function prepare(p: DeviceProfileRow): Prepared {
  let squares = 0;
  for (let h = 0; h < 24; h++) squares += p.hours[h]! ** 2;
  return { ports: Uint32Array.from(p.clientPorts).sort(), hours: p.hours, squares, served: p.served };
}

/**
 * similarity(a, b) >= at, computed as similarity() does (the same sums in the
 * same order: the same value), but from sorted ports, and skipped when the
 * ports alone rule it out (hours and role add at most W_HOURS + W_ROLE). The all-pairs
 * pass over 1,000 devices took 150 ms with similarity().
 */
function similarAtLeast(a: Prepared, b: Prepared, at: number): boolean {
  let inter = 0;
  for (let i = 0, j = 0; i < a.ports.length && j < b.ports.length;) {
    const x = a.ports[i]!, y = b.ports[j]!;
    if (x === y) { inter++; i++; j++; } else if (x < y) i++; else j++;
  }
  const jac = jaccard(inter, a.ports.length + b.ports.length - inter);
  if (W_PORTS * jac + W_HOURS + W_ROLE < at - 1e-9) return false;
  let dot = 0;
  for (let h = 0; h < 24; h++) dot += a.hours[h]! * b.hours[h]!;
  return mix(jac, cosine(dot, a.squares, b.squares), a.served, b.served) >= at;
}

export class PeerGroups {
  readonly groups: PeerGroup[] = [];
  private readonly groupOf = new Map<string, PeerGroup>();
  private readonly profiles: DeviceProfileRow[];

  constructor(rows: readonly DeviceProfileRow[]) {
    this.profiles = rows.filter((r) => r.conns >= MIN_CONNS).sort((a, b) => b.conns - a.conns || (a.ip < b.ip ? -1 : 1)).slice(0, MAX_DEVICES);
    const n = this.profiles.length;
    const parent = Array.from({ length: n }, (_, i) => i);
    const find = (i: number): number => { while (parent[i] !== i) { parent[i] = parent[parent[i]!]!; i = parent[i]!; } return i; };
    const prepared = this.profiles.map(prepare);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        // a pair already in one component changes nothing: skip its similarity (most pairs, in a network of look-alikes)
        const a = find(i), b = find(j);
        if (a !== b && similarAtLeast(prepared[i]!, prepared[j]!, GROUP_AT)) parent[Math.max(a, b)] = Math.min(a, b);
      }
    }
    const byRoot = new Map<number, PeerGroup>();
    for (let i = 0; i < n; i++) {
      const root = find(i);
      let g = byRoot.get(root);
      if (!g) { g = { id: this.groups.length, members: [], ports: new Map() }; byRoot.set(root, g); this.groups.push(g); }
      const p = this.profiles[i]!;
      g.members.push(p.ip);
      for (const port of p.clientPorts) g.ports.set(port, (g.ports.get(port) ?? 0) + 1);
      this.groupOf.set(p.ip, g);
    }
  }

  /** The device's group (undefined: too little history to judge, or not among the most active). */
  of(ip: string): PeerGroup | undefined { return this.groupOf.get(ip); }

  /** Is (port, proto) a client port most of the device's group use? (groups of MIN_GROUP or more only) */
  portNormal(ip: string, port: number, proto: number): boolean {
    const g = this.groupOf.get(ip);
    if (!g || g.members.length < MIN_GROUP) return false;
    return (g.ports.get(port | (proto << 16)) ?? 0) >= PORT_NORMAL_SHARE * g.members.length;
  }

  /** The k devices most similar to ip, most similar first. */
  similar(ip: string, k = 5): { device: string; similarity: number }[] {
    const me = this.profiles.find((p) => p.ip === ip);
    if (!me) return [];
    return this.profiles.filter((p) => p !== me).map((p) => ({ device: p.ip, similarity: Math.round(similarity(me, p) * 1000) / 1000 }))
      .sort((a, b) => b.similarity - a.similarity || (a.device < b.device ? -1 : 1)).slice(0, k);
  }

  /** Groups for the summary: members and the client ports most of them use. */
  describe(): { group: number; size: number; members: string[]; common_ports: string[] }[] {
    return this.groups.map((g) => ({
      group: g.id, size: g.members.length, members: g.members.slice(0, 20),
      common_ports: [...g.ports].filter(([, c]) => c >= PORT_NORMAL_SHARE * g.members.length).sort((a, b) => b[1] - a[1]).slice(0, 10)
        .map(([p]) => `${p & 0xffff}/${({ 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmp6' } as Record<number, string>)[p >>> 16] ?? String(p >>> 16)}`),
    }));
  }
}
