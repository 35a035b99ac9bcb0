// AWS VPC Flow Logs, text form (S3 delivery, CloudWatch Logs export): a pure
// parser from the bytes of one record line to a FlowEvent, or a typed error.
// It never throws on bad input and allocates nothing per good record
// (numbers and IPv4/IPv6 addresses are read from the bytes; the reporter
// string is interned, so only a new interface id allocates).
//
// A record is a line of space-separated fields whose order is the flow log's
// format: the 14 version-2 fields by default, or any subset of the catalogue
// below in any order (a "custom format"). The `version` field only tells the
// highest version among the chosen fields, not the order, so the order comes
// from the S3 header line or from the format string the flow log was created
// with (`${version} ${srcaddr} …`); see parseAwsFormat.
//
// Mapping to the FlowEvent (source aws_vpc, unidirectional: bidir = false):
//   srcaddr/dstaddr → src/dst, UNLESS pkt-srcaddr/pkt-dstaddr are in the
//     format and not "-": then the packet-level addresses win. srcaddr/dstaddr
//     are the addresses of the ENI that logged the record; on an intermediate
//     ENI (NAT gateway, transit gateway attachment, EKS pod behind a node) they
//     are the intermediate's own address, not the endpoints'. The pkt-* pair is
//     what was in the IP header, so the NAT gateway's copy of a client→server
//     packet and the client ENI's copy carry the same 5-tuple, which is what the
//     core's cross-reporter deduplication needs. The cost: the record no longer
//     says which intermediate address it passed; the reporter id still says which
//     ENI saw it. Where pkt-* equals srcaddr/dstaddr (the usual case) nothing
//     changes.
//   srcport/dstport/protocol → srcPort/dstPort/proto ("-" → 0; ICMP has 0 0,
//     AWS gives no ICMP type/code).
//   packets/bytes → pkts/bytes ("-" → 0; AWS does not sample: sampling = 1).
//   start/end (Unix seconds) → start/end; a missing one copies the other; with
//     neither, the caller's fallback time (CloudWatch event timestamp) is used.
//   action ACCEPT/REJECT → action; flow-direction ingress/egress → direction.
//   tcp-flags → tcpFlags as is: AWS reports FIN 1, SYN 2, RST 4 and SYN-ACK 18
//     OR-ed over the aggregation interval, which are the FlowEvent bit values.
//     ACK (16) only ever appears together with SYN, so tcpFlags & 16 here means
//     "a SYN-ACK was seen", not "ACKs were seen"; 19 = SYN-ACK + FIN of a short
//     connection, 3 = SYN + FIN.
//   reporter: the first of interface-id, tgw-attachment-id, instance-id,
//     subnet-id, vpc-id, tgw-id that is in the format and not "-".
//   log-status NODATA → AWS_NODATA (no traffic: nothing to emit, not an error);
//     SKIPDATA → AWS_SKIPDATA (records were dropped by AWS: the caller reports
//     it as a `skipped_data` rejection, since traffic was lost).
import { ACTION, DIRECTION, FlowEvent, SOURCE, setV4 } from './flow-event.ts';

