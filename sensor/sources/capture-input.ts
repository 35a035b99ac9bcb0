// Opens one capture input — a file path or "-" for standard input — and
// works out what it is: gzip is unwrapped transparently, then the capture
// format is read from the magic number (or forced by --format).
import { createReadStream, fstatSync, openSync, readSync, closeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { CaptureFormat } from '../core/wasm-core.ts';
import { FileByteSource, StreamByteSource, type ByteSource } from './byte-source.ts';
import { sniffMagic } from './capture-format.ts';

export interface CaptureInput {
  name: string;
  source: ByteSource;
  format: CaptureFormat;
  compressed: boolean;
}

export class InputError extends Error {
  constructor(readonly kind: string, message: string) { super(message); }
}

/** Read until `n` bytes arrived or the stream ended; leaves the stream paused. */
function peekStream(stream: Readable, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let have = 0;
    const done = () => {
      stream.off('data', onData); stream.off('end', done); stream.off('error', onErr);
      stream.pause();
      resolve(Buffer.concat(parts));
    };
    const onData = (b: Buffer) => { parts.push(b); have += b.length; if (have >= n) done(); };
    const onErr = (e: Error) => { stream.off('data', onData); stream.off('end', done); reject(e); };
    stream.on('data', onData); stream.once('end', done); stream.once('error', onErr);
  });
}

/**
 * @param onStreamError  errors after opening (a corrupt gzip body, a broken
 *   pipe): the input ends there, the bytes before it still count.
 */
export async function openCaptureInput(
  path: string,
  forced: CaptureFormat | 'auto',
  onStreamError: (err: Error) => void,
): Promise<CaptureInput> {
  const name = path === '-' ? '<stdin>' : path;
  let stream: Readable | null = null;
  let head: Buffer;
  let fd = -1;
  if (path === '-') {
    stream = process.stdin;
    head = await peekStream(stream, 4);
  } else {
    try {
      fd = openSync(path, 'r');
      if (fstatSync(fd).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      throw new InputError('unreadable_input', `${name}: ${(e as Error).message}`);
    }
    head = Buffer.alloc(4);
    const n = readSync(fd, head, 0, 4, 0);
    head = head.subarray(0, n);
  }

  let compressed = false;
  if (sniffMagic(head).kind === 'gzip') {
    compressed = true;
    const raw: Readable = stream ?? createReadStream('', { fd, autoClose: true });
    const gunzip = createGunzip();
    if (stream) gunzip.write(head);
    raw.pipe(gunzip);
    raw.on('error', (e) => gunzip.destroy(e));
    stream = gunzip;
    try {
      head = await peekStream(gunzip, 4);
    } catch (e) {
      throw new InputError('corrupt_gzip', `${name}: ${(e as Error).message}`);
    }
  }

  const sniffed = sniffMagic(head);
  let format: CaptureFormat;
  if (forced !== 'auto') format = forced;
  else if (sniffed.kind === 'capture') format = sniffed.format;
  else {
    if (stream) stream.destroy(); else if (fd >= 0) closeSync(fd);
    const hex = Buffer.from(head).toString('hex') || 'empty';
    throw new InputError('unknown_format', `${name}: not a pcap or pcapng capture (starts with ${hex})`);
  }

  const source: ByteSource = stream ? new StreamByteSource(stream, onStreamError, head) : new FileByteSource(fd, 0);
  return { name, source, format, compressed };
}
