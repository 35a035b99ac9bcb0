// Azure flow-log blobs (PT1H.json of NSG flow logs v1/v2 and VNet flow logs
// v4) → flow events. The thin reader over the pure record parsers of
// azure-nsg.ts and azure-vnet.ts.
//
// A blob is `{"records":[{…},{…},…]}`, appended to during its hour: a reader
// may see it before the closing `]}` (or cut anywhere). It can be hundreds of
// MB, so it is never parsed whole: AzureRecordExtractor scans the bytes once,
// tracking only JSON nesting and strings, and hands over each element of the
// top-level `records` array as soon as its closing brace arrives (memory: one
// record, at most `maxRecordBytes`). Each record is then JSON.parse'd alone.
// An unterminated tail is reported once (`truncated_blob`, offset = where the
// incomplete record starts; nothing with `tail: true`) and every complete
// record before it is used. `resumeOffset` says where to pick up once the blob
// has grown (start a new extractor there with `inRecords: true`).
//
// Rejection kinds (stable): bad_blob (not `{"records":[…]}`), bad_json (a
// record is not valid JSON), record_too_large, truncated_blob, bad_record (not
// the NSG/VNet record shape, e.g. the docs' nested `records`),
// unknown_version, bad_tuple, bad_address, bad_number; plus the input errors
// unreadable_input and corrupt_gzip.
import { FlowEvent, type FlowEventSink, type FlowRejection } from './flow-event.ts';
import { parseNsgRecord } from './azure-nsg.ts';
import { FlowSpans, isObj, newRecordStats, parseVnetRecord, rejectRecord, type RecordStats, type RecordWhere } from './azure-vnet.ts';
import { expandInput, FlowInputError, openFlowFile, startsGzip } from './text-input.ts';

export { FlowSpans } from './azure-vnet.ts';
export type { RecordStats } from './azure-vnet.ts';

/** One Azure flow-log record (NSG v1/v2 or VNet) → events; decides the kind by its shape. */
export function parseAzureRecord(rec: unknown, ev: FlowEvent, sink: FlowEventSink, where: RecordWhere, spans: FlowSpans | null = null): RecordStats {
  if (isObj(rec)) {
    if ('flowRecords' in rec || 'flowLogVersion' in rec) return parseVnetRecord(rec, ev, sink, where, spans);
    if ('properties' in rec) return parseNsgRecord(rec, ev, sink, where, spans);
    if ('records' in rec) return rejectRecord('bad_record', 'a record holding a nested "records" array (not a flow-log record)', sink, where, newRecordStats());
  }
  return rejectRecord('bad_record', 'neither an NSG (properties.flows) nor a VNet (flowRecords) flow-log record', sink, where, newRecordStats());
}

// ---------------------------------------------------------------- the record extractor

export interface ExtractedRecords {
  /** one complete element of `records`: bytes [start, end) of the blob; `bytes` is valid only during the call */
  record(bytes: Buffer, start: number, end: number): void;
  reject(kind: string, message: string, offset: number): void;
}

export interface ExtractorEnd {
  /** the blob's top-level object was closed (or the blob was rejected as bad_blob) */
  complete: boolean;
  /**
   * Where to go on when the blob grows: every record before this offset has
   * been handed over. Inside the records array (`inRecords`) — at the cut
   * record, or at the array's closing "]", before which Azure adds the next
   * blocks — or 0 with `inRecords` false: nothing handed over, read from the
   * start.
   */
  resumeOffset: number;
  /** resumeOffset lies inside the records array (resume with `inRecords: true`) */
  inRecords: boolean;
  /** false: a blob rejected as bad_blob, not to be read again */
  resumable: boolean;
}

/** Where a grown blob is read on from (an ExtractorEnd's resumeOffset and inRecords). */
export interface ResumePoint { offset: number; inRecords: boolean }

