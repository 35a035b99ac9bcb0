// The packets of one generated connection: the single source of truth that
// every renderer (capture, AWS and Azure flow logs) reads, so a flow log
// carries exactly the packets and bytes the capture holds.
//
// A plan is made when its connection starts and dropped when its last packet
// is written, so it is kept small: parallel typed arrays (time, direction,
// flags, payload length), payload bytes only where they matter (DNS). It is
// deterministic: the only "randomness" (RTT, how bytes split into exchanges,
// the DNS id) comes from an Rng seeded with the connection's tuple and ts.
//
// Shape of a connection (times relative to conn.ts; D = conn.duration):
//   TCP SF    SYN @0, SYN-ACK @rtt, ACK; data exchanges; FIN → FIN-ACK → ACK, the last @D
//   TCP S1    as SF without the teardown; the last packet (data or an ACK) @D
//   TCP RSTO  as SF, but the originator ends with RST+ACK @D
//   TCP S0    SYN @0 and retransmissions @1 s, @3 s while ≤ D (D only bounds them)
//   TCP REJ   SYN @0, RST+ACK @D
//   UDP       request datagram(s), response datagram(s) (S0: requests only, spread over [0, D])
//   ICMP      echo request/reply pairs about one a second, the last reply @D
//             (S0: requests only); IPv6 uses ICMPv6 128/129
// Other state/protocol mixes: UDP and ICMP treat anything but S0 as SF. TCP
// S0 and REJ carry no payload whatever orig_bytes/resp_bytes say.
//
// Bytes: orig_bytes/resp_bytes are application payload (TCP sequence space,
// UDP datagram payload, ICMP echo data). Each side's bytes are cut into a
// few request/response exchanges spread over the data phase; segments are at
// most 1448 bytes (UDP 1472), but a direction carrying more than 8 kB uses
// up to 65000-byte "GRO/TSO" segments (as a capture on a host with offload
// shows them), so a 2 GB backup is ~33 k packets, not 1.4 M, and a multi-day
// scenario stays a few packets per connection.
//
// Silence: no connection is quiet for longer than MAX_GAP_S. A long
// connection gets an exchange (or, with no bytes left to send, a keepalive:
// a pure ACK, an empty UDP datagram) at least every MAX_GAP_S / 2, because
// the sensor ends a UDP flow after 60 s of silence and the flow-log merger
// splits records more than 120 s apart. A generator that wants silence must
// make two connections.
//
// DNS (conn.dns set): the originator's first datagram (or TCP segment) is a
// real DNS query for qname/qtype and the answer a real response; over TCP
// each message has its 2-byte length prefix. The encoded sizes WIN over
// conn.orig_bytes/resp_bytes, which are ignored (the generator may leave them
// 0): dnsSizes(conn) or planTotals(planPackets(conn)) tell what was sent.
// An unanswered (S0) DNS query is retransmitted like a SYN (@1 s, @3 s ≤ D).
import type { Conn } from './conn.ts';
import { dnsQueryMessage, dnsResponseMessage, withLengthPrefix } from './dns-wire.ts';
import { Rng } from '../../sensor/sample/rng.ts';
import { parseAddress } from '../../sensor/flows/ip-address.ts';
import { LocalNets } from '../../sensor/flows/local-nets.ts';
import * as Frames from '../../sensor/sample/frames.ts';

// Imported bindings read once (a getter call per use from a CommonJS entry under tsx: see render-pcap.ts).
const { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } = Frames;

/** Longest silence within a connection, seconds (see the header). */
export const MAX_GAP_S = 50;
const SLOT_MAX_NS = (MAX_GAP_S / 2) * 1e9;
const NS = 1e9;
/** Payload per segment: small transfers as on a 1500-byte MTU, big ones as GRO/TSO super-segments. */
const TCP_MSS = 1448;
const UDP_MAX_SMALL = 1472;
const GRO_SEGMENT = 65000;
const GRO_ABOVE = 8_000;
/** Data moves at up to 1 Gbit/s unless the connection's duration demands more (bytes per ns). */
const LINE_RATE = 0.125;
/** TCP header of a SYN (MSS option) and of everything else. */
const TCP_SYN_HEADER = 24;
const TCP_HEADER = 20;

