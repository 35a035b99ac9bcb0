// The flow record users read: Zeek conn.log field names and semantics, plus
// community_id, VLAN, tunnel and L2 fields. Made from a RawFlow at the edge
// (after the core), never inside it.
import { NO_VLAN, RF_FLIPPED, RF_INTERIM, TUNNEL_TYPES, type ConnState, type EndReason, type RawFlow } from '../core/flow-record.ts';
import { ACTIONS, DIRECTIONS, SF_DEDUPED, SF_LATE, SF_PAIRED, SOURCES, type SourceName } from '../flowlogs/flow-event.ts';
import { communityId } from './community-id.ts';
import { formatAddress, formatMac } from './ip-address.ts';
import type { LocalNets } from './local-nets.ts';
import { serviceForPort } from './services.ts';
import { flowUid } from './uid.ts';

export interface FlowRecord {
  ts: number;
  uid: string;
  'id.orig_h': string;
  'id.orig_p': number;
  'id.resp_h': string;
  'id.resp_p': number;
  proto: 'tcp' | 'udp' | 'icmp' | 'sctp' | 'unknown_transport';
  service?: string;
  /** absent for single-packet flows, as in Zeek */
  duration?: number;
  orig_bytes?: number;
  resp_bytes?: number;
  conn_state: ConnState;
  local_orig: boolean;
  local_resp: boolean;
  missed_bytes: number;
  history: string;
  orig_pkts: number;
  orig_ip_bytes: number;
  resp_pkts: number;
  resp_ip_bytes: number;
  ip_proto: number;
  community_id: string;
  vlan?: number;
  inner_vlan?: number;
  orig_l2_addr?: string;
  resp_l2_addr?: string;
  tunnel_type?: string;
  tunnel_id?: number;
  /** on-the-wire frame bytes (what tshark's conversation statistics count); packet path only */
  orig_wire_bytes?: number;
  resp_wire_bytes?: number;
  /** true on interim records of a still-open long flow (active timeout) */
  interim?: boolean;
  /** why the record was written */
  end_reason: EndReason;
  // ---- flow-record sources only (absent on records from packets) ----
  source?: SourceName;
  /** interface, exporter or resource that reported it */
  reporter?: string;
  action?: 'accept' | 'reject';
  /** relative to the reporter */
  direction?: 'ingress' | 'egress';
  /** 1-in-N packet sampling, counts already scaled */
  sampling?: number;
  /** source records merged into this flow */
  source_records?: number;
  orig_tcp_flags?: number;
  resp_tcp_flags?: number;
  /** joined from records of both directions */
  paired?: boolean;
  /** another reporter's copy of the same traffic was dropped */
  deduped?: boolean;
  /** arrived after the lateness window, emitted unmerged */
  late?: boolean;
}

export interface RecordContext {
  localNets: LocalNets;
  communityIdSeed?: number;
  /** names of the reporter ids on records from flow-record sources */
  reporterName?: (id: number) => string;
}

export const PROTO_NAME: Record<number, FlowRecord["proto"]> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmp', 132: 'sctp' };

