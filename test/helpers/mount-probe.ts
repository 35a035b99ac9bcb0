// Runs inside a private mount namespace (unshare) where the test has mounted
// a read-only or a tiny filesystem, and reports as one JSON line on stdout
// what the state did there — real EROFS and ENOSPC, which chmod cannot
// produce for root.
//   node --import tsx test/helpers/mount-probe.ts read-only-fs DIR   (DIR: a state on a read-only mount)
//   node --import tsx test/helpers/mount-probe.ts disk-full DIR      (DIR: absent, on a small tmpfs)
import { join } from 'node:path';
import { openStateDb, StateError } from '../../sensor/state/state-db.ts';
import { BreachStore } from '../../sensor/state/breach-store.ts';
import { makeBreach } from './breach-fixtures.ts';

const [mode, dir] = process.argv.slice(2) as [string, string];
const failure = (e: unknown) => (e instanceof StateError ? { code: e.code, message: e.message } : { bug: String((e as Error)?.stack ?? e) });
const out: Record<string, unknown> = { mode };

if (mode === 'read-only-fs') {
  try { openStateDb(dir); out.writable = 'opened'; } catch (e) { out.writable = failure(e); }
  try { openStateDb(join(dir, 'new-state')); out.create = 'created'; } catch (e) { out.create = failure(e); }
  try {
    const db = openStateDb(dir, { readOnly: true });
    out.readOnly = { count: new BreachStore(db).count(), sensorId: db.sensorId };
    await db.close();
  } catch (e) { out.readOnly = failure(e); }
} else if (mode === 'disk-full') {
  const db = openStateDb(dir);
  const store = new BreachStore(db);
  let stored = 0;
  const t0 = Date.parse('2024-05-01T00:00:00Z');
  try {
    for (let b = 0; b < 10_000; b++) {
      const batch = Array.from({ length: 50 }, (_, i) => makeBreach(b * 50 + i, t0 + (b * 50 + i) * 1000, { summary: 'x'.repeat(2000) }));
      stored += (await store.add(batch)).added;
    }
    out.error = 'the disk never filled';
  } catch (e) { out.error = failure(e); }
  out.stored = stored;
  await db.close();
  const again = openStateDb(dir, { readOnly: true });
  const reread = new BreachStore(again);
  out.afterReopen = { count: reread.count(), history: [...reread.history()].length, outbox: reread.outboxSize() };
  await again.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