const ST_START = 0, ST_TOP = 1, ST_KEY = 2, ST_COLON = 3, ST_ARRAY_OPEN = 4, ST_ELEM_WAIT = 5, ST_VALUE = 6, ST_AFTER = 7, ST_DEAD = 8, ST_SKIP_VALUE = 9;
const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const RECORDS_KEY = 'records';

/**
 * Incremental scanner of `{"records":[…]}`: push() chunks in order, end()
 * once. Other top-level keys are skipped. Never throws on any input; each
 * byte is looked at once (memory: the record being collected).
 */
export class AzureRecordExtractor {
  private state = ST_START;
  private base = 0;
  private key = '';
  private keyOverflow = false;
  private keyEsc = false;
  private seenRecords = false;
  /** offset of the "]" that closed the records array (-1: not yet) */
  private arrayEnd = -1;
  // the value being scanned
  private vCapture = false;
  private vReturn = ST_TOP;
  private vStart = 0;
  private vDepth = 0;
  private vInStr = false;
  private vEsc = false;
  private vScalar = false;
  /** startValue() ran; the value's first byte is next */
  private vFirst = false;
  private parts: Buffer[] = [];
  private partsLen = 0;
  private tooLarge = false;
  private ended = false;

  constructor(private readonly out: ExtractedRecords, private readonly opts: { maxRecordBytes?: number; inRecords?: boolean; baseOffset?: number } = {}) {
    if (opts.inRecords) { this.state = ST_ELEM_WAIT; this.seenRecords = true; }
    this.base = opts.baseOffset ?? 0;
  }

  private get maxRecord(): number { return this.opts.maxRecordBytes ?? 32 << 20; }

  private fail(message: string, offset: number): void {
    this.out.reject('bad_blob', message, offset);
    this.state = ST_DEAD;
    this.parts = []; this.partsLen = 0;
  }

  private startValue(capture: boolean, ret: number, offset: number): void {
    this.state = ST_VALUE;
    this.vCapture = capture; this.vReturn = ret; this.vStart = offset;
    this.vDepth = 0; this.vInStr = false; this.vEsc = false; this.vScalar = false; this.vFirst = true;
    this.parts = []; this.partsLen = 0; this.tooLarge = false;
  }