/** Field name → flow-log version that introduced it (VPC and Transit Gateway flow logs). */
export const AWS_FIELD_VERSIONS: Readonly<Record<string, number>> = {
  'version': 2, 'account-id': 2, 'interface-id': 2, 'srcaddr': 2, 'dstaddr': 2, 'srcport': 2, 'dstport': 2,
  'protocol': 2, 'packets': 2, 'bytes': 2, 'start': 2, 'end': 2, 'action': 2, 'log-status': 2,
  'vpc-id': 3, 'subnet-id': 3, 'instance-id': 3, 'tcp-flags': 3, 'type': 3, 'pkt-srcaddr': 3, 'pkt-dstaddr': 3,
  'region': 4, 'az-id': 4, 'sublocation-type': 4, 'sublocation-id': 4,
  'pkt-src-aws-service': 5, 'pkt-dst-aws-service': 5, 'flow-direction': 5, 'traffic-path': 5,
  // Transit Gateway flow logs (version 6 field set)
  'resource-type': 6, 'tgw-id': 6, 'tgw-attachment-id': 6, 'tgw-src-vpc-account-id': 6, 'tgw-dst-vpc-account-id': 6,
  'tgw-src-vpc-id': 6, 'tgw-dst-vpc-id': 6, 'tgw-src-subnet-id': 6, 'tgw-dst-subnet-id': 6, 'tgw-src-eni': 6,
  'tgw-dst-eni': 6, 'tgw-src-az-id': 6, 'tgw-dst-az-id': 6, 'tgw-pair-attachment-id': 6,
  'packets-lost-no-route': 6, 'packets-lost-blackhole': 6, 'packets-lost-mtu-exceeded': 6, 'packets-lost-ttl-expired': 6,
  'ecs-cluster-arn': 7, 'ecs-cluster-name': 7, 'ecs-container-instance-arn': 7, 'ecs-container-instance-id': 7,
  'ecs-container-id': 7, 'ecs-second-container-id': 7, 'ecs-service-name': 7, 'ecs-task-definition-arn': 7,
  'ecs-task-arn': 7, 'ecs-task-id': 7,
  'reject-reason': 8,
  // in recent format strings; semantics not used here
  'resource-id': 9, 'encryption-status': 10,
};

export const AWS_DEFAULT_FIELDS = [
  'version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport',
  'protocol', 'packets', 'bytes', 'start', 'end', 'action', 'log-status',
] as const;

// Column kinds: what the parser does with a field. Everything else is skipped.
// Numbered so that decimals (1–9) and addresses (10–13) are ranges.
const K_SKIP = 0,
  K_VERSION = 1, K_SRCPORT = 2, K_DSTPORT = 3, K_PROTOCOL = 4, K_TCP_FLAGS = 5, K_PACKETS = 6, K_BYTES = 7, K_START = 8, K_END = 9,
  K_SRCADDR = 10, K_DSTADDR = 11, K_PKT_SRCADDR = 12, K_PKT_DSTADDR = 13,
  K_ACTION = 14, K_LOG_STATUS = 15, K_FLOW_DIRECTION = 16;
const KIND_OF: Readonly<Record<string, number>> = {
  'version': K_VERSION, 'srcaddr': K_SRCADDR, 'dstaddr': K_DSTADDR, 'srcport': K_SRCPORT, 'dstport': K_DSTPORT,
  'protocol': K_PROTOCOL, 'packets': K_PACKETS, 'bytes': K_BYTES, 'start': K_START, 'end': K_END,
  'action': K_ACTION, 'log-status': K_LOG_STATUS, 'tcp-flags': K_TCP_FLAGS, 'pkt-srcaddr': K_PKT_SRCADDR,
  'pkt-dstaddr': K_PKT_DSTADDR, 'flow-direction': K_FLOW_DIRECTION,
};
/** Fields that name who logged the record, best first. */
const REPORTER_FIELDS = ['interface-id', 'tgw-attachment-id', 'instance-id', 'subnet-id', 'vpc-id', 'tgw-id'];

/** A compiled field order. */
export interface AwsFormat {
  /** field names in record order (normalised: lower case, dashes) */
  readonly fields: readonly string[];
  /** highest version among the known fields */
  readonly version: number;
  readonly kinds: Uint8Array;
  readonly reporterCols: readonly number[];
  readonly logStatusCol: number;
}

export type AwsFormatResult = { ok: true; format: AwsFormat } | { ok: false; message: string };

/** The version that introduced `name`, or undefined for a name this catalogue does not know ("constructor" included). */
export function awsFieldVersion(name: string): number | undefined {
  return Object.hasOwn(AWS_FIELD_VERSIONS, name) ? AWS_FIELD_VERSIONS[name] : undefined;
}

function compile(fields: string[]): AwsFormat {
  const kinds = new Uint8Array(fields.length);
  let version = 0;
  fields.forEach((f, i) => {
    kinds[i] = Object.hasOwn(KIND_OF, f) ? KIND_OF[f]! : K_SKIP;
    version = Math.max(version, awsFieldVersion(f) ?? 0);
  });
  const reporterCols: number[] = [];
  for (const r of REPORTER_FIELDS) { const i = fields.indexOf(r); if (i >= 0) reporterCols.push(i); }
  return { fields, version, kinds, reporterCols, logStatusCol: fields.indexOf('log-status') };
}

