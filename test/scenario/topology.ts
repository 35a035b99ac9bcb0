// The simulated enterprise: who exists, where, with which addresses.
//
// Servers sit on 10.10.0.0/24 (fd00:0:0:a::/64), workstations on 10.1.0.0/24
// or, when VLANs are on, partly on VLAN 20 / 30 (10.20.0.0/24, 10.30.0.0/24).
// External sites live in the benchmarking ranges 198.18.0.0/15 and
// 2001:db8::/32, each with a DNS name, and are chosen by Zipf popularity, so
// a few are contacted by everyone and most by one or two devices: the shape
// rarity has to cope with.
import type { Rng } from '../../sensor/sample/rng.ts';
import type { Conn, ConnState, DnsExchange } from './conn.ts';

export const ROUTER_MAC = '00:00:0c:07:ac:01';

export interface Host {
  name: string;
  role: 'workstation' | 'server';
  /** dc, file, web, db, mail, app, backup, monitor, scanner (servers) */
  job: string;
  ipv4: string;
  ipv6?: string;
  /** prefers IPv6 where the peer has an address */
  v6: boolean;
  mac: string;
  vlan?: number;
  /** /24 the host is on: hosts on the same one talk MAC to MAC */
  subnet: string;
  /** next ephemeral port */
  port: number;
  /** workstation habits: arrival and leaving hours (UTC), activity multiplier */
  arrive: number;
  leave: number;
  activity: number;
  /** admin workstation: administers servers over RDP/SSH/WinRM */
  admin: boolean;
  /** left on overnight */
  alwaysOn: boolean;
  /** sites this workstation visits beyond the popular ones */
  personal: Site[];
}

export interface Site {
  name: string;
  ipv4: string;
  ipv6: string;
}

export interface Topology {
  servers: Host[];
  workstations: Host[];
  byJob: Map<string, Host>;
  /** popular external sites, most popular first (Zipf) */
  sites: Site[];
  siteCum: number[];
  /** the vendor update service every device polls */
  updates: Site;
  /** upstream DNS resolvers the DC forwards to, NTP pool */
  resolvers: Site[];
  ntpPool: Site;
  /** the company's SaaS suite, used all day by everyone */
  saas: Site[];
  /** mail exchangers the mail server delivers to (a few big ones, many small) */
  mx: Site[];
  rng: Rng;
  nextExternal: number;
}

const WORDS = ['alpha', 'nova', 'blue', 'cloud', 'data', 'point', 'river', 'stone', 'green', 'swift', 'metro', 'pixel', 'orbit', 'maple', 'cedar', 'delta', 'prime', 'north', 'solar', 'lumen', 'vertex', 'harbor', 'summit', 'atlas', 'ember', 'quartz', 'falcon', 'willow', 'apex', 'zen'];
const TLDS = ['com', 'net', 'org', 'io', 'co.uk', 'de', 'com.au'];

export interface TopologyOptions {
  workstations: number;
  vlans: boolean;
  ipv6Share: number;
}

const SERVER_JOBS = ['dc', 'file', 'web', 'db', 'mail', 'app', 'backup', 'monitor', 'scanner'];

function mac(rng: Rng, oui: string): string {
  const b = () => rng.int(0, 255).toString(16).padStart(2, '0');
  return `${oui}:${b()}:${b()}:${b()}`;
}

/** A fresh external endpoint (address pair and a DNS name), never handed out before. */
export function newSite(topo: Topology, name?: string): Site {
  const rng = topo.rng;
  const n = topo.nextExternal++;
  const a = 512 + n * 7 + rng.int(0, 6); // 198.18.2.0 upwards, unique
  const ipv4 = `198.${18 + (a >> 16)}.${(a >> 8) & 255}.${a & 255}`;
  const ipv6 = `2001:db8:${(n + 1).toString(16)}::${rng.int(1, 0xfff).toString(16)}`;
  const site = name ?? `${rng.pick(['www', 'app', 'api', 'cdn', 'static', 'portal'])}.${rng.pick(WORDS)}${rng.pick(WORDS)}${n}.${rng.pick(TLDS)}`;
  return { name: site, ipv4, ipv6 };
}

export function buildTopology(rng: Rng, o: TopologyOptions): Topology {
  const topo: Topology = {
    servers: [], workstations: [], byJob: new Map(), sites: [], siteCum: [],
    updates: undefined as unknown as Site, resolvers: [], ntpPool: undefined as unknown as Site, saas: [], mx: [],
    rng, nextExternal: 0,
  };
  SERVER_JOBS.forEach((job, k) => {
    const host = 10 + k;
    const h: Host = {
      name: `${job}01`, role: 'server', job, ipv4: `10.10.0.${host}`, ipv6: `fd00:0:0:a::${host.toString(16)}`, v6: false,
      mac: `00:50:56:9a:00:${host.toString(16).padStart(2, '0')}`, subnet: '10.10.0', port: rng.int(32768, 60000),
      arrive: 0, leave: 24, activity: 1, admin: false, alwaysOn: true, personal: [],
    };
    topo.servers.push(h);
    topo.byJob.set(job, h);
  });
  const counters = new Map<string, number>();
  for (let k = 0; k < o.workstations; k++) {
    const vlan = o.vlans && rng.chance(0.4) ? (rng.chance(0.5) ? 20 : 30) : undefined;
    const subnet = vlan === undefined ? '10.1.0' : `10.${vlan}.0`;
    const n = (counters.get(subnet) ?? 0) + 1;
    counters.set(subnet, n);
    const v6 = rng.chance(o.ipv6Share);
    const h: Host = {
      name: `ws${String(k + 1).padStart(3, '0')}`, role: 'workstation', job: 'workstation',
      ipv4: `${subnet}.${n + 10}`, ipv6: `fd00:0:0:${vlan ?? 1}::${(n + 10).toString(16)}`, v6,
      mac: mac(rng, rng.pick(['3c:52:82', 'f8:ff:c2', '8c:16:45', 'd4:81:d7'])), vlan, subnet, port: rng.int(49152, 65000),
      arrive: rng.range(7.5, 9.5), leave: rng.range(16.5, 18.5), activity: rng.lognormal(1, 0.5),
      admin: k === 0, alwaysOn: rng.chance(0.3), personal: [],
    };
    topo.workstations.push(h);
  }
  for (let k = 0; k < 300; k++) topo.sites.push(newSite(topo));
  let c = 0;
  for (let k = 0; k < topo.sites.length; k++) topo.siteCum.push((c += 1 / (k + 1)));
  for (const w of topo.workstations) for (let k = 0; k < 15; k++) w.personal.push(newSite(topo));
  topo.updates = newSite(topo, 'update.vendor-os.com');
  topo.resolvers = [newSite(topo, 'resolver1.isp.net'), newSite(topo, 'resolver2.isp.net')];
  topo.ntpPool = newSite(topo, 'pool.ntp.org');
  for (const s of ['mail.office-suite.com', 'chat.office-suite.com', 'files.office-suite.com', 'meet.office-suite.com']) topo.saas.push(newSite(topo, s));
  for (let k = 0; k < 120; k++) topo.mx.push(newSite(topo, `mx${k}.${rng.pick(WORDS)}${k}.com`));
  return topo;
}

