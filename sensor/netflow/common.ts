// Shared pieces of the export-packet decoders (NetFlow v5/v9, IPFIX, sFlow):
// counters, the rejection path, bounded-memory limits, unsigned reads of
// odd-sized big-endian integers, and the "sampled frame" object through which
// sFlow raw packet headers (and IPFIX packet sections) reach the packet
// decoder.
//
// Every decoder here is a pure function of (bytes, exporter, receive time,
// cached state): it never throws on input, never allocates per flow record on
// the hot path, and reports everything it could not use as a counted
// rejection of a stable snake_case kind.
import { formatIPv6, isV4Mapped } from '../flows/ip-address.ts';
import { NO_VLAN } from '../core/flow-record.ts';
import type { FlowEvent, FlowEventSink } from '../flowlogs/flow-event.ts';
import type { DataSetAccelerator } from './templates.ts';

/**
 * Rejection kinds (stable; they are counted and logged by kind).
 *   truncated_datagram  shorter than its header, or a declared length beyond the datagram
 *   unknown_version     not NetFlow v5/v9, IPFIX or sFlow v5
 *   bad_header          impossible header values (v5 count 0 or > 30, IPFIX length < 16, …)
 *   bad_set_length      a set/FlowSet length < 4 or overrunning the datagram
 *   bad_template        malformed (options) template: id < 256, no fields, overruns its set,
 *                       too many fields, zero record length, bad scope count
 *   template_limit      a template was evicted because a cache cap was reached
 *   no_template         data set dropped: its template never arrived (buffer full/expired)
 *   bad_record          a data record overruns its set (variable-length field too long)
 *   no_address          data set with flow records lacking any IPv4/IPv6 address (nor a packet
 *                       section): one rejection per set, stats.noAddressRecords counts records
 *   bad_sample          sFlow: malformed sample or flow/counter record
 *   truncated_sample    sFlow: a sample or record overruns the datagram
 *   bad_capture         pcap/pcapng structure the reader could not walk
 *   ip_fragment         an export packet arrived fragmented (not reassembled)
 *   decoder_error       a bug: a decoder threw (caught and counted; should stay 0)
 */
export const REJECTION_KINDS = [
  'truncated_datagram', 'unknown_version', 'bad_header', 'bad_set_length', 'bad_template',
  'template_limit', 'no_template', 'bad_record', 'no_address', 'bad_sample', 'truncated_sample',
  'bad_capture', 'ip_fragment', 'decoder_error',
] as const;
export type RejectionKind = (typeof REJECTION_KINDS)[number];

/** Caps that keep memory bounded whatever exporters send. */
export interface NetflowLimits {
  /** templates (data + options) cached per exporter address, across its domains */
  templatesPerExporter: number;
  /** templates cached over all exporters */
  templatesTotal: number;
  /** observation domains / source ids tracked per exporter */
  domainsPerExporter: number;
  /** exporters tracked (least recently seen evicted first) */
  exporters: number;
  /** fields in one template */
  fieldsPerTemplate: number;
  /** data sets held while waiting for their template, per exporter: count and bytes */
  pendingSetsPerExporter: number;
  pendingBytesPerExporter: number;
  /** … and over all exporters */
  pendingBytesTotal: number;
  /** seconds a held data set waits for its template (receive-time clock) */
  pendingMaxAge: number;
  /** sampler-id → rate entries per domain */
  samplersPerDomain: number;
  /** sFlow agents tracked for sequence numbers */
  sflowAgents: number;
}

export const DEFAULT_LIMITS: NetflowLimits = {
  templatesPerExporter: 512,
  templatesTotal: 16384,
  domainsPerExporter: 64,
  exporters: 4096,
  fieldsPerTemplate: 512,
  pendingSetsPerExporter: 64,
  pendingBytesPerExporter: 256 * 1024,
  pendingBytesTotal: 8 * 1024 * 1024,
  pendingMaxAge: 120,
  samplersPerDomain: 256,
  sflowAgents: 4096,
};

/** Counters of one decoder (collector or capture reader). Plain numbers; read them any time. */
export class NetflowStats {
  datagrams = 0;
  bytes = 0;
  /** datagrams per protocol */
  netflowV5 = 0;
  netflowV9 = 0;
  ipfix = 0;
  sflow = 0;
  /** flow events emitted to the sink */
  records = 0;
  /** options data records applied (sampling, system init time) */
  optionsRecords = 0;
  /** flow records without addresses (one no_address rejection per data set) */
  noAddressRecords = 0;
  templatesAdded = 0;
  templatesRefreshed = 0;
  templatesRedefined = 0;
  templatesWithdrawn = 0;
  templatesEvicted = 0;
  /** data sets held for a template, decoded later, dropped (never got it) */
  pendingHeld = 0;
  pendingDecoded = 0;
  pendingDropped = 0;
  /** sequence accounting per (exporter, domain) / sFlow agent */
  lostDatagrams = 0;
  lostRecords = 0;
  sequenceResets = 0;
  /** sFlow */
  sflowFlowSamples = 0;
  sflowCounterSamples = 0;
  sampledFrames = 0;
  /** rejections by kind */
  readonly rejections: Record<string, number> = {};