export const AWS_DEFAULT_FORMAT: AwsFormat = compile([...AWS_DEFAULT_FIELDS]);

/**
 * Compile a format declaration: either the S3 header line (`version account-id
 * …`) or the format string given when the flow log was created (`${version}
 * ${account-id} …`). Names may use dashes or underscores (Parquet/Athena column
 * style) and any case; fields are separated by whitespace.
 *
 * `strict` (for a user-given option): every name must be a known field, so a
 * typo is an error instead of a silently ignored column. Not strict (for
 * header lines, which AWS writes): unknown names are accepted as ignored
 * columns, so a field newer than this catalogue does not make a file unreadable.
 * Either way the format must name a source and a destination address (srcaddr
 * or pkt-srcaddr, dstaddr or pkt-dstaddr) and no field twice.
 */
export function parseAwsFormat(decl: string, strict = true): AwsFormatResult {
  const tokens = decl.trim().split(/\s+/).filter((t) => t !== '');
  if (tokens.length === 0) return { ok: false, message: 'empty format declaration' };
  const fields: string[] = [];
  for (const tok of tokens) {
    const m = /^\$\{([^{}]*)\}$/.exec(tok);
    const raw = m ? m[1]! : tok;
    const name = raw.toLowerCase().replace(/_/g, '-');
    if (!/^[a-z][a-z0-9-]*$/.test(name)) return { ok: false, message: `not a field name: ${JSON.stringify(tok.slice(0, 64))}` };
    if (strict && awsFieldVersion(name) === undefined) return { ok: false, message: `unknown field ${JSON.stringify(name)}` };
    if (fields.includes(name)) return { ok: false, message: `field ${name} appears twice` };
    fields.push(name);
  }
  const has = (f: string) => fields.includes(f);
  if (!has('srcaddr') && !has('pkt-srcaddr')) return { ok: false, message: 'format has no source address (srcaddr or pkt-srcaddr)' };
  if (!has('dstaddr') && !has('pkt-dstaddr')) return { ok: false, message: 'format has no destination address (dstaddr or pkt-dstaddr)' };
  return { ok: true, format: compile(fields) };
}

/**
 * Is this line an S3-style header (field names) rather than a record? True
 * when every token looks like a field name and at least half are known ones:
 * no record can look like that (values carry digits, dots, colons, upper-case
 * words or "-"), while a header with a few fields newer than the catalogue is
 * still recognised.
 */
export function isAwsHeaderLine(buf: Uint8Array, start: number, end: number): boolean {
  let known = 0, total = 0;
  let i = start;
  for (;;) {
    while (i < end && (buf[i] === 32 || buf[i] === 9)) i++;
    if (i >= end) break;
    const s = i;
    while (i < end && buf[i] !== 32 && buf[i] !== 9) {
      const c = buf[i]!;
      // a-z, 0-9, '-', '_', '$', '{', '}'
      if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95 || c === 36 || c === 123 || c === 125)) return false;
      i++;
    }
    total++;
    let name = Buffer.from(buf.buffer, buf.byteOffset + s, i - s).toString('latin1');
    if (name.startsWith('${') && name.endsWith('}')) name = name.slice(2, -1);
    if (awsFieldVersion(name.replace(/_/g, '-')) !== undefined) known++;
    if (total > 256) return false;
  }
  return total > 0 && known * 2 >= total;
}

// ---- the record parser ----

export const AWS_FLOW = 0;
export const AWS_NODATA = 1;
export const AWS_SKIPDATA = 2;
export const AWS_ERROR = 3;
export const AWS_BLANK = 4;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const SRC_AWS = SOURCE.aws_vpc;
const POW10 = [1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7];
const NOT_A_NUMBER = -1;
const DASH = -2;

/**
 * Unsigned decimal in buf[s, e): the value, DASH for "-", NOT_A_NUMBER
 * otherwise (sign, non-digit, more than 2^53-1).
 */
