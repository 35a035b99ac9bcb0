// Writing to a file descriptor the way every sink here needs it, and the
// counters every sink reports (Vector's received / sent / errors / discarded).
import { writeSync } from 'node:fs';

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
