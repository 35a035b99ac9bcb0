// Zeek conn.log → flow events: the pure line parser (TSV "ASCII" writer and
// JSON-lines writer). Bytes in; one event or one rejection out per data line;
// never throws on bad input. zeek-conn-reader.ts feeds it lines of files.
//
// TSV: header lines `#separator \x09` (always space-separated, value escaped),
// then, separated by the separator: #set_separator, #empty_field, #unset_field,
// #path, #open, #fields, #types, #close. A `#separator` line starts a new
// header block (rotated logs concatenated); `#fields` names the columns.
// Columns are found by name, so extra (`_node_name`, `label`, `community_id`,
// `ip_proto`, `vlan` …) and reordered columns are fine. Data lines are parsed
// straight from the Buffer: separators are located in one byte scan and only
// the columns used are converted (no split, no per-field strings except
// history and the node name).
// JSON: one object per line with dotted keys ("id.orig_h") — nested `id`
// objects are accepted too; ts as a number or an ISO-8601 string; unset fields
// are absent.
//
// Mapping: ts → start, ts + duration → end (duration unset → end = start);
// id.* → src/dst/ports; proto by the names this sensor writes (PROTO_NAME:
// tcp/udp/icmp/sctp → 6/17/1/132; icmp over IPv6 → 58); a set `ip_proto`
// column wins, also over a name not in that table; `unknown_transport`
// without it → 0; an unknown name without it → bad_protocol);
// orig_ip_bytes/resp_ip_bytes → bytes/revBytes, orig_pkts/resp_pkts →
// pkts/revPkts (unset → 0), bidir = true; orig_bytes/resp_bytes →
// payloadBytes/revPayloadBytes (unset → -1); conn_state → connState (unknown
// or unset → null); history → history, and for TCP the flags its letters
// imply (S SYN, H SYN+ACK, A ACK, F FIN, R RST; upper case = originator);
// vlan → vlan; reporter = the `_node_name` column (Zeek cluster node) when
// set, else options.reporter, else ''. (`#path` is the log stream's name,
// "conn" for every sensor, so it does not identify a reporter.)
//
// Required columns: ts, id.orig_h, id.orig_p, id.resp_h, id.resp_p, proto,
// conn_state (conn_state tells a conn.log from other logs with an id.* tuple,
// e.g. dns.log). A header block without them is rejected once (missing_field)
// and its lines skipped; so is one whose #path is not a conn log
// (not_conn_log). All others are optional.
//
// Rejection kinds (stable): missing_header (data before any #fields),
// missing_field, not_conn_log, bad_header, bad_field_count, truncated_line
// (TSV line cut by the end of the input), bad_json, bad_time, bad_address,
// bad_port, bad_number, bad_protocol.
import { parseAddress } from '../flows/ip-address.ts';
import { CONN_STATES, NO_VLAN, type ConnState } from '../core/flow-record.ts';
import { FlowEvent, SOURCE, type FlowEventSink } from './flow-event.ts';
import { PROTO_NAME } from '../flows/zeek-record.ts';

export interface ZeekConnOptions {
  /** reporter for records without a `_node_name` */
  reporter?: string;
  /**
   * Zeek's own test baselines mask times as XXXXXXXXXX.XXXXXX; read such a
   * ts/duration as 0 instead of rejecting the line (bad_time). Tests only.
   */
  maskedTime?: boolean;
}

export interface ZeekConnStats {
  lines: number;
  emitted: number;
  rejected: number;
  /** header / comment lines */
  headers: number;
  /** blank lines and lines of a rejected header block */
  skipped: number;
}

export const LINE_EMITTED = 0, LINE_REJECTED = 1, LINE_HEADER = 2, LINE_SKIPPED = 3;
export type LineOutcome = 0 | 1 | 2 | 3;

// ---------------------------------------------------------------- columns

