// Azure VNet flow logs (flowLogVersion 4): one parsed JSON record of a
// PT1H.json blob → flow events. Also the pieces the legacy NSG parser
// (azure-nsg.ts) shares: tuple field checks and the per-flow span memory.
//
// Pure: no I/O, never throws on bad input (every problem is a rejection).
// The blob framing (the `records` array, a blob still being appended) is
// azure-reader.ts's job; this file sees one record object at a time.
//
// A tuple is a point-in-time report. VNet tuple:
//   time,src,dst,sport,dport,proto,direction,state,encryption,pkts→,bytes→,pkts←,bytes←
// time is epoch ms in the docs' JSON sample and epoch s in their bandwidth
// example (> 1e11 ⇒ ms). Counters are deltas since the flow's previous tuple;
// B (begin) and D (denied) tuples carry `0,0,0,0` or empty counters.
//
// Decisions (see also FlowSpans):
// * every tuple becomes one event, B and D included (zero counts): a denied
//   flow often has nothing but a B (NSG) or D (VNet) tuple and must not be lost,
//   and a B says a flow started, which a delta-only stream cannot say.
// * bidir = the tuple carries counters (all four present). B and D tuples
//   carry no stats ("B begin (no stats)"): their `0,0,0,0` placeholder is read
//   like empty counters — bidir false, counts 0 (non-zero counters are kept).
// * action: VNet state D → reject, otherwise accept (VNet logs only allowed
//   flows with B/C/E); direction I → ingress, O → egress.
// * start = end = the tuple's time, unless a FlowSpans is given, which turns a
//   C/E delta into the span (previous tuple of the same flow, this tuple].
import { parseAddress } from '../flows/ip-address.ts';
import { ACTION, DIRECTION, SOURCE, type FlowEvent, type FlowEventSink } from './flow-event.ts';

/** Where a record came from, for rejections. */
export interface RecordWhere {
  input: string;
  /** byte offset of the record's first byte in the blob */
  offset: number;
}

/** What one record produced. Every tuple is emitted or rejected: tuples = emitted + tupleRejects. */
export interface RecordStats {
  tuples: number;
  emitted: number;
  tupleRejects: number;
  /** rejections of any kind for this record (record-level ones included) */
  rejected: number;
}

export const newRecordStats = (): RecordStats => ({ tuples: 0, emitted: 0, tupleRejects: 0, rejected: 0 });

export interface TupleError { kind: string; message: string }

/** State letter of a parsed tuple: '' (NSG v1, no state), B begin, C continuing, E end, D denied (VNet). */
export type TupleState = '' | 'B' | 'C' | 'E' | 'D';

// ---------------------------------------------------------------- shared tuple fields
// A tuple is scanned in place: the comma positions go into a reused table and
// fields are read with charCodeAt (no split, no substrings unless rejected).

/** Field boundaries of the tuple being parsed: field i is text[at[i], at[i+1] - 1). */
export class TupleFields {
  readonly at = new Int32Array(18);
  n = 0;
  text = '';
  /** Locate the fields; false when there are more than 16. */
  split(text: string): boolean {
    this.text = text;
    const at = this.at;
    let n = 1;
    at[0] = 0;
    for (let p = text.indexOf(','); p >= 0; p = text.indexOf(',', p + 1)) {
      if (n >= 16) return false;
      at[n++] = p + 1;
    }
    at[n] = text.length + 1;
    this.n = n;
    return true;
  }
  start(i: number): number { return this.at[i]!; }
  end(i: number): number { return this.at[i + 1]! - 1; }
  str(i: number): string { return this.text.slice(this.at[i]!, this.at[i + 1]! - 1); }
  empty(i: number): boolean { return this.at[i + 1]! - 1 === this.at[i]!; }
  /** the field is this one character */
  is(i: number, ch: number): boolean { return this.at[i + 1]! - 1 - this.at[i]! === 1 && this.text.charCodeAt(this.at[i]!) === ch; }
  /** a non-negative decimal integer (≤ 15 digits), else -1 */
  uint(i: number): number {
    const t = this.text, s = this.at[i]!, e = this.at[i + 1]! - 1;
    if (e <= s || e - s > 15) return -1;
    let v = 0;
    for (let p = s; p < e; p++) {
      const c = t.charCodeAt(p) - 48;
      if (c < 0 || c > 9) return -1;
      v = v * 10 + c;
    }
    return v;
  }
  /** IPv4 (fast path) or IPv6 into `out`: 4, 6 or 0 when malformed */
  address(i: number, out: Uint8Array): 0 | 4 | 6 {
    const t = this.text, s = this.at[i]!, e = this.at[i + 1]! - 1;
    let octet = -1, dots = 0, nd = 0;
    for (let p = s; p < e; p++) {
      const c = t.charCodeAt(p);
      if (c >= 48 && c <= 57) {
        octet = (octet < 0 ? 0 : octet * 10) + (c - 48);
        if (++nd > 3 || octet > 255) return this.v6(s, e, out);
      } else if (c === 46 && octet >= 0 && dots < 3) {
        out[12 + dots++] = octet; octet = -1; nd = 0;
      } else return this.v6(s, e, out);
    }
    if (dots !== 3 || octet < 0) return 0;
    out[15] = octet;
    out.fill(0, 0, 10); out[10] = 0xff; out[11] = 0xff;
    return 4;
  }
  private v6(s: number, e: number, out: Uint8Array): 0 | 6 {
    if (e - s < 2 || e - s > 64 || this.text.indexOf(':', s) < 0 || this.text.indexOf(':', s) >= e) return 0;
    const a = parseAddress(this.text.slice(s, e));
    if (!a || a.version !== 6) return 0;
    out.set(a.bytes);
    return 6;
  }
}

