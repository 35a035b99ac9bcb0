// One sensor per state directory. LMDB keeps two writers' data consistent,
// but two sensors would interleave their snapshots (each restoring the
// other's), so the writing sensor holds `writer.lock` (its pid) while it
// runs. A lock whose process is gone (killed, crashed) is stale and taken
// over; the read-only commands never look at it.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { StateError } from './state-error.ts';

export const LOCK_FILE = 'writer.lock';

/** Whether process `pid` runs on this machine. */
export function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** The pid of the live sensor that holds the state's lock, or null (none, or its process is gone, or it is this process). */
export function lockHolder(dir: string): number | null {
  let pid = NaN;
  try { pid = Number(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()); } catch { return null; }
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid) ? pid : null;
}

/** Take the state's writer lock; throws StateError (IN_USE) when another live sensor holds it. Returns the release. */
export function acquireWriterLock(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let tries = 0; ; tries++) {
    try {
      const fd = openSync(path, 'wx');
      try { writeSync(fd, `${process.pid}\n`); } finally { closeSync(fd); }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0) {
        throw new StateError(`state directory ${dir}: cannot take its writer lock (${(e as Error).message})`, dir, 'OTHER', { cause: e });
      }
      const holder = lockHolder(dir);
      if (holder !== null) throw new StateError(`state directory ${dir} is in use by another sensor (pid ${holder}): run one sensor per state directory`, dir, 'IN_USE');
      try { unlinkSync(path); } catch { /* another taker was first: the next open says */ }
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    try { if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path); } catch { /* gone already */ }
  };
  process.once('exit', release);
  return release;
}
