// Writes flow records as JSON lines to a file or stdout, batched into large
// synchronous writes. A closed pipe (`| head`) ends the sink quietly instead
// of killing the sensor; other write errors are counted and reported once.
import { closeSync, openSync, writeSync } from 'node:fs';

export interface SinkCounters { received: number; sent: number; errors: number; discarded: number }

export class JsonLinesSink {
  readonly counters: SinkCounters = { received: 0, sent: 0, errors: 0, discarded: 0 };
  private readonly fd: number;
  private readonly ownsFd: boolean;
  private pending: string[] = [];
  private pendingBytes = 0;
  private broken = false;

  constructor(readonly target: string, private readonly onError: (err: Error) => void = () => {}) {
    if (target === '-') { this.fd = 1; this.ownsFd = false; }
    else { this.fd = openSync(target, 'w'); this.ownsFd = true; }
  }

  write(line: string): void {
    this.counters.received++;
    if (this.broken) { this.counters.discarded++; return; }
    this.pending.push(line);
    this.pendingBytes += line.length + 1;
    if (this.pendingBytes >= 1 << 16) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0 || this.broken) return;
    const n = this.pending.length;
    const buf = Buffer.from(this.pending.join('\n') + '\n');
    this.pending = [];
    this.pendingBytes = 0;
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(this.fd, buf, off);
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