export function tupleError(kind: string, message: string): TupleError {
  return { kind, message };
}

/**
 * Fields 1–5 of every Azure tuple (time, src, dst, sport, dport) into `ev`.
 * The time is seconds, or milliseconds when larger than 1e11.
 */
export function setTupleHead(f: TupleFields, ev: FlowEvent): TupleError | null {
  const t = f.uint(0);
  if (t < 0) return tupleError('bad_number', `bad time "${f.str(0)}"`);
  const secs = t > 1e11 ? t / 1000 : t;
  ev.start = secs; ev.end = secs;
  const sv = f.address(1, ev.src);
  if (sv === 0) return tupleError('bad_address', `bad source address "${f.str(1)}"`);
  const dv = f.address(2, ev.dst);
  if (dv === 0) return tupleError('bad_address', `bad destination address "${f.str(2)}"`);
  if (sv !== dv) return tupleError('bad_address', `address families differ: ${f.str(1)} → ${f.str(2)}`);
  ev.ipVersion = sv;
  const sp = f.uint(3);
  if (sp < 0 || sp > 65535) return tupleError('bad_number', `bad source port "${f.str(3)}"`);
  const dp = f.uint(4);
  if (dp < 0 || dp > 65535) return tupleError('bad_number', `bad destination port "${f.str(4)}"`);
  ev.srcPort = sp; ev.dstPort = dp;
  return null;
}

/** Protocol: IANA number, or the NSG letters T (TCP), U (UDP), I (ICMP). */
export function setTupleProto(f: TupleFields, i: number, ev: FlowEvent): TupleError | null {
  if (f.is(i, 84) || f.is(i, 116)) ev.proto = 6; // T t
  else if (f.is(i, 85) || f.is(i, 117)) ev.proto = 17; // U u
  else if (f.is(i, 73) || f.is(i, 105)) ev.proto = ev.ipVersion === 6 ? 58 : 1; // I i
  else {
    const p = f.uint(i);
    if (p < 0) return tupleError('bad_tuple', `unknown protocol "${f.str(i)}"`);
    if (p > 255) return tupleError('bad_number', `protocol ${p} > 255`);
    ev.proto = p;
  }
  return null;
}

export function setTupleDirection(f: TupleFields, i: number, ev: FlowEvent): TupleError | null {
  if (f.is(i, 73)) ev.direction = DIRECTION.ingress; // I
  else if (f.is(i, 79)) ev.direction = DIRECTION.egress; // O
  else return tupleError('bad_tuple', `unknown direction "${f.str(i)}"`);
  return null;
}

/** The four counters from field `at` (pkts→, bytes→, pkts←, bytes←): all empty (none), or all integers. */
export function setTupleCounters(f: TupleFields, at: number, ev: FlowEvent): TupleError | null {
  if (f.empty(at) && f.empty(at + 1) && f.empty(at + 2) && f.empty(at + 3)) return null;
  const pk = f.uint(at), by = f.uint(at + 1), rpk = f.uint(at + 2), rby = f.uint(at + 3);
  if (pk < 0 || by < 0 || rpk < 0 || rby < 0) return tupleError('bad_number', `bad counters "${f.str(at)},${f.str(at + 1)},${f.str(at + 2)},${f.str(at + 3)}"`);
  ev.pkts = pk; ev.bytes = by; ev.revPkts = rpk; ev.revBytes = rby;
  ev.bidir = true;
  return null;
}