const FIELDS = [
  'ts', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'conn_state',
  'duration', 'orig_bytes', 'resp_bytes', 'history', 'orig_pkts', 'orig_ip_bytes', 'resp_pkts', 'resp_ip_bytes',
  'vlan', 'ip_proto', '_node_name',
] as const;
const F_TS = 0, F_ORIG_H = 1, F_ORIG_P = 2, F_RESP_H = 3, F_RESP_P = 4, F_PROTO = 5, F_CONN_STATE = 6,
  F_DURATION = 7, F_ORIG_BYTES = 8, F_RESP_BYTES = 9, F_HISTORY = 10, F_ORIG_PKTS = 11, F_ORIG_IP_BYTES = 12,
  F_RESP_PKTS = 13, F_RESP_IP_BYTES = 14, F_VLAN = 15, F_IP_PROTO = 16, F_NODE = 17;
const N_REQUIRED = 7;

/** Small ASCII words packed into a number (≤ 6 bytes), for allocation-free lookups. */
function packBytes(buf: Uint8Array, s: number, e: number): number {
  if (e - s > 6 || e <= s) return -1;
  let k = 0;
  for (let p = s; p < e; p++) k = k * 256 + buf[p]!;
  return k;
}
const packStr = (w: string): number => packBytes(Buffer.from(w, 'latin1'), 0, w.length);
const CONN_STATE_BY_KEY = new Map<number, ConnState>(CONN_STATES.map((s) => [packStr(s), s]));
const CONN_STATE_BY_NAME = new Map<string, ConnState>(CONN_STATES.map((s) => [s, s]));
/** proto name → IP protocol: the names the sensor's own conn log writes (the lowest number for a name: icmp → 1). */
const PROTO_BY_NAME = new Map<string, number>();
for (const [num, name] of Object.entries(PROTO_NAME).sort((a, b) => Number(a[0]) - Number(b[0]))) {
  if (!PROTO_BY_NAME.has(name)) PROTO_BY_NAME.set(name, Number(num));
}
PROTO_BY_NAME.set('unknown_transport', 0);
/** the short (≤ 6 byte) names of PROTO_BY_NAME, packed; longer ones are looked up by string */
const PROTO_BY_KEY = new Map<number, number>([...PROTO_BY_NAME].filter(([n]) => n.length <= 6).map(([n, v]) => [packStr(n), v]));
const PROTO_NAME_MAX = Math.max(...[...PROTO_BY_NAME.keys()].map((n) => n.length));

// ---------------------------------------------------------------- byte-level values

/**
 * Non-negative decimal with an optional fraction, exactly as Number() would
 * read it (integer digits and fraction combined while exact, then one correctly
 * rounded division). NaN when malformed.
 */