export const IPPROTO = { tcp: 6, udp: 17, icmp: 1, icmp6: 58 } as const;

/**
 * The packets of one connection as parallel arrays; packet i is
 * (ns[i], dir[i], flags[i], len[i], payload?.[i]). Times are in order.
 */
export interface PacketPlan {
  readonly conn: Conn;
  /** packets */
  readonly n: number;
  /** capture time of each packet: integer nanoseconds after conn.ts */
  readonly ns: Float64Array;
  /** 0 originator → responder, 1 back */
  readonly dir: Uint8Array;
  /** TCP flags (frames.ts TCP_*); 0 for UDP and ICMP */
  readonly flags: Uint8Array;
  /** payload bytes: TCP segment payload, UDP datagram payload, ICMP echo data */
  readonly len: Uint32Array;
  /** payload bytes where they matter (DNS messages); null entries (or no array) mean zeros */
  readonly payload: readonly (Uint8Array | null)[] | null;
  readonly v6: boolean;
  /** IP protocol number on the wire: 6, 17, 1 or 58 */
  readonly ipProto: number;
  /** ICMP: message types of the originator and of the responder (8/0, IPv6 128/129) */
  readonly icmpTypes: readonly [number, number];
  /** DNS transaction id, ICMP echo identifier; 0 otherwise */
  readonly ident: number;
}

/** One packet of a plan as an object (tests, debugging; renderers read the arrays). */
export interface PlannedPacket {
  /** capture time, seconds since the epoch */
  t: number;
  dir: 0 | 1;
  flags: number;
  len: number;
  payload: Uint8Array | null;
  /** IP total length (IPv6: 40 + payload length) */
  ipLen: number;
}

/** What the sensor should count for a connection (Zeek conn.log's counters). */
export interface PlanTotals {
  orig_pkts: number;
  resp_pkts: number;
  orig_bytes: number;
  resp_bytes: number;
  orig_ip_bytes: number;
  resp_ip_bytes: number;
  /** seconds from the first packet to the last (≤ conn.duration; less for S0) */
  duration: number;
}

// ---------------------------------------------------------------- public helpers

/** Bytes of the transport header of packet i (TCP 20, SYN 24; UDP 8; ICMP echo 8). */
export function l4HeaderLength(plan: PacketPlan, i: number): number {
  if (plan.ipProto === IPPROTO.tcp) return plan.flags[i]! & TCP_SYN ? TCP_SYN_HEADER : TCP_HEADER;
  return 8;
}

/** IP total length of packet i — what IP headers, AWS and Azure count as bytes. */
export function ipLength(plan: PacketPlan, i: number): number {
  return (plan.v6 ? 40 : 20) + l4HeaderLength(plan, i) + plan.len[i]!;
}

/** Capture time of packet i in seconds since the epoch (renderers use conn.ts + ns exactly). */
export function packetTime(plan: PacketPlan, i: number): number {
  return plan.conn.ts + plan.ns[i]! / NS;
}

export function plannedPackets(plan: PacketPlan): PlannedPacket[] {
  const out: PlannedPacket[] = [];
  for (let i = 0; i < plan.n; i++) {
    out.push({ t: packetTime(plan, i), dir: plan.dir[i] as 0 | 1, flags: plan.flags[i]!, len: plan.len[i]!, payload: plan.payload?.[i] ?? null, ipLen: ipLength(plan, i) });
  }
  return out;
}

