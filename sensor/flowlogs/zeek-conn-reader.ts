// Zeek conn.log files (TSV or JSON lines, plain or gzip, a file, a directory
// tree or stdin) → flow events: the thin reader over zeek-conn.ts. Never
// throws on bad input: unreadable files and corrupt gzip become rejections
// (unreadable_input, corrupt_gzip), over-long lines line_too_long.
import { ZeekConnParser, type ZeekConnOptions, type ZeekConnStats } from './zeek-conn.ts';
import type { FlowEventSink } from './flow-event.ts';
import { expandInput, FlowInputError, openFlowFile } from './text-input.ts';

export interface ZeekReadOptions extends ZeekConnOptions {
  /** longer lines are rejected (line_too_long) without being buffered; default 1 MiB */
  maxLine?: number;
}

export interface ZeekReadResult extends ZeekConnStats {
  files: number;
  /** of the last file with data */
  format: '' | 'tsv' | 'json';
}

function addStats(total: ZeekReadResult, s: ZeekConnStats): void {
  total.lines += s.lines; total.emitted += s.emitted; total.rejected += s.rejected;
  total.headers += s.headers; total.skipped += s.skipped;
}

/** Read one conn.log ("-" = stdin). */
export async function readZeekConnFile(path: string, sink: FlowEventSink, opts: ZeekReadOptions = {}): Promise<ZeekReadResult> {
  const file = openFlowFile(path);
  const parser = new ZeekConnParser(file.name, sink, opts);
  const splitter = new LineSplitter(parser, sink, file.name, opts.maxLine ?? 1 << 20);
  try {
    for await (const chunk of file.chunks()) splitter.push(chunk);
    splitter.end();
  } catch (e) {
    if (!(e instanceof FlowInputError)) throw e;
    parser.stats.rejected++;
    sink.reject({ kind: e.kind, input: file.name, message: e.message });
  }
  const result: ZeekReadResult = { files: 1, format: parser.format, lines: 0, emitted: 0, rejected: 0, headers: 0, skipped: 0 };
  addStats(result, parser.stats);
  return result;
}

/** Parse a log given as chunks in memory (any split), as the file reader does. */
export function parseZeekConnChunks(chunks: Iterable<Buffer>, input: string, sink: FlowEventSink, opts: ZeekReadOptions = {}): ZeekConnParser {
  const parser = new ZeekConnParser(input, sink, opts);
  const splitter = new LineSplitter(parser, sink, input, opts.maxLine ?? 1 << 20);
  for (const c of chunks) splitter.push(c);
  splitter.end();
  return parser;
}

/**
 * Chunks → parser.feed() per line, synchronously within each chunk (an async
 * step per line would cost about as much as parsing it). Copies only a line
 * that straddles chunks; a line longer than maxLine is skipped unbuffered
 * (line_too_long). The input's last line without a newline is fed as not
 * terminated.
 */
class LineSplitter {
  private carry: Buffer[] = [];
  private carryLen = 0;
  private skipping = false;
  private line = 0;
  private base = 0; // file offset of the current chunk
  private lineOffset = 0; // file offset of the current line's first byte

  constructor(private readonly parser: ZeekConnParser, private readonly sink: FlowEventSink, private readonly input: string, private readonly maxLine: number) {}

  private tooLong(line = this.line): void {
    this.parser.stats.lines++; this.parser.stats.rejected++;
    this.sink.reject({ kind: 'line_too_long', input: this.input, line, offset: this.lineOffset, message: `line longer than ${this.maxLine} bytes skipped` });
  }

  private feed(buf: Buffer, start: number, end: number, terminated: boolean): void {
    if (end > start && buf[end - 1] === 13) end--;
    this.parser.feed(buf, start, end, this.line, this.lineOffset, terminated);
  }

  push(chunk: Buffer): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      const nl = chunk.indexOf(10, pos);
      if (nl < 0) break;
      this.line++;
      if (this.skipping) this.skipping = false;
      else if (this.carryLen > 0) {
        this.carry.push(chunk.subarray(pos, nl));
        const len = this.carryLen + nl - pos;
        const whole = Buffer.concat(this.carry, len);
        this.carry = []; this.carryLen = 0;
        if (len > this.maxLine) this.tooLong(); else this.feed(whole, 0, len, true);
      } else if (nl - pos > this.maxLine) this.tooLong();
      else this.feed(chunk, pos, nl, true);
      pos = nl + 1;
      this.lineOffset = this.base + pos;
    }
    if (pos < n && !this.skipping) {
      this.carry.push(Buffer.from(chunk.subarray(pos))); // copied: the source may reuse its chunk
      this.carryLen += n - pos;
      if (this.carryLen > this.maxLine) {
        this.tooLong(this.line + 1); // (the line is counted when its newline arrives)
        this.carry = []; this.carryLen = 0; this.skipping = true;
      }
    }
    this.base += n;
  }

  end(): void {
    if (this.carryLen > 0) {
      this.line++;
      const whole = Buffer.concat(this.carry, this.carryLen);
      this.carry = []; this.carryLen = 0;
      this.feed(whole, 0, whole.length, false);
    }
  }
}

/** Read a file, every file below a directory (sorted), or stdin ("-"). */
export async function readZeekConn(input: string, sink: FlowEventSink, opts: ZeekReadOptions = {}): Promise<ZeekReadResult> {
  const total: ZeekReadResult = { files: 0, format: '', lines: 0, emitted: 0, rejected: 0, headers: 0, skipped: 0 };
  let paths: string[];
  try { paths = expandInput(input); } catch (e) {
    if (!(e instanceof FlowInputError)) throw e;
    sink.reject({ kind: e.kind, input, message: e.message });
    total.rejected++;
    return total;
  }
  for (const path of paths) {
    const r = await readZeekConnFile(path, sink, opts);
    total.files++;
    addStats(total, r);
    if (r.format !== '') total.format = r.format;
  }
  return total;
}