export function decimalAt(buf: Uint8Array, s: number, e: number): number {
  if (e <= s) return NaN;
  let mant = 0, digits = 0, fracDigits = 0, dot = false;
  for (let p = s; p < e; p++) {
    const c = buf[p]!;
    if (c >= 48 && c <= 57) { mant = mant * 10 + (c - 48); digits++; if (dot) fracDigits++; }
    else if (c === 46 && !dot) dot = true;
    else return NaN;
  }
  if (digits === 0) return NaN;
  if (digits > 15) return Number(Buffer.prototype.toString.call(buf, 'latin1', s, e));
  return fracDigits === 0 ? mant : mant / POW10[fracDigits]!;
}
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/** Non-negative integer; -1 when malformed. */
export function uintAt(buf: Uint8Array, s: number, e: number): number {
  if (e <= s) return -1;
  let v = 0;
  for (let p = s; p < e; p++) {
    const c = buf[p]!;
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return e - s > 15 ? Number(Buffer.prototype.toString.call(buf, 'latin1', s, e)) : v;
}

/** IPv4 dotted quad (fast path) or IPv6 into `out` (16 bytes, v4-mapped); 4, 6, or 0 when malformed. */
export function addressAt(buf: Uint8Array, s: number, e: number, out: Uint8Array): 0 | 4 | 6 {
  let octet = -1, dots = 0, nd = 0;
  for (let p = s; p < e; p++) {
    const c = buf[p]!;
    if (c >= 48 && c <= 57) {
      octet = (octet < 0 ? 0 : octet * 10) + (c - 48);
      if (++nd > 3 || octet > 255) return v6At(buf, s, e, out);
    } else if (c === 46 && octet >= 0 && dots < 3) {
      out[12 + dots++] = octet; octet = -1; nd = 0;
    } else return v6At(buf, s, e, out);
  }
  if (dots !== 3 || octet < 0) return 0;
  out[15] = octet;
  out.fill(0, 0, 10); out[10] = 0xff; out[11] = 0xff;
  return 4;
}

function v6At(buf: Uint8Array, s: number, e: number, out: Uint8Array): 0 | 6 {
  if (e - s > 64 || e - s < 2) return 0;
  let colon = false;
  for (let p = s; p < e; p++) if (buf[p] === 58) { colon = true; break; }
  if (!colon) return 0;
  const a = parseAddress(Buffer.prototype.toString.call(buf, 'latin1', s, e));
  if (!a || a.version !== 6) return 0;
  out.set(a.bytes);
  return 6;
}

/** A Zeek TSV string value with its \xHH escapes undone (UTF-8). */
function zeekStringAt(buf: Buffer, s: number, e: number): string {
  let bs = s;
  while (bs < e && buf[bs] !== 0x5c) bs++;
  if (bs === e) return buf.toString('utf8', s, e);
  const bytes: number[] = [];
  for (let p = s; p < e; p++) {
    const c = buf[p]!;
    if (c === 0x5c && p + 3 < e && buf[p + 1] === 0x78) {
      const h = parseInt(String.fromCharCode(buf[p + 2]!, buf[p + 3]!), 16);
      if (!Number.isNaN(h)) { bytes.push(h); p += 3; continue; }
    }
    bytes.push(c);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Header values: \xHH escapes undone, byte-exact (latin1). */
function unescapeHeader(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

const HISTORY_MAX = 64;
const TCP = { FIN: 1, SYN: 2, RST: 4, ACK: 16 } as const;

/** TCP flags implied by the history letters (upper case = originator, lower = responder). */
export function historyFlags(h: string, ev: FlowEvent): void {
  let o = 0, r = 0;
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    const lower = c >= 97;
    let f = 0;
    switch (lower ? c - 32 : c) {
      case 83: f = TCP.SYN; break; // S
      case 72: f = TCP.SYN | TCP.ACK; break; // H
      case 65: f = TCP.ACK; break; // A
      case 70: f = TCP.FIN; break; // F
      case 82: f = TCP.RST; break; // R
    }
    if (lower) r |= f; else o |= f;
  }
  ev.tcpFlags = o; ev.revTcpFlags = r;
}

// ISO-8601 as Zeek's JSON writer may emit it (JSONStreaming / LogAscii::json_timestamps)
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/** ISO-8601 date-time → epoch seconds (fraction exact to the µs); NaN when malformed. */
export function isoSeconds(s: string): number {
  const m = ISO.exec(s);
  if (!m) return NaN;
  const [, y, mo, d, h, mi, se, frac, tz] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
  if (!Number.isFinite(ms) || Number(mo) > 12 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(se) > 60) return NaN;
  let secs = ms / 1000;
  if (tz && tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    secs -= sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2)) * 60);
  }
  if (!frac) return secs;
  const f = Number(frac), scale = POW10[frac.length]!;
  const exact = secs * scale + f;
  return Number.isSafeInteger(exact) ? exact / scale : secs + f / scale;
}

// ---------------------------------------------------------------- the parser

const NONE = -1;

/**
 * The line parser of one Zeek log stream (one file). Feed each line without
 * its newline; the first non-blank line decides TSV or JSON.
 */
