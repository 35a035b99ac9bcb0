// A simulated enterprise network, generated from a seed.
//
// Workstations (some on 802.1Q VLANs, some preferring IPv6) and servers (DNS
// resolver, domain controller, file, web, database, mail, application) on
// RFC 1918 / ULA subnets, plus external HTTPS servers in the benchmarking
// ranges 198.18.0.0/15 and 2001:db8::/32. Connections arrive as a Poisson
// process; each connection is planned in full when it starts (every packet's
// direction, flags, payload length and capture time), then its packets are
// interleaved with all other open connections through a priority queue keyed
// on the next packet's time, so the sink sees one capture in time order.
//
// Because the plan is complete, the ground truth is exact: one ExpectedFlow per
// connection with Zeek's conn.log counters and conn_state. No two connections
// share a 5-tuple (or, for ICMP, Zeek's (host, type, host, counterpart) key)
// within Zeek's inactivity timeout after the earlier one's last packet.
//
// The capture's clock is the simulated schedule; nothing depends on wall time.

import type { FrameSink } from "./capture-writer.ts";
import * as F from "./frames.ts";
import { Rng, type Seed } from "./rng.ts";
import { formatAddress, formatMac } from "../flows/ip-address.ts";

// ------------------------------------------------------------------ public types

export type ZeekConnState =
  | "S0" | "S1" | "SF" | "REJ" | "S2" | "S3" | "RSTO" | "RSTR"
  | "RSTOS0" | "RSTRH" | "SH" | "SHR" | "OTH";

/** What Zeek's conn.log should say about one generated connection. */
export interface ExpectedFlow {
  /** Generator's connection number, in order of first packet (0-based). */
  id: number;
  /** Capture time of the first / last packet, seconds since the epoch (ns precision in the file; µs files floor it). */
  ts: number;
  last_ts: number;
  orig_h: string;
  /** TCP/UDP port; ICMP: the type of the originator's messages (Zeek's convention). */
  orig_p: number;
  resp_h: string;
  /** TCP/UDP port; ICMP: Zeek's "counterpart" type (echo 8→0, ICMPv6 echo 128→129). */
  resp_p: number;
  proto: "tcp" | "udp" | "icmp";
  ip_version: 4 | 6;
  /** 802.1Q VLAN id, present only when the frames carry a tag. */
  vlan?: number;
  /** Capture interface (pcapng IDB index; 0 for classic pcap). */
  iface: number;
  orig_pkts: number;
  resp_pkts: number;
  /** Sum of IP total lengths (IPv6: 40 + payload length). */
  orig_ip_bytes: number;
  resp_ip_bytes: number;
  /** Application payload bytes (TCP: segment payload = sequence-space size; UDP: datagram payload; ICMP: data after the 8-byte header). */
  orig_bytes: number;
  resp_bytes: number;
  conn_state: ZeekConnState;
  /** Generator label of the traffic kind (not a Zeek field): dns, https-out, smb, ping, … */
  kind: string;
}

export interface HostInfo {
  name: string;
  role: "workstation" | "server";
  services: string[];
  mac: string;
  ipv4: string;
  ipv6?: string;
  vlan?: number;
}

export interface NetworkOptions {
  seed: Seed;
  /** Exact number of frames to generate (unless durationS ends first). Default 10 000 when durationS is absent too. */
  packets?: number;
  /** Stop starting connections after this many seconds of capture time. With packets too, the connection rate is tuned so both roughly agree. */
  durationS?: number;
  /** Total hosts (about 1 in 8 becomes a server, at least 3), or explicit counts. Default 40. */
  hosts?: number | { workstations: number; servers: number };
  /** Share of workstations that prefer IPv6 (dual-stacked; servers always are). Default 0.15. */
  ipv6Share?: number;
  /** Share of workstations on 802.1Q-tagged VLANs 20 and 30. Default 0.25. */
  vlanShare?: number;
  /** Capture start, seconds since the epoch (fractions allowed). Default 1700000000. */
  startTs?: number;
  /**
   * Link types of the capture interfaces (default [Ethernet]). Traffic is
   * spread by where a tap would see it: workstation↔internal on interface 0,
   * server↔server on interface 1, external on interface 2 (each clamped to the
   * last interface). Supported: LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL.
   */
  links?: number[];
  /** New connections per workstation per second (servers start a quarter of that). Default 1.2. */
  connectionRate?: number;
  /** Write correct TCP/UDP/ICMP checksums (default true); false leaves them zero. */
  checksums?: boolean;
  /** Emit ARP (non-IP) frames on Ethernet / SLL interfaces. Default true. */
  arp?: boolean;
  /** Receive each ExpectedFlow as its connection starts; then the summary's flows array stays empty. */
  onFlow?: (flow: ExpectedFlow) => void;
  /**
   * Inject a short attack from one workstation once this share (0–1) of the
   * packet budget is spoken for: a sweep of 40 unused internal addresses on
   * 445, a port scan of 60 ports of a server, 30 SSH password guesses — what
   * the demo shows detection on. A share, not a time: how long a packet
   * budget lasts depends on the network's size and rates. Its flows are in
   * the ground truth like any other (kind "attack-…"). Needs `packets`.
   */
  attackAfter?: number;
}

/** What attackAfter injected (NetworkSummary.attack). */
export interface InjectedAttack {
  /** capture time (seconds) the attack began */
  ts: number;
  device: { name: string; ip: string };
  steps: string[];
}

export interface NetworkSummary {
  /** Frames handed to the sink. */
  packets: number;
  /** Frames that are IPv4/IPv6 (all counted in some ExpectedFlow). */
  ipPackets: number;
  /** Frames that are not IP (ARP). */
  nonIpPackets: number;
  /** Sum of frame lengths. */
  bytes: number;
  /** Ground truth, in order of first packet (empty when onFlow was given). */
  flows: ExpectedFlow[];
  flowCount: number;
  /** Capture time of the first / last frame (seconds). */
  firstTs: number;
  lastTs: number;
  hosts: HostInfo[];
  /** the attack injected (attackAfter) */
  attack?: InjectedAttack;
}

// ------------------------------------------------------------------ constants

const NS = 1;
const US = 1e3 * NS;
const MS = 1e6 * NS;
const S = 1e9 * NS;

/** Zeek's defaults; a 5-tuple is not reused within these after a connection's last packet. */
const TCP_INACTIVITY = 300 * S;
const UDP_INACTIVITY = 60 * S;
const ICMP_INACTIVITY = 60 * S;
const REUSE_MARGIN = 30 * S;

const ROUTER_MAC = Uint8Array.of(0x00, 0x00, 0x0c, 0x07, 0xac, 0x01);
const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const ZERO_MAC = new Uint8Array(6);
const WS_OUIS = [[0x3c, 0x52, 0x82], [0xf8, 0xff, 0xc2], [0x00, 0x1b, 0x21], [0x8c, 0x16, 0x45], [0xd4, 0x81, 0xd7], [0x98, 0xfa, 0x9b]];

const SERVER_ROLES = ["dns", "dc", "file", "web", "db", "mail", "app"] as const;
type ServerRole = (typeof SERVER_ROLES)[number];
const ROLE_SERVICES: Record<ServerRole, string[]> = {
  dns: ["dns/udp 53"],
  dc: ["kerberos/tcp 88", "ldap/tcp 389", "smb/tcp 445", "ntp/udp 123"],
  file: ["smb/tcp 445"],
  web: ["http/tcp 80", "https/tcp 443", "http-alt/tcp 8080"],
  db: ["postgresql/tcp 5432", "mssql/tcp 1433"],
  mail: ["imaps/tcp 993", "submission/tcp 587"],
  app: ["https-alt/tcp 8443", "ssh/tcp 22", "syslog/udp 514"],
};

const OP_DIR = 1;
const OP_FLAGS_SHIFT = 1;
const OP_LEN_SHIFT = 9;

const PROTO_ARP = 0;

// ------------------------------------------------------------------ hosts

interface Host {
  idx: number;
  name: string;
  role: "ws" | "server" | "ghost" | "external" | "router";
  serverRole: ServerRole | null;
  mac: Uint8Array;
  v4: number;
  v4Sum: number;
  v6: Uint8Array | null;
  v6Sum: number;
  v4Str: string;
  v6Str: string;
  vlan: number;
  windows: boolean;
  /** TTL / hop limit of its packets as they reach the tap. */
  ttl: number;
  ipId: number;
  tsBase: number;
  portLo: number;
  portHi: number;
  nextPort: number;
  activity: number;
  v6Pref: boolean;
  delack: number;
  subnetV4: number; // network address of its /16 (workstations) or /24
}

// ------------------------------------------------------------------ sessions

