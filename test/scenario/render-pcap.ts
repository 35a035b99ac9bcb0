// Generated connections → a capture (pcap or pcapng), or frames for any
// FrameSink. Connections are added in start-time order; packet-schedule.ts
// interleaves their planned packets in capture-time order, and each packet
// becomes an Ethernet frame (802.1Q-tagged when conn.vlan is set) with the
// connection's MACs, an IPv4 or IPv6 header by address family, and a TCP,
// UDP or ICMP/ICMPv6 echo header with real sequence/ack numbers.
//
// Snap length: a multi-day capture stays small because frames are cut at
// `snaplen` (default 128 bytes: every header fits). IP total length / payload
// length and the UDP length always describe the FULL packet, and the record's
// original length is the full frame, so the sensor (which counts bytes from
// IP headers) sees the real sizes. Frames whose payload matters — DNS
// messages — are kept whole unless `fullPayloads` is false, so tshark and the
// sensor can read the queries; the file's snap length is then the maximum.
//
// Checksums are correct and cost nothing extra: payloads the plan does not
// spell out are zeros, which add nothing to the sum.
import { CaptureWriter, type CaptureFormat, type FrameSink } from '../../sensor/sample/capture-writer.ts';
import * as Frames from '../../sensor/sample/frames.ts';
import { parseAddress } from '../../sensor/flows/ip-address.ts';
import type { Conn } from './conn.ts';
import * as Plan from './packet-plan.ts';
import type { PacketPlan } from './packet-plan.ts';
import { PacketSchedule, type OpenConn } from './packet-schedule.ts';

// Imported bindings read once: loaded from a CommonJS entry under tsx, each
// use of an imported name is a getter call (half the time per frame in a CPU
// profile); read once, they cost nothing either way.
const F = { ...Frames };
const { IPPROTO, l4HeaderLength } = Plan;

export interface PacketRenderOptions {
  /** bytes of each frame kept (default 128) */
  snaplen?: number;
  /** keep frames carrying meaningful payload (DNS) whole (default true) */
  fullPayloads?: boolean;
  /** compute TCP/UDP/ICMP checksums (default true) */
  checksums?: boolean;
  /** capture interface index handed to the sink (default 0) */
  iface?: number;
}

export interface PcapRenderOptions extends PacketRenderOptions {
  format?: CaptureFormat;
  /** nanosecond timestamps (pcap magic a1b23c4d / pcapng if_tsresol 9); default µs */
  nanosecond?: boolean;
  gzip?: boolean | number;
}

export interface RenderStats {
  conns: number;
  packets: number;
  /** bytes of frames as stored (after the snap length) */
  capturedBytes: number;
  /** bytes of frames on the wire */
  wireBytes: number;
  /** capture time of the first / last packet, seconds (NaN when empty) */
  firstTs: number;
  lastTs: number;
  /** most connections open at once (plans held in memory) */
  maxOpen: number;
}

const DEFAULT_SNAPLEN = 128;
const MAX_FRAME = 14 + 4 + 40 + 24 + 65535;
/** Window the endpoints advertise (no scaling): a constant, the sensor does not read it. */
const WINDOW = 64240;

/** Per-connection wire details, parsed once when it starts. */
interface Wire {
  mac: [Uint8Array, Uint8Array];
  v4: [number, number];
  v6: [Uint8Array, Uint8Array] | null;
  addrSum: [number, number];
  port: [number, number];
  vlan: number;
  isn: [number, number];
  /** sequence space each side has used after its SYN */
  rel: [number, number];
  synSent: [boolean, boolean];
  ipId: [number, number];
  echoSeq: number;
}

/** Renders to any FrameSink (a CaptureWriter, a test collector, a live pipe). */
export class PacketRenderer {
  protected readonly schedule: PacketSchedule<Wire>;
  private readonly buf = new Uint8Array(MAX_FRAME);
  private readonly snaplen: number;
  private readonly full: boolean;
  private readonly checksums: boolean;
  private readonly iface: number;
  private capturedBytes = 0;
  private wireBytes = 0;
  private firstNs = NaN;
  private lastNs = NaN;

