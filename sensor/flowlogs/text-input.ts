// Where flow-log bytes come from: a file, every file below a directory
// (sorted, so a tree of S3/GCS/Azure deliveries replays in time order), or
// standard input ("-"); gzip is unwrapped transparently by its magic number.
// Parsers get byte chunks or whole lines as Buffers — never strings — so a
// text format can be parsed without allocating per field.
import { closeSync, createReadStream, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** One file (or stdin) of a flow-log input. */
export interface FlowFile {
  /** path as given or found, or "<stdin>" */
  name: string;
  /** the file's bytes, gunzipped if it was gzip */
  chunks(): AsyncIterable<Buffer>;
  compressed: boolean;
}

export class FlowInputError extends Error {
  constructor(readonly kind: string, message: string) { super(message); }
}

/** Every regular file below `dir`, depth first, names sorted (byte order). */
export function filesBelow(dir: string): string[] {
  const out: string[] = [];
  // Directories already entered (device:inode): a symlink back up the tree would otherwise recurse forever.
  const seen = new Set<string>();
  const walk = (d: string) => {
    const dst = statSync(d);
    const id = `${dst.dev}:${dst.ino}`;
    if (seen.has(id)) return;
    seen.add(id);
    for (const name of readdirSync(d).sort(byteOrder)) {
      const p = join(d, name);
      let st;
      try { st = statSync(p); } catch { continue; } // dangling symlink, or removed meanwhile
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Compare names by their UTF-8 bytes (String sort compares UTF-16 code units, which differs above U+FFFF). */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Expand one CLI input (file, directory or "-") into the files to read, in order. */
export function expandInput(path: string): string[] {
  if (path === '-') return ['-'];
  let st;
  try { st = statSync(path); } catch (e) { throw new FlowInputError('unreadable_input', `${path}: ${(e as Error).message}`); }
  return st.isDirectory() ? filesBelow(path) : [path];
}

/** Resolves when `w` can take more, or is finished one way or another (never hangs on a destroyed stream). */
function writable(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { w.off('drain', done); w.off('close', done); w.off('error', done); resolve(); };
    w.once('drain', done); w.once('close', done); w.once('error', done);
  });
}

async function* gunzipIfNeeded(raw: Readable, name: string, onCompressed: (c: boolean) => void): AsyncIterable<Buffer> {
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first = await it.next();
  if (first.done) { onCompressed(false); return; }
  let head: Buffer = first.value;
  // The magic number needs two bytes; a pipe may deliver one first.
  while (head.length < 2) {
    first = await it.next();
    if (first.done) break;
    head = Buffer.concat([head, first.value]);
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    onCompressed(true);
    const gunzip = createGunzip();
    let stop = false;
    const feed = (async () => {
      try {
        if (!gunzip.write(head)) await writable(gunzip);
        for (let n = await it.next(); !n.done && !stop && !gunzip.destroyed; n = await it.next()) {
          if (!gunzip.write(n.value)) await writable(gunzip);
        }
        if (!gunzip.destroyed) gunzip.end();
      } catch (e) { gunzip.destroy(e as Error); }
    })();
    try {
      for await (const b of gunzip) yield b as Buffer;
    } catch (e) {
      throw new FlowInputError('corrupt_gzip', `${name}: ${(e as Error).message}`);
    } finally {
      // Early exit (consumer stopped, or corrupt data): stop the feeder; openFlowFile closes the file.
      stop = true;
      gunzip.destroy();
    }
    await feed;
    return;
  }
  onCompressed(false);
  yield head;
  if (first.done) return;
  for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
}

/**
 * Open one file (or "-") for reading as chunks, from byte `start` of the file
 * (a plain file only: a gzip stream cannot be entered in its middle).
 * Errors surface as FlowInputError while iterating.
 */
export function openFlowFile(path: string, highWaterMark = 1 << 20, start = 0): FlowFile {
  const name = path === '-' ? '<stdin>' : path;
  const file: FlowFile = {
    name,
    compressed: false,
    chunks: () => {
      const raw: Readable = path === '-' ? process.stdin : createReadStream(path, { highWaterMark, start });
      return (async function* () {
        try {
          yield* gunzipIfNeeded(raw, name, (c) => { file.compressed = c; });
        } catch (e) {
          if (e instanceof FlowInputError) throw e;
          throw new FlowInputError('unreadable_input', `${name}: ${(e as Error).message}`);
        } finally {
          // A consumer that stops early must not leave the file open (stdin stays usable).
          if (raw !== process.stdin) raw.destroy();
        }
      })();
    },
  };
  return file;
}

/** A line of a text input: `buf[start, end)` without the newline (and without a trailing CR, or a leading BOM on line 1). */
export interface LineRef {
  buf: Buffer;
  start: number;
  end: number;
  /** 1-based line number in the file */
  line: number;
  /** byte offset of the line's first byte in the (decompressed) file */
  offset: number;
}

/**
 * The line splitter behind `lines` and `eachLine`: feed chunks in order with
 * `push`, then `finish`; both yield the lines completed so far as ONE reused
 * LineRef (valid until the next step). Lines are not copied except where one
 * straddles chunks. A line longer than `maxLine` bytes is not buffered whole
 * (memory stays bounded): `onTooLong(line, offset)` is told and it is skipped.
 */
export class LineSplitter {
  private carry: Buffer[] = [];
  private carryLen = 0;
  private skipping = false;
  private lineNo = 0;
  private offset = 0; // file offset of the current line's start
  private base = 0; // file offset of the current chunk
  private readonly ref: LineRef = { buf: Buffer.alloc(0), start: 0, end: 0, line: 0, offset: 0 };

  constructor(
    private readonly maxLine = 1 << 20,
    private readonly onTooLong: (line: number, offset: number) => void = () => {},
  ) {}

  private emit(buf: Buffer, start: number, end: number): LineRef {
    return this.normalise(buf, start, end, this.lineNo, this.offset);
  }

  /** A line as consumers see it: no "\r" before the newline, no byte order mark on line 1. */
  private normalise(buf: Buffer, start: number, end: number, lineNo: number, offset: number): LineRef {
    if (end > start && buf[end - 1] === 13) end--;
    // A UTF-8 byte order mark (Windows editors, some exports) is not part of the first line.
    if (lineNo === 1 && end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    const ref = this.ref;
    ref.buf = buf; ref.start = start; ref.end = end; ref.line = lineNo; ref.offset = offset;
    return ref;
  }

  /**
   * Like push, but the complete lines wholly inside the chunk go to `onBlock`
   * as one run (buf[start, end), each line with its "\n"; `firstLine` and
   * `offset` are those of its first line), for a consumer that takes many
   * lines per call (the core's AWS line parser). onBlock returns how many
   * lines the run held and hands any line it does not take itself to
   * `line()`. Lines split across chunks still go to `onLine`.
   */
  pushBlocks(chunk: Buffer, onBlock: (buf: Buffer, start: number, end: number, firstLine: number, offset: number) => number, onLine: (ref: LineRef) => void): void {
    let pos = 0;
    if (this.carryLen > 0 || this.skipping) {
      const nl = chunk.indexOf(10);
      if (nl < 0) { for (const r of this.push(chunk)) onLine(r); return; }
      for (const r of this.push(chunk.subarray(0, nl + 1))) onLine(r);
      pos = nl + 1;
    }
    const last = chunk.lastIndexOf(10);
    if (last >= pos) {
      this.lineNo += onBlock(chunk, pos, last + 1, this.lineNo + 1, this.base);
      this.base += last + 1 - pos;
      this.offset = this.base;
      pos = last + 1;
    }
    if (pos < chunk.length) for (const r of this.push(chunk.subarray(pos))) onLine(r);
  }

  /**
   * One line of a block (buf[start, nl), nl at its "\n"), as push would
   * have produced it: the LineRef, or null after reporting it too long.
   */
  line(buf: Buffer, start: number, nl: number, lineNo: number, offset: number): LineRef | null {
    if (nl - start > this.maxLine) { this.onTooLong(lineNo, offset); return null; }
    return this.normalise(buf, start, nl, lineNo, offset);
  }

  *push(chunk: Buffer): Generator<LineRef, void, undefined> {
    const maxLine = this.maxLine;
    let pos = 0;
    for (;;) {
      const nl = chunk.indexOf(10, pos);
      if (nl < 0) break;
      this.lineNo++;
      if (this.skipping) {
        this.skipping = false;
      } else if (this.carryLen > 0) {
        this.carry.push(chunk.subarray(pos, nl));
        const whole = Buffer.concat(this.carry, this.carryLen + nl - pos);
        this.carry = []; this.carryLen = 0;
        if (whole.length > maxLine) this.onTooLong(this.lineNo, this.offset);
        else yield this.emit(whole, 0, whole.length);
      } else if (nl - pos > maxLine) {
        this.onTooLong(this.lineNo, this.offset);
      } else {
        yield this.emit(chunk, pos, nl);
      }
      pos = nl + 1;
      this.offset = this.base + pos;
    }
    if (pos < chunk.length && !this.skipping) {
      this.carry.push(chunk.subarray(pos));
      this.carryLen += chunk.length - pos;
      if (this.carryLen > maxLine) {
        this.onTooLong(this.lineNo + 1, this.offset);
        this.carry = []; this.carryLen = 0; this.skipping = true;
      }
    }
    this.base += chunk.length;
  }

  /** The last line when the input does not end with a newline. */
  *finish(): Generator<LineRef, void, undefined> {
    if (this.carryLen > 0) {
      this.lineNo++;
      const whole = Buffer.concat(this.carry, this.carryLen);
      this.carry = []; this.carryLen = 0;
      yield this.emit(whole, 0, whole.length);
    } else if (this.skipping) {
      this.lineNo++;
      this.skipping = false;
    }
  }

  /** Lines seen so far (skipped too-long ones included). */
  get lineCount(): number { return this.lineNo; }
}

/**
 * Split chunks into lines (see LineSplitter): the LineRef yielded is reused,
 * valid until the next iteration.
 */
export async function* lines(
  chunks: AsyncIterable<Buffer>,
  maxLine = 1 << 20,
  onTooLong: (line: number, offset: number) => void = () => {},
): AsyncIterable<LineRef> {
  const sp = new LineSplitter(maxLine, onTooLong);
  for await (const chunk of chunks) yield* sp.push(chunk);
  yield* sp.finish();
}

/**
 * Same lines as `lines`, handed to a synchronous callback: no promise per
 * line, which matters at millions of lines per second. Resolves at the end of
 * input; rejects with the chunk source's error (e.g. FlowInputError).
 */
export async function eachLine(
  chunks: AsyncIterable<Buffer>,
  onLine: (ref: LineRef) => void,
  maxLine = 1 << 20,
  onTooLong: (line: number, offset: number) => void = () => {},
): Promise<void> {
  const sp = new LineSplitter(maxLine, onTooLong);
  for await (const chunk of chunks) for (const ref of sp.push(chunk)) onLine(ref);
  for (const ref of sp.finish()) onLine(ref);
}

/**
 * eachLine for a consumer of line runs (LineSplitter.pushBlocks): onBlock
 * gets the complete lines inside each chunk at once and the splitter, to
 * hand back single lines; lines across chunks go to onLine.
 */
export async function eachLineBlock(
  chunks: AsyncIterable<Buffer>,
  onBlock: (sp: LineSplitter, buf: Buffer, start: number, end: number, firstLine: number, offset: number) => number,
  onLine: (ref: LineRef) => void,
  maxLine = 1 << 20,
  onTooLong: (line: number, offset: number) => void = () => {},
): Promise<void> {
  const sp = new LineSplitter(maxLine, onTooLong);
  const block = (buf: Buffer, start: number, end: number, firstLine: number, offset: number) => onBlock(sp, buf, start, end, firstLine, offset);
  for await (const chunk of chunks) sp.pushBlocks(chunk, block, onLine);
  for (const ref of sp.finish()) onLine(ref);
}

/** Does the file start with the gzip magic number? (False when it cannot be read: the reader reports that.) */
export function startsGzip(path: string): boolean {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
