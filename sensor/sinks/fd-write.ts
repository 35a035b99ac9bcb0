// Writing to a file descriptor the way every sink here needs it, and the
// counters every sink reports (Vector's received / sent / errors / discarded).
import { openSync, writeSync } from 'node:fs';

export interface SinkCounters { received: number; sent: number; errors: number; discarded: number }

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Write all of `buf`. stdout may be a non-blocking pipe: a slow reader makes
 * writeSync throw EAGAIN. Wait a moment and retry (as pino's sonic-boom
 * does) rather than drop records or spin. Other errors (EPIPE, ENOSPC) are
 * thrown for the caller to count.
 */
export function writeFully(fd: number, buf: Uint8Array): void {
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

/** An output target: "-" is standard output (not ours to close), anything else a file opened for writing now, so a bad path fails in the caller. */
export function openTarget(target: string): { fd: number; owned: boolean } {
  return target === '-' ? { fd: 1, owned: false } : { fd: openSync(target, 'w'), owned: true };
}

/**
 * The counters of a sink and the one policy every sink here follows: the
 * first failed write breaks the output (later items are discarded, counted);
 * a reader that closed the pipe (EPIPE) is its choice, not an error.
 */
export class SinkHealth {
  readonly counters: SinkCounters & { error?: string } = { received: 0, sent: 0, errors: 0, discarded: 0 };
  private broken = false;

  /** Write `items` items with `write` (which throws on failure), counted. */
  run(items: number, write: () => void): void {
    const c = this.counters;
    c.received += items;
    if (this.broken) { c.discarded += items; return; }
    try {
      write();
      c.sent += items;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      this.broken = true;
      c.discarded += items;
      if (err.code !== 'EPIPE') { c.errors++; c.error = err.message; }
    }
  }
}
