// Reads AWS VPC Flow Logs from files, directory trees (S3 layout, replayed in
// sorted order) or stdin, gzip or not, and hands each record to a sink.
//
// Per file: the format starts as the `format` option (or the default v2
// format) and is replaced by the file's own header line (S3 writes one as the
// first line of every object). A header found later in a file (files joined
// with cat, multi-member gzip) switches the format from there on: a line that
// does not parse as a record is checked for being a header before it is
// rejected, so good records pay nothing for this.
//
// A line that starts with "{" and does not parse as a record is taken as a
// CloudWatch Logs subscription envelope (`{"messageType":"DATA_MESSAGE",
// "logEvents":[{"timestamp","message"},…]}`, one per line, as the gunzipped
// payloads are usually stored): each message is parsed as a record, with the
// event timestamp standing in for start/end when the format has neither.
// CONTROL_MESSAGE envelopes are skipped.
//
// A format without start/end (allowed: a custom format is any subset) gives
// records without time. Rather than drop them, they get the best time known
// for the file, which is when it was delivered: the CloudWatch event
// timestamp, else the `YYYYMMDDTHHmmZ` in an S3 object name, else the file's
// mtime (`aws s3 cp/sync` sets it to the object's LastModified), else (stdin)
// the time reading began. Delivery lags the traffic by minutes, so such
// times are approximate.
//
// Every line ends up as exactly one of: a header, a blank line, a record
// emitted, a NODATA record (counted), a CloudWatch envelope, or a rejection.
import {
  AWS_DEFAULT_FORMAT, AWS_ERROR, AWS_FLOW, AWS_NODATA, AWS_SKIPDATA, AwsVpcParser,
  isAwsHeaderLine, parseAwsFormat, type AwsFormat,
} from './aws-vpc.ts';
import type { FlowEventSink } from './flow-event.ts';
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { eachLine, eachLineBlock, expandInput, FlowInputError, openFlowFile, type LineRef, type LineSplitter } from './text-input.ts';

/**
 * Takes runs of record lines faster than the per-line path and hands back
 * the lines it leaves (the core's AWS line parser,
 * sensor/pipeline/aws-core-lines.ts). It must take only lines the parser's
 * fast path would turn into a flow, and emit exactly that flow.
 */
export interface AwsLineAccelerator {
  /** Lines are in this field order from now on. */
  setFormat(format: AwsFormat): void;
  /**
   * Take lines of buf[start, end) — complete lines, each with its "\n" — up
   * to the first one it leaves to the caller; returns where it stopped (that
   * line's start, or end). `taken` says how many lines it emitted.
   * `fresh`: the first call for this run of lines (buf's bytes may be new
   * even if buf is the same object); later calls continue the same run.
   */
  take(buf: Uint8Array, start: number, end: number, maxLine: number, fresh: boolean): number;
  readonly taken: number;
  /** The caller parsed a record whose reporter field was buf[s, e), named `name`: take such lines from now on. */
  learnReporter(buf: Uint8Array, s: number, e: number, name: string): void;
}

export interface AwsVpcReadOptions {
  /** field order when a file has no header line: `${version} ${srcaddr} …` or plain names */
  format?: string;
  /** longest accepted line in bytes (default 64 KiB; a record is a few hundred bytes) */
  maxLine?: number;
  /** the core's line parser, when the sink is the core (see AwsLineAccelerator) */
  lines?: AwsLineAccelerator;
}

export interface AwsVpcReadSummary {
  files: number;
  /** physical lines read (headers, blank lines and envelopes included) */
  lines: number;
  /** flow events emitted */
  records: number;
  /** sink.reject calls (skipped_data included) */
  rejected: number;
  /** NODATA records: no traffic in the interval */
  nodata: number;
  /** header lines (format declarations) found */
  headers: number;
  /** CloudWatch Logs envelopes (DATA_MESSAGE and CONTROL_MESSAGE lines) */
  envelopes: number;
}

