// Google Cloud VPC Flow Logs: a pure parser from one Cloud Logging LogEntry
// (already JSON-decoded) to a FlowEvent, or a typed error. Never throws.
//
// Mapping (source gcp_vpc, unidirectional: bidir = false):
//   jsonPayload.connection.{src_ip, dest_ip, src_port, dest_port, protocol}
//     → src, dst, srcPort, dstPort, proto (ports are absent for ICMP → 0).
//   packets_sent / bytes_sent (int64 sent as JSON strings, "312"; plain JSON
//     numbers are accepted too) → pkts / bytes.
//   start_time / end_time (RFC 3339, ns fractions) → start / end in seconds;
//     one missing copies the other; both missing → the entry's timestamp.
//   reporter SRC / SRC_GATEWAY → direction egress (the record is reported by
//     the sending side: traffic leaving the reporter); DEST / DEST_GATEWAY →
//     ingress. The same connection is often logged by both sides: the core
//     deduplicates, the parser only says who reported.
//   ev.reporter: the reporting side's VM (`src_instance` for SRC, `dest_instance`
//     for DEST) as a GCP resource name `projects/P/zones/Z/instances/VM`; for
//     gateway reporters the VPN tunnel / Interconnect attachment; else the
//     resource the entry is logged under (subnetwork or flow-logs config);
//     else the logName.
//   action: none (VPC Flow Logs have no firewall verdict; denied ingress
//     packets are simply not sampled).
//
// Sampling. Google samples packets (the docs give about 1 in 30 on VMs, lower
// under load) and may drop whole records on top (`flow_sampling` 0–1 in the
// subnet or config). Per FORMATS.md §6 the bytes_sent / packets_sent of a
// record are already scaled up from the sampled packets ("after sampling
// extrapolation"; a record with 16 packets and 0 bytes is such an estimate),
// so the counts are used as they are — never multiplied here. The record does
// not state the rate, so ev.sampling is set to the NOMINAL primary rate
// (GCP_NOMINAL_SAMPLING = 30, overridable): consumers learn that counts are
// 1-in-~30 estimates (and that a flow of a few packets may be missing),
// consistent with the contract's "sampling already applied to the counts".
// Record-level flow_sampling is not reflected in any count.
import { parseAddress } from '../flows/ip-address.ts';
import { DIRECTION, FlowEvent, SOURCE } from './flow-event.ts';

export const GCP_NOMINAL_SAMPLING = 30;

export const GCP_FLOW = 0;
export const GCP_ERROR = 1;

export interface GcpParseOptions {
  /** value for ev.sampling (default GCP_NOMINAL_SAMPLING; see the header comment) */
  sampling?: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,12})?([Zz]|[+-]\d{2}:\d{2})$/;

/** RFC 3339 timestamp → Unix seconds (fractions kept to double precision); NaN if malformed. */
export function parseRfc3339(s: string): number {
  if (s.length > 40) return NaN;
  const m = RFC3339.exec(s);
  if (m === null) return NaN;
  const y = +m[1]!, mo = +m[2]!, d = +m[3]!, h = +m[4]!, mi = +m[5]!;
  let sec = +m[6]!;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return NaN;
  if (sec === 60) sec = 59; // leap second: the last representable second (fraction kept)
  const ms = Date.UTC(y, mo - 1, d, h, mi, sec);
  // Date.UTC rolls 31 Feb over into March: reject days the month does not have
  if (new Date(ms).getUTCDate() !== d) return NaN;
  let t = ms / 1000;
  if (m[7] !== undefined) t += Number(`0${m[7]}`);
  const z = m[8]!;
  if (z !== 'Z' && z !== 'z') {
    const oh = +z.slice(1, 3), om = +z.slice(4, 6);
    if (oh > 23 || om > 59) return NaN;
    const off = (oh * 3600 + om * 60) * (z[0] === '-' ? -1 : 1);
    t -= off;
  }
  return t;
}

/** A non-negative integer given as a JSON string of digits or a JSON number; -1 if invalid. */
function count(v: unknown, max: number): number {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= max ? v : -1;
  if (typeof v === 'string') {
    if (v.length === 0 || v.length > 16 || !/^\d+$/.test(v)) return -1;
    const n = Number(v);
    return n <= max ? n : -1;
  }
  return -1;
}

function vmName(o: unknown): string | undefined {
  if (!isObj(o)) return undefined;
  const vm = str(o.vm_name);
  if (vm === undefined) return undefined;
  const p = str(o.project_id) ?? '-';
  const zone = str(o.zone);
  return zone !== undefined ? `projects/${p}/zones/${zone}/instances/${vm}` : `projects/${p}/regions/${str(o.region) ?? '-'}/instances/${vm}`;
}

function gatewayName(o: unknown): string | undefined {
  if (!isObj(o)) return undefined;
  const name = str(o.name);
  if (name === undefined) return undefined;
  const kind = o.type === 'VPN_TUNNEL' ? 'vpnTunnels' : o.type === 'INTERCONNECT_ATTACHMENT' ? 'interconnectAttachments' : 'gateways';
  return `projects/${str(o.project_id) ?? '-'}/regions/${str(o.location) ?? '-'}/${kind}/${name}`;
}

function resourceName(entry: Obj): string | undefined {
  const res = entry.resource;
  if (isObj(res) && isObj(res.labels)) {
    const l = res.labels;
    if (res.type === 'gce_subnetwork') {
      const sn = str(l.subnetwork_name) ?? str(l.subnetwork_id);
      if (sn !== undefined) return `projects/${str(l.project_id) ?? '-'}/regions/${str(l.location) ?? '-'}/subnetworks/${sn}`;
    }
    if (res.type === 'vpc_flow_logs_config') {
      const n = str(l.name);
      if (n !== undefined) return `${str(l.resource_container) ?? 'projects/-'}/locations/${str(l.location) ?? '-'}/vpcFlowLogsConfigs/${n}`;
    }
  }
  return str(entry.logName);
}