  constructor(private readonly sink: FrameSink, opts: PacketRenderOptions = {}) {
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    if (!Number.isInteger(this.snaplen) || this.snaplen < 1) throw new Error(`snaplen must be a positive integer, got ${this.snaplen}`);
    this.full = opts.fullPayloads ?? true;
    this.checksums = opts.checksums ?? true;
    this.iface = opts.iface ?? 0;
    this.schedule = new PacketSchedule<Wire>({
      open: (conn, plan) => openWire(conn, plan),
      packet: (c, i, tNs) => this.frame(c, i, tNs),
      close: () => {},
    });
  }

  /** Add the next connection (start-time order); writes every packet earlier than conn.ts. */
  add(conn: Conn): void {
    this.schedule.add(conn);
  }

  /** Write every remaining packet. */
  finish(): RenderStats {
    this.schedule.finish();
    const base = this.schedule.baseSec;
    return {
      conns: this.schedule.conns, packets: this.schedule.packets,
      capturedBytes: this.capturedBytes, wireBytes: this.wireBytes,
      firstTs: base + this.firstNs / 1e9, lastTs: base + this.lastNs / 1e9,
      maxOpen: this.schedule.maxOpen,
    };
  }

  private frame(c: OpenConn<Wire>, i: number, tNs: number): void {
    const plan = c.plan, w = c.state, b = this.buf;
    const dir = plan.dir[i]!, peer = 1 - dir;
    const flags = plan.flags[i]!, len = plan.len[i]!;
    const proto = plan.ipProto;
    let o = F.writeEthernet(b, 0, w.mac[peer]!, w.mac[dir]!, plan.v6 ? F.ETHERTYPE_IPV6 : F.ETHERTYPE_IPV4, w.vlan);
    const hdr = l4HeaderLength(plan, i);
    const l4len = hdr + len;
    let pseudo: number;
    if (w.v6) {
      o = F.writeIPv6(b, o, w.v6[dir]!, w.v6[peer]!, proto, l4len);
      pseudo = F.pseudoSumV6(w.addrSum[dir]!, w.addrSum[peer]!, proto, l4len);
    } else {
      w.ipId[dir] = (w.ipId[dir]! + 1) & 0xffff;
      o = F.writeIPv4(b, o, w.v4[dir]!, w.v4[peer]!, proto, l4len, 64, w.ipId[dir]!, proto === IPPROTO.tcp);
      pseudo = proto === IPPROTO.icmp ? 0 : F.pseudoSumV4(w.addrSum[dir]!, w.addrSum[peer]!, proto, l4len);
    }
    const l4 = o;
    let csumAt: number;
    if (proto === IPPROTO.tcp) {
      let seq: number;
      if (flags & F.TCP_SYN) { seq = w.isn[dir]!; w.synSent[dir] = true; }
      else if (flags & F.TCP_RST && !w.synSent[dir]) seq = 0; // a refusal (REJ): this side never opened
      else seq = (w.isn[dir]! + 1 + w.rel[dir]!) >>> 0;
      const ack = flags & F.TCP_ACK ? (w.isn[peer]! + 1 + w.rel[peer]!) >>> 0 : 0;
      F.writeTcp(b, l4, w.port[dir]!, w.port[peer]!, seq, ack, flags, flags & F.TCP_RST ? 0 : WINDOW, flags & F.TCP_SYN ? F.TCPOPT_SYN_MSS : F.TCPOPT_NONE);
      if (!(flags & F.TCP_SYN)) w.rel[dir] = w.rel[dir]! + len + (flags & F.TCP_FIN ? 1 : 0);
      csumAt = 16;
    } else if (proto === IPPROTO.udp) {
      F.writeUdp(b, l4, w.port[dir]!, w.port[peer]!, len);
      csumAt = 6;
    } else {
      if (dir === 0) w.echoSeq++;
      F.writeIcmpEcho(b, l4, plan.icmpTypes[dir]!, 0, plan.ident, w.echoSeq);
      csumAt = 2;
    }
    // Payload: the plan's bytes, or zeros, as far as the frame is kept.
    const p = plan.payload?.[i] ?? null;
    const at = l4 + hdr;
    let wire = at + len;
    const keep = p && this.full ? wire : Math.min(wire, this.snaplen);
    const copy = Math.max(0, Math.min(len, keep - at));
    if (p) b.set(p.subarray(0, copy), at);
    else b.fill(0, at, at + copy);
    if (this.checksums) F.finishChecksum(b, l4, hdr, len, pseudo, csumAt, p ? F.sumWords(p, 0, p.length) : 0, proto === IPPROTO.udp);
    if (wire < F.ETH_MIN_FRAME) {
      b.fill(0, wire, F.ETH_MIN_FRAME); // Ethernet padding: frame bytes, not IP bytes
      wire = F.ETH_MIN_FRAME;
    }
    const cap = p && this.full ? wire : Math.min(wire, this.snaplen);
    const sec = Math.floor(tNs / 1e9);
    this.sink.frame(this.schedule.baseSec + sec, tNs - sec * 1e9, b, 0, cap, wire, this.iface);
    this.capturedBytes += cap;
    this.wireBytes += wire;
    if (Number.isNaN(this.firstNs)) this.firstNs = tNs;
    this.lastNs = tNs;
  }
}