/** Why-stable rejection kinds this reader produces (besides unreadable_input / corrupt_gzip). */
export const AWS_REJECTION_KINDS = [
  'wrong_field_count', 'bad_number', 'bad_address', 'missing_address', 'bad_value', 'missing_time',
  'bad_time_range', 'skipped_data', 'bad_format_declaration', 'line_too_long', 'bad_json', 'bad_envelope',
  'unreadable_input', 'corrupt_gzip',
] as const;

const MAX_MESSAGE_LINE = 200;

/** Delivery time of a flow-log file, in Unix seconds (see the header comment). */
export function awsFileTime(path: string, now = Date.now() / 1000): number {
  if (path === '-') return Math.floor(now);
  const m = /_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z[_.]/.exec(basename(path));
  if (m) {
    const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!) / 1000;
    if (Number.isFinite(t)) return t;
  }
  try { return Math.floor(statSync(path).mtimeMs / 1000); } catch { return Math.floor(now); }
}

function lineText(buf: Uint8Array, start: number, end: number): string {
  const t = Buffer.from(buf.buffer, buf.byteOffset + start, Math.min(end - start, MAX_MESSAGE_LINE)).toString('utf8');
  return end - start > MAX_MESSAGE_LINE ? `${t}…` : t;
}

/**
 * Read every flow-log file of `path` (file, directory, or "-") into `sink`.
 * Never throws for bad input: unreadable files, corrupt gzip, bad records and a
 * bad `format` option are rejections (a bad option stops before reading).
 */