/** The state letter of field i among B C E (and D when `denied`), or null. */
export function tupleState(f: TupleFields, i: number, denied: boolean): TupleState | null {
  if (f.is(i, 66)) return 'B';
  if (f.is(i, 67)) return 'C';
  if (f.is(i, 69)) return 'E';
  if (denied && f.is(i, 68)) return 'D';
  return null;
}

/** A B/D tuple's all-zero counters are a placeholder, not a measurement. */
export function noStats(ev: FlowEvent): void {
  if (ev.pkts === 0 && ev.bytes === 0 && ev.revPkts === 0 && ev.revBytes === 0) ev.bidir = false;
}

// ---------------------------------------------------------------- per-flow spans

/**
 * The reader's memory of each flow's previous tuple time, so that a C/E delta
 * covers (previous tuple, this tuple] instead of an instant. Keyed by
 * reporter + 5-tuple; only accepted flows with a state are tracked (denied
 * and NSG v1 tuples are independent reports). B starts a flow afresh, E
 * forgets it. Bounded: at most `cap` flows, the least recently reported
 * evicted first (a flow that only ever sends B — stateless inbound rules —
 * ages out this way); a previous time more than `maxGap` seconds back is
 * ignored (5-tuple reuse, lost blobs). Memory ≈ cap × ~100 bytes (keys are 23
 * UTF-16 units: reporter number + addresses + ports + protocol).
 * A tuple with nothing earlier keeps start = end = its own time.
 */
export class FlowSpans {
  private readonly last = new Map<string, number>();
  /** reporters as small numbers, so keys stay short (cleared with `last` if it ever holds `cap` names) */
  private readonly reporters = new Map<string, number>();
  evicted = 0;
  constructor(readonly cap = 65536, readonly maxGap = 900) {
    if (!(cap >= 1)) throw new RangeError('FlowSpans cap must be ≥ 1');
  }

  get size(): number { return this.last.size; }

  /** Adjust ev.start from the flow's previous tuple and remember this one. */
  apply(ev: FlowEvent, state: TupleState): void {
    if (ev.action !== ACTION.accept || state === '' || state === 'D') return;
    const key = this.key(ev);
    const prev = this.last.get(key);
    const t = ev.end;
    if (prev !== undefined) {
      this.last.delete(key); // re-inserted below as the newest
      if (state !== 'B' && prev <= t && t - prev <= this.maxGap) ev.start = prev;
    }
    if (state === 'E') return;
    this.last.set(key, prev !== undefined && state !== 'B' && prev > t ? prev : t);
    if (this.last.size > this.cap) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) { this.last.delete(oldest); this.evicted++; }
    }
  }

  clear(): void { this.last.clear(); this.reporters.clear(); }

  private key(ev: FlowEvent): string {
    let r = this.reporters.get(ev.reporter);
    if (r === undefined) {
      if (this.reporters.size >= this.cap) this.clear();
      r = this.reporters.size;
      this.reporters.set(ev.reporter, r);
    }
    const s = ev.src, d = ev.dst;
    return String.fromCharCode(
      r & 0xffff, r >>> 16,
      (s[0]! << 8) | s[1]!, (s[2]! << 8) | s[3]!, (s[4]! << 8) | s[5]!, (s[6]! << 8) | s[7]!,
      (s[8]! << 8) | s[9]!, (s[10]! << 8) | s[11]!, (s[12]! << 8) | s[13]!, (s[14]! << 8) | s[15]!,
      (d[0]! << 8) | d[1]!, (d[2]! << 8) | d[3]!, (d[4]! << 8) | d[5]!, (d[6]! << 8) | d[7]!,
      (d[8]! << 8) | d[9]!, (d[10]! << 8) | d[11]!, (d[12]! << 8) | d[13]!, (d[14]! << 8) | d[15]!,
      ev.srcPort, ev.dstPort, ev.proto,
    );
  }
}

// ---------------------------------------------------------------- VNet tuple + record

const FIELDS = new TupleFields();

/** The encryption field (X, NX, NX_HW_NOT_SUPPORTED, …) is not used, only checked to be a word (catches shifted fields); empty allowed. */
function isWord(f: TupleFields, i: number): boolean {
  const t = f.text, s = f.start(i), e = f.end(i);
  for (let p = s; p < e; p++) {
    const c = t.charCodeAt(p);
    if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || (p > s && c >= 48 && c <= 57))) return false;
  }
  return true;
}

/**
 * Parse one VNet flow tuple into `ev` (already reset, reporter set).
 * Returns the state letter, or the error.
 */
