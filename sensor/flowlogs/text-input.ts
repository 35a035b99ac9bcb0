// Where flow-log bytes come from: a file, every file below a directory
// (sorted, so a tree of S3/GCS/Azure deliveries replays in time order), or
// standard input ("-"); gzip is unwrapped transparently by its magic number.
// Parsers get byte chunks or whole lines as Buffers — never strings — so a
// text format can be parsed without allocating per field.
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
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
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Expand one CLI input (file, directory or "-") into the files to read, in order. */
export function expandInput(path: string): string[] {
  if (path === '-') return ['-'];
  let st;
  try { st = statSync(path); } catch (e) { throw new FlowInputError('unreadable_input', `${path}: ${(e as Error).message}`); }
  return st.isDirectory() ? filesBelow(path) : [path];
}

async function* gunzipIfNeeded(raw: Readable, name: string, onCompressed: (c: boolean) => void): AsyncIterable<Buffer> {
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  if (first.done) { onCompressed(false); return; }
  const head = first.value;
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    onCompressed(true);
    const gunzip = createGunzip();
    const feed = (async () => {
      try {
        if (!gunzip.write(head)) await new Promise((r) => gunzip.once('drain', r));
        for (let n = await it.next(); !n.done; n = await it.next()) {
          if (!gunzip.write(n.value)) await new Promise((r) => gunzip.once('drain', r));
        }
        gunzip.end();
      } catch (e) { gunzip.destroy(e as Error); }
    })();
    try {
      for await (const b of gunzip) yield b as Buffer;
    } catch (e) {
      throw new FlowInputError('corrupt_gzip', `${name}: ${(e as Error).message}`);
    }
    await feed;
    return;
  }
  onCompressed(false);
  yield head;
  for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
}

/** Open one file (or "-") for reading as chunks. Errors surface as FlowInputError while iterating. */
export function openFlowFile(path: string, highWaterMark = 1 << 20): FlowFile {
  const name = path === '-' ? '<stdin>' : path;
  const file: FlowFile = {
    name,
    compressed: false,
    chunks: () => {
      const raw: Readable = path === '-' ? process.stdin : createReadStream(path, { highWaterMark });
      return (async function* () {
        try {
          yield* gunzipIfNeeded(raw, name, (c) => { file.compressed = c; });
        } catch (e) {
          if (e instanceof FlowInputError) throw e;
          throw new FlowInputError('unreadable_input', `${name}: ${(e as Error).message}`);
        }
      })();
    },
  };
  return file;
}

/** A line of a text input: `buf[start, end)` without the newline (and without a trailing CR). */
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
 * Split chunks into lines without copying except where a line straddles two
 * chunks. A line longer than `maxLine` bytes is not buffered whole (memory
 * stays bounded): `onTooLong` is told and the line is skipped.
 */
export async function* lines(
  chunks: AsyncIterable<Buffer>,
  maxLine = 1 << 20,
  onTooLong: (line: number, offset: number) => void = () => {},
): AsyncIterable<LineRef> {
  let carry: Buffer[] = [];
  let carryLen = 0;
  let skipping = false;
  let lineNo = 0;
  let offset = 0; // offset of the current line's start
  let base = 0; // file offset of chunk[0]
  const ref: LineRef = { buf: Buffer.alloc(0), start: 0, end: 0, line: 0, offset: 0 };
  const emit = (buf: Buffer, start: number, end: number): LineRef => {
    if (end > start && buf[end - 1] === 13) end--;
    ref.buf = buf; ref.start = start; ref.end = end; ref.line = lineNo; ref.offset = offset;
    return ref;
  };
  for await (const chunk of chunks) {
    let pos = 0;
    for (;;) {
      const nl = chunk.indexOf(10, pos);
      if (nl < 0) break;
      lineNo++;
      if (skipping) {
        skipping = false;
      } else if (carryLen > 0) {
        carry.push(chunk.subarray(pos, nl));
        const whole = Buffer.concat(carry, carryLen + nl - pos);
        carry = []; carryLen = 0;
        if (whole.length > maxLine) onTooLong(lineNo, offset);
        else yield emit(whole, 0, whole.length);
      } else if (nl - pos > maxLine) {
        onTooLong(lineNo, offset);
      } else {
        yield emit(chunk, pos, nl);
      }
      pos = nl + 1;
      offset = base + pos;
    }
    if (pos < chunk.length && !skipping) {
      carry.push(chunk.subarray(pos));
      carryLen += chunk.length - pos;
      if (carryLen > maxLine) {
        onTooLong(lineNo + 1, offset);
        carry = []; carryLen = 0; skipping = true;
      }
    }
    base += chunk.length;
  }
  if (carryLen > 0) {
    lineNo++;
    const whole = Buffer.concat(carry, carryLen);
    yield emit(whole, 0, whole.length);
  } else if (skipping) {
    lineNo++;
  }
}