export async function readAwsVpc(path: string, sink: FlowEventSink, opts: AwsVpcReadOptions = {}): Promise<AwsVpcReadSummary> {
  const sum: AwsVpcReadSummary = { files: 0, lines: 0, records: 0, rejected: 0, nodata: 0, headers: 0, envelopes: 0 };
  const reject = (kind: string, input: string, message: string, line?: number, offset?: number) => {
    sum.rejected++;
    sink.reject(line === undefined ? { kind, input, message } : { kind, input, message, line, offset });
  };

  let baseFormat: AwsFormat = AWS_DEFAULT_FORMAT;
  if (opts.format !== undefined) {
    const f = parseAwsFormat(opts.format, true);
    if (!f.ok) { reject('bad_format_declaration', 'format option', f.message); return sum; }
    baseFormat = f.format;
  }
  let files: string[];
  try { files = expandInput(path); } catch (e) {
    reject(e instanceof FlowInputError ? e.kind : 'unreadable_input', path, (e as Error).message);
    return sum;
  }

  const maxLine = opts.maxLine ?? 1 << 16;
  const parser = new AwsVpcParser(baseFormat);
  const acc = opts.lines;
  for (const p of files) {
    const file = openFlowFile(p);
    const input = file.name;
    sum.files++;
    parser.setFormat(baseFormat);
    const fileTime = awsFileTime(p);

    /** Parse one record; report what it became. */
    const record = (buf: Uint8Array, start: number, end: number, line: number, offset: number, fallbackTime: number): number => {
      const r = parser.parse(buf, start, end, fallbackTime);
      if (r === AWS_FLOW) { sum.records++; sink.emit(parser.ev); } else if (r === AWS_NODATA) sum.nodata++;
      else if (r === AWS_SKIPDATA) {
        reject('skipped_data', input, `SKIPDATA record: AWS dropped flow records in this interval: ${lineText(buf, start, end)}`, line, offset);
      }
      return r;
    };

    /** A JSON line: a CloudWatch Logs subscription envelope, or a rejection. */
    const envelope = (buf: Uint8Array, start: number, end: number, line: number, offset: number): void => {
      let doc: unknown;
      try { doc = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8')); } catch (e) {
        reject('bad_json', input, `line is neither a record nor JSON: ${(e as Error).message}`, line, offset);
        return;
      }
      const o = doc as { messageType?: unknown; logEvents?: unknown };
      if (typeof doc !== 'object' || doc === null || (o.messageType !== 'DATA_MESSAGE' && o.messageType !== 'CONTROL_MESSAGE')) {
        reject('bad_envelope', input, 'JSON line is not a CloudWatch Logs DATA_MESSAGE/CONTROL_MESSAGE envelope', line, offset);
        return;
      }
      sum.envelopes++;
      if (o.messageType === 'CONTROL_MESSAGE') return;
      if (!Array.isArray(o.logEvents)) { reject('bad_envelope', input, 'DATA_MESSAGE without logEvents', line, offset); return; }
      for (const le of o.logEvents as unknown[]) {
        const ev = le as { message?: unknown; timestamp?: unknown };
        if (typeof le !== 'object' || le === null || typeof ev.message !== 'string') {
          reject('bad_envelope', input, 'log event without a message', line, offset);
          continue;
        }
        const ts = typeof ev.timestamp === 'number' && Number.isFinite(ev.timestamp) && ev.timestamp >= 0 ? ev.timestamp / 1000 : fileTime;
        const b = Buffer.from(ev.message, 'utf8');
        const r = record(b, 0, b.length, line, offset, ts);
        if (r === AWS_ERROR) reject(parser.errorKind, input, `${parser.errorMessage}: ${lineText(b, 0, b.length)}`, line, offset);
      }
    };

    const onLine = (ref: LineRef): void => {
      sum.lines++;
      const { buf, start, end, line, offset } = ref;
      const r = record(buf, start, end, line, offset, fileTime);
      if (r === AWS_FLOW && acc && parser.reporterEnd > parser.reporterStart) acc.learnReporter(buf, parser.reporterStart, parser.reporterEnd, parser.ev.reporter);
      if (r !== AWS_ERROR) return; // AWS_BLANK is counted in lines only
      // Failure path: a header line, a CloudWatch envelope, or a bad record.
      if (isAwsHeaderLine(buf, start, end)) {
        sum.headers++;
        const f = parseAwsFormat(Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1'), false);
        if (f.ok) parser.setFormat(f.format);
        else reject('bad_format_declaration', input, `header line: ${f.message}`, line, offset);
        return;
      }
      let first = start;
      while (first < end && (buf[first] === 32 || buf[first] === 9)) first++;
      if (buf[first] === 123 /* { */) { envelope(buf, start, end, line, offset); return; }
      reject(parser.errorKind, input, `${parser.errorMessage}: ${lineText(buf, start, end)}`, line, offset);
    };
    const tooLong = (line: number, offset: number) => {
      sum.lines++;
      reject('line_too_long', input, `line longer than ${maxLine} bytes`, line, offset);
    };
    // With the core's line parser: runs of lines go to it, and each line it
    // leaves (a header, an error, a "-" value, a new reporter…) comes here.
    let accFormat: AwsFormat | null = null;
    const syncFormat = () => { if (acc && parser.format !== accFormat) { acc.setFormat(parser.format); accFormat = parser.format; } };
    const onBlock = (sp: LineSplitter, buf: Buffer, start: number, end: number, firstLine: number, offset: number): number => {
      const a = acc!;
      let p = start, line = firstLine;
      while (p < end) {
        syncFormat();
        const stop = a.take(buf, p, end, maxLine, p === start);
        sum.lines += a.taken; sum.records += a.taken; line += a.taken;
        if (stop >= end) break;
        const nl = buf.indexOf(10, stop);
        const ref = sp.line(buf, stop, nl, line, offset + (stop - start));
        if (ref) onLine(ref);
        line++;
        p = nl + 1;
      }
      return line - firstLine;
    };
    try {
      if (acc) await eachLineBlock(file.chunks(), onBlock, onLine, maxLine, tooLong);
      else await eachLine(file.chunks(), onLine, maxLine, tooLong);
    } catch (e) {
      if (!(e instanceof FlowInputError)) throw e;
      reject(e.kind, input, e.message);
    }

  }
  return sum;
}