function decimal(buf: Uint8Array, s: number, e: number): number {
  const len = e - s;
  if (len === 1 && buf[s] === 45) return DASH;
  if (len > 16 || len === 0) return NOT_A_NUMBER;
  let n = 0;
  for (let i = s; i < e; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return NOT_A_NUMBER;
    n = n * 10 + d;
  }
  return n > MAX_SAFE ? NOT_A_NUMBER : n;
}

/** Dotted-quad IPv4 in buf[s, e) as an unsigned 32-bit number, or -1. */
function ipv4(buf: Uint8Array, s: number, e: number): number {
  let addr = 0, part = 0, digits = 0, dots = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      addr = addr * 256 + part; part = 0; digits = 0; dots++;
    } else {
      const d = c - 48;
      if (d < 0 || d > 9 || digits === 3) return -1;
      part = part * 10 + d; digits++;
      if (part > 255) return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return addr * 256 + part;
}

const WORDS = new Uint16Array(8);

/**
 * IPv6 text in buf[s, e) into 16 bytes: 1–4 hex digits per group, one "::"
 * at most, an optional dotted-quad tail (::ffff:192.0.2.1). No zone index.
 * False (and `out` unspecified) when malformed. Same acceptance as
 * parseAddress in flows/ip-address.ts, without strings.
 */