  rejected(): number {
    let n = 0;
    for (const k in this.rejections) n += this.rejections[k]!;
    return n;
  }
}

/** One sampled packet header to be run through the packet decoder (sFlow raw header, IPFIX packet section). */
export interface SampledFrame {
  source: 'sflow' | 'ipfix';
  /** agent (sFlow) or exporter (IPFIX) address */
  agent: string;
  /** sFlow sub-agent id, IPFIX observation domain */
  subAgent: number;
  /** seconds since the epoch: receive time (sFlow carries no wall clock) or the export time */
  time: number;
  /**
   * the captured bytes: a VIEW into the datagram, valid only during the
   * callback — copy it to keep it
   */
  frame: Uint8Array;
  /** length on the wire (frame.length ≤ frameLength) */
  frameLength: number;
  /** sFlow header_protocol (1 Ethernet, 11 IPv4, 12 IPv6, …); IPFIX: 1 for 315 dataLinkFrameSection, 11/12 for 313 */
  headerProtocol: number;
  /** pcap LINKTYPE for the frame: 1 Ethernet, 228 IPv4, 229 IPv6, 101 raw IP, -1 unknown */
  linktype: number;
  /** 1-in-N sampling of the packet */
  samplingRate: number;
  /** sFlow: sample_pool and drops of the sample (0 for IPFIX) */
  samplePool: number;
  drops: number;
  /** ifIndex (sFlow: format bits removed; 0 unknown) */
  inputIfIndex: number;
  outputIfIndex: number;
  /** sFlow: bytes removed from the frame before sampling (e.g. FCS) */
  stripped: number;
  /** 802.1Q VLANs from an sFlow extended switch record (-1 absent) */
  srcVlan: number;
  dstVlan: number;
}

/** sFlow header_protocol → pcap LINKTYPE. */
export function linktypeOfHeaderProtocol(p: number): number {
  switch (p) {
    case 1: return 1;      // ethernet-ISO88023 → LINKTYPE_ETHERNET
    case 3: return 6;      // ISO88025-tokenring → LINKTYPE_IEEE802_5
    case 4: return 10;     // FDDI → LINKTYPE_FDDI
    case 5: return 107;    // frame relay → LINKTYPE_FRELAY
    case 7: return 9;      // PPP → LINKTYPE_PPP
    case 11: return 228;   // IPv4 → LINKTYPE_IPV4
    case 12: return 229;   // IPv6 → LINKTYPE_IPV6
    case 15: return 105;   // IEEE 802.11 MAC → LINKTYPE_IEEE802_11
    default: return -1;
  }
}

/**
 * The state every decoder of one input shares: the sink, counters, limits,
 * callbacks and the rejection path (counted here, then handed to the sink).
 */
export class DecodeContext {
  readonly stats = new NetflowStats();
  readonly limits: NetflowLimits;
  constructor(
    readonly sink: FlowEventSink,
    limits: Partial<NetflowLimits> = {},
    readonly onFrame?: (f: SampledFrame) => void,
    /** decodes v9/IPFIX data records in the core, writing to where the sink writes */
    readonly dataSets?: DataSetAccelerator,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  reject(kind: RejectionKind, input: string, message: string, offset?: number): void {
    this.stats.rejections[kind] = (this.stats.rejections[kind] ?? 0) + 1;
    const r = offset === undefined ? { kind, input, message } : { kind, input, message, offset };
    try { this.sink.reject(r); } catch { /* a sink's failure is not the decoder's */ }
  }
}

/** Big-endian unsigned integer of 1…8 bytes (beyond 2^53 loses precision); 0 for other lengths. */
export function readUint(dv: DataView, off: number, len: number): number {
  switch (len) {
    case 1: return dv.getUint8(off);
    case 2: return dv.getUint16(off);
    case 4: return dv.getUint32(off);
    case 8: return dv.getUint32(off) * 4294967296 + dv.getUint32(off + 4);
    case 3: return (dv.getUint16(off) << 8 | dv.getUint8(off + 2)) >>> 0;
    case 5: case 6: case 7: {
      let v = 0;
      for (let i = 0; i < len; i++) v = v * 256 + dv.getUint8(off + i);
      return v;
    }
    default: return 0;
  }
}

/**
 * A copy of bytes [start, end) that owns its memory. (Buffer#slice returns a
 * view that would keep a whole datagram or file chunk alive.)
 */
export function copyOf(u8: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(u8.subarray(start, end));
  return out;
}

/** Signed difference a − b of two 32-bit counters that may have wrapped (result in ±2^31). */
export function wrapDiff32(a: number, b: number): number {
  return ((a - b) | 0);
}

/** "::ffff:1.2.3.4" (a dual-stack socket's view of an IPv4 peer) → "1.2.3.4"; anything else unchanged. */
export function normalizeExporter(addr: string): string {
  return addr.startsWith('::ffff:') && addr.indexOf('.') > 0 ? addr.slice(7) : addr;
}

/** IPv4 address at `off` as dotted text. */
export function v4Text(u8: Uint8Array, off: number): string {
  return `${u8[off]}.${u8[off + 1]}.${u8[off + 2]}.${u8[off + 3]}`;
}

/**
 * IPv6 address at `off` as RFC 5952 text, except that a v4-mapped address
 * keeps its dotted tail (::ffff:a.b.c.d), as exporters and pmacct print it.
 */
export function v6Text(u8: Uint8Array, off: number): string {
  return isV4Mapped(u8, off) ? `::ffff:${v4Text(u8, off + 12)}` : formatIPv6(u8, off);
}

/** Map capped at `max` entries: inserting beyond evicts the least recently touched. */
export class BoundedMap<K, V> {
  private readonly m = new Map<K, V>();
  evicted = 0;
  constructor(private readonly max: number) {}
  get size(): number { return this.m.size; }
  /** Look up and mark as recently used. */
  get(k: K): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined) { this.m.delete(k); this.m.set(k, v); }
    return v;
  }
  peek(k: K): V | undefined { return this.m.get(k); }
  set(k: K, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    while (this.m.size > this.max) {
      const oldest = this.m.keys().next().value as K;
      this.m.delete(oldest);
      this.evicted++;
    }
  }
  delete(k: K): boolean { return this.m.delete(k); }
  values(): IterableIterator<V> { return this.m.values(); }
  clear(): void { this.m.clear(); }
}

