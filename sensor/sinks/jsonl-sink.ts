// Writes flow records as JSON lines to a file or stdout, batched into large
// synchronous writes. A closed pipe (`| head`) ends the sink quietly instead
// of killing the sensor; other write errors are counted and reported once.
import { closeSync, openSync, writeSync } from 'node:fs';

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * stdout may be a non-blocking pipe: a slow reader makes writeSync throw
 * EAGAIN. Wait a moment and retry (as pino's sonic-boom does) rather than
 * drop records or spin.
 */
export function writeFully(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(sleeper, 0, 0, 2);
    }
  }
}

export interface SinkCounters { received: number; sent: number; errors: number; discarded: number }

export class JsonLinesSink {
  readonly counters: SinkCounters = { received: 0, sent: 0, errors: 0, discarded: 0 };
  private readonly fd: number;
  private readonly ownsFd: boolean;
  // Lines go straight into one reused buffer (cheaper than joining strings).
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  private pendingLines = 0;
  private broken = false;

  constructor(readonly target: string, private readonly onError: (err: Error) => void = () => {}) {
    if (target === '-') { this.fd = 1; this.ownsFd = false; }
    else { this.fd = openSync(target, 'w'); this.ownsFd = true; }
  }

  write(line: string): void {
    this.counters.received++;
    if (this.broken) { this.counters.discarded++; return; }
    const bytes = Buffer.byteLength(line) + 1;
    if (this.used + bytes > this.buf.length) this.flush();
    if (bytes > this.buf.length) { this.writeOut(Buffer.from(line + '\n'), 1); return; }
    this.used += this.buf.write(line, this.used);
    this.buf[this.used++] = 10;
    this.pendingLines++;
  }

  flush(): void {
    if (this.pendingLines === 0 || this.broken) return;
    const n = this.pendingLines;
    const used = this.used;
    this.pendingLines = 0;
    this.used = 0;
    this.writeOut(this.buf.subarray(0, used), n);
  }

  private writeOut(buf: Buffer, n: number): void {
    try {
      writeFully(this.fd, buf);
      this.counters.sent += n;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      this.broken = true;
      this.counters.discarded += n;
      if (err.code !== 'EPIPE') { this.counters.errors++; this.onError(err); }
    }
  }

  close(): void {
    this.flush();
    if (this.ownsFd) closeSync(this.fd);
  }
}