export function planTotals(plan: PacketPlan): PlanTotals {
  const t: PlanTotals = { orig_pkts: 0, resp_pkts: 0, orig_bytes: 0, resp_bytes: 0, orig_ip_bytes: 0, resp_ip_bytes: 0, duration: plan.n ? plan.ns[plan.n - 1]! / NS : 0 };
  for (let i = 0; i < plan.n; i++) {
    if (plan.dir[i]) { t.resp_pkts++; t.resp_bytes += plan.len[i]!; t.resp_ip_bytes += ipLength(plan, i); }
    else { t.orig_pkts++; t.orig_bytes += plan.len[i]!; t.orig_ip_bytes += ipLength(plan, i); }
  }
  return t;
}

/**
 * Sizes of a DNS connection's messages as carried (TCP: with the 2-byte
 * prefix): what one query and one response add to orig_bytes/resp_bytes.
 * Null when the connection has no DNS exchange. (An unanswered UDP query is
 * sent up to three times: planTotals gives the exact totals.)
 */
export function dnsSizes(conn: Conn): { query: number; response: number } | null {
  if (!conn.dns) return null;
  const m = dnsMessages(conn, 0);
  return { query: m.query.length, response: m.response.length };
}

const LOCAL = new LocalNets();

/** Is the address in the default local networks (RFC 1918, RFC 6598, link-local, ULA)? */
export function isInternalAddress(addr: string): boolean {
  const a = parseAddress(addr);
  if (!a) throw new Error(`not an IP address: ${JSON.stringify(addr)}`);
  return LOCAL.contains(a.bytes);
}

// ---------------------------------------------------------------- the planner

/** Plan every packet of `conn`. Throws on a connection no packet can carry (mixed address families, bad ports). */
export function planPackets(conn: Conn): PacketPlan {
  const v6 = conn.orig_h.includes(':');
  if (v6 !== conn.resp_h.includes(':')) throw new Error(`conn ${conn.orig_h} → ${conn.resp_h}: address families differ`);
  if (!(conn.duration >= 0) || !Number.isFinite(conn.ts)) throw new Error(`conn at ${conn.ts}: bad ts/duration ${conn.duration}`);
  const rng = new Rng(`${conn.proto}|${conn.orig_h}|${conn.orig_p}|${conn.resp_h}|${conn.resp_p}|${conn.ts}`);
  const d = Math.round(conn.duration * NS);
  // RTT as the tap (next to the originator) sees it: LAN or WAN.
  const lan = isInternalAddress(conn.orig_h) && isInternalAddress(conn.resp_h);
  const rtt = Math.round(lan ? rng.range(0.2e6, 2e6) : rng.range(8e6, 90e6));
  const proto = conn.proto === 'tcp' ? IPPROTO.tcp : conn.proto === 'udp' ? IPPROTO.udp : v6 ? IPPROTO.icmp6 : IPPROTO.icmp;
  const icmpTypes: [number, number] = v6 ? [128, 129] : [8, 0];
  const ident = conn.dns || conn.proto === 'icmp' ? rng.int(0, 0xffff) : 0;
  const b = new PlanBuilder(conn.dns !== undefined, estimate(conn, d));
  if (conn.proto === 'tcp') {
    if (conn.orig_p < 0 || conn.orig_p > 65535 || conn.resp_p < 0 || conn.resp_p > 65535) throw new Error(`bad TCP ports ${conn.orig_p} → ${conn.resp_p}`);
    planTcp(b, conn, d, rtt, rng, ident);
  } else if (conn.proto === 'udp') planUdp(b, conn, d, rtt, rng, ident);
  else planIcmp(b, conn, d, rtt);
  return b.build(conn, v6, proto, icmpTypes, ident);
}

/** About how many packets a plan will hold, so its arrays are allocated once. */
function estimate(conn: Conn, d: number): number {
  const segs = (bytes: number) => Math.ceil(bytes / (bytes > GRO_ABOVE ? GRO_SEGMENT : TCP_MSS));
  const n = 8 + 2 * Math.ceil(d / SLOT_MAX_NS) + segs(conn.orig_bytes) + segs(conn.resp_bytes);
  return conn.proto === 'icmp' ? 2 * Math.floor(d / NS) + 4 : Math.min(n, 1 << 20);
}

