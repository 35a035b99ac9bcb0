// Reads Google Cloud VPC Flow Logs exported from Cloud Logging: files,
// directory trees (a GCS sink's hourly folders, replayed in sorted order) or
// stdin, gzip or not.
//
// Layouts accepted per file:
//   * JSON lines (what a GCS sink writes): one LogEntry per line; a line that
//     holds a JSON array counts as that many entries.
//   * One JSON document spread over lines: a pretty-printed LogEntry or an
//     array of them. Recognised when the first non-blank line is only "{" or
//     "[" (or "[{"); the file is then buffered (up to `maxDocument` bytes) and
//     parsed whole. If it grows too large, or does not parse but holds lines
//     that are JSON objects on their own (JSON lines after a stray "{"), the
//     buffered lines are read as JSON lines after all; a damaged document
//     with no such line is one `bad_json`, a too large one one
//     `document_too_large` (and the rest of the file is skipped).
// Every entry either becomes a flow event or a rejection; a bad line does not
// stop the file.
import { FlowInputError, eachLine, expandInput, openFlowFile, type LineRef } from './text-input.ts';
import type { FlowEventSink } from './flow-event.ts';
import { GCP_FLOW, GcpVpcParser, type GcpParseOptions } from './gcp-vpc.ts';

export interface GcpVpcReadOptions extends GcpParseOptions {
  /** longest accepted line in bytes (default 1 MiB) */
  maxLine?: number;
  /** largest multi-line JSON document buffered whole (default 64 MiB) */
  maxDocument?: number;
}

export interface GcpVpcReadSummary {
  files: number;
  /** physical lines read */
  lines: number;
  /** LogEntries seen (each became a record or a rejection) */
  entries: number;
  /** flow events emitted */
  records: number;
  /** sink.reject calls */
  rejected: number;
}

export const GCP_REJECTION_KINDS = [
  'bad_json', 'bad_entry', 'not_flow_log', 'missing_connection', 'missing_address', 'bad_address', 'bad_number',
  'bad_time', 'missing_time', 'bad_time_range', 'line_too_long', 'document_too_large', 'unreadable_input', 'corrupt_gzip',
] as const;