/** One parser per input: fills `ev` (reused) from one LogEntry. */
export class GcpVpcParser {
  readonly ev = new FlowEvent();
  errorKind = '';
  errorMessage = '';
  readonly sampling: number;

  constructor(opts: GcpParseOptions = {}) {
    this.sampling = opts.sampling ?? GCP_NOMINAL_SAMPLING;
  }

  private fail(kind: string, message: string): number {
    this.errorKind = kind;
    this.errorMessage = message;
    return GCP_ERROR;
  }

  /** GCP_FLOW: ev holds the record; GCP_ERROR: errorKind / errorMessage say why. */
  parseEntry(entry: unknown): number {
    if (!isObj(entry)) return this.fail('bad_entry', `log entry is ${Array.isArray(entry) ? 'an array' : entry === null ? 'null' : typeof entry}, not an object`);
    const logName = entry.logName;
    if (typeof logName === 'string' && !logName.endsWith('vpc_flows')) return this.fail('not_flow_log', `logName ${logName.slice(0, 120)} is not a VPC flow log`);
    // A LogEntry carries the record in jsonPayload; a bare payload object is accepted too.
    const pl = isObj(entry.jsonPayload) ? entry.jsonPayload : isObj(entry.connection) ? entry : undefined;
    if (pl === undefined || !isObj(pl.connection)) return this.fail('missing_connection', 'no jsonPayload.connection');
    const conn = pl.connection;

    const ev = this.ev.reset(SOURCE.gcp_vpc);
    const srcIp = str(conn.src_ip), dstIp = str(conn.dest_ip);
    if (srcIp === undefined || dstIp === undefined) return this.fail('missing_address', `connection without ${srcIp === undefined ? 'src_ip' : 'dest_ip'}`);
    const sa = srcIp.length <= 64 ? parseAddress(srcIp) : null;
    if (sa === null) return this.fail('bad_address', `src_ip ${JSON.stringify(srcIp.slice(0, 64))}`);
    const da = dstIp.length <= 64 ? parseAddress(dstIp) : null;
    if (da === null) return this.fail('bad_address', `dest_ip ${JSON.stringify(dstIp.slice(0, 64))}`);
    if (sa.version !== da.version) return this.fail('bad_address', 'src_ip and dest_ip are of different IP versions');
    ev.src.set(sa.bytes); ev.dst.set(da.bytes); ev.ipVersion = sa.version;

    const numField = (o: Obj, name: string, max: number): number => {
      const v = o[name];
      if (v === undefined || v === null) return 0;
      return count(v, max);
    };
    const sp = numField(conn, 'src_port', 65535), dp = numField(conn, 'dest_port', 65535), pr = numField(conn, 'protocol', 255);
    if (sp < 0) return this.fail('bad_number', `src_port ${JSON.stringify(conn.src_port)}`);
    if (dp < 0) return this.fail('bad_number', `dest_port ${JSON.stringify(conn.dest_port)}`);
    if (pr < 0) return this.fail('bad_number', `protocol ${JSON.stringify(conn.protocol)}`);
    ev.srcPort = sp; ev.dstPort = dp; ev.proto = pr;
    const pk = numField(pl, 'packets_sent', Number.MAX_SAFE_INTEGER), by = numField(pl, 'bytes_sent', Number.MAX_SAFE_INTEGER);
    if (pk < 0) return this.fail('bad_number', `packets_sent ${JSON.stringify(pl.packets_sent)?.slice(0, 64)}`);
    if (by < 0) return this.fail('bad_number', `bytes_sent ${JSON.stringify(pl.bytes_sent)?.slice(0, 64)}`);
    ev.pkts = pk; ev.bytes = by;

    const time = (v: unknown): number | null => (v === undefined || v === null ? null : typeof v === 'string' ? parseRfc3339(v) : NaN);
    let t0 = time(pl.start_time), t1 = time(pl.end_time);
    if (t0 !== null && Number.isNaN(t0)) return this.fail('bad_time', `start_time ${JSON.stringify(pl.start_time)?.slice(0, 64)}`);
    if (t1 !== null && Number.isNaN(t1)) return this.fail('bad_time', `end_time ${JSON.stringify(pl.end_time)?.slice(0, 64)}`);
    if (t0 === null) t0 = t1;
    if (t1 === null) t1 = t0;
    if (t0 === null || t1 === null) {
      const ts = time(entry.timestamp);
      if (ts === null || Number.isNaN(ts)) return this.fail('missing_time', 'no start_time, end_time or timestamp');
      t0 = t1 = ts;
    }
    if (t1 < t0) return this.fail('bad_time_range', `end_time before start_time`);
    ev.start = t0; ev.end = t1;

    const rep = pl.reporter;
    let who: string | undefined;
    if (rep === 'SRC' || rep === 'SRC_GATEWAY') {
      ev.direction = DIRECTION.egress;
      who = rep === 'SRC' ? vmName(pl.src_instance) : gatewayName(pl.src_gateway);
    } else if (rep === 'DEST' || rep === 'DEST_GATEWAY') {
      ev.direction = DIRECTION.ingress;
      who = rep === 'DEST' ? vmName(pl.dest_instance) : gatewayName(pl.dest_gateway);
    }
    ev.reporter = who ?? resourceName(entry) ?? '';
    ev.sampling = this.sampling;
    return GCP_FLOW;
  }
}