/** Renders to a capture file. */
export class PcapRenderer extends PacketRenderer {
  private readonly writer: CaptureWriter;

  constructor(path: string, opts: PcapRenderOptions = {}) {
    const full = opts.fullPayloads ?? true;
    // With whole DNS frames the file's snap length must admit them: use the maximum.
    const snaplen = full ? 262144 : opts.snaplen ?? DEFAULT_SNAPLEN;
    const writer = CaptureWriter.open(path, {
      format: opts.format ?? 'pcap', snaplen, nanosecond: opts.nanosecond, gzip: opts.gzip,
      interfaces: [{ snaplen, tsresol: opts.nanosecond ? 9 : 6 }],
      application: 'edge-sensor scenario renderer',
    });
    super(writer, { ...opts, iface: 0 });
    this.writer = writer;
  }

  override finish(): RenderStats {
    const s = super.finish();
    this.writer.close();
    return s;
  }
}

/** Render a whole list (start-time order) to a capture file. */
export function renderPcap(path: string, conns: Iterable<Conn>, opts: PcapRenderOptions = {}): RenderStats {
  const r = new PcapRenderer(path, opts);
  for (const c of conns) r.add(c);
  return r.finish();
}

// ---------------------------------------------------------------- per-connection setup

function openWire(conn: Conn, plan: PacketPlan): Wire {
  const a = parseAddress(conn.orig_h), z = parseAddress(conn.resp_h);
  if (!a || !z) throw new Error(`bad address in conn ${conn.orig_h} → ${conn.resp_h}`);
  const v4 = (x: Uint8Array) => ((x[12]! << 24) | (x[13]! << 16) | (x[14]! << 8) | x[15]!) >>> 0;
  const w: Wire = {
    mac: [parseMac(conn.orig_mac), parseMac(conn.resp_mac)],
    v4: [0, 0], v6: null, addrSum: [0, 0],
    port: plan.ipProto === IPPROTO.tcp || plan.ipProto === IPPROTO.udp ? [conn.orig_p, conn.resp_p] : [0, 0],
    vlan: conn.vlan ?? -1,
    // Initial sequence numbers from the plan's deterministic material (tuple and start time).
    isn: [isnOf(conn, 0), isnOf(conn, 1)], rel: [0, 0], synSent: [false, false],
    ipId: [isnOf(conn, 2) & 0xffff, isnOf(conn, 3) & 0xffff], echoSeq: 0,
  };
  if (plan.v6) {
    w.v6 = [a.bytes, z.bytes];
    w.addrSum = [F.addrSumV6(a.bytes), F.addrSumV6(z.bytes)];
  } else {
    w.v4 = [v4(a.bytes), v4(z.bytes)];
    w.addrSum = [F.addrSumV4(w.v4[0]), F.addrSumV4(w.v4[1])];
  }
  return w;
}

function isnOf(conn: Conn, k: number): number {
  const s = `${k}|${conn.orig_h}|${conn.orig_p}|${conn.resp_h}|${conn.resp_p}|${conn.ts}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** "aa:bb:cc:dd:ee:ff" (or with dashes, or bare hex) → 6 bytes. */
export function parseMac(text: string): Uint8Array {
  const hex = text.replace(/[:.-]/g, '');
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) throw new Error(`bad MAC address ${JSON.stringify(text)}`);
  const m = new Uint8Array(6);
  for (let i = 0; i < 6; i++) m[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return m;
}