class Session {
  t = 0;
  i = 0;
  n = 0;
  ops: number[] = [];
  acks: number[] = [];
  times: number[] = [];
  payloads: (Uint8Array | null)[] | null = null;
  proto = F.IPPROTO_TCP;
  v6 = false;
  cport = 0;
  sport = 0;
  macC: Uint8Array = ZERO_MAC;
  macS: Uint8Array = ZERO_MAC;
  vlan = -1;
  iface = 0;
  link = F.LINKTYPE_ETHERNET;
  ttl = [64, 64];
  flowLabel = [0, 0];
  // TCP
  isn = [0, 0];
  rel = [0, 0];
  tsOn = false;
  synLayout = [F.TCPOPT_SYN_LINUX, F.TCPOPT_SYN_LINUX];
  win = [502, 502];
  mss = [1460, 1460];
  lastTsval = [0, 0];
  synSent = [false, false];
  // ICMP
  icmpType = [8, 0];
  icmpId = 0;
  // ARP
  arpTarget = 0;
  arpReplyMac: Uint8Array | null = null;

  constructor(readonly c: Host, readonly s: Host, readonly kind: string) {}
}

/** Incremental plan of one TCP/UDP/ICMP connection. */
class Plan {
  readonly ops: number[] = [];
  readonly acks: number[] = [];
  readonly times: number[] = [];
  payloads: (Uint8Array | null)[] | null = null;
  /** Sequence space sent by each side after its SYN (data + FIN). */
  readonly sent = [0, 0];
  /** Last ack value each side sent (sequence space of the other side). */
  readonly acked = [0, 0];
  /** Capture time of each side's last data segment. */
  readonly lastData = [0, 0];
  last = 0;
  cwnd = [10, 10];

  constructor(
    public t: number,
    readonly rtt: number,
    readonly bitsPerNs: number,
    readonly mssPay: number[],
    readonly delack: number[],
    readonly turn: number,
  ) {}

  push(dir: number, flags: number, len: number, t: number, ackRel = this.sent[1 - dir]!, payload: Uint8Array | null = null): number {
    if (t < this.last) t = this.last;
    this.ops.push(dir | (flags << OP_FLAGS_SHIFT) | (len << OP_LEN_SHIFT));
    this.acks.push(ackRel);
    this.times.push(t);
    if (this.payloads) this.payloads.push(payload);
    this.sent[dir]! += len + (flags & F.TCP_FIN ? 1 : 0);
    if (flags & F.TCP_ACK) this.acked[dir] = ackRel;
    if (len > 0) this.lastData[dir] = t;
    this.last = t;
    this.t = t;
    return t;
  }

  /** Does side dir owe the other an ACK? */
  owes(dir: number): boolean {
    return this.acked[dir]! < this.sent[1 - dir]!;
  }

  /** If side dir owes an ACK that its delayed-ACK timer sends before tNext, send it. */
  settle(dir: number, tNext: number): void {
    if (!this.owes(dir)) return;
    const at = this.lastData[1 - dir]! + this.delack[dir]! + (dir === 1 ? this.rtt : 0);
    if (at < tNext) this.push(dir, F.TCP_ACK, 0, at);
  }

  /** Serialization time of a segment with this payload. */
  ser(len: number): number {
    return ((len + 66) * 8) / this.bitsPerNs;
  }

  /**
   * Send `bytes` of data from side dir starting at time t (as seen at the
   * tap, which sits next to the client). The receiver ACKs every second
   * segment; a trailing odd segment stays owed (settle() or a piggyback).
   * Returns the time of the last data segment.
   */
  transfer(dir: number, bytes: number, t: number): number {
    const peer = 1 - dir;
    const mss = this.mssPay[dir]!;
    const fromClient = dir === 0;
    // Client flights must fit in one RTT so the server's ACKs follow them.
    const maxFlight = fromClient ? Math.max(1, Math.floor((0.8 * this.rtt) / this.ser(mss))) : 1 << 30;
    let remaining = bytes;
    let last = t;
    while (remaining > 0) {
      const segs = Math.min(this.cwnd[dir]!, Math.ceil(remaining / mss), maxFlight);
      let firstAck = -1;
      let unacked = 0;
      pendingN = 0;
      for (let k = 0; k < segs; k++) {
        const len = remaining < mss ? remaining : mss;
        remaining -= len;
        last = this.push(dir, F.TCP_ACK | (remaining === 0 ? F.TCP_PSH : 0), len, t);
        unacked++;
        if (unacked === 2) {
          unacked = 0;
          if (fromClient) {
            pendingAck[pendingN] = this.sent[dir]!;
            pendingAt[pendingN++] = last + this.rtt;
          } else {
            const a = this.push(peer, F.TCP_ACK, 0, last + this.turn);
            if (firstAck < 0) firstAck = a;
          }
        }
        t = last + this.ser(len);
      }
      for (let k = 0; k < pendingN; k++) {
        const a = this.push(peer, F.TCP_ACK, 0, pendingAt[k]!, pendingAck[k]!);
        if (firstAck < 0) firstAck = a;
      }
      this.cwnd[dir] = Math.min(this.cwnd[dir]! * 2, 256);
      if (remaining > 0) {
        const next = firstAck >= 0 ? firstAck + (fromClient ? this.turn : this.rtt) : last + this.rtt;
        if (next > t) t = next;
      }
    }
    return last;
  }

  /** Client request, server think time, server response. Returns the time of the last response segment. */
  exchange(req: number, resp: number, think: number, tReq: number): number {
    this.settle(0, tReq);
    const reqEnd = this.transfer(0, req, tReq);
    const tResp = reqEnd + this.rtt + think;
    this.settle(1, tResp);
    return this.transfer(1, resp, tResp);
  }

  /** FIN teardown started by side `closer` at time t; 3-way or 4-way. */
  close(closer: number, t: number, fourWay: boolean, appDelay: number): void {
    const other = 1 - closer;
    this.settle(closer, t);
    this.settle(other, t);
    const fin = this.push(closer, F.TCP_FIN | F.TCP_ACK, 0, t);
    const seen = fin + (closer === 0 ? this.rtt : this.turn);
    if (fourWay) {
      const a = this.push(other, F.TCP_ACK, 0, seen);
      this.push(other, F.TCP_FIN | F.TCP_ACK, 0, a + appDelay);
    } else {
      this.push(other, F.TCP_FIN | F.TCP_ACK, 0, seen);
    }
    this.push(closer, F.TCP_ACK, 0, this.last + (closer === 0 ? this.turn : this.rtt));
  }

  /** Abort by side `who` at time t (RST+ACK). */
  reset(who: number, t: number): void {
    this.push(who, F.TCP_RST | F.TCP_ACK, 0, t);
  }
}

// Scratch for Plan.transfer (client flights' deferred ACKs).
const pendingAck = new Float64Array(4096);
const pendingAt = new Float64Array(4096);
let pendingN = 0;

// ------------------------------------------------------------------ heap

class SessionHeap {
  readonly a: Session[] = [];
  get size(): number { return this.a.length; }
  peek(): Session | undefined { return this.a[0]; }
  push(s: Session): void {
    const a = this.a;
    let i = a.length;
    a.push(s);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.t <= s.t) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = s;
  }
  /** Restore order after the top's key grew. */
  siftTop(): void {
    const a = this.a;
    const n = a.length;
    const s = a[0]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r]!.t < a[l]!.t ? r : l;
      if (a[c]!.t >= s.t) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = s;
  }
  pop(): void {
    const a = this.a;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      this.siftTop();
    }
  }
}

// ------------------------------------------------------------------ the generator

/** Generate the network's traffic into sink, in time order; returns the ground truth. */
export function generateNetwork(opts: NetworkOptions, sink: FrameSink): NetworkSummary {
  return new Generator(opts, sink).run();
}

type Kind =
  | "dns" | "https-out" | "http-intranet" | "smb" | "ad" | "db" | "mail" | "ntp" | "ping" | "syslog"
  | "rej" | "s0" | "ssh" | "persistent" | "arp"
  | "srv-db" | "srv-backup" | "srv-ldap" | "srv-dns" | "srv-ntp";

const WS_KINDS: Kind[] = ["dns", "https-out", "http-intranet", "smb", "ad", "db", "mail", "ntp", "ping", "syslog", "rej", "s0", "ssh", "persistent", "arp"];
const WS_WEIGHTS = [28, 22, 8, 7, 6, 2, 2, 3, 2, 1, 2, 1.5, 0.4, 1, 4];
const SRV_KINDS: Kind[] = ["srv-db", "srv-backup", "srv-ldap", "srv-dns", "srv-ntp"];
const SRV_WEIGHTS = [40, 0.5, 15, 30, 5];

const DNS_INTERNAL = ["corp.example", "ad.corp.example", "intranet.example"];
const DNS_EXTERNAL = ["example.com", "example.net", "example.org", "cdn.example.com", "api.example.net", "updates.example.org", "login.example.com", "static.example.net"];
const DNS_PREFIX = ["www", "mail", "fs", "app", "api", "cdn", "portal", "wiki", "git", "ci", "vpn", "sso", "img", "tiles", "telemetry", "sync"];