export class ZeekConnParser {
  format: '' | 'tsv' | 'json' = '';
  readonly stats: ZeekConnStats = { lines: 0, emitted: 0, rejected: 0, headers: 0, skipped: 0 };
  private readonly ev = new FlowEvent();
  private readonly reporter: string;
  private readonly masked: boolean;
  // TSV header block
  private sep = 9;
  private unset = Buffer.from('-');
  private empty = Buffer.from('(empty)');
  private path = '';
  /** column index of each FIELDS entry (NONE: absent) */
  private readonly col = new Int32Array(FIELDS.length).fill(NONE);
  private nCols = 0;
  /** start of each column, then end + 1 of the last */
  private starts = new Int32Array(64);
  /** 0 no #fields yet, 1 usable, 2 rejected (lines skipped until the next block) */
  private block: 0 | 1 | 2 = 0;
  private badSeparator = false;
  private line = 0;
  private offset = 0;

  constructor(readonly input: string, private readonly sink: FlowEventSink, opts: ZeekConnOptions = {}) {
    this.reporter = opts.reporter ?? '';
    this.masked = opts.maskedTime ?? false;
  }

  /**
   * One line, buf[start, end), without its newline. `terminated`: false for a
   * last line that the input ended without a newline (a TSV line cut there is
   * rejected: its last value may be cut short).
   */
  feed(buf: Buffer, start: number, end: number, line = 0, offset = 0, terminated = true): LineOutcome {
    this.stats.lines++;
    this.line = line; this.offset = offset;
    if (this.stats.lines === 1 && end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3; // UTF-8 BOM
    let p = start;
    while (p < end && (buf[p] === 0x20 || buf[p] === 0x09 || buf[p] === 0x0d)) p++;
    if (p === end) { this.stats.skipped++; return LINE_SKIPPED; }
    if (this.format === '') this.format = buf[p] === 0x7b ? 'json' : 'tsv';
    if (this.format === 'json') return this.jsonLine(buf, start, end);
    if (buf[start] === 0x23) {
      // a header line that makes its block unusable counts as the rejected line
      const before = this.stats.rejected;
      this.header(buf, start, end);
      if (this.stats.rejected !== before) return LINE_REJECTED;
      this.stats.headers++;
      return LINE_HEADER;
    }
    if (this.block !== 1) {
      if (this.block === 0) {
        this.block = 2;
        return this.reject('missing_header', 'data line before any #fields header');
      }
      this.stats.skipped++;
      return LINE_SKIPPED;
    }
    if (!terminated) return this.reject('truncated_line', 'the input ends inside this line (no newline): its last value may be cut');
    return this.tsvLine(buf, start, end);
  }

  private reject(kind: string, message: string): LineOutcome {
    this.stats.rejected++;
    this.sink.reject({ kind, input: this.input, message, line: this.line, offset: this.offset });
    return LINE_REJECTED;
  }

  private emit(): LineOutcome {
    this.stats.emitted++;
    this.sink.emit(this.ev);
    return LINE_EMITTED;
  }

  // ------------------------------------------------------------ TSV headers

  private newBlock(): void {
    this.sep = 9;
    this.unset = Buffer.from('-');
    this.empty = Buffer.from('(empty)');
    this.path = '';
    this.col.fill(NONE);
    this.nCols = 0;
    this.block = 0;
    this.badSeparator = false;
  }

  private header(buf: Buffer, start: number, end: number): void {
    const text = buf.toString('latin1', start, end);
    if (text.startsWith('#separator ')) {
      this.newBlock();
      const v = unescapeHeader(text.slice(11));
      if (v.length !== 1) { this.block = 2; this.badSeparator = true; this.reject('bad_header', `unsupported #separator "${text.slice(11)}" (one byte expected)`); }
      else this.sep = v.charCodeAt(0);
      return;
    }
    const sepCh = String.fromCharCode(this.sep);
    const cut = text.indexOf(sepCh);
    const tag = cut < 0 ? text : text.slice(0, cut);
    const rest = cut < 0 ? '' : text.slice(cut + 1);
    switch (tag) {
      case '#unset_field': this.unset = Buffer.from(unescapeHeader(rest), 'latin1'); break;
      case '#empty_field': this.empty = Buffer.from(unescapeHeader(rest), 'latin1'); break;
      case '#path':
        this.path = unescapeHeader(rest);
        if (this.block === 1) this.checkPath();
        break;
      case '#fields': this.fields(rest.split(sepCh).map(unescapeHeader)); break;
      default: break; // #set_separator, #open, #close, #types, comments
    }
  }

  private checkPath(): void {
    if (this.path !== '' && !this.path.includes('conn')) {
      this.block = 2;
      this.reject('not_conn_log', `#path is "${this.path}", not a conn log`);
    }
  }

  private fields(names: string[]): void {
    if (this.badSeparator) return; // the block stays rejected until the next #separator
    this.col.fill(NONE);
    this.nCols = names.length;
    if (this.starts.length < names.length + 1) this.starts = new Int32Array(names.length + 1);
    names.forEach((n, i) => {
      const f = (FIELDS as readonly string[]).indexOf(n);
      if (f >= 0 && this.col[f] === NONE) this.col[f] = i;
    });
    const missing = FIELDS.slice(0, N_REQUIRED).filter((_, f) => this.col[f] === NONE);
    if (missing.length > 0) {
      this.block = 2;
      this.reject('missing_field', `#fields lacks ${missing.join(', ')}${this.path ? ` (#path ${this.path})` : ''}`);
      return;
    }
    this.block = 1;
    this.checkPath();
  }

  // ------------------------------------------------------------ TSV data

  private isUnset(buf: Buffer, s: number, e: number): boolean {
    const u = this.unset;
    if (e - s !== u.length) return false;
    for (let i = 0; i < u.length; i++) if (buf[s + i] !== u[i]) return false;
    return true;
  }
  private isEmpty(buf: Buffer, s: number, e: number): boolean {
    const u = this.empty;
    if (e - s !== u.length) return false;
    for (let i = 0; i < u.length; i++) if (buf[s + i] !== u[i]) return false;
    return true;
  }

  private tsvLine(buf: Buffer, start: number, end: number): LineOutcome {
    const st = this.starts, n = this.nCols, sep = this.sep;
    st[0] = start;
    let k = 1;
    for (let p = start; p < end; p++) {
      if (buf[p] === sep) {
        if (k >= n) return this.reject('bad_field_count', `more than the ${n} columns of #fields`);
        st[k++] = p + 1;
      }
    }
    if (k !== n) return this.reject('bad_field_count', `${k} columns, #fields has ${n}`);
    st[n] = end + 1;
    const col = this.col;
    const ev = this.ev.reset(SOURCE.zeek_conn);
    // ts, duration
    let s = st[col[F_TS]!]!, e = st[col[F_TS]! + 1]! - 1;
    const ts = this.timeAt(buf, s, e);
    if (!(ts >= 0)) return this.reject('bad_time', `bad ts "${buf.toString('latin1', s, Math.min(e, s + 40))}"`);
    let dur = 0;
    if (col[F_DURATION]! !== NONE) {
      s = st[col[F_DURATION]!]!; e = st[col[F_DURATION]! + 1]! - 1;
      if (!this.isUnset(buf, s, e)) {
        dur = this.timeAt(buf, s, e);
        if (!(dur >= 0)) return this.reject('bad_time', `bad duration "${buf.toString('latin1', s, Math.min(e, s + 40))}"`);
      }
    }
    ev.start = ts; ev.end = ts + dur;
    // addresses, ports
    s = st[col[F_ORIG_H]!]!; e = st[col[F_ORIG_H]! + 1]! - 1;
    const v1 = addressAt(buf, s, e, ev.src);
    s = st[col[F_RESP_H]!]!; e = st[col[F_RESP_H]! + 1]! - 1;
    const v2 = addressAt(buf, s, e, ev.dst);
    if (v1 === 0 || v2 === 0 || v1 !== v2) {
      const which = v1 === 0 ? F_ORIG_H : F_RESP_H;
      const a = buf.toString('latin1', st[col[which]!]!, Math.min(st[col[which]! + 1]! - 1, st[col[which]!]! + 60));
      return this.reject('bad_address', v1 !== 0 && v2 !== 0 ? 'address families differ' : `bad address "${a}"`);
    }
    ev.ipVersion = v1;
    s = st[col[F_ORIG_P]!]!; e = st[col[F_ORIG_P]! + 1]! - 1;
    const sp = uintAt(buf, s, e);
    s = st[col[F_RESP_P]!]!; e = st[col[F_RESP_P]! + 1]! - 1;
    const dp = uintAt(buf, s, e);
    if (sp < 0 || sp > 65535 || dp < 0 || dp > 65535) return this.reject('bad_port', `bad port "${buf.toString('latin1', s, Math.min(e, s + 20))}"`);
    ev.srcPort = sp; ev.dstPort = dp;
    // protocol
    s = st[col[F_PROTO]!]!; e = st[col[F_PROTO]! + 1]! - 1;
    let proto = PROTO_BY_KEY.get(packBytes(buf, s, e));
    if (proto === undefined && e - s > 6 && e - s <= PROTO_NAME_MAX) proto = PROTO_BY_NAME.get(buf.toString('latin1', s, e));
    if (proto === 1 && v1 === 6) proto = 58;
    const ps = s, pe = e;
    if (col[F_IP_PROTO]! !== NONE) {
      s = st[col[F_IP_PROTO]!]!; e = st[col[F_IP_PROTO]! + 1]! - 1;
      if (!this.isUnset(buf, s, e)) {
        const ip = uintAt(buf, s, e);
        if (ip < 0 || ip > 255) return this.reject('bad_protocol', `bad ip_proto "${buf.toString('latin1', s, Math.min(e, s + 20))}"`);
        proto = ip;
      }
    }
    if (proto === undefined) return this.reject('bad_protocol', `unknown proto "${buf.toString('latin1', ps, Math.min(pe, ps + 20))}" and no ip_proto`);
    ev.proto = proto;
    // counters
    ev.bidir = true;
    const pk = this.countCol(buf, F_ORIG_PKTS, 0), by = this.countCol(buf, F_ORIG_IP_BYTES, 0);
    const rpk = this.countCol(buf, F_RESP_PKTS, 0), rby = this.countCol(buf, F_RESP_IP_BYTES, 0);
    const pb = this.countCol(buf, F_ORIG_BYTES, -1), rpb = this.countCol(buf, F_RESP_BYTES, -1);
    if (pk === -2 || by === -2 || rpk === -2 || rby === -2 || pb === -2 || rpb === -2) return this.reject('bad_number', 'a count column is not a non-negative integer');
    ev.pkts = pk; ev.bytes = by; ev.revPkts = rpk; ev.revBytes = rby;
    ev.payloadBytes = pb; ev.revPayloadBytes = rpb;
    // conn_state
    s = st[col[F_CONN_STATE]!]!; e = st[col[F_CONN_STATE]! + 1]! - 1;
    ev.connState = CONN_STATE_BY_KEY.get(packBytes(buf, s, e)) ?? null;
    // history
    if (col[F_HISTORY]! !== NONE) {
      s = st[col[F_HISTORY]!]!; e = st[col[F_HISTORY]! + 1]! - 1;
      if (!this.isUnset(buf, s, e) && !this.isEmpty(buf, s, e)) {
        ev.history = this.cachedString(buf, s, Math.min(e, s + HISTORY_MAX));
        if (proto === 6) historyFlags(ev.history, ev);
      }
    }
    // vlan
    if (col[F_VLAN]! !== NONE) {
      const v = this.countCol(buf, F_VLAN, NO_VLAN);
      if (v === -2 || v > 0xffff) return this.reject('bad_number', 'bad vlan');
      ev.vlan = v;
    }
    // reporter
    ev.reporter = this.reporter;
    if (col[F_NODE]! !== NONE) {
      s = st[col[F_NODE]!]!; e = st[col[F_NODE]! + 1]! - 1;
      if (!this.isUnset(buf, s, e) && !this.isEmpty(buf, s, e)) ev.reporter = this.cachedString(buf, s, Math.min(e, s + 256));
    }
    return this.emit();
  }

  /** History and node names repeat a lot: a small cache keyed by a hash of the bytes saves decoding each one. */
  private readonly histCache: string[] = new Array<string>(512).fill('');
  private cachedString(buf: Buffer, s: number, e: number): string {
    let h = 0x811c9dc5;
    for (let p = s; p < e; p++) {
      const c = buf[p]!;
      if (c >= 0x80 || c === 0x5c) return zeekStringAt(buf, s, e);
      h = Math.imul(h ^ c, 0x01000193);
    }
    const slot = (h >>> 0) & 511;
    const cached = this.histCache[slot]!;
    if (cached.length === e - s) {
      let same = true;
      for (let i = 0; i < cached.length; i++) if (cached.charCodeAt(i) !== buf[s + i]) { same = false; break; }
      if (same) return cached;
    }
    const v = buf.toString('latin1', s, e);
    this.histCache[slot] = v;
    return v;
  }

  /** A count column: its value, `absent` when the column is missing or unset, -2 when malformed. */
  private countCol(buf: Buffer, f: number, absent: number): number {
    const c = this.col[f]!;
    if (c === NONE) return absent;
    const s = this.starts[c]!, e = this.starts[c + 1]! - 1;
    if (this.isUnset(buf, s, e)) return absent;
    const v = uintAt(buf, s, e);
    return v < 0 ? -2 : v;
  }

  private timeAt(buf: Buffer, s: number, e: number): number {
    const v = decimalAt(buf, s, e);
    if (v === v || !this.masked) return v;
    for (let p = s; p < e; p++) if (buf[p] !== 0x58 && buf[p] !== 0x2e) return NaN;
    return 0;
  }

  // ------------------------------------------------------------ JSON

  private jsonLine(buf: Buffer, start: number, end: number): LineOutcome {
    let o: unknown;
    try { o = JSON.parse(buf.toString('utf8', start, end)); } catch (e) {
      return this.reject('bad_json', `not JSON: ${(e as Error).message}`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return this.reject('bad_json', 'not a JSON object');
    const r = o as Record<string, unknown>;
    const id = typeof r.id === 'object' && r.id !== null ? r.id as Record<string, unknown> : null;
    const get = (dotted: string, nested: string): unknown => r[dotted] ?? id?.[nested];
    const tsV = r.ts, oh = get('id.orig_h', 'orig_h'), op = get('id.orig_p', 'orig_p');
    const rh = get('id.resp_h', 'resp_h'), rp = get('id.resp_p', 'resp_p');
    const missing = [tsV === undefined && 'ts', oh === undefined && 'id.orig_h', op === undefined && 'id.orig_p',
      rh === undefined && 'id.resp_h', rp === undefined && 'id.resp_p', r.proto === undefined && 'proto',
      r.conn_state === undefined && 'conn_state'].filter(Boolean);
    if (missing.length > 0) return this.reject('missing_field', `record lacks ${missing.join(', ')}`);
    if (typeof r._path === 'string' && !r._path.includes('conn')) return this.reject('not_conn_log', `_path is "${r._path.slice(0, 40)}", not a conn log`);
    const ev = this.ev.reset(SOURCE.zeek_conn);
    const ts = jsonTime(tsV, this.masked);
    if (!(ts >= 0)) return this.reject('bad_time', `bad ts ${clip(tsV)}`);
    let dur = 0;
    if (r.duration !== undefined && r.duration !== null) {
      dur = jsonTime(r.duration, this.masked);
      if (!(dur >= 0)) return this.reject('bad_time', `bad duration ${clip(r.duration)}`);
    }
    ev.start = ts; ev.end = ts + dur;
    const v1 = jsonAddress(oh, ev.src), v2 = jsonAddress(rh, ev.dst);
    if (v1 === 0 || v2 === 0 || v1 !== v2) return this.reject('bad_address', v1 !== 0 && v2 !== 0 ? 'address families differ' : `bad address ${clip(v1 === 0 ? oh : rh)}`);
    ev.ipVersion = v1;
    const sp = jsonCount(op), dp = jsonCount(rp);
    if (sp < 0 || sp > 65535 || dp < 0 || dp > 65535) return this.reject('bad_port', `bad port ${clip(sp < 0 || sp > 65535 ? op : rp)}`);
    ev.srcPort = sp; ev.dstPort = dp;
    let proto = typeof r.proto === 'string' ? PROTO_BY_NAME.get(r.proto) : undefined;
    if (proto === 1 && v1 === 6) proto = 58;
    if (r.ip_proto !== undefined && r.ip_proto !== null) {
      const ip = jsonCount(r.ip_proto);
      if (ip < 0 || ip > 255) return this.reject('bad_protocol', `bad ip_proto ${clip(r.ip_proto)}`);
      proto = ip;
    }
    if (proto === undefined) return this.reject('bad_protocol', `unknown proto ${clip(r.proto)} and no ip_proto`);
    ev.proto = proto;
    const pk = jsonCount(r.orig_pkts), by = jsonCount(r.orig_ip_bytes), rpk = jsonCount(r.resp_pkts), rby = jsonCount(r.resp_ip_bytes);
    const pb = jsonCount(r.orig_bytes), rpb = jsonCount(r.resp_bytes);
    if (pk === -2 || by === -2 || rpk === -2 || rby === -2 || pb === -2 || rpb === -2) return this.reject('bad_number', 'a count field is not a non-negative integer');
    ev.bidir = true;
    ev.pkts = Math.max(pk, 0); ev.bytes = Math.max(by, 0); ev.revPkts = Math.max(rpk, 0); ev.revBytes = Math.max(rby, 0);
    ev.payloadBytes = pb; ev.revPayloadBytes = rpb;
    ev.connState = typeof r.conn_state === 'string' ? CONN_STATE_BY_NAME.get(r.conn_state) ?? null : null;
    if (typeof r.history === 'string' && r.history !== '') {
      ev.history = r.history.length > HISTORY_MAX ? r.history.slice(0, HISTORY_MAX) : r.history;
      if (proto === 6) historyFlags(ev.history, ev);
    }
    if (r.vlan !== undefined && r.vlan !== null) {
      const v = jsonCount(r.vlan);
      if (v < 0 || v > 0xffff) return this.reject('bad_number', `bad vlan ${clip(r.vlan)}`);
      ev.vlan = v;
    }
    ev.reporter = typeof r._node_name === 'string' && r._node_name !== '' ? r._node_name.slice(0, 256) : this.reporter;
    return this.emit();
  }
}

function clip(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 60) + '…' : s;
}

/** A JSON count: the value; -1 absent/null; -2 malformed. Numeric strings accepted. */
function jsonCount(v: unknown): number {
  if (v === undefined || v === null) return -1;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : -2;
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return Number(v);
  return -2;
}

function jsonTime(v: unknown, masked: boolean): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : NaN;
  if (typeof v !== 'string') return NaN;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  if (masked && /^[X.]+$/.test(v)) return 0;
  return isoSeconds(v);
}

function jsonAddress(v: unknown, out: Uint8Array): 0 | 4 | 6 {
  if (typeof v !== 'string' || v.length > 64) return 0;
  const a = parseAddress(v);
  if (!a) return 0;
  out.set(a.bytes);
  return a.version;
}

/** Parse a whole log held in memory (tests, small files): split at newlines, auto-detect TSV/JSON. */
export function parseZeekConnBuffer(bytes: Buffer, input: string, sink: FlowEventSink, opts: ZeekConnOptions = {}): ZeekConnParser {
  const p = new ZeekConnParser(input, sink, opts);
  let pos = 0, line = 0;
  while (pos < bytes.length) {
    let nl = bytes.indexOf(10, pos);
    const terminated = nl >= 0;
    if (nl < 0) nl = bytes.length;
    let end = nl;
    if (end > pos && bytes[end - 1] === 13) end--;
    p.feed(bytes, pos, end, ++line, pos, terminated);
    pos = nl + 1;
  }
  return p;
}