const NL = Buffer.from('\n');
const OPENING = /^[[{]\s*[[{]?$/;
const MODE_UNKNOWN = 0, MODE_LINES = 1, MODE_DOCUMENT = 2, MODE_SKIP = 3;

/** Does this line hold a whole JSON object or array by itself? */
function standalone(b: Buffer): boolean {
  try { const v: unknown = JSON.parse(b.toString('utf8')); return typeof v === 'object' && v !== null; } catch { return false; }
}

/** Read every file of `path` (file, directory or "-") into `sink`. Never throws for bad input. */
export async function readGcpVpc(path: string, sink: FlowEventSink, opts: GcpVpcReadOptions = {}): Promise<GcpVpcReadSummary> {
  const sum: GcpVpcReadSummary = { files: 0, lines: 0, entries: 0, records: 0, rejected: 0 };
  const reject = (kind: string, input: string, message: string, line?: number, offset?: number) => {
    sum.rejected++;
    sink.reject(line === undefined ? { kind, input, message } : { kind, input, message, line, offset });
  };
  let files: string[];
  try { files = expandInput(path); } catch (e) {
    reject(e instanceof FlowInputError ? e.kind : 'unreadable_input', path, (e as Error).message);
    return sum;
  }
  const maxLine = opts.maxLine ?? 1 << 20;
  const maxDocument = opts.maxDocument ?? 64 << 20;
  const parser = new GcpVpcParser(opts);

  for (const p of files) {
    const file = openFlowFile(p);
    const input = file.name;
    sum.files++;
    let mode: number = MODE_UNKNOWN;
    // document mode: the lines so far (copied: line bytes are reused), their numbers and offsets
    let doc: Buffer[] = [];
    let docLines: number[] = [], docOffsets: number[] = [];
    let docLen = 0;

    const entry = (e: unknown, line: number, offset: number, where: string): void => {
      sum.entries++;
      if (parser.parseEntry(e) === GCP_FLOW) { sum.records++; sink.emit(parser.ev); return; }
      reject(parser.errorKind, input, `${where}${parser.errorMessage}`, line, offset);
    };
    const value = (v: unknown, line: number, offset: number): void => {
      if (Array.isArray(v)) v.forEach((e, i) => entry(e, line, offset, `entry ${i}: `));
      else entry(v, line, offset, '');
    };
    /** One line as a JSON value (JSON-lines mode). */
    const jsonLine = (buf: Buffer, start: number, end: number, line: number, offset: number): void => {
      let s = start;
      while (s < end && (buf[s] === 32 || buf[s] === 9)) s++;
      if (s === end) return; // blank
      let v: unknown;
      try { v = JSON.parse(buf.toString('utf8', s, end)); } catch (e) {
        sum.entries++;
        reject('bad_json', input, `not a JSON value: ${(e as Error).message}`, line, offset);
        return;
      }
      value(v, line, offset);
    };
    /** Not a document after all (unparsable, or too large to hold): its lines are read as JSON lines. */
    const replay = (): void => {
      mode = MODE_LINES;
      const d = doc, dl = docLines, dof = docOffsets;
      doc = []; docLines = []; docOffsets = []; docLen = 0;
      d.forEach((b, i) => jsonLine(b, 0, b.length, dl[i]!, dof[i]!));
    };

    /** The document cannot be held whole: JSON lines after all (false), or give up on the file (true). */
    const tooLarge = (why: string): boolean => {
      if (doc.some(standalone)) { replay(); return false; }
      sum.entries++;
      reject('document_too_large', input, `${why}: rest of the file skipped`, docLines[0], docOffsets[0]);
      doc = []; docLines = []; docOffsets = [];
      mode = MODE_SKIP;
      return true;
    };

    const onLine = (ref: LineRef): void => {
      sum.lines++;
      const { buf, start, end, line, offset } = ref;
      if (mode === MODE_LINES) { jsonLine(buf, start, end, line, offset); return; }
      if (mode === MODE_SKIP) return;
      if (mode === MODE_UNKNOWN) {
        let s = start, e = end;
        while (s < e && (buf[s] === 32 || buf[s] === 9)) s++;
        while (e > s && (buf[e - 1] === 32 || buf[e - 1] === 9)) e--;
        if (s === e) return; // leading blank lines
        // "{" or "[" (or "[{") alone on the first line: the start of one pretty-printed document
        if (!OPENING.test(buf.toString('latin1', s, e))) { mode = MODE_LINES; jsonLine(buf, start, end, line, offset); return; }
        mode = MODE_DOCUMENT;
      }
      docLen += end - start + 1;
      doc.push(Buffer.from(buf.subarray(start, end)));
      docLines.push(line); docOffsets.push(offset);
      if (docLen > maxDocument) tooLarge(`JSON document over ${maxDocument} bytes`);
    };

    try {
      await eachLine(file.chunks(), onLine, maxLine, (line, offset) => {
        sum.lines++;
        if (mode === MODE_SKIP) return;
        if (mode === MODE_DOCUMENT && tooLarge(`JSON document with a line over ${maxLine} bytes`)) return;
        mode = MODE_LINES;
        sum.entries++;
        reject('line_too_long', input, `line longer than ${maxLine} bytes`, line, offset);
      });
    } catch (e) {
      if (!(e instanceof FlowInputError)) throw e;
      reject(e.kind, input, e.message);
    }

    if (mode === MODE_DOCUMENT) {
      let v: unknown;
      const parts: Buffer[] = [];
      for (const b of doc) parts.push(b, NL);
      try { v = JSON.parse(Buffer.concat(parts).toString('utf8')); } catch (e) {
        // JSON lines after a stray opening line? Then read them as such; else one damaged document.
        if (doc.some(standalone)) { replay(); continue; }
        sum.entries++;
        reject('bad_json', input, `not a JSON document: ${(e as Error).message}`, docLines[0], docOffsets[0]);
        continue;
      }
      value(v, docLines[0]!, docOffsets[0]!);
    }
  }
  return sum;
}