class Generator {
  private readonly rng: Rng;
  private readonly sink: FrameSink;
  private readonly pool: F.PayloadPool;
  private readonly scratch = new Uint8Array(65536);
  private readonly checksums: boolean;
  private readonly arp: boolean;
  private readonly links: number[];
  private readonly baseSec: number;
  private readonly baseNs: number;
  private readonly target: number;
  private readonly durationNs: number;
  private readonly onFlow: ((f: ExpectedFlow) => void) | undefined;
  /** packets committed before the attack starts (attackAfter × the budget) */
  private attackAtPackets: number | undefined;
  private attack: InjectedAttack | undefined;

  private readonly ws: Host[] = [];
  private readonly servers: Host[] = [];
  private readonly ghosts: Host[] = [];
  private readonly externals: Host[] = [];
  private readonly routers = new Map<number, Host>();
  private readonly wsCum: number[] = [];
  private readonly srvCum: number[] = [];
  private readonly byRole = new Map<ServerRole, Host[]>();
  private hostCount = 0;

  /** (host idx * 65536 + port) → capture time until which the port may not be reused. */
  private readonly portBusy = new Map<number, number>();
  /** ICMP echo key → busy until. */
  private readonly icmpBusy = new Map<number, number>();

  private readonly heap = new SessionHeap();
  private readonly flows: ExpectedFlow[] = [];
  private flowId = 0;
  private committed = 0;
  private arrivals = 0;
  private wsRate: number;
  private srvRate: number;

  private packets = 0;
  private ipPackets = 0;
  private nonIp = 0;
  private bytes = 0;
  private firstNs = -1;
  private lastNs = 0;

  constructor(opts: NetworkOptions, sink: FrameSink) {
    this.rng = new Rng(opts.seed);
    this.sink = sink;
    this.checksums = opts.checksums ?? true;
    this.arp = opts.arp ?? true;
    this.links = opts.links && opts.links.length ? opts.links.slice() : [F.LINKTYPE_ETHERNET];
    for (const l of this.links) {
      if (l !== F.LINKTYPE_ETHERNET && l !== F.LINKTYPE_RAW && l !== F.LINKTYPE_LINUX_SLL) throw new Error(`unsupported link type ${l}`);
    }
    const start = opts.startTs ?? 1_700_000_000;
    this.baseSec = Math.floor(start);
    this.baseNs = Math.round((start - this.baseSec) * 1e9);
    this.target = opts.packets ?? (opts.durationS === undefined ? 10_000 : Infinity);
    if (!(this.target > 0)) throw new Error(`packets must be positive, got ${opts.packets}`);
    this.durationNs = opts.durationS === undefined ? Infinity : opts.durationS * S;
    this.onFlow = opts.onFlow;
    if (opts.attackAfter !== undefined) {
      if (!(opts.attackAfter >= 0 && opts.attackAfter < 1) || opts.packets === undefined) throw new Error('attackAfter is a share (0 to 1) of a packet budget (packets)');
      this.attackAtPackets = opts.attackAfter * opts.packets;
    }
    const rate = opts.connectionRate ?? 1.2;
    this.wsRate = rate;
    this.srvRate = rate / 4;

    const poolRng = this.rng.fork();
    this.pool = new F.PayloadPool(1 << 18, () => poolRng.u32());

    let nWs: number, nSrv: number;
    if (typeof opts.hosts === "object") {
      nWs = opts.hosts.workstations;
      nSrv = opts.hosts.servers;
    } else {
      const total = opts.hosts ?? 40;
      nSrv = Math.max(3, Math.round(total / 8));
      nWs = Math.max(1, total - nSrv);
    }
    if (nSrv < 1 || nWs < 1) throw new Error("need at least one workstation and one server");
    this.buildHosts(nWs, nSrv, opts.ipv6Share ?? 0.15, opts.vlanShare ?? 0.25);
  }

  // ---------------------------------------------------------------- topology

  private newHost(role: Host["role"], name: string, mac: Uint8Array, v4: number, v6: Uint8Array | null, vlan: number, windows: boolean): Host {
    const r = this.rng;
    const h: Host = {
      idx: this.hostCount++,
      name,
      role,
      serverRole: null,
      mac,
      v4,
      v4Sum: F.addrSumV4(v4),
      v6,
      v6Sum: v6 ? F.addrSumV6(v6) : 0,
      v4Str: F.ipv4ToString(v4),
      v6Str: v6 ? formatAddress(v6, 6) : "",
      vlan,
      windows,
      ttl: windows ? 128 : 64,
      ipId: r.int(0, 0xffff),
      tsBase: r.u32(),
      portLo: windows ? 49152 : 32768,
      portHi: windows ? 65535 : 60999,
      nextPort: 0,
      activity: 1,
      v6Pref: false,
      delack: windows ? 200 * MS : 40 * MS,
      subnetV4: 0,
    };
    h.nextPort = r.int(h.portLo, h.portHi);
    return h;
  }

  private randomMac(oui: readonly number[] | null): Uint8Array {
    const r = this.rng;
    const m = new Uint8Array(6);
    if (oui) { m[0] = oui[0]!; m[1] = oui[1]!; m[2] = oui[2]!; }
    else { m[0] = 0x02; m[1] = r.int(0, 255); m[2] = r.int(0, 255); }
    m[3] = r.int(0, 255); m[4] = r.int(0, 255); m[5] = r.int(0, 255);
    return m;
  }

  private v6Addr(prefix: number[], iid: number[] | null): Uint8Array {
    // prefix: 4 words (the /64), iid: 4 words or random.
    const a = new Uint8Array(16);
    for (let i = 0; i < 4; i++) F.put16(a, 2 * i, prefix[i]!);
    for (let i = 0; i < 4; i++) F.put16(a, 8 + 2 * i, iid ? iid[i]! : this.rng.int(0, 0xffff));
    return a;
  }

  private router(vlan: number, subnet: number): Host {
    let h = this.routers.get(subnet);
    if (!h) {
      h = this.newHost("router", `gw-${F.ipv4ToString(subnet)}`, ROUTER_MAC, (subnet | 1) >>> 0, null, vlan, false);
      this.routers.set(subnet, h);
    }
    return h;
  }

  private buildHosts(nWs: number, nSrv: number, v6Share: number, vlanShare: number): void {
    const r = this.rng;
    const srvNet = F.parseIPv4("10.10.0.0");
    for (let k = 0; k < nSrv; k++) {
      const role = SERVER_ROLES[k % SERVER_ROLES.length]!;
      const windows = role === "dc" || role === "file";
      const mac = Uint8Array.of(0x00, 0x50, 0x56, 0x9a, (k >>> 8) & 0xff, k & 0xff);
      const host = 10 + (k % 180) + 256 * Math.floor(k / 180);
      const v4 = (srvNet + host) >>> 0;
      const v6 = this.v6Addr([0xfd00, 0, 0, 0x0a], [0, 0, 0, host]);
      const h = this.newHost("server", `${role}${String(Math.floor(k / SERVER_ROLES.length) + 1).padStart(2, "0")}`, mac, v4, v6, -1, windows);
      h.serverRole = role;
      h.subnetV4 = srvNet;
      h.activity = r.lognormal(1, 0.5);
      this.servers.push(h);
      const list = this.byRole.get(role) ?? [];
      list.push(h);
      this.byRole.set(role, list);
    }
    for (let k = 0; k < 16; k++) {
      const host = 200 + k;
      this.ghosts.push(this.newHost("ghost", `unused-${k}`, ROUTER_MAC, (srvNet + host) >>> 0, this.v6Addr([0xfd00, 0, 0, 0x0a], [0, 0, 0, host]), -1, false));
    }
    const counters = new Map<number, number>();
    for (let k = 0; k < nWs; k++) {
      const vlan = r.chance(vlanShare) ? (r.chance(0.5) ? 20 : 30) : -1;
      const net = vlan < 0 ? F.parseIPv4("10.1.0.0") : F.parseIPv4(`10.${vlan}.0.0`);
      const n = counters.get(net) ?? 0;
      counters.set(net, n + 1);
      const v4 = (net + 256 * Math.floor(n / 250) + (n % 250) + 2) >>> 0;
      const windows = r.chance(0.7);
      const v6 = this.v6Addr([0xfd00, 0, 0, vlan < 0 ? 1 : vlan], null);
      const h = this.newHost("ws", `ws${String(k + 1).padStart(3, "0")}`, this.randomMac(r.pick(WS_OUIS)), v4, v6, vlan, windows);
      h.v6Pref = r.chance(v6Share);
      h.subnetV4 = net;
      h.activity = r.lognormal(1, 0.7);
      this.ws.push(h);
    }
    let c = 0;
    for (const h of this.ws) this.wsCum.push((c += h.activity));
    c = 0;
    for (const h of this.servers) this.srvCum.push((c += h.activity));
    for (let k = 0; k < 4096; k++) {
      const v4 = (F.parseIPv4("198.18.0.0") + r.int(256, 131071 - 256)) >>> 0;
      const v6 = this.v6Addr([0x2001, 0x0db8, r.int(1, 0xffff), r.int(0, 0xffff)], [0, 0, 0, r.int(1, 0xffff)]);
      const e = this.newHost("external", `ext-${k}`, ROUTER_MAC, v4, v6, -1, r.chance(0.1));
      // Seen at the tap after some hops.
      e.ttl = (e.windows ? 128 : r.chance(0.2) ? 255 : 64) - r.int(6, 20);
      this.externals.push(e);
    }
  }