function dnsMessages(conn: Conn, id: number): { query: Uint8Array; response: Uint8Array } {
  const dns = conn.dns!;
  const query = dnsQueryMessage(id, dns.qname, dns.qtype);
  const response = dnsResponseMessage(id, dns);
  return conn.proto === 'tcp' ? { query: withLengthPrefix(query), response: withLengthPrefix(response) } : { query, response };
}

/** First packet @0, retransmissions @1 s and @3 s while within the duration. */
function retries(b: PlanBuilder, d: number, flags: number, len: number, payload: Uint8Array | null): void {
  b.push(0, 0, flags, len, payload);
  if (d >= 1 * NS) b.push(1 * NS, 0, flags, len, payload);
  if (d >= 3 * NS) b.push(3 * NS, 0, flags, len, payload);
}

function planTcp(b: PlanBuilder, conn: Conn, d: number, rtt0: number, rng: Rng, ident: number): void {
  const st = conn.state;
  if (st === 'S0') { retries(b, d, TCP_SYN, 0, null); return; }
  if (st === 'REJ') { b.push(0, 0, TCP_SYN, 0); b.push(d, 1, TCP_RST | TCP_ACK, 0); return; }
  // Handshake and teardown take an RTT each; a short connection squeezes the RTT.
  const rtt = Math.min(rtt0, Math.floor(d / 4));
  const ackDelay = Math.min(50_000, Math.floor(rtt / 4));
  b.push(0, 0, TCP_SYN, 0);
  b.push(rtt, 1, TCP_SYN | TCP_ACK, 0);
  b.push(rtt + ackDelay, 0, TCP_ACK, 0);
  const a = rtt + ackDelay;
  const end = st === 'S1' ? d : d - rtt - ackDelay;
  const msgs = conn.dns ? dnsMessages(conn, ident) : null;
  exchanges(b, rng, {
    from: a, to: end, rtt, tcp: true, answered: true, anchorEnd: st === 'S1',
    q: msgs ? msgs.query.length : conn.orig_bytes, r: msgs ? msgs.response.length : conn.resp_bytes,
    qMsg: msgs?.query ?? null, rMsg: msgs?.response ?? null,
  });
  if (st === 'SF') {
    b.push(end, 0, TCP_FIN | TCP_ACK, 0);
    b.push(end + rtt, 1, TCP_FIN | TCP_ACK, 0);
    b.push(d, 0, TCP_ACK, 0);
  } else if (st === 'RSTO') {
    b.push(d, 0, TCP_RST | TCP_ACK, 0);
  } else if (b.lastNs < d) {
    b.push(d, 0, TCP_ACK, 0); // S1: the client acknowledges what came last, at the connection's end
  }
}

function planUdp(b: PlanBuilder, conn: Conn, d: number, rtt: number, rng: Rng, ident: number): void {
  if (conn.dns) {
    const m = dnsMessages(conn, ident);
    if (conn.state === 'S0') { retries(b, d, 0, m.query.length, m.query); return; }
    b.push(0, 0, 0, m.query.length, m.query);
    b.push(d, 1, 0, m.response.length, m.response);
    return;
  }
  if (conn.state === 'S0') {
    // Requests only, spread evenly over [0, D]: first @0, last @D, none further apart than a slot.
    const seg = conn.orig_bytes > GRO_ABOVE ? GRO_SEGMENT : UDP_MAX_SMALL;
    const n = Math.max(Math.ceil(conn.orig_bytes / seg), d > 0 ? 2 : 1, Math.ceil(d / SLOT_MAX_NS) + 1);
    for (let i = 0; i < n; i++) b.push(n === 1 ? 0 : Math.round((d * i) / (n - 1)), 0, 0, share(conn.orig_bytes, n, i));
    return;
  }
  exchanges(b, rng, { from: 0, to: d, rtt, tcp: false, answered: true, anchorEnd: true, q: conn.orig_bytes, r: conn.resp_bytes, qMsg: null, rMsg: null });
}