export function ipv6(buf: Uint8Array, s: number, e: number, out: Uint8Array): boolean {
  if (e - s < 2 || e - s > 45) return false;
  let n = 0;
  let gap = -1;
  let i = s;
  if (buf[i] === 58) {
    if (buf[i + 1] !== 58) return false;
    i += 2; gap = 0;
  }
  while (i < e) {
    const gs = i;
    let v = 0;
    while (i < e) {
      const c = buf[i]!;
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      v = v * 16 + d; i++;
    }
    if (i < e && buf[i] === 46) {
      // dotted-quad tail: the last two words
      if (n > 6) return false;
      const a = ipv4(buf, gs, e);
      if (a < 0) return false;
      WORDS[n++] = a >>> 16; WORDS[n++] = a & 0xffff;
      i = e;
      break;
    }
    if (i === gs || i - gs > 4 || n === 8) return false;
    WORDS[n++] = v;
    if (i === e) break;
    if (buf[i] !== 58) return false;
    i++;
    if (i < e && buf[i] === 58) {
      if (gap >= 0) return false;
      gap = n; i++;
    } else if (i === e) return false;
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  const zeros = 8 - n;
  for (let w = 0, o = 0; w < 8; w++) {
    const val = gap >= 0 && w >= gap && w < gap + zeros ? 0 : WORDS[o++]!;
    out[2 * w] = val >>> 8; out[2 * w + 1] = val & 0xff;
  }
  return true;
}

function bytesEq(buf: Uint8Array, s: number, e: number, lit: Uint8Array): boolean {
  if (e - s !== lit.length) return false;
  for (let i = 0; i < lit.length; i++) if (buf[s + i] !== lit[i]) return false;
  return true;
}

const enc = (s: string) => Buffer.from(s, 'latin1');
const B_OK = enc('OK'), B_NODATA = enc('NODATA'), B_SKIPDATA = enc('SKIPDATA');
const B_ACCEPT = enc('ACCEPT'), B_REJECT = enc('REJECT');
const B_INGRESS = enc('ingress'), B_EGRESS = enc('egress');

/**
 * Bytes → string cache for reporter ids: a record stream repeats a few ENI ids
 * (consecutively within an S3 file, interleaved across files), so equal bytes
 * give the same string without allocating. Direct-mapped on an FNV-1a hash.
 */
export class ByteInterner {
  private readonly keys: (Uint8Array | null)[];
  private readonly values: string[];
  private readonly mask: number;
  misses = 0;
  private lastKey: Uint8Array = new Uint8Array(0);
  private lastValue = '';
  constructor(slots = 512) {
    const n = 1 << Math.ceil(Math.log2(Math.max(1, slots)));
    this.keys = new Array<Uint8Array | null>(n).fill(null);
    this.values = new Array<string>(n).fill('');
    this.mask = n - 1;
  }
  get(buf: Uint8Array, s: number, e: number): string {
    // Same as the previous id (the usual case within an S3 object)? Compare
    // from the end: ids share their prefix ("eni-0…") and differ at the tail.
    const last = this.lastKey;
    if (last.length === e - s) {
      let j = last.length - 1;
      while (j >= 0 && last[j] === buf[s + j]) j--;
      if (j < 0) return this.lastValue;
    }
    let h = 0x811c9dc5;
    for (let i = s; i < e; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const slot = (h ^ (h >>> 15)) & this.mask;
    const k = this.keys[slot];
    if (k !== null && k !== undefined && k.length === e - s) {
      let i = 0;
      while (i < k.length && k[i] === buf[s + i]) i++;
      if (i === k.length) { this.lastKey = k; this.lastValue = this.values[slot]!; return this.lastValue; }
    }
    this.misses++;
    const key = Uint8Array.prototype.slice.call(buf, s, e);
    const value = Buffer.from(key.buffer, key.byteOffset, key.length).toString('utf8');
    this.keys[slot] = key;
    this.values[slot] = value;
    this.lastKey = key; this.lastValue = value;
    return value;
  }
}

function show(buf: Uint8Array, s: number, e: number): string {
  const t = Buffer.from(buf.buffer, buf.byteOffset + s, Math.min(e - s, 64)).toString('latin1');
  return JSON.stringify(e - s > 64 ? `${t}…` : t);
}

/**
 * One parser per input stream: fills `ev` (reused) from one record line.
 * `parse` returns AWS_FLOW (ev holds the record), AWS_NODATA, AWS_SKIPDATA,
 * AWS_BLANK (whitespace only) or AWS_ERROR (errorKind / errorMessage say why).
 */
export class AwsVpcParser {
  readonly ev = new FlowEvent();
  format: AwsFormat;
  errorKind = '';
  errorMessage = '';
  /** field count of the last line (for messages) */
  fieldCount = 0;
  /** where the reporter field of the last record was in its line (equal when none) */
  reporterStart = 0;
  reporterEnd = 0;
  private starts = new Int32Array(64);
  private ends = new Int32Array(64);
  private readonly pktSrc = new Uint8Array(16);
  private readonly pktDst = new Uint8Array(16);
  readonly reporters = new ByteInterner();

  constructor(format: AwsFormat = AWS_DEFAULT_FORMAT) {
    this.format = format;
    this.setFormat(format);
  }

  setFormat(format: AwsFormat): void {
    this.format = format;
    if (this.starts.length < format.kinds.length + 1) {
      this.starts = new Int32Array(format.kinds.length + 1);
      this.ends = new Int32Array(format.kinds.length + 1);
    }
  }

  private fail(kind: string, message: string): number {
    this.errorKind = kind;
    this.errorMessage = message;
    return AWS_ERROR;
  }

  /**
   * Parse buf[start, end) (no newline). `fallbackTime`: seconds used when the
   * format has no start/end (or both are "-").
   *
   * One pass over the bytes for the common case (single spaces, every field
   * present and well formed, IPv4 or IPv6); anything else — "-" values, runs
   * of whitespace or tabs, NODATA/SKIPDATA, no time fields, errors — is handed
   * to `parseGeneral`, which splits the fields first and decides. The fast path only ever accepts what
   * parseGeneral accepts, with the same result (a test compares the two).
   */
  parse(buf: Uint8Array, start: number, end: number, fallbackTime = NaN): number {
    const fmt = this.format;
    const kinds = fmt.kinds;
    const n = kinds.length;
    const ts = this.starts, te = this.ends;
    const ev = this.ev.reset(SRC_AWS);
    this.reporterStart = this.reporterEnd = 0;
    const src = ev.src, dst = ev.dst;
    let tStart = -1, tEnd = -1;
    let srcVer = 0, dstVer = 0, pktSrcVer = 0, pktDstVer = 0;
    let i = start;
    for (let c = 0; c < n; c++) {
      const s = i;
      const k = kinds[c]!;
      if (k >= K_VERSION && k <= K_END) {
        // decimal, at most 15 digits (so always exact). The first 9 digits
        // accumulate as a small integer, the rest separately: V8 keeps both
        // loops in int32 arithmetic, where one accumulator would turn into
        // a float once a byte count passes 2^31 and run half as fast.
        let v = 0;
        const lim = s + 9 < end ? s + 9 : end;
        while (i < lim) {
          const d = buf[i]! - 48;
          if (d < 0 || d > 9) break;
          v = v * 10 + d; i++;
        }
        if (i === lim && i < end) {
          const ls = i;
          let lo = 0;
          while (i < end) {
            const d = buf[i]! - 48;
            if (d < 0 || d > 9) break;
            lo = lo * 10 + d; i++;
            if (i - ls > 6) return this.parseGeneral(buf, start, end, fallbackTime);
          }
          if (i > ls) v = v * POW10[i - ls]! + lo;
        }
        if (i === s) return this.parseGeneral(buf, start, end, fallbackTime);
        switch (k) {
          case K_SRCPORT: if (v > 65535) return this.parseGeneral(buf, start, end, fallbackTime); ev.srcPort = v; break;
          case K_DSTPORT: if (v > 65535) return this.parseGeneral(buf, start, end, fallbackTime); ev.dstPort = v; break;
          case K_PROTOCOL: if (v > 255) return this.parseGeneral(buf, start, end, fallbackTime); ev.proto = v; break;
          case K_TCP_FLAGS: if (v > 255) return this.parseGeneral(buf, start, end, fallbackTime); ev.tcpFlags = v; break;
          case K_VERSION: if (v > 0xffff) return this.parseGeneral(buf, start, end, fallbackTime); break;
          case K_PACKETS: ev.pkts = v; break;
          case K_BYTES: ev.bytes = v; break;
          case K_START: tStart = v; break;
          default: tEnd = v; break; // K_END
        }
      } else if (k === K_SKIP) {
        while (i < end) {
          const ch = buf[i]!;
          if (ch <= 32) {
            if (ch === 32) break;
            return this.parseGeneral(buf, start, end, fallbackTime); // tab or control byte: let the general parser decide
          }
          i++;
        }
        if (i === s) return this.parseGeneral(buf, start, end, fallbackTime);
      } else if (k <= K_PKT_DSTADDR) {
        // dotted quad straight into the v4-mapped bytes; else IPv6
        const t = k === K_SRCADDR ? src : k === K_DSTADDR ? dst : k === K_PKT_SRCADDR ? this.pktSrc : this.pktDst;
        let ver = 4;
        for (let q = 0; q < 4; q++) {
          const qs = i;
          let v = 0;
          while (i < end) {
            const d = buf[i]! - 48;
            if (d < 0 || d > 9) break;
            v = v * 10 + d; i++;
          }
          if (i === qs || i - qs > 3 || v > 255) { ver = 0; break; }
          t[12 + q] = v;
          if (q < 3) {
            if (i >= end || buf[i] !== 46) { ver = 0; break; }
            i++;
          }
        }
        if (ver === 4) {
          for (let z = 0; z < 10; z++) t[z] = 0;
          t[10] = 0xff; t[11] = 0xff;
        } else {
          i = s;
          while (i < end && buf[i] !== 32 && buf[i] !== 9) i++;
          if (!ipv6(buf, s, i, t)) return this.parseGeneral(buf, start, end, fallbackTime);
          ver = 6;
        }
        if (k === K_SRCADDR) srcVer = ver; else if (k === K_DSTADDR) dstVer = ver;
        else if (k === K_PKT_SRCADDR) pktSrcVer = ver; else pktDstVer = ver;
      } else {
        // K_ACTION, K_LOG_STATUS, K_FLOW_DIRECTION
        while (i < end && buf[i] !== 32) i++;
        if (k === K_ACTION) {
          if (bytesEq(buf, s, i, B_ACCEPT)) ev.action = ACTION.accept;
          else if (bytesEq(buf, s, i, B_REJECT)) ev.action = ACTION.reject;
          else return this.parseGeneral(buf, start, end, fallbackTime);
        } else if (k === K_LOG_STATUS) {
          if (!bytesEq(buf, s, i, B_OK)) return this.parseGeneral(buf, start, end, fallbackTime);
        } else if (bytesEq(buf, s, i, B_INGRESS)) ev.direction = DIRECTION.ingress;
        else if (bytesEq(buf, s, i, B_EGRESS)) ev.direction = DIRECTION.egress;
        else return this.parseGeneral(buf, start, end, fallbackTime);
      }
      ts[c] = s; te[c] = i;
      // exactly one space between fields, none after the last
      if (c < n - 1) {
        if (i >= end || buf[i] !== 32) return this.parseGeneral(buf, start, end, fallbackTime);
        i++;
      } else if (i !== end) return this.parseGeneral(buf, start, end, fallbackTime);
    }
    if (pktSrcVer !== 0) { src.set(this.pktSrc); srcVer = pktSrcVer; }
    if (pktDstVer !== 0) { dst.set(this.pktDst); dstVer = pktDstVer; }
    if (srcVer !== dstVer || srcVer === 0 || tStart < 0 || tEnd < tStart) return this.parseGeneral(buf, start, end, fallbackTime);
    ev.start = tStart; ev.end = tEnd;
    ev.ipVersion = srcVer as 4 | 6;
    const rc = fmt.reporterCols;
    for (let r = 0; r < rc.length; r++) {
      const c = rc[r]!;
      const s = ts[c]!, e = te[c]!;
      if (e - s === 1 && buf[s] === 45) continue;
      ev.reporter = this.reporters.get(buf, s, e);
      this.reporterStart = s; this.reporterEnd = e;
      break;
    }
    this.fieldCount = n;
    return AWS_FLOW;
  }

  /** The general parser: any whitespace, "-" values, IPv6, NODATA/SKIPDATA, and the precise error. */
  parseGeneral(buf: Uint8Array, start: number, end: number, fallbackTime = NaN): number {
    const fmt = this.format;
    const kinds = fmt.kinds;
    const n = kinds.length;
    const ts = this.starts, te = this.ends;
    // Split on runs of spaces/tabs (the docs have a record with a double space).
    let count = 0;
    let i = start;
    for (;;) {
      while (i < end && (buf[i] === 32 || buf[i] === 9)) i++;
      if (i >= end) break;
      if (count === n) { count++; break; }
      ts[count] = i;
      while (i < end && buf[i] !== 32 && buf[i] !== 9) i++;
      te[count++] = i;
    }
    if (count !== n) {
      if (count === 0) return AWS_BLANK;
      if (count > n) {
        // count the rest for the message (failure path only)
        for (;;) {
          while (i < end && buf[i] !== 32 && buf[i] !== 9) i++;
          while (i < end && (buf[i] === 32 || buf[i] === 9)) i++;
          if (i >= end) break;
          count++;
        }
      }
      this.fieldCount = count;
      return this.fail('wrong_field_count', `${count} fields, the format has ${n}`);
    }
    this.fieldCount = n;

    const ls = fmt.logStatusCol;
    if (ls >= 0) {
      const s = ts[ls]!, e = te[ls]!;
      if (!bytesEq(buf, s, e, B_OK)) {
        if (bytesEq(buf, s, e, B_NODATA)) return AWS_NODATA;
        if (bytesEq(buf, s, e, B_SKIPDATA)) return AWS_SKIPDATA;
        if (!(e - s === 1 && buf[s] === 45)) return this.fail('bad_value', `log-status ${show(buf, s, e)}`);
      }
    }

    const ev = this.ev.reset(SRC_AWS);
    this.reporterStart = this.reporterEnd = 0;
    let srcVer = 0, dstVer = 0, pktSrcVer = 0, pktDstVer = 0;
    let tStart = -1, tEnd = -1;
    for (let c = 0; c < n; c++) {
      const k = kinds[c]!;
      if (k === K_SKIP) continue;
      const s = ts[c]!, e = te[c]!;
      switch (k) {
        case K_SRCADDR: case K_DSTADDR: case K_PKT_SRCADDR: case K_PKT_DSTADDR: {
          if (e - s === 1 && buf[s] === 45) break;
          const target = k === K_SRCADDR ? ev.src : k === K_DSTADDR ? ev.dst : k === K_PKT_SRCADDR ? this.pktSrc : this.pktDst;
          let ver: number;
          const v4 = ipv4(buf, s, e);
          if (v4 >= 0) { setV4(target, v4); ver = 4; } else {
            if (!ipv6(buf, s, e, target)) return this.fail('bad_address', `${fmt.fields[c]} ${show(buf, s, e)}`);
            ver = 6;
          }
          if (k === K_SRCADDR) srcVer = ver; else if (k === K_DSTADDR) dstVer = ver; else if (k === K_PKT_SRCADDR) pktSrcVer = ver; else pktDstVer = ver;
          break;
        }
        case K_SRCPORT: case K_DSTPORT: case K_PROTOCOL: case K_TCP_FLAGS: case K_VERSION: {
          const v = decimal(buf, s, e);
          if (v === DASH) break;
          const max = k === K_SRCPORT || k === K_DSTPORT ? 65535 : k === K_VERSION ? 0xffff : 255;
          if (v < 0 || v > max) return this.fail('bad_number', `${fmt.fields[c]} ${show(buf, s, e)}`);
          if (k === K_SRCPORT) ev.srcPort = v; else if (k === K_DSTPORT) ev.dstPort = v;
          else if (k === K_PROTOCOL) ev.proto = v; else if (k === K_TCP_FLAGS) ev.tcpFlags = v;
          break;
        }
        case K_PACKETS: case K_BYTES: case K_START: case K_END: {
          const v = decimal(buf, s, e);
          if (v === DASH) break;
          if (v < 0) return this.fail('bad_number', `${fmt.fields[c]} ${show(buf, s, e)}`);
          if (k === K_PACKETS) ev.pkts = v; else if (k === K_BYTES) ev.bytes = v;
          else if (k === K_START) tStart = v; else tEnd = v;
          break;
        }
        case K_ACTION:
          if (bytesEq(buf, s, e, B_ACCEPT)) ev.action = ACTION.accept;
          else if (bytesEq(buf, s, e, B_REJECT)) ev.action = ACTION.reject;
          else if (!(e - s === 1 && buf[s] === 45)) return this.fail('bad_value', `action ${show(buf, s, e)}`);
          break;
        case K_FLOW_DIRECTION:
          if (bytesEq(buf, s, e, B_INGRESS)) ev.direction = DIRECTION.ingress;
          else if (bytesEq(buf, s, e, B_EGRESS)) ev.direction = DIRECTION.egress;
          else if (!(e - s === 1 && buf[s] === 45)) return this.fail('bad_value', `flow-direction ${show(buf, s, e)}`);
          break;
        default: break;
      }
    }

    // Endpoints: packet-level addresses win where present (see the header comment).
    if (pktSrcVer !== 0) { ev.src.set(this.pktSrc); srcVer = pktSrcVer; }
    if (pktDstVer !== 0) { ev.dst.set(this.pktDst); dstVer = pktDstVer; }
    if (srcVer === 0 || dstVer === 0) return this.fail('missing_address', `no ${srcVer === 0 ? 'source' : 'destination'} address in an OK record`);
    if (srcVer !== dstVer) return this.fail('bad_address', 'source and destination are of different IP versions');
    ev.ipVersion = srcVer as 4 | 6;

    if (tStart < 0) tStart = tEnd;
    if (tEnd < 0) tEnd = tStart;
    if (tStart < 0) {
      if (!(fallbackTime >= 0)) return this.fail('missing_time', 'record has no start/end time');
      tStart = tEnd = fallbackTime;
    }
    if (tEnd < tStart) return this.fail('bad_time_range', `end ${tEnd} before start ${tStart}`);
    ev.start = tStart; ev.end = tEnd;

    const rc = fmt.reporterCols;
    for (let r = 0; r < rc.length; r++) {
      const c = rc[r]!;
      const s = ts[c]!, e = te[c]!;
      if (e - s === 1 && buf[s] === 45) continue;
      ev.reporter = this.reporters.get(buf, s, e);
      this.reporterStart = s; this.reporterEnd = e;
      break;
    }
    return AWS_FLOW;
  }
}