  hostInfo(): HostInfo[] {
    const out: HostInfo[] = [];
    for (const h of [...this.servers, ...this.ws]) {
      const info: HostInfo = {
        name: h.name,
        role: h.role === "ws" ? "workstation" : "server",
        services: h.serverRole ? ROLE_SERVICES[h.serverRole] : [],
        mac: formatMac(h.mac),
        ipv4: h.v4Str,
      };
      if (h.v6 && (h.role === "server" || h.v6Pref)) info.ipv6 = h.v6Str;
      if (h.vlan >= 0) info.vlan = h.vlan;
      out.push(info);
    }
    return out;
  }

  private serverFor(role: ServerRole): Host {
    const list = this.byRole.get(role);
    if (list && list.length) return list.length === 1 ? list[0]! : this.rng.pick(list);
    return this.servers[SERVER_ROLES.indexOf(role) % this.servers.length]!;
  }

  private pickByCum(hosts: Host[], cum: number[]): Host {
    const x = this.rng.float() * cum[cum.length - 1]!;
    let lo = 0, hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > x) hi = mid; else lo = mid + 1;
    }
    return hosts[lo]!;
  }

  // ---------------------------------------------------------------- main loop

  run(): NetworkSummary {
    const heap = this.heap;
    let nextArrival = this.rng.exp(S / this.totalRate(0));
    let arrivalsOn = true;
    for (;;) {
      const top = heap.peek();
      if (arrivalsOn && (top === undefined || nextArrival <= top.t)) {
        const t = nextArrival;
        if (this.committed >= this.target || t > this.durationNs) {
          arrivalsOn = false;
          continue;
        }
        if (this.attackAtPackets !== undefined && this.committed >= this.attackAtPackets) {
          this.attackAtPackets = undefined;
          this.injectAttack(t);
        }
        this.arrive(t);
        nextArrival = t + this.rng.exp(S / this.totalRate(t));
        continue;
      }
      if (!top) break;
      this.emit(top);
      top.i++;
      if (top.i < top.n) {
        top.t = top.times[top.i]!;
        heap.siftTop();
      } else {
        heap.pop();
      }
    }
    return {
      packets: this.packets,
      ipPackets: this.ipPackets,
      nonIpPackets: this.nonIp,
      bytes: this.bytes,
      flows: this.flows,
      flowCount: this.flowId,
      firstTs: this.firstNs < 0 ? 0 : this.absSeconds(this.firstNs),
      lastTs: this.absSeconds(this.lastNs),
      hosts: this.hostInfo(),
      ...(this.attack ? { attack: this.attack } : {}),
    };
  }

  /**
   * The demo's attack, from the first workstation, starting at t: a sweep of
   * 40 unused addresses on 445 (one SYN every 0.5 s, never answered), then a
   * port scan of a server (60 ports, one every 0.3 s, each refused), then 30
   * SSH password guesses on the application server (a few KB each, every 3 s).
   */
  private injectAttack(t: number): void {
    // a workstation on IPv4 alone, so that the attack has one address
    const c = this.ws.find((w) => !w.v6Pref) ?? this.ws[0]!;
    const srvNet = F.parseIPv4("10.10.0.0");
    const add = (sess: Session | null): void => { if (sess) this.start(sess); };
    for (let k = 0; k < 40; k++) {
      // 10.10.48.x: beyond the servers' and the unused ghosts' addresses
      const target = this.newHost("ghost", `swept-${k}`, ROUTER_MAC, (srvNet + 0x3000 + 10 + k) >>> 0, null, -1, false);
      add(this.planTcpApp(c, target, "attack-sweep", 445, t + k * 0.5 * S, "small", "S0"));
    }
    const victim = this.serverFor("file");
    const ports = [21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 389, 443, 445, 465, 514, 587, 631, 636, 873, 993, 995, 1080, 1433, 1521, 1723, 2049, 2375, 3000, 3306,
      3389, 4444, 5000, 5432, 5601, 5900, 5985, 6379, 6443, 7001, 8000, 8008, 8080, 8081, 8443, 8888, 9000, 9090, 9200, 9418, 10000, 11211, 15672, 27017, 50000, 50070, 61616, 8161, 7199, 2181];
    for (let k = 0; k < ports.length; k++) add(this.planTcpApp(c, victim, "attack-portscan", ports[k]!, t + 30 * S + k * 0.3 * S, "small", "REJ"));
    const app = this.serverFor("app");
    for (let k = 0; k < 30; k++) add(this.planTcpApp(c, app, "attack-ssh-guess", 22, t + 60 * S + k * 3 * S, "small"));
    this.attack = {
      ts: this.absSeconds(t),
      device: { name: c.name, ip: c.v4Str },
      steps: [
        `sweep of 40 unused addresses (10.10.48.10–49) on 445`,
        `port scan of ${victim.name} (${victim.v4Str}): 60 ports, refused`,
        `30 SSH password guesses on ${app.name} (${app.v4Str})`,
      ],
    };
  }

  /** Connections per second over all hosts at capture time t. */
  private totalRate(t: number): number {
    const base = this.ws.length * this.wsRate + this.servers.length * this.srvRate;
    if (this.target === Infinity || this.durationNs === Infinity) return base;
    // Both a packet count and a duration: aim the remaining packets at the remaining time.
    const meanPkts = this.arrivals > 50 ? this.committed / this.arrivals : 30;
    const left = Math.max(this.durationNs - t, this.durationNs * 0.02) / S;
    const want = (this.target - this.committed) / (meanPkts * left);
    return Math.max(want, base / 1000);
  }

  private absSeconds(tNs: number): number {
    const x = Math.floor(tNs + this.baseNs);
    return this.baseSec + Math.floor(x / 1e9) + (x % 1e9) / 1e9;
  }

  /** One connection arrival at time t. */
  private arrive(t: number): void {
    this.arrivals++;
    const r = this.rng;
    const remaining = this.target - this.committed;
    if (remaining <= 6) {
      // Fill the exact packet budget with small DNS exchanges.
      const c = this.pickByCum(this.ws, this.wsCum);
      const sess = this.planDns(c, t, remaining === 1 ? "dns-unanswered" : "dns");
      if (sess) this.start(sess);
      return;
    }
    const wsShare = this.ws.length * this.wsRate;
    const fromWs = r.float() * (wsShare + this.servers.length * this.srvRate) < wsShare;
    let sess: Session | null;
    if (fromWs) {
      const c = this.pickByCum(this.ws, this.wsCum);
      sess = this.planWs(c, r.weighted(WS_KINDS, WS_WEIGHTS), t);
    } else {
      const c = this.pickByCum(this.servers, this.srvCum);
      sess = this.planSrv(c, r.weighted(SRV_KINDS, SRV_WEIGHTS), t);
    }
    if (!sess) return;
    if (sess.n > remaining) return; // does not fit the budget: drop it, later arrivals will
    this.start(sess);
  }

  private start(sess: Session): void {
    this.committed += sess.n;
    sess.t = sess.times[0]!;
    const end = sess.times[sess.n - 1]!;
    if (sess.proto === F.IPPROTO_TCP || sess.proto === F.IPPROTO_UDP) {
      const timeout = sess.proto === F.IPPROTO_TCP ? TCP_INACTIVITY : UDP_INACTIVITY;
      this.portBusy.set(sess.c.idx * 65536 + sess.cport, end + timeout + REUSE_MARGIN);
    } else if (sess.proto === F.IPPROTO_ICMP || sess.proto === F.IPPROTO_ICMPV6) {
      this.icmpBusy.set(this.icmpKey(sess.c, sess.s, sess.v6), end + ICMP_INACTIVITY + REUSE_MARGIN);
    }
    if (sess.proto !== PROTO_ARP) this.truth(sess);
    this.heap.push(sess);
  }

  private icmpKey(c: Host, s: Host, v6: boolean): number {
    return (c.idx * 65536 + s.idx) * 2 + (v6 ? 1 : 0);
  }

  /** A source port of host c that is free at time t (or -1). */
  private port(c: Host, t: number): number {
    const span = c.portHi - c.portLo + 1;
    for (let tries = 0; tries < 64; tries++) {
      let p = c.nextPort + 1 + (this.rng.chance(0.2) ? this.rng.int(1, 8) : 0);
      if (p > c.portHi) p = c.portLo + ((p - c.portLo) % span);
      c.nextPort = p;
      const busy = this.portBusy.get(c.idx * 65536 + p);
      if (busy === undefined || busy <= t) return p;
    }
    return -1;
  }

  // ---------------------------------------------------------------- session setup

  /** Common endpoint setup. Returns null when no source port is free. */
  private session(c: Host, s: Host, kind: string, proto: number, sport: number, t: number, v6: boolean): Session | null {
    const sess = new Session(c, s, kind);
    sess.proto = proto;
    sess.v6 = v6;
    sess.sport = sport;
    if (proto === F.IPPROTO_TCP || proto === F.IPPROTO_UDP) {
      const p = this.port(c, t);
      if (p < 0) return null;
      sess.cport = p;
    }
    const category = c.role === "server" && s.role === "server" ? 1 : s.role === "external" ? 2 : 0;
    sess.iface = Math.min(category, this.links.length - 1);
    sess.link = this.links[sess.iface]!;
    const sameSubnet = c.role === "server" && (s.role === "server");
    sess.macC = c.mac;
    sess.macS = sameSubnet ? s.mac : ROUTER_MAC;
    sess.vlan = sess.link === F.LINKTYPE_ETHERNET ? c.vlan : -1;
    // The tap is next to the client: the client's TTL is untouched, a routed peer's is one lower.
    sess.ttl[0] = c.ttl;
    sess.ttl[1] = sameSubnet || s.role === "external" ? s.ttl : s.ttl - 1;
    if (v6) {
      sess.flowLabel[0] = this.rng.int(1, 0xfffff);
      sess.flowLabel[1] = this.rng.int(1, 0xfffff);
    }
    return sess;
  }

  private rttFor(s: Host): number {
    const r = this.rng;
    if (s.role === "external") return Math.min(Math.max(r.lognormal(25 * MS, 0.6), 2 * MS), 300 * MS);
    return Math.min(Math.max(r.lognormal(0.35 * MS, 0.4), 0.08 * MS), 3 * MS);
  }

  private tcpSession(c: Host, s: Host, kind: string, sport: number, t: number, v6: boolean): { sess: Session; plan: Plan } | null {
    const sess = this.session(c, s, kind, F.IPPROTO_TCP, sport, t, v6);
    if (!sess) return null;
    const r = this.rng;
    sess.isn[0] = r.u32();
    sess.isn[1] = r.u32();
    sess.tsOn = !c.windows && !s.windows;
    sess.synLayout[0] = c.windows ? F.TCPOPT_SYN_WINDOWS : F.TCPOPT_SYN_LINUX;
    sess.synLayout[1] = sess.tsOn ? F.TCPOPT_SYN_LINUX : F.TCPOPT_SYN_WINDOWS;
    const mss = v6 ? 1440 : 1460;
    sess.mss[0] = sess.mss[1] = mss;
    sess.win[0] = c.windows ? 1026 : 502;
    sess.win[1] = s.windows ? 1026 : 509;
    const pay = mss - (sess.tsOn ? 12 : 0);
    const rtt = this.rttFor(s);
    const bitsPerNs = s.role === "external" ? r.pick([0.1, 0.2, 0.5]) : 1;
    const plan = new Plan(t, rtt, bitsPerNs, [pay, pay], [c.delack, s.delack], r.range(15, 60) * US);
    return { sess, plan };
  }

  private finish(sess: Session, plan: Plan): Session {
    sess.ops = plan.ops;
    sess.acks = plan.acks;
    sess.times = plan.times;
    sess.payloads = plan.payloads;
    sess.n = plan.ops.length;
    return sess;
  }

  private useV6(c: Host, s: Host): boolean {
    if (!c.v6 || !s.v6) return false;
    if (c.role === "ws") return c.v6Pref && (s.role !== "external" || this.rng.chance(0.6));
    return c.role === "server" && s.role === "server" && this.rng.chance(0.1);
  }

  // ---------------------------------------------------------------- kinds

  private planWs(c: Host, kind: Kind, t: number): Session | null {
    const r = this.rng;
    switch (kind) {
      case "dns":
        return this.planDns(c, t, r.chance(0.02) ? "dns-unanswered" : "dns");
      case "https-out": {
        const s = r.pick(this.externals);
        return this.planTcpApp(c, s, kind, 443, t, "tls", r.chance(0.02) ? "S0" : undefined);
      }
      case "http-intranet": {
        const s = this.serverFor("web");
        const port = r.weighted([443, 80, 8080], [6, 3, 1]);
        return this.planTcpApp(c, s, kind, port, t, port === 443 ? "tls" : "http");
      }
      case "smb":
        return this.planTcpApp(c, r.chance(0.8) ? this.serverFor("file") : this.serverFor("dc"), kind, 445, t, "smb");
      case "ad":
        return this.planTcpApp(c, this.serverFor("dc"), kind, r.chance(0.6) ? 389 : 88, t, "small");
      case "db":
        return this.planTcpApp(c, this.serverFor("db"), kind, r.chance(0.7) ? 5432 : 1433, t, "db");
      case "mail":
        return this.planTcpApp(c, this.serverFor("mail"), kind, r.chance(0.8) ? 993 : 587, t, "tls");
      case "ntp":
        return this.planNtp(c, this.serverFor("dc"), t);
      case "ping":
        return this.planPing(c, r.chance(0.85) ? r.pick(this.servers) : r.pick(this.ghosts), t);
      case "syslog":
        return this.planSyslog(c, this.serverFor("app"), t);
      case "rej": {
        const s = r.pick(this.servers);
        return this.planTcpApp(c, s, kind, r.pick([23, 3389, 5900, 8081, 9000, 6379]), t, "small", "REJ");
      }
      case "s0": {
        const s = r.chance(0.6) ? r.pick(this.ghosts) : r.pick(this.externals);
        return this.planTcpApp(c, s, kind, r.pick([445, 3389, 22, 8443, 135, 443]), t, "small", "S0");
      }
      case "ssh":
        return this.planSsh(c, this.serverFor("app"), t);
      case "persistent":
        return this.planPersistent(c, r.chance(0.5) ? this.serverFor("app") : r.pick(this.externals), t);
      case "arp":
        return this.planArp(c, t);
      default:
        return null;
    }
  }

  private planSrv(c: Host, kind: Kind, t: number): Session | null {
    const r = this.rng;
    const others = this.servers.filter((h) => h !== c);
    switch (kind) {
      case "srv-db": {
        const db = this.serverFor("db");
        if (db === c) return null;
        return this.planTcpApp(c, db, kind, 5432, t, "db");
      }
      case "srv-backup": {
        if (!others.length) return null;
        return this.planTcpApp(c, this.serverFor("file") !== c ? this.serverFor("file") : r.pick(others), kind, 445, t, "upload");
      }
      case "srv-ldap": {
        const dc = this.serverFor("dc");
        if (dc === c) return null;
        return this.planTcpApp(c, dc, kind, 389, t, "small");
      }
      case "srv-dns":
        return this.planDns(c, t, "dns");
      case "srv-ntp": {
        const dc = this.serverFor("dc");
        if (dc === c) return null;
        return this.planNtp(c, dc, t);
      }
      default:
        return null;
    }
  }

  /**
   * A TCP connection: handshake, request/response exchanges of the given
   * profile, then FIN (mostly), RST from either side, or silence. force:
   * "S0" (SYN unanswered), "REJ" (SYN answered by RST).
   */
  private planTcpApp(c: Host, s: Host, kind: string, port: number, t: number, profile: "tls" | "http" | "smb" | "small" | "db" | "upload", force?: "S0" | "REJ"): Session | null {
    const r = this.rng;
    const v6 = this.useV6(c, s);
    const made = this.tcpSession(c, s, kind, port, t, v6);
    if (!made) return null;
    const { sess, plan } = made;
    const rtt = plan.rtt;
    plan.push(0, F.TCP_SYN, 0, t, 0);
    if (force === "S0") {
      const tries = r.int(1, 3);
      let tt = t;
      for (let k = 1; k < tries; k++) {
        tt += (1 << (k - 1)) * S;
        plan.push(0, F.TCP_SYN, 0, tt, 0);
      }
      return this.finish(sess, plan);
    }
    if (force === "REJ") {
      plan.push(1, F.TCP_RST | F.TCP_ACK, 0, t + rtt, 0);
      return this.finish(sess, plan);
    }
    // ACK numbers count from after the SYN; the SYN-ACK acks the client's SYN (+1 is added at emission).
    plan.push(1, F.TCP_SYN | F.TCP_ACK, 0, t + rtt, 0);
    let tt = plan.push(0, F.TCP_ACK, 0, t + rtt + plan.turn, 0);

    const exchanges: Array<[number, number, number]> = [];
    const think = (median: number): number => Math.min(Math.max(r.lognormal(median, 1), 0.05 * MS), 2 * S);
    switch (profile) {
      case "tls": {
        exchanges.push([r.int(517, 1800), r.int(2800, 6500), think(1 * MS)]);
        exchanges.push([r.int(80, 130), r.int(200, 600), think(0.5 * MS)]);
        const n = r.lognormalInt(2, 0.9, 1, 40);
        for (let k = 0; k < n; k++) exchanges.push([r.lognormalInt(700, 0.6, 120, 16000), r.lognormalInt(4000, 1.5, 60, 3_000_000), think(s.role === "external" ? 30 * MS : 4 * MS)]);
        break;
      }
      case "http": {
        const n = r.lognormalInt(2, 0.9, 1, 30);
        for (let k = 0; k < n; k++) exchanges.push([r.lognormalInt(450, 0.4, 150, 3000), r.lognormalInt(4000, 1.4, 200, 2_000_000), think(3 * MS)]);
        break;
      }
      case "smb": {
        exchanges.push([r.int(150, 250), r.int(220, 320), think(0.3 * MS)]);
        exchanges.push([r.int(150, 500), r.int(300, 1500), think(0.5 * MS)]);
        const n = r.lognormalInt(3, 0.9, 1, 40);
        for (let k = 0; k < n; k++) {
          if (r.chance(0.25)) exchanges.push([r.lognormalInt(8000, 1.4, 200, 4_000_000), r.int(80, 200), think(1 * MS)]); // write
          else exchanges.push([r.int(100, 400), r.lognormalInt(12000, 1.5, 100, 8_000_000), think(0.8 * MS)]); // read
        }
        break;
      }
      case "small": {
        const n = r.lognormalInt(2, 0.7, 1, 12);
        for (let k = 0; k < n; k++) exchanges.push([r.lognormalInt(400, 0.8, 40, 6000), r.lognormalInt(900, 0.9, 40, 12000), think(1 * MS)]);
        break;
      }
      case "db": {
        const n = r.lognormalInt(5, 1, 1, 60);
        for (let k = 0; k < n; k++) exchanges.push([r.lognormalInt(300, 0.8, 30, 8000), r.lognormalInt(1500, 1.5, 20, 1_000_000), think(5 * MS)]);
        break;
      }
      case "upload": {
        exchanges.push([r.int(150, 250), r.int(220, 320), think(0.3 * MS)]);
        const n = r.int(1, 4);
        for (let k = 0; k < n; k++) exchanges.push([r.lognormalInt(1_000_000, 0.8, 100_000, 8_000_000), r.int(80, 200), think(2 * MS)]);
        break;
      }
    }
    const clientThink = (): number => Math.min(r.lognormal(150 * MS, 1.4), 60 * S);
    tt += r.range(20, 200) * US;
    for (let k = 0; k < exchanges.length; k++) {
      const [q, a, th] = exchanges[k]!;
      tt = plan.exchange(q, a, th, tt);
      if (k + 1 < exchanges.length) tt = tt + (k < 2 && profile === "tls" ? r.range(50, 400) * US : clientThink());
    }
    // Ending.
    const idle = Math.min(r.lognormal(1 * S, 1.2), 120 * S);
    const ending = r.float();
    if (ending < 0.03) {
      plan.settle(0, tt + idle);
      plan.reset(0, tt + idle); // RSTO
    } else if (ending < 0.045) {
      plan.settle(0, tt + idle);
      plan.reset(1, tt + idle); // RSTR
    } else if (ending < 0.055) {
      plan.settle(0, tt + plan.delack[0]! + MS); // S1: established, never closed
    } else {
      const closer = r.chance(0.6) ? 0 : 1;
      plan.close(closer, tt + idle, r.chance(0.4), r.range(0.05, 3) * MS);
    }
    return this.finish(sess, plan);
  }

  /** Interactive SSH: many small keystroke/echo exchanges over minutes, FIN at the end. */
  private planSsh(c: Host, s: Host, t: number): Session | null {
    const r = this.rng;
    const made = this.tcpSession(c, s, "ssh", 22, t, this.useV6(c, s));
    if (!made) return null;
    const { sess, plan } = made;
    plan.push(0, F.TCP_SYN, 0, t, 0);
    plan.push(1, F.TCP_SYN | F.TCP_ACK, 0, t + plan.rtt, 0);
    let tt = plan.push(0, F.TCP_ACK, 0, t + plan.rtt + plan.turn, 0);
    tt = plan.exchange(r.int(21, 40), r.int(21, 40), 2 * MS, tt + 100 * US); // banners
    tt = plan.exchange(r.int(1200, 1600), r.int(1000, 1200), 3 * MS, tt + 1 * MS); // kex
    tt = plan.exchange(r.int(48, 1100), r.int(400, 900), 20 * MS, tt + 5 * MS); // auth
    const n = r.int(40, 400);
    for (let k = 0; k < n; k++) {
      const gap = r.chance(0.05) ? r.range(5, 200) * S : r.exp(350 * MS);
      tt = plan.exchange(r.pick([36, 36, 36, 52, 68]), r.chance(0.9) ? r.pick([36, 36, 52]) : r.lognormalInt(800, 1.2, 60, 60000), 0.3 * MS, tt + gap);
    }
    plan.close(0, tt + r.range(0.1, 3) * S, false, 0.2 * MS);
    return this.finish(sess, plan);
  }

  /** Long-lived connection with a small exchange every 30–240 s; closed with FIN or left open (S1). */
  private planPersistent(c: Host, s: Host, t: number): Session | null {
    const r = this.rng;
    const made = this.tcpSession(c, s, "persistent", s.role === "external" ? 443 : 8443, t, this.useV6(c, s));
    if (!made) return null;
    const { sess, plan } = made;
    plan.push(0, F.TCP_SYN, 0, t, 0);
    plan.push(1, F.TCP_SYN | F.TCP_ACK, 0, t + plan.rtt, 0);
    let tt = plan.push(0, F.TCP_ACK, 0, t + plan.rtt + plan.turn, 0);
    tt = plan.exchange(r.int(517, 1800), r.int(2800, 6500), 2 * MS, tt + 100 * US);
    tt = plan.exchange(r.int(80, 130), r.int(200, 600), 1 * MS, tt + 200 * US);
    const n = r.int(3, 30);
    for (let k = 0; k < n; k++) {
      tt = plan.exchange(r.int(40, 200), r.lognormalInt(200, 1, 40, 20000), 5 * MS, tt + r.range(30, 240) * S);
    }
    if (r.chance(0.4)) plan.close(r.chance(0.5) ? 0 : 1, tt + r.range(1, 60) * S, false, 0.5 * MS);
    else plan.settle(0, tt + 1 * S); // S1
    return this.finish(sess, plan);
  }

  private udpPlan(t: number): Plan {
    const p = new Plan(t, 0, 1, [0, 0], [0, 0], 0);
    p.payloads = [];
    return p;
  }

  private dnsName(internal: boolean): string {
    const r = this.rng;
    const pre = r.pick(DNS_PREFIX) + (r.chance(0.5) ? String(r.int(1, 40)) : "");
    return `${pre}.${internal ? r.pick(DNS_INTERNAL) : r.pick(DNS_EXTERNAL)}`;
  }

  /** DNS query to the internal resolver (answered unless kind is dns-unanswered: then 1–2 tries, no answer). */
  private planDns(c: Host, t: number, kind: "dns" | "dns-unanswered"): Session | null {
    const r = this.rng;
    const resolver = this.serverFor("dns");
    if (resolver === c) return null;
    const v6 = c.role === "ws" ? c.v6Pref : false;
    const sess = this.session(c, resolver, kind, F.IPPROTO_UDP, 53, t, v6);
    if (!sess) return null;
    const plan = this.udpPlan(t);
    const id = r.int(0, 0xffff);
    const qtype = v6 && r.chance(0.7) ? 28 : r.chance(0.9) ? 1 : r.pick([28, 33, 12, 16]);
    const name = this.dnsName(r.chance(0.4));
    const q = dnsQuery(id, name, qtype);
    plan.push(0, 0, q.length, t, 0, q);
    if (kind === "dns-unanswered") {
      if (this.target - this.committed > 1 && r.chance(0.5)) plan.push(0, 0, q.length, t + 5 * S, 0, q);
    } else {
      const delay = r.chance(0.7) ? r.range(0.1, 1.5) * MS : Math.min(r.lognormal(25 * MS, 0.8), 2 * S);
      const a = dnsResponse(q, qtype, r, r.chance(0.04) ? 3 : 0);
      plan.push(1, 0, a.length, t + delay, 0, a);
    }
    return this.finish(sess, plan);
  }

  private planNtp(c: Host, s: Host, t: number): Session | null {
    const r = this.rng;
    const v6 = this.useV6(c, s);
    const sess = this.session(c, s, "ntp", F.IPPROTO_UDP, 123, t, v6);
    if (!sess) return null;
    const plan = this.udpPlan(t);
    const tx = this.ntpStamp(t);
    const q = new Uint8Array(48);
    q[0] = 0x23; // LI 0, VN 4, mode 3
    q[2] = 6;
    q[3] = 0xe9;
    F.put32(q, 40, tx[0]!);
    F.put32(q, 44, tx[1]!);
    plan.push(0, 0, 48, t, 0, q);
    if (r.chance(0.97)) {
      const a = new Uint8Array(48);
      a[0] = 0x24; // mode 4
      a[1] = 2;
      a[2] = 6;
      a[3] = 0xe7;
      F.put32(a, 4, r.int(100, 4000));
      F.put32(a, 8, r.int(100, 4000));
      F.put32(a, 12, 0xc0a80101);
      const ref = this.ntpStamp(t - r.range(10, 900) * S);
      F.put32(a, 16, ref[0]!); F.put32(a, 20, ref[1]!);
      F.put32(a, 24, tx[0]!); F.put32(a, 28, tx[1]!);
      const rx = this.ntpStamp(t + 0.1 * MS);
      F.put32(a, 32, rx[0]!); F.put32(a, 36, rx[1]!);
      F.put32(a, 40, rx[0]!); F.put32(a, 44, (rx[1]! + 4000) >>> 0);
      plan.push(1, 0, 48, t + r.range(0.2, 2) * MS, 0, a);
    }
    return this.finish(sess, plan);
  }

  private ntpStamp(tNs: number): [number, number] {
    const abs = this.absSeconds(tNs);
    const sec = Math.floor(abs);
    return [(sec + 2208988800) >>> 0, Math.floor((abs - sec) * 4294967296) >>> 0];
  }

  /** One-way UDP: a few syslog messages from the same socket (Zeek S0). */
  private planSyslog(c: Host, s: Host, t: number): Session | null {
    const r = this.rng;
    const sess = this.session(c, s, "syslog", F.IPPROTO_UDP, 514, t, this.useV6(c, s));
    if (!sess) return null;
    const plan = this.udpPlan(t);
    const n = r.int(1, 6);
    let tt = t;
    for (let k = 0; k < n; k++) {
      const msg = `<${r.pick([134, 86, 38, 13])}>1 ${new Date(this.absSeconds(tt) * 1000).toISOString()} ${c.name} ${r.pick(["sshd", "kernel", "sudo", "cron", "agent"])} ${r.int(100, 30000)} - - ${"x".repeat(r.int(20, 300))}`;
      const b = new TextEncoder().encode(msg);
      tt = plan.push(0, 0, b.length, tt, 0, b);
      tt += r.range(0.5, 8) * S;
    }
    return this.finish(sess, plan);
  }

  /** ICMP echo: 1–6 pings one second apart; replies unless the target is unused. */
  private planPing(c: Host, s: Host, t: number): Session | null {
    const r = this.rng;
    const v6 = this.useV6(c, s);
    const busy = this.icmpBusy.get(this.icmpKey(c, s, v6));
    if (busy !== undefined && busy > t) return null;
    const sess = this.session(c, s, "ping", v6 ? F.IPPROTO_ICMPV6 : F.IPPROTO_ICMP, 0, t, v6);
    if (!sess) return null;
    sess.icmpType[0] = v6 ? 128 : 8;
    sess.icmpType[1] = v6 ? 129 : 0;
    sess.icmpId = r.int(1, 0xffff);
    const plan = this.udpPlan(t);
    const answered = s.role !== "ghost";
    const data = new Uint8Array(c.windows ? 32 : 56);
    if (c.windows) for (let i = 0; i < 32; i++) data[i] = 0x61 + (i % 23);
    else for (let i = 0; i < 56; i++) data[i] = i < 8 ? r.int(0, 255) : i;
    const n = r.int(1, 6);
    const rtt = this.rttFor(s);
    for (let k = 0; k < n; k++) {
      const tt = t + k * S;
      plan.push(0, k + 1, data.length, tt, 0, data);
      if (answered) plan.push(1, k + 1, data.length, tt + rtt, 0, data);
    }
    return this.finish(sess, plan);
  }

  /** ARP request for the gateway or a neighbour (answered), or for an unused address (not). Not a flow. */
  private planArp(c: Host, t: number): Session | null {
    const r = this.rng;
    const link = this.links[0]!;
    if (!this.arp || link === F.LINKTYPE_RAW) return this.planDns(c, t, "dns");
    const gw = this.router(c.vlan, c.subnetV4);
    const sess = new Session(c, gw, "arp");
    sess.proto = PROTO_ARP;
    sess.iface = 0;
    sess.link = link;
    sess.vlan = link === F.LINKTYPE_ETHERNET ? c.vlan : -1;
    const plan = this.udpPlan(t);
    plan.push(0, 0, 0, t, 0);
    const x = r.float();
    if (x < 0.7) {
      sess.arpTarget = gw.v4;
      sess.arpReplyMac = gw.mac;
    } else {
      const neighbour = x < 0.9 ? r.pick(this.ws) : null;
      if (neighbour && neighbour !== c && neighbour.subnetV4 === c.subnetV4) {
        sess.arpTarget = neighbour.v4;
        sess.arpReplyMac = neighbour.mac;
      } else {
        sess.arpTarget = (c.subnetV4 + 256 * r.int(0, 3) + 253) >>> 0; // .253: never assigned
        sess.arpReplyMac = null;
      }
    }
    if (sess.arpReplyMac) plan.push(1, 0, 0, t + r.range(0.05, 1) * MS, 0);
    return this.finish(sess, plan);
  }

  // ---------------------------------------------------------------- ground truth

  private truth(sess: Session): void {
    const pk = [0, 0], ip = [0, 0], pay = [0, 0];
    const ipHdr = sess.v6 ? F.IPV6_HEADER : F.IPV4_HEADER;
    let l4Fixed = 0;
    if (sess.proto === F.IPPROTO_UDP) l4Fixed = F.UDP_HEADER;
    else if (sess.proto !== F.IPPROTO_TCP) l4Fixed = F.ICMP_ECHO_HEADER;
    let sawSynAck = false, rst = -1, fin0 = false, fin1 = false;
    for (let i = 0; i < sess.n; i++) {
      const op = sess.ops[i]!;
      const dir = op & OP_DIR;
      const flags = (op >>> OP_FLAGS_SHIFT) & 0xff;
      const len = op >>> OP_LEN_SHIFT;
      const hdr = sess.proto === F.IPPROTO_TCP ? 20 + F.tcpOptionBytes(tcpLayout(sess, dir, flags)) : l4Fixed;
      pk[dir]!++;
      ip[dir]! += ipHdr + hdr + len;
      pay[dir]! += len;
      if (sess.proto === F.IPPROTO_TCP) {
        if ((flags & (F.TCP_SYN | F.TCP_ACK)) === (F.TCP_SYN | F.TCP_ACK)) sawSynAck = true;
        if (flags & F.TCP_RST && rst < 0) rst = dir;
        if (flags & F.TCP_FIN) { if (dir) fin1 = true; else fin0 = true; }
      }
    }
    let state: ZeekConnState;
    if (sess.proto === F.IPPROTO_TCP) {
      if (rst === 1 && !sawSynAck) state = "REJ";
      else if (rst === 1) state = "RSTR";
      else if (rst === 0) state = "RSTO";
      else if (!sawSynAck) state = "S0";
      else if (fin0 && fin1) state = "SF";
      else state = "S1";
    } else if (sess.proto === F.IPPROTO_UDP) {
      state = pk[1]! > 0 ? (pk[0]! > 0 ? "SF" : "SHR") : "S0";
    } else {
      state = "OTH"; // Zeek's conn_state for ICMP is always OTH
    }
    const icmp = sess.proto === F.IPPROTO_ICMP || sess.proto === F.IPPROTO_ICMPV6;
    const f: ExpectedFlow = {
      id: this.flowId++,
      ts: this.absSeconds(sess.times[0]!),
      last_ts: this.absSeconds(sess.times[sess.n - 1]!),
      orig_h: sess.v6 ? sess.c.v6Str : sess.c.v4Str,
      orig_p: icmp ? sess.icmpType[0]! : sess.cport,
      resp_h: sess.v6 ? sess.s.v6Str : sess.s.v4Str,
      resp_p: icmp ? sess.icmpType[1]! : sess.sport,
      proto: sess.proto === F.IPPROTO_TCP ? "tcp" : sess.proto === F.IPPROTO_UDP ? "udp" : "icmp",
      ip_version: sess.v6 ? 6 : 4,
      iface: sess.iface,
      orig_pkts: pk[0]!,
      resp_pkts: pk[1]!,
      orig_ip_bytes: ip[0]!,
      resp_ip_bytes: ip[1]!,
      orig_bytes: pay[0]!,
      resp_bytes: pay[1]!,
      conn_state: state,
      kind: sess.kind,
    };
    if (sess.vlan >= 0) f.vlan = sess.vlan;
    if (this.onFlow) this.onFlow(f);
    else this.flows.push(f);
  }

  // ---------------------------------------------------------------- frames

  private emit(s: Session): void {
    const i = s.i;
    const op = s.ops[i]!;
    const dir = op & OP_DIR;
    const flags = (op >>> OP_FLAGS_SHIFT) & 0xff;
    const len = op >>> OP_LEN_SHIFT;
    const b = this.scratch;
    const link = s.link;
    const src = dir ? s.s : s.c;
    const dst = dir ? s.c : s.s;
    const srcMac = dir ? s.macS : s.macC;
    const dstMac = dir ? s.macC : s.macS;
    let o = 0;

    if (s.proto === PROTO_ARP) {
      // Request: c asks who has the target; reply: the gateway or the neighbour answers.
      const replier = s.arpReplyMac ?? ROUTER_MAC;
      if (link === F.LINKTYPE_ETHERNET) o = F.writeEthernet(b, 0, dir ? s.c.mac : BROADCAST_MAC, dir ? replier : s.c.mac, F.ETHERTYPE_ARP, s.vlan);
      else o = F.writeSll(b, 0, dir ? 0 : 4, dir ? replier : s.c.mac, F.ETHERTYPE_ARP);
      if (dir) o = F.writeArp(b, o, 2, replier, s.arpTarget, s.c.mac, s.c.v4);
      else o = F.writeArp(b, o, 1, s.c.mac, s.c.v4, ZERO_MAC, s.arpTarget);
      if (link === F.LINKTYPE_ETHERNET) o = F.padEthernet(b, 0, o);
      this.nonIp++;
      this.out(s, b, o);
      return;
    }

    const v6 = s.v6;
    const etherType = v6 ? F.ETHERTYPE_IPV6 : F.ETHERTYPE_IPV4;
    if (link === F.LINKTYPE_ETHERNET) o = F.writeEthernet(b, 0, dstMac, srcMac, etherType, s.vlan);
    else if (link === F.LINKTYPE_LINUX_SLL) o = F.writeSll(b, 0, dir ? 0 : 4, srcMac, etherType);

    const proto = s.proto;
    let layout = F.TCPOPT_NONE;
    let hdr: number;
    if (proto === F.IPPROTO_TCP) {
      layout = tcpLayout(s, dir, flags);
      hdr = 20 + F.tcpOptionBytes(layout);
    } else if (proto === F.IPPROTO_UDP) hdr = F.UDP_HEADER;
    else hdr = F.ICMP_ECHO_HEADER;
    const l4len = hdr + len;
    let pseudo: number;
    if (v6) {
      o = F.writeIPv6(b, o, src.v6!, dst.v6!, proto, l4len, s.ttl[dir]!, s.flowLabel[dir]!);
      pseudo = F.pseudoSumV6(src.v6Sum, dst.v6Sum, proto, l4len);
    } else {
      src.ipId = (src.ipId + 1) & 0xffff;
      o = F.writeIPv4(b, o, src.v4, dst.v4, proto, l4len, s.ttl[dir]!, src.ipId, proto === F.IPPROTO_TCP);
      pseudo = proto === F.IPPROTO_ICMP ? 0 : F.pseudoSumV4(src.v4Sum, dst.v4Sum, proto, l4len);
    }
    const l4 = o;
    const cs = this.checksums;
    if (proto === F.IPPROTO_TCP) {
      const peer = 1 - dir;
      let seq: number;
      if (flags & F.TCP_SYN) {
        seq = s.isn[dir]!;
        s.synSent[dir] = true;
      } else if (flags & F.TCP_RST && !s.synSent[dir]) {
        seq = 0;
      } else {
        seq = (s.isn[dir]! + 1 + s.rel[dir]!) >>> 0;
      }
      const ack = flags & F.TCP_ACK ? (s.isn[peer]! + 1 + s.acks[i]!) >>> 0 : 0;
      let tsval = 0, tsecr = 0;
      if (layout === F.TCPOPT_TS || layout === F.TCPOPT_SYN_LINUX) {
        tsval = (src.tsBase + Math.floor(s.times[i]! / MS)) >>> 0;
        tsecr = flags & F.TCP_SYN && !(flags & F.TCP_ACK) ? 0 : s.lastTsval[peer]!;
        s.lastTsval[dir] = tsval;
      }
      const win = flags & F.TCP_SYN ? 64240 : flags & F.TCP_RST && !s.synSent[dir] ? 0 : s.win[dir]!;
      F.writeTcp(b, l4, dir ? s.sport : s.cport, dir ? s.cport : s.sport, seq, ack, flags, win, layout, tsval, tsecr, s.mss[dir]!, dir ? 7 : 8);
      const psum = this.pool.copy(b, l4 + hdr, len);
      if (cs) F.finishChecksum(b, l4, hdr, len, pseudo, 16, psum);
      if (!(flags & F.TCP_SYN)) s.rel[dir]! += len + (flags & F.TCP_FIN ? 1 : 0);
    } else {
      const p = s.payloads![i]!;
      if (proto === F.IPPROTO_UDP) F.writeUdp(b, l4, dir ? s.sport : s.cport, dir ? s.cport : s.sport, len);
      else F.writeIcmpEcho(b, l4, s.icmpType[dir]!, 0, s.icmpId, flags);
      b.set(p, l4 + hdr);
      if (cs) F.finishChecksum(b, l4, hdr, len, pseudo, proto === F.IPPROTO_UDP ? 6 : 2, -1, proto === F.IPPROTO_UDP);
    }
    o = l4 + l4len;
    if (link === F.LINKTYPE_ETHERNET) o = F.padEthernet(b, 0, o);
    this.ipPackets++;
    this.out(s, b, o);
  }

  private out(s: Session, b: Uint8Array, len: number): void {
    const tNs = s.times[s.i]!;
    const x = Math.floor(tNs + this.baseNs);
    const secOff = Math.floor(x / 1e9);
    this.sink.frame(this.baseSec + secOff, x - secOff * 1e9, b, 0, len, len, s.iface);
    this.packets++;
    this.bytes += len;
    if (this.firstNs < 0) this.firstNs = tNs;
    this.lastNs = tNs;
  }
}