function planIcmp(b: PlanBuilder, conn: Conn, d: number, rtt0: number): void {
  // ping's cadence: about one echo a second over the duration.
  const n = Math.max(1, Math.floor(d / NS) + 1);
  if (conn.state === 'S0') {
    for (let i = 0; i < n; i++) b.push(n === 1 ? 0 : Math.round((d * i) / (n - 1)), 0, 0, share(conn.orig_bytes, n, i));
    return;
  }
  const rtt = Math.min(rtt0, d);
  for (let i = 0; i < n; i++) {
    const t = n === 1 ? 0 : Math.round(((d - rtt) * i) / (n - 1));
    b.push(t, 0, 0, share(conn.orig_bytes, n, i));
    b.push(n === 1 ? d : t + rtt, 1, 0, share(conn.resp_bytes, n, i));
  }
}

/** Part i of `total` split into n near-equal parts (the first ones one larger). */
function share(total: number, n: number, i: number): number {
  const base = Math.floor(total / n);
  return base + (i < total - base * n ? 1 : 0);
}

interface ExchangeSpec {
  /** the data phase, ns after conn.ts */
  from: number;
  to: number;
  rtt: number;
  tcp: boolean;
  /** the responder sends (UDP: at least one datagram per exchange) */
  answered: boolean;
  /** the last packet lands exactly at `to` (S1 and UDP: nothing follows the data) */
  anchorEnd: boolean;
  q: number;
  r: number;
  /** exact bytes to carry (DNS), else zeros */
  qMsg: Uint8Array | null;
  rMsg: Uint8Array | null;
}

/**
 * The data phase: k exchanges in equal slots of at most MAX_GAP_S / 2. In
 * each, the originator's share goes out as a burst, then (an RTT later) the
 * responder's; at line rate, or slower when the slot demands it. An exchange
 * with nothing to send is a keepalive (TCP: a pure ACK; UDP: empty datagrams).
 */
function exchanges(b: PlanBuilder, rng: Rng, x: ExchangeSpec): void {
  const w = Math.max(0, x.to - x.from);
  const minK = w > SLOT_MAX_NS ? Math.ceil(w / SLOT_MAX_NS) : 1;
  let k: number;
  if (x.qMsg) k = 1;
  else if (x.q + x.r === 0) k = x.tcp ? (w > SLOT_MAX_NS ? minK : 0) : 1;
  else k = Math.max(x.q + x.r <= 4096 ? 1 : rng.int(2, 4), minK);
  if (k === 0) return;
  const udpSeg = (bytes: number) => (bytes > GRO_ABOVE ? GRO_SEGMENT : UDP_MAX_SMALL);
  const tcpSeg = (bytes: number) => (bytes > GRO_ABOVE ? GRO_SEGMENT : TCP_MSS);
  const qSeg = x.tcp ? tcpSeg(x.q) : udpSeg(x.q);
  const rSeg = x.tcp ? tcpSeg(x.r) : udpSeg(x.r);
  const slot = w / k;
  let qCursor = 0, rCursor = 0;
  for (let j = 0; j < k; j++) {
    const start = x.from + j * slot;
    const last = j === k - 1;
    const qj = share(x.q, k, j), rj = x.answered ? share(x.r, k, j) : 0;
    const nq = x.tcp ? Math.ceil(qj / qSeg) : Math.max(1, Math.ceil(qj / qSeg));
    const nr = !x.answered ? 0 : x.tcp ? Math.ceil(rj / rSeg) : Math.max(1, Math.ceil(rj / rSeg));
    if (nq === 0 && nr === 0) { b.push(last && x.anchorEnd ? x.to : start, 0, TCP_ACK, 0); continue; }
    const avail = slot * 0.9;
    const turn = Math.min(x.rtt, avail * 0.1);
    const room = avail - turn;
    const rate = room > 0 ? Math.max(LINE_RATE, (qj + rj) / room) : Infinity;
    const dataFlags = x.tcp ? TCP_ACK : 0;
    // The originator's burst: forward from the slot's start, unless it ends the connection.
    const qAtEnd = last && x.anchorEnd && nr === 0;
    const qStart = qAtEnd ? x.to - (qj - lastPiece(qj, qSeg)) / rate : start;
    let t = qStart, sent = 0;
    for (let i = 0; i < nq; i++) {
      const len = piece(qj, qSeg, i);
      t = qStart + sent / rate;
      b.push(t, 0, dataFlags | (x.tcp && i === nq - 1 ? TCP_PSH : 0), len, x.qMsg ? x.qMsg.subarray(qCursor, qCursor + len) : null);
      sent += len; qCursor += len;
    }
    if (nr === 0) continue;
    // The responder's burst: an RTT after the request (or at once for a push), or ending at `to`.
    const rStart = last && x.anchorEnd ? x.to - (rj - lastPiece(rj, rSeg)) / rate : nq > 0 ? t + turn : start;
    sent = 0;
    for (let i = 0; i < nr; i++) {
      const len = piece(rj, rSeg, i);
      b.push(rStart + sent / rate, 1, dataFlags | (x.tcp && i === nr - 1 ? TCP_PSH : 0), len, x.rMsg ? x.rMsg.subarray(rCursor, rCursor + len) : null);
      sent += len; rCursor += len;
    }
  }
}