/** Round to microseconds, the precision Zeek logs. */
function usec(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/**
 * Seconds as Zeek writes them, with exactly six decimals: integer formatting
 * is several times cheaper than double-to-string on this per-flow path.
 */
function zeekTime(x: number): string {
  const us = Math.round(x * 1e6);
  // The core never produces one (packet times are finite, flow-record
  // sources drop implausible times), but a line must stay valid JSON.
  if (!Number.isFinite(us)) return 'null';
  const sec = Math.floor(us / 1e6);
  const frac = us - sec * 1e6;
  return `${sec}.${frac < 100000 ? String(frac).padStart(6, '0') : frac}`;
}

export function toFlowRecord(f: RawFlow, ctx: RecordContext): FlowRecord {
  const proto = PROTO_NAME[f.proto] ?? 'unknown_transport';
  const addrLen = f.ipVersion === 4 ? 4 : 16;
  const o = f.origH.subarray(16 - addrLen), r = f.respH.subarray(16 - addrLen);
  const hasPorts = proto !== 'unknown_transport';
  const duration = f.lastTs - f.ts;
  const rec: FlowRecord = {
    ts: usec(f.ts),
    uid: flowUid(f.serial, f.ts),
    'id.orig_h': formatAddress(f.origH, f.ipVersion),
    'id.orig_p': hasPorts ? f.origP : 0,
    'id.resp_h': formatAddress(f.respH, f.ipVersion),
    'id.resp_p': hasPorts ? f.respP : 0,
    proto,
    conn_state: f.connState,
    local_orig: ctx.localNets.contains(f.origH),
    local_resp: ctx.localNets.contains(f.respH),
    missed_bytes: f.missedBytes,
    history: (f.flags & RF_FLIPPED) !== 0 && !f.history.startsWith('^') ? '^' + f.history : f.history,
    orig_pkts: f.origPkts,
    orig_ip_bytes: f.origIpBytes,
    resp_pkts: f.respPkts,
    resp_ip_bytes: f.respIpBytes,
    ip_proto: f.proto,
    community_id: communityId(o, r, f.proto, f.origP, f.respP, ctx.communityIdSeed ?? 0),
    end_reason: f.endReason,
  };
  if (f.source === 0) {
    rec.orig_wire_bytes = f.origWireBytes;
    rec.resp_wire_bytes = f.respWireBytes;
  }
  const service = serviceForPort(f.proto, f.respP);
  if (service) rec.service = service;
  if (duration > 0) {
    rec.duration = usec(duration);
    // flow-record sources without payload counts say -1: Zeek's unset field
    if (f.origBytes >= 0) rec.orig_bytes = f.origBytes;
    if (f.respBytes >= 0) rec.resp_bytes = f.respBytes;
  }
  if (f.vlan !== NO_VLAN) rec.vlan = f.vlan;
  if (f.innerVlan !== NO_VLAN) rec.inner_vlan = f.innerVlan;
  if (f.origMac) rec.orig_l2_addr = formatMac(f.origMac);
  if (f.respMac) rec.resp_l2_addr = formatMac(f.respMac);
  if (f.tunnelType !== 0) {
    rec.tunnel_type = TUNNEL_TYPES[f.tunnelType] ?? String(f.tunnelType);
    rec.tunnel_id = f.tunnelId;
  }
  if ((f.flags & RF_INTERIM) !== 0) rec.interim = true;
  if (f.source !== 0) {
    rec.source = SOURCES[f.source] ?? 'packets';
    const rep = ctx.reporterName?.(f.reporter) ?? '';
    if (rep !== '') rec.reporter = rep;
    if (f.action !== 0) rec.action = ACTIONS[f.action] as 'accept' | 'reject';
    if (f.direction !== 0) rec.direction = DIRECTIONS[f.direction] as 'ingress' | 'egress';
    if (f.sampling > 1) rec.sampling = f.sampling;
    if (f.records > 0) rec.source_records = f.records;
    if (f.proto === 6 && (f.origTcpFlags | f.respTcpFlags) !== 0) { rec.orig_tcp_flags = f.origTcpFlags; rec.resp_tcp_flags = f.respTcpFlags; }
    if (f.sourceFlags & SF_PAIRED) rec.paired = true;
    if (f.sourceFlags & SF_DEDUPED) rec.deduped = true;
    if (f.sourceFlags & SF_LATE) rec.late = true;
  }
  return rec;
}

/** JSON string literal with everything outside printable ASCII escaped (lines are written as latin1). */
/** A reporter name as the flow line carries it: its first 256 characters, as an ASCII-only JSON string. */
export function reporterJson(name: string): string { return asciiJson(name.slice(0, 256)); }

export function asciiJson(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/**
 * The record as one JSON line, fields in Zeek's order: the readable
 * reference the writer thread's Wasm formatter (asm/json/) is compared with,
 * byte for byte (test/flow-json.test.ts). Written by hand, about 10× cheaper
 * than building an ordered object for JSON.stringify. Every string field comes
 * from a fixed alphabet (addresses, base62 uid, base64 community id, service
 * and tunnel names, history letters), so none needs escaping; the test
 * round-trips records through JSON.parse to keep it that way.
 */
export function flowRecordJson(r: FlowRecord): string {
  let s = `{"ts":${zeekTime(r.ts)},"uid":"${r.uid}","id.orig_h":"${r['id.orig_h']}","id.orig_p":${r['id.orig_p']},"id.resp_h":"${r['id.resp_h']}","id.resp_p":${r['id.resp_p']},"proto":"${r.proto}"`;
  if (r.service !== undefined) s += `,"service":"${r.service}"`;
  if (r.duration !== undefined) s += `,"duration":${zeekTime(r.duration)}`;
  if (r.orig_bytes !== undefined) s += `,"orig_bytes":${r.orig_bytes}`;
  if (r.resp_bytes !== undefined) s += `,"resp_bytes":${r.resp_bytes}`;
  s += `,"conn_state":"${r.conn_state}","local_orig":${r.local_orig},"local_resp":${r.local_resp},"missed_bytes":${r.missed_bytes},"history":"${r.history}","orig_pkts":${r.orig_pkts},"orig_ip_bytes":${r.orig_ip_bytes},"resp_pkts":${r.resp_pkts},"resp_ip_bytes":${r.resp_ip_bytes},"ip_proto":${r.ip_proto},"community_id":"${r.community_id}"`;
  if (r.vlan !== undefined) s += `,"vlan":${r.vlan}`;
  if (r.inner_vlan !== undefined) s += `,"inner_vlan":${r.inner_vlan}`;
  if (r.orig_l2_addr !== undefined) s += `,"orig_l2_addr":"${r.orig_l2_addr}","resp_l2_addr":"${r.resp_l2_addr}"`;
  if (r.tunnel_type !== undefined) s += `,"tunnel_type":"${r.tunnel_type}","tunnel_id":${r.tunnel_id}`;
  if (r.orig_wire_bytes !== undefined) s += `,"orig_wire_bytes":${r.orig_wire_bytes},"resp_wire_bytes":${r.resp_wire_bytes}`;
  if (r.interim) s += ',"interim":true';
  s += `,"end_reason":"${r.end_reason}"`;
  if (r.source !== undefined) {
    s += `,"source":"${r.source}"`;
    if (r.reporter !== undefined) s += `,"reporter":${reporterJson(r.reporter)}`;
    if (r.action !== undefined) s += `,"action":"${r.action}"`;
    if (r.direction !== undefined) s += `,"direction":"${r.direction}"`;
    if (r.sampling !== undefined) s += `,"sampling":${r.sampling}`;
    if (r.source_records !== undefined) s += `,"source_records":${r.source_records}`;
    if (r.orig_tcp_flags !== undefined) s += `,"orig_tcp_flags":${r.orig_tcp_flags},"resp_tcp_flags":${r.resp_tcp_flags}`;
    if (r.paired) s += ',"paired":true';
    if (r.deduped) s += ',"deduped":true';
    if (r.late) s += ',"late":true';
  }
  return s + '}';
}