/** TCP option layout of a segment (shared by the frame writer and the ground truth). */
function tcpLayout(s: Session, dir: number, flags: number): number {
  if (flags & F.TCP_SYN) return s.synLayout[dir]!;
  if (flags & F.TCP_RST) return F.TCPOPT_NONE;
  return s.tsOn ? F.TCPOPT_TS : F.TCPOPT_NONE;
}

// ------------------------------------------------------------------ DNS messages

function dnsName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split(".")) {
    out.push(label.length);
    for (let i = 0; i < label.length; i++) out.push(label.charCodeAt(i));
  }
  out.push(0);
  return out;
}

function dnsQuery(id: number, name: string, qtype: number): Uint8Array {
  const q = dnsName(name);
  const m = new Uint8Array(12 + q.length + 4);
  F.put16(m, 0, id);
  F.put16(m, 2, 0x0100); // RD
  F.put16(m, 4, 1);
  m.set(q, 12);
  F.put16(m, 12 + q.length, qtype);
  F.put16(m, 14 + q.length, 1);
  return m;
}

/** Response to a query: the question echoed, then 1–4 answers (or none with rcode 3, NXDOMAIN). */
function dnsResponse(query: Uint8Array, qtype: number, r: Rng, rcode: number): Uint8Array {
  const answers: number[][] = [];
  if (rcode === 0) {
    const n = qtype === 1 || qtype === 28 ? r.int(1, 4) : 1;
    for (let k = 0; k < n; k++) {
      let rdata: number[];
      if (qtype === 1) rdata = [r.int(1, 223), r.int(0, 255), r.int(0, 255), r.int(1, 254)];
      else if (qtype === 28) { rdata = [0x20, 0x01, 0x0d, 0xb8]; for (let i = 0; i < 12; i++) rdata.push(r.int(0, 255)); }
      else if (qtype === 16) { const len = r.int(20, 200); rdata = [len]; for (let i = 0; i < len; i++) rdata.push(0x61 + r.int(0, 25)); }
      else if (qtype === 33) rdata = [0, 0, 0, 100, 0x01, 0x85, 0xc0, 0x0c];
      else rdata = [...dnsName(`host${r.int(1, 999)}.example.com`)];
      const ttl = r.int(30, 86400);
      answers.push([0xc0, 0x0c, qtype >>> 8, qtype & 0xff, 0, 1, (ttl >>> 24) & 0xff, (ttl >>> 16) & 0xff, (ttl >>> 8) & 0xff, ttl & 0xff, rdata.length >>> 8, rdata.length & 0xff, ...rdata]);
    }
  }
  let len = query.length;
  for (const a of answers) len += a.length;
  const m = new Uint8Array(len);
  m.set(query, 0);
  F.put16(m, 2, 0x8180 | rcode);
  F.put16(m, 6, answers.length);
  let o = query.length;
  for (const a of answers) { m.set(a, o); o += a.length; }
  return m;
}