  push(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    let segStart = 0; // where the current value's bytes start in this chunk
    let nextBs = -2; // cached index of the next backslash at or after i (-1 none; -2 unknown)
    while (i < n) {
      const st = this.state;
      if (st === ST_VALUE) {
        if (this.vFirst) {
          this.vFirst = false;
          segStart = i;
          const c = chunk[i]!;
          if (c === 0x7b || c === 0x5b) this.vDepth = 1;
          else if (c === 0x22) this.vInStr = true;
          else this.vScalar = true;
          i++;
        }
        let end = -1; // exclusive end of the value in this chunk
        if (this.vScalar) {
          for (; i < n; i++) {
            const c = chunk[i]!;
            if (c === 0x2c || c === 0x5d || c === 0x7d || isWs(c)) { end = i; break; }
          }
        } else {
          let depth = this.vDepth, inStr = this.vInStr, esc = this.vEsc;
          while (i < n) {
            if (inStr) {
              if (esc) { esc = false; i++; continue; }
              // jump to the next quote or backslash
              const q = chunk.indexOf(0x22, i);
              if (nextBs !== -1 && (nextBs === -2 || nextBs < i)) nextBs = chunk.indexOf(0x5c, i);
              const stop = q < 0 ? (nextBs < 0 ? n : nextBs) : nextBs >= 0 && nextBs < q ? nextBs : q;
              if (stop >= n) { i = n; break; }
              i = stop + 1;
              if (stop === nextBs) { esc = true; continue; }
              inStr = false;
              if (depth === 0) { end = i; break; }
              continue;
            }
            const c = chunk[i++]!;
            if (c === 0x22) inStr = true;
            else if (c === 0x7b || c === 0x5b) depth++;
            else if (c === 0x7d || c === 0x5d) { if (--depth === 0) { end = i; break; } }
          }
          this.vDepth = depth; this.vInStr = inStr; this.vEsc = esc;
        }
        if (end < 0) break; // value continues in the next chunk
        this.finishValue(chunk, segStart, end);
        i = end;
        continue;
      }
      const c = chunk[i]!;
      switch (st) {
        case ST_START:
          if (isWs(c) || (this.base + i < 3 && (c === 0xef || c === 0xbb || c === 0xbf))) { i++; break; }
          if (c === 0x7b) { this.state = ST_TOP; i++; break; }
          this.fail('not a JSON object (expected {"records":[…]})', this.base + i);
          return;
        case ST_TOP:
          if (isWs(c) || c === 0x2c) { i++; break; }
          if (c === 0x22) { this.state = ST_KEY; this.key = ''; this.keyOverflow = false; this.keyEsc = false; i++; break; }
          if (c === 0x7d) {
            i++;
            if (!this.seenRecords) { this.fail('blob has no "records" array', this.base + i - 1); return; }
            this.state = ST_AFTER;
            break;
          }
          this.fail(`unexpected byte 0x${c.toString(16)} in the top-level object`, this.base + i);
          return;
        case ST_KEY:
          i++;
          if (this.keyEsc) { this.keyEsc = false; this.keyOverflow = true; break; }
          if (c === 0x5c) { this.keyEsc = true; break; }
          if (c === 0x22) { this.state = ST_COLON; break; }
          if (this.key.length < 16) this.key += String.fromCharCode(c); else this.keyOverflow = true;
          break;
        case ST_COLON:
          if (isWs(c)) { i++; break; }
          if (c !== 0x3a) { this.fail('expected ":" after a top-level key', this.base + i); return; }
          i++;
          this.state = !this.keyOverflow && this.key === RECORDS_KEY && !this.seenRecords ? ST_ARRAY_OPEN : ST_SKIP_VALUE;
          break;
        case ST_SKIP_VALUE: // another top-level key's value: skipped
          if (isWs(c)) { i++; break; }
          this.startValue(false, ST_TOP, this.base + i);
          break;
        case ST_ARRAY_OPEN:
          if (isWs(c)) { i++; break; }
          if (c !== 0x5b) { this.fail('"records" is not an array', this.base + i); return; }
          this.seenRecords = true;
          this.state = ST_ELEM_WAIT;
          i++;
          break;
        case ST_ELEM_WAIT:
          if (isWs(c) || c === 0x2c) { i++; break; }
          if (c === 0x5d) { this.arrayEnd = this.base + i; this.state = ST_TOP; i++; break; }
          this.startValue(true, ST_ELEM_WAIT, this.base + i);
          break;
        case ST_AFTER:
          if (isWs(c)) { i++; break; }
          this.fail('data after the end of the blob', this.base + i);
          return;
        default: // ST_DEAD
          i = n;
      }
    }
    if (this.state === ST_VALUE && this.vCapture && !this.vFirst && !this.tooLarge && segStart < n) {
      // the record continues: keep a copy of its bytes so far (the chunk may be reused)
      this.partsLen += n - segStart;
      if (this.partsLen > this.maxRecord) { this.tooLarge = true; this.parts = []; }
      else this.parts.push(Buffer.from(chunk.subarray(segStart, n)));
    }
    this.base += n;
  }

  private finishValue(chunk: Buffer, segStart: number, end: number): void {
    this.state = this.vReturn;
    if (!this.vCapture) return;
    const endOffset = this.base + end;
    if (!this.tooLarge && this.partsLen + end - segStart > this.maxRecord) this.tooLarge = true;
    if (this.tooLarge) {
      this.parts = []; this.partsLen = 0;
      this.out.reject('record_too_large', `record of ${endOffset - this.vStart} bytes > ${this.maxRecord}`, this.vStart);
      return;
    }
    let bytes: Buffer;
    if (this.parts.length === 0) bytes = chunk.subarray(segStart, end);
    else { this.parts.push(chunk.subarray(segStart, end)); bytes = Buffer.concat(this.parts, this.partsLen + end - segStart); }
    this.parts = []; this.partsLen = 0;
    this.out.record(bytes, this.vStart, endOffset);
  }