export function parseVnetTuple(text: string, ev: FlowEvent): TupleState | TupleError {
  const f = FIELDS;
  if (!f.split(text) || (f.n !== 13 && f.n !== 9)) return tupleError('bad_tuple', `${f.n > 16 ? 'more than 16' : f.n} fields, expected 13`);
  const err = setTupleHead(f, ev) ?? setTupleProto(f, 5, ev) ?? setTupleDirection(f, 6, ev);
  if (err) return err;
  const state = tupleState(f, 7, true);
  if (state === null) return tupleError('bad_tuple', `unknown flow state "${f.str(7)}"`);
  if (!isWord(f, 8)) return tupleError('bad_tuple', `unknown encryption "${f.str(8)}"`);
  if (f.n === 13) { const ce = setTupleCounters(f, 9, ev); if (ce) return ce; }
  if (state === 'B' || state === 'D') noStats(ev);
  ev.action = state === 'D' ? ACTION.reject : ACTION.accept;
  return state;
}

type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The reporter string: resource id, plus "/macAddress=<MAC>" when the NIC is known (as in the blob path). */
export function azureReporter(resource: string, mac: string): string {
  return mac === '' ? resource : `${resource}/macAddress=${mac}`;
}

/** Emit or reject every tuple of one list; shared by the VNet and NSG record parsers. */
export function runTuples(
  tuples: unknown, reporter: string, source: number,
  parse: (text: string, ev: FlowEvent) => TupleState | TupleError,
  ev: FlowEvent, sink: FlowEventSink, where: RecordWhere, spans: FlowSpans | null, stats: RecordStats,
): void {
  if (!Array.isArray(tuples)) {
    stats.rejected++;
    sink.reject({ kind: 'bad_record', input: where.input, offset: where.offset, message: 'flowTuples is not an array' });
    return;
  }
  for (const t of tuples) {
    stats.tuples++;
    if (typeof t !== 'string') {
      stats.rejected++; stats.tupleRejects++;
      sink.reject({ kind: 'bad_tuple', input: where.input, offset: where.offset, message: 'flow tuple is not a string' });
      continue;
    }
    ev.reset(source);
    ev.reporter = reporter;
    const r = parse(t, ev);
    if (typeof r !== 'string') {
      stats.rejected++; stats.tupleRejects++;
      sink.reject({ kind: r.kind, input: where.input, offset: where.offset, message: `${r.message} in tuple "${t.length > 200 ? t.slice(0, 200) + '…' : t}"` });
      continue;
    }
    if (spans) spans.apply(ev, r);
    stats.emitted++;
    sink.emit(ev);
  }
}

export function rejectRecord(kind: string, message: string, sink: FlowEventSink, where: RecordWhere, stats: RecordStats): RecordStats {
  stats.rejected++;
  sink.reject({ kind, input: where.input, offset: where.offset, message });
  return stats;
}

/**
 * One VNet flow-log record (a parsed element of `records`) → events.
 * Record: flowLogVersion 4, macAddress, targetResourceID / flowLogResourceID,
 * flowRecords.flows[].flowGroups[].flowTuples[].
 */
export function parseVnetRecord(rec: unknown, ev: FlowEvent, sink: FlowEventSink, where: RecordWhere, spans: FlowSpans | null = null): RecordStats {
  const stats = newRecordStats();
  if (!isObj(rec)) return rejectRecord('bad_record', 'record is not an object', sink, where, stats);
  const version = rec.flowLogVersion;
  if (version !== 4 && version !== '4') return rejectRecord('unknown_version', `flowLogVersion ${JSON.stringify(version) ?? 'missing'} (known: 4)`, sink, where, stats);
  const fr = rec.flowRecords;
  const flows = isObj(fr) ? fr.flows : undefined;
  if (!Array.isArray(flows)) return rejectRecord('bad_record', 'flowRecords.flows is not an array', sink, where, stats);
  const reporter = azureReporter(str(rec.targetResourceID) || str(rec.flowLogResourceID), str(rec.macAddress));
  for (const acl of flows) {
    const groups = isObj(acl) ? acl.flowGroups : undefined;
    if (!Array.isArray(groups)) { rejectRecord('bad_record', 'flows[].flowGroups is not an array', sink, where, stats); continue; }
    for (const g of groups) {
      if (!isObj(g)) { rejectRecord('bad_record', 'flowGroups[] element is not an object', sink, where, stats); continue; }
      runTuples(g.flowTuples, reporter, SOURCE.azure_vnet, parseVnetTuple, ev, sink, where, spans, stats);
    }
  }
  return stats;
}