/** Length of segment i when `bytes` are cut into `seg`-sized pieces (UDP: one empty datagram for 0 bytes). */
function piece(bytes: number, seg: number, i: number): number {
  return Math.min(seg, bytes - i * seg) > 0 ? Math.min(seg, bytes - i * seg) : 0;
}

function lastPiece(bytes: number, seg: number): number {
  if (bytes === 0) return 0;
  const r = bytes % seg;
  return r === 0 ? seg : r;
}

// ---------------------------------------------------------------- the builder

/** Growable parallel arrays; times are rounded to whole ns and never go back. */
class PlanBuilder {
  n = 0;
  lastNs = 0;
  private ns: Float64Array;
  private dir: Uint8Array;
  private flags: Uint8Array;
  private len: Uint32Array;
  private readonly payload: (Uint8Array | null)[] | null;

  constructor(withPayload: boolean, capacity: number) {
    const cap = Math.max(4, capacity);
    this.ns = new Float64Array(cap); this.dir = new Uint8Array(cap); this.flags = new Uint8Array(cap); this.len = new Uint32Array(cap);
    this.payload = withPayload ? [] : null;
  }

  push(t: number, dir: number, flags: number, len: number, payload: Uint8Array | null = null): void {
    if (this.n === this.ns.length) this.grow();
    let ns = Math.round(t);
    if (ns < this.lastNs) ns = this.lastNs;
    const i = this.n++;
    this.ns[i] = ns; this.dir[i] = dir; this.flags[i] = flags; this.len[i] = len;
    if (this.payload) this.payload.push(payload);
    this.lastNs = ns;
  }

  private grow(): void {
    const cap = this.ns.length * 2;
    const ns = new Float64Array(cap); ns.set(this.ns); this.ns = ns;
    const dir = new Uint8Array(cap); dir.set(this.dir); this.dir = dir;
    const flags = new Uint8Array(cap); flags.set(this.flags); this.flags = flags;
    const len = new Uint32Array(cap); len.set(this.len); this.len = len;
  }

  build(conn: Conn, v6: boolean, ipProto: number, icmpTypes: [number, number], ident: number): PacketPlan {
    const n = this.n;
    // Plans of open connections are what a renderer holds in memory: copy
    // to size when the estimate was well off, else keep the arrays.
    const fit = <T extends Float64Array | Uint8Array | Uint32Array>(a: T): T => (n * 2 < a.length ? a.slice(0, n) : a.subarray(0, n)) as T;
    return { conn, n, v6, ipProto, icmpTypes, ident, ns: fit(this.ns), dir: fit(this.dir), flags: fit(this.flags), len: fit(this.len), payload: this.payload };
  }
}