  /** No more bytes. `tail`: the blob may still grow, so an unterminated end is not an error. */
  end(tail = false): ExtractorEnd {
    if (this.ended) throw new Error('AzureRecordExtractor.end() called twice');
    this.ended = true;
    const st = this.state;
    this.parts = []; this.partsLen = 0;
    if (st === ST_DEAD) return { complete: true, resumeOffset: this.base, inRecords: false, resumable: false };
    if (this.arrayEnd >= 0) {
      // The records array is closed. A blob that grows gets its next records
      // before that "]" (Azure rewrites the footer): go on from there.
      const complete = st === ST_AFTER;
      if (!complete && !tail) this.out.reject('truncated_blob', 'blob ends after the records array (unterminated JSON; still being appended?)', this.base);
      return { complete, resumeOffset: this.arrayEnd, inRecords: true, resumable: true };
    }
    const inValue = st === ST_VALUE;
    const inRecords = st === ST_ELEM_WAIT || (inValue && this.vCapture);
    const resumeOffset = inRecords ? (inValue ? this.vStart : this.base) : 0;
    if (!tail) {
      const what = inValue && this.vCapture ? 'inside a record' : inRecords ? 'between records' : 'before the records array';
      this.out.reject('truncated_blob', `blob ends ${what} (unterminated JSON; still being appended?)`, inRecords ? resumeOffset : this.base);
    }
    return { complete: false, resumeOffset, inRecords, resumable: true };
  }
}

// ---------------------------------------------------------------- blob → events

export interface AzureReadOptions {
  /** per-flow span memory; default: one per read call, shared by its files (flows continue across hourly blobs) */
  spans?: FlowSpans | null;
  /** larger records are rejected (record_too_large) without being buffered; default 32 MiB */
  maxRecordBytes?: number;
  /** the blob may still be appended to: an unterminated end is not reported */
  tail?: boolean;
  /** go on from where an earlier read of this blob ended (it has grown; see ExtractorEnd) */
  resume?: ResumePoint;
  /** told after each record (tests, progress) */
  onRecord?: (start: number, end: number, stats: RecordStats) => void;
}

export interface AzureReadResult {
  files: number;
  records: number;
  events: number;
  rejected: number;
  /** every file's blob was closed */
  complete: boolean;
  /** of the last file: see ExtractorEnd */
  resumeOffset: number;
  inRecords: boolean;
  resumable: boolean;
}

/** Push-style parser of one blob: push(chunk)…, end(). */
export class AzureBlobParser {
  private readonly ev = new FlowEvent();
  private readonly extractor: AzureRecordExtractor;
  private readonly where: RecordWhere;
  readonly result: AzureReadResult = { files: 1, records: 0, events: 0, rejected: 0, complete: false, resumeOffset: 0, inRecords: false, resumable: true };
  private readonly counting: FlowEventSink;

  constructor(readonly input: string, sink: FlowEventSink, private readonly opts: AzureReadOptions = {}, spans: FlowSpans | null = opts.spans === undefined ? new FlowSpans() : opts.spans) {
    const result = this.result;
    this.counting = {
      emit(ev) { result.events++; sink.emit(ev); },
      reject(r: FlowRejection) { result.rejected++; sink.reject(r); },
    };
    this.where = { input, offset: 0 };
    const where = this.where;
    const counting = this.counting;
    const ev = this.ev;
    this.extractor = new AzureRecordExtractor({
      record: (bytes, start, end) => {
        result.records++;
        where.offset = start;
        let rec: unknown;
        try {
          rec = JSON.parse(bytes.toString('utf8'));
        } catch (e) {
          counting.reject({ kind: 'bad_json', input, offset: start, message: `record is not valid JSON: ${(e as Error).message}` });
          opts.onRecord?.(start, end, { ...newRecordStats(), rejected: 1 });
          return;
        }
        const stats = parseAzureRecord(rec, ev, counting, where, spans);
        opts.onRecord?.(start, end, stats);
      },
      reject: (kind, message, offset) => counting.reject({ kind, input, offset, message }),
    }, { maxRecordBytes: opts.maxRecordBytes, inRecords: opts.resume?.inRecords ?? false, baseOffset: opts.resume?.offset ?? 0 });
  }