/** A popular site by Zipf rank. */
export function popularSite(topo: Topology): Site {
  const x = topo.rng.float() * topo.siteCum[topo.siteCum.length - 1]!;
  let lo = 0, hi = topo.siteCum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (topo.siteCum[mid]! > x) hi = mid; else lo = mid + 1;
  }
  return topo.sites[lo]!;
}

/** What the generators need to emit connections. */
export class Emitter {
  readonly out: Conn[] = [];
  constructor(readonly topo: Topology) {}

  private ephemeral(h: Host): number {
    h.port = h.port >= 65000 ? 49152 : h.port + 1 + (this.topo.rng.chance(0.1) ? this.topo.rng.int(1, 5) : 0);
    return h.port;
  }

  private useV6(a: Host, b: Host | Site): boolean {
    return a.v6 && b.ipv6 !== undefined;
  }

  /** A connection from internal host a to internal host b. */
  internal(t: number, a: Host, b: Host, proto: Conn['proto'], port: number, ob: number, rb: number, dur: number, state: ConnState, kind: string, attack?: string, dns?: DnsExchange): Conn {
    const v6 = this.useV6(a, b) && a.ipv6 !== undefined && b.ipv6 !== undefined;
    const same = a.subnet === b.subnet;
    const c: Conn = {
      ts: t, duration: dur, proto,
      orig_h: v6 ? a.ipv6! : a.ipv4, orig_p: proto === 'icmp' ? 8 : this.ephemeral(a),
      resp_h: v6 ? b.ipv6! : b.ipv4, resp_p: proto === 'icmp' ? 0 : port,
      orig_bytes: ob, resp_bytes: rb, state,
      // The tap sits at the core switch: a routed peer's frames carry the gateway's address.
      orig_mac: a.mac, resp_mac: same ? b.mac : ROUTER_MAC,
      kind,
    };
    if (a.vlan !== undefined) c.vlan = a.vlan;
    if (dns) c.dns = dns;
    if (attack) c.attack = attack;
    this.out.push(c);
    return c;
  }

  /** A connection from internal host a to an external site. */
  external(t: number, a: Host, s: Site, proto: Conn['proto'], port: number, ob: number, rb: number, dur: number, state: ConnState, kind: string, attack?: string): Conn {
    const v6 = this.useV6(a, s);
    const c: Conn = {
      ts: t, duration: dur, proto,
      orig_h: v6 ? a.ipv6! : a.ipv4, orig_p: proto === 'icmp' ? 8 : this.ephemeral(a),
      resp_h: v6 ? s.ipv6 : s.ipv4, resp_p: proto === 'icmp' ? 0 : port,
      orig_bytes: ob, resp_bytes: rb, state,
      orig_mac: a.mac, resp_mac: ROUTER_MAC, kind,
    };
    if (a.vlan !== undefined) c.vlan = a.vlan;
    if (attack) c.attack = attack;
    this.out.push(c);
    return c;
  }

  /** The DC asking its upstream resolver the same question (a cache miss): what a resolver does for its clients. */
  forward(t: number, dns: DnsExchange, kind = 'dns-forward', attack?: string): Conn {
    const dc = this.topo.byJob.get('dc')!;
    const c = this.external(t, dc, this.topo.resolvers[0]!, 'udp', 53, 0, 0, this.topo.rng.range(0.005, 0.05), 'SF', kind, attack);
    c.dns = { ...dns };
    return c;
  }

  /** A DNS lookup of `name` through the DC's resolver, answered with the site's address. */
  lookup(t: number, a: Host, name: string, answer: Site | null, kind = 'dns', attack?: string, qtype?: number, txt?: string[]): Conn {
    const dc = this.topo.byJob.get('dc')!;
    const type = qtype ?? (a.v6 ? 28 : 1);
    const dns: DnsExchange = {
      qname: name, qtype: type, rcode: answer || txt ? 0 : 3,
      answers: answer && (type === 1 || type === 28) ? [type === 28 ? answer.ipv6 : answer.ipv4] : [],
      ttl: 300,
    };
    if (txt) dns.txt = txt;
    const dur = this.topo.rng.range(0.0004, 0.03);
    return this.internal(t, a, dc, 'udp', 53, 0, 0, dur, 'SF', kind, attack, dns);
  }
}
