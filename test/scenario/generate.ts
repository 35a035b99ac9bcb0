// The scenario: a seeded enterprise network over several days, benign on
// every day, with labelled attacks and benign look-alikes on the last (the
// test day). Connections come out in start order, one day at a time, so a
// renderer can stream them into a capture or flow logs.
import { Rng, type Seed } from '../../sensor/sample/rng.ts';
import { ATTACK_KINDS, injectAttack, lookAlikes, type AttackKind, type AttackTruth } from './attacks.ts';
import { benignDay } from './benign.ts';
import type { Conn } from './conn.ts';
import { buildTopology, Emitter, newSite, type Host } from './topology.ts';

export interface ScenarioOptions {
  seed: Seed;
  /** days in all; the last is the test day (default 4) */
  days?: number;
  workstations?: number;
  /** workstations partly on 802.1Q VLANs 20 and 30 (default true) */
  vlans?: boolean;
  /** share of workstations preferring IPv6 (default 0.15; 0 for an IPv4-only network) */
  ipv6Share?: number;
  /** attacks to inject on the test day (default all kinds) */
  attacks?: readonly AttackKind[];
  /** benign look-alikes on the test day (default true) */
  lookAlikes?: boolean;
  /** capture start: a Monday 00:00 UTC by default (2026-01-05) */
  startTs?: number;
}

export interface ScenarioHost {
  name: string;
  role: 'workstation' | 'server';
  job: string;
  ipv4: string;
  ipv6?: string;
  vlan?: number;
  /** joined on the test day */
  joined?: number;
}

/** The detection config an operator of this network writes: its scanner and backup server tagged. */
export const SCENARIO_TAGS = { 'security-scanner': ['10.10.0.18'], 'backup-server': ['10.10.0.16'] };

export interface Scenario {
  seed: Seed;
  startTs: number;
  endTs: number;
  testDayStart: number;
  hosts: ScenarioHost[];
  /** filled as the stream passes the test day's generation (read it after conns() is drained) */
  attacks: AttackTruth[];
  lookAlikes: string[];
  /** connections in start order */
  conns(): Generator<Conn>;
}

const DAY = 86400;

export function buildScenario(o: ScenarioOptions): Scenario {
  const days = o.days ?? 4;
  if (days < 2) throw new Error('a scenario needs at least one day of baseline and the test day');
  const startTs = o.startTs ?? 1767571200;
  const rng = new Rng(o.seed);
  const topo = buildTopology(rng.fork(), { workstations: o.workstations ?? 30, vlans: o.vlans ?? true, ipv6Share: o.ipv6Share ?? 0.15 });
  const testDayStart = startTs + (days - 1) * DAY;
  const kinds = o.attacks ?? ATTACK_KINDS;

  // The test day's cast, fixed up front so every day's traffic knows it.
  const candidates = topo.workstations.filter((w) => !w.admin);
  const newcomer: Host = { ...topo.workstations[topo.workstations.length - 1]!, name: 'ws-new', ipv4: '', mac: '02:00:00:00:00:99', personal: [] };
  newcomer.ipv4 = `${newcomer.subnet}.250`;
  if (newcomer.ipv6) newcomer.ipv6 = newcomer.ipv6.replace(/::[0-9a-f]+$/, '::fa');
  newcomer.arrive = 10;
  const hosts: ScenarioHost[] = [...topo.servers, ...topo.workstations].map((h) => ({
    name: h.name, role: h.role, job: h.job, ipv4: h.ipv4, ...(h.v6 || h.role === 'server' ? { ipv6: h.ipv6 } : {}), ...(h.vlan !== undefined ? { vlan: h.vlan } : {}),
  }));
  const withLookAlikes = o.lookAlikes ?? true;
  if (withLookAlikes) hosts.push({ name: newcomer.name, role: 'workstation', job: 'workstation', ipv4: newcomer.ipv4, ...(newcomer.v6 ? { ipv6: newcomer.ipv6 } : {}), ...(newcomer.vlan !== undefined ? { vlan: newcomer.vlan } : {}), joined: testDayStart + 10 * 3600 });

  const attacks: AttackTruth[] = [];
  const lookAlikeNotes: string[] = [];

  function* conns(): Generator<Conn> {
    // The topology's RNG also names new sites: restart it so every call yields the same stream.
    const local = buildTopology(new Rng(o.seed).fork(), { workstations: o.workstations ?? 30, vlans: o.vlans ?? true, ipv6Share: o.ipv6Share ?? 0.15 });
    const em = new Emitter(local);
    let carry: Conn[] = [];
    for (let d = 0; d < days; d++) {
      const day0 = startTs + d * DAY;
      const r = new Rng(`${o.seed}/day${d}`);
      const dow = new Date(day0 * 1000).getUTCDay();
      const weekday = dow >= 1 && dow <= 5;
      em.out.length = 0;
      const ws = local.workstations.slice();
      if (d === days - 1 && withLookAlikes) ws.push({ ...newcomer, port: 50000, personal: Array.from({ length: 15 }, () => newSite(local)) });
      benignDay(em, day0, weekday, r, ws);
      if (d === days - 1) {
        const ar = new Rng(`${o.seed}/attacks`);
        const devs = candidates.map((c) => local.workstations.find((w) => w.name === c.name)!);
        const order = devs.slice();
        for (let k = order.length - 1; k > 0; k--) { const j = ar.int(0, k); [order[k], order[j]] = [order[j]!, order[k]!]; }
        attacks.length = 0;
        kinds.forEach((kind, k) => {
          const dev = order[k % order.length]!;
          const t0 = day0 + 9.5 * 3600 + k * 1800 + ar.range(0, 600);
          attacks.push(injectAttack(em, kind, `${kind}-${k + 1}`, dev, t0, ar, [...local.servers, ...local.workstations]));
        });
        if (withLookAlikes) {
          lookAlikeNotes.length = 0;
          lookAlikeNotes.push(...lookAlikes(em, day0, ar, ws));
        }
      }
      // Connections start in order; those of this day that start after the
      // next day's first are impossible (a day's traffic starts within it).
      const today = carry.concat(em.out.filter((c) => c.ts < day0 + DAY));
      carry = em.out.filter((c) => c.ts >= day0 + DAY);
      today.sort((a, b) => a.ts - b.ts);
      for (const c of today) yield c;
    }
    carry.sort((a, b) => a.ts - b.ts);
    for (const c of carry) yield c;
  }

  return { seed: o.seed, startTs, endTs: startTs + days * DAY, testDayStart, hosts, attacks, lookAlikes: lookAlikeNotes, conns };
}