  push(chunk: Buffer): void { this.extractor.push(chunk); }

  end(): AzureReadResult {
    const e = this.extractor.end(this.opts.tail ?? false);
    this.result.complete = e.complete;
    this.result.resumeOffset = e.resumeOffset;
    this.result.inRecords = e.inRecords;
    this.result.resumable = e.resumable;
    return this.result;
  }

  /** An input error (unreadable file, corrupt gzip) ends this blob. */
  inputError(kind: string, message: string): void {
    this.counting.reject({ kind, input: this.input, message });
  }
}

/** Parse a whole blob held in memory (tests, small blobs). */
export function parseAzureBlob(bytes: Buffer, input: string, sink: FlowEventSink, opts: AzureReadOptions = {}): AzureReadResult {
  const p = new AzureBlobParser(input, sink, opts);
  p.push(bytes);
  return p.end();
}

/** Read one blob file ("-" = stdin; gzip transparent). Never throws on bad input. */
export async function readAzureFlowFile(path: string, sink: FlowEventSink, opts: AzureReadOptions = {}, spans: FlowSpans | null = opts.spans === undefined ? new FlowSpans() : opts.spans): Promise<AzureReadResult> {
  // Resuming a grown blob: the parser starts at the resume offset, so the
  // bytes before it are not its input. A plain file is opened there (an
  // hourly blob polled every few seconds is not re-read from its start each
  // time); a compressed one is decompressed from the start and skipped.
  const from = opts.resume?.offset ?? 0;
  const direct = from > 0 && path !== '-' && !startsGzip(path);
  const file = openFlowFile(path, undefined, direct ? from : 0);
  const p = new AzureBlobParser(file.name, sink, opts, spans);
  let skip = direct ? 0 : from;
  try {
    for await (const chunk of file.chunks()) {
      if (skip >= chunk.length) { skip -= chunk.length; continue; }
      p.push(skip > 0 ? chunk.subarray(skip) : chunk);
      skip = 0;
    }
  } catch (e) {
    if (!(e instanceof FlowInputError)) throw e;
    p.inputError(e.kind, e.message);
    const r = p.end();
    r.complete = false;
    return r;
  }
  return p.end();
}

/** Read a file, every file below a directory (sorted), or stdin ("-"). Never throws on bad input. */
export async function readAzureFlowLogs(input: string, sink: FlowEventSink, opts: AzureReadOptions = {}): Promise<AzureReadResult> {
  const total: AzureReadResult = { files: 0, records: 0, events: 0, rejected: 0, complete: true, resumeOffset: 0, inRecords: false, resumable: true };
  let paths: string[];
  try { paths = expandInput(input); } catch (e) {
    if (!(e instanceof FlowInputError)) throw e;
    sink.reject({ kind: e.kind, input, message: e.message });
    return { ...total, rejected: 1, complete: false };
  }
  const spans = opts.spans === undefined ? new FlowSpans() : opts.spans;
  for (const path of paths) {
    const r = await readAzureFlowFile(path, sink, opts, spans);
    total.files++;
    total.records += r.records; total.events += r.events; total.rejected += r.rejected;
    total.complete &&= r.complete;
    total.resumeOffset = r.resumeOffset; total.inRecords = r.inRecords; total.resumable = r.resumable;
  }
  return total;
}