/** Gaps larger than this are taken as an exporter restart, not as loss. */
export const MAX_SEQUENCE_GAP = 1_000_000;

/**
 * Sequence accounting of one stream. `expect(seq, n)`: the header says `seq`,
 * this message advances the counter by `n` (1 per datagram for v9/sFlow, the
 * record count for v5/IPFIX; -1 = unknown, skip the next check). Returns the
 * number of lost units (datagrams or records), 0 if none; counts resets.
 */
export class SequenceState {
  next = -1;
  check(seq: number, advance: number, stats: NetflowStats, lostIsRecords: boolean): number {
    let lost = 0;
    if (this.next >= 0 && seq !== this.next) {
      const gap = (seq - this.next) >>> 0;
      if (gap < MAX_SEQUENCE_GAP) {
        lost = gap;
        if (lostIsRecords) stats.lostRecords += gap; else stats.lostDatagrams += gap;
      } else {
        stats.sequenceResets++;
      }
    }
    this.next = advance < 0 ? -1 : (seq + advance) >>> 0;
    return lost;
  }
}

/** ICMP carried in the destination port as type·256+code (v5, many v9 exporters) → srcPort = type, dstPort = code. */
export function icmpFromDstPort(proto: number, srcPort: number, dstPort: number): boolean {
  return (proto === 1 || proto === 58) && srcPort === 0 && dstPort !== 0;
}

/** Sampling rates are carried as u32 in the record layout. */
export const MAX_SAMPLING = 0xffffffff;

/**
 * What is wrong with an emitted event, or null when it is sane: finite times
 * with end ≥ start, non-negative finite counts, ports/proto/flags in range,
 * IPv4 stored v4-mapped, sampling ≥ 1, a reporter. (Tests and fuzzing.)
 */
export function eventProblem(ev: FlowEvent): string | null {
  if (!Number.isFinite(ev.start) || !Number.isFinite(ev.end)) return `times ${ev.start}-${ev.end}`;
  if (ev.end < ev.start) return `end ${ev.end} < start ${ev.start}`;
  for (const [k, v] of [['pkts', ev.pkts], ['bytes', ev.bytes], ['revPkts', ev.revPkts], ['revBytes', ev.revBytes]] as const) {
    if (!Number.isFinite(v) || v < 0) return `${k} ${v}`;
  }
  const int = (v: number, max: number) => Number.isInteger(v) && v >= 0 && v <= max;
  if (!int(ev.srcPort, 65535) || !int(ev.dstPort, 65535)) return `ports ${ev.srcPort}/${ev.dstPort}`;
  if (!int(ev.proto, 255)) return `proto ${ev.proto}`;
  if (!int(ev.tcpFlags, 255) || !int(ev.revTcpFlags, 255)) return `tcp flags ${ev.tcpFlags}/${ev.revTcpFlags}`;
  if (!Number.isInteger(ev.sampling) || ev.sampling < 1 || ev.sampling > MAX_SAMPLING) return `sampling ${ev.sampling}`;
  if (ev.ipVersion === 4) {
    for (const a of [ev.src, ev.dst]) {
      for (let i = 0; i < 10; i++) if (a[i] !== 0) return 'IPv4 address not v4-mapped';
      if (a[10] !== 0xff || a[11] !== 0xff) return 'IPv4 address not v4-mapped';
    }
  } else if (ev.ipVersion !== 6) return `ipVersion ${ev.ipVersion}`;
  if (ev.vlan !== NO_VLAN && !int(ev.vlan, 4094)) return `vlan ${ev.vlan}`;
  if (!int(ev.direction, 2) || !int(ev.action, 2)) return `direction/action ${ev.direction}/${ev.action}`;
  if (ev.reporter === '') return 'no reporter';
  if (!ev.bidir && (ev.revPkts !== 0 || ev.revBytes !== 0)) return 'reverse counts without bidir';
  return null;
}
