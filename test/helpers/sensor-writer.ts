// A sensor stand-in for the multi-process test: writes breaches and its
// status into a state directory, batch after batch, while the test reads the
// same state from its own process. Prints "ready" after the first commit and
// "done N" (breaches stored) at the end, on stdout.
//   node --import tsx test/helpers/sensor-writer.ts DIR BATCHES PER_BATCH
import { openStateDb } from '../../sensor/state/state-db.ts';
import { BreachStore } from '../../sensor/state/breach-store.ts';
import { writeStatus } from '../../sensor/state/status-store.ts';
import { makeBreach } from './breach-fixtures.ts';

const [dir, batchesText, perText] = process.argv.slice(2);
const batches = Number(batchesText), per = Number(perText);
const db = openStateDb(dir!);
const store = new BreachStore(db);
const t0 = Date.parse('2024-05-01T00:00:00Z');
let n = 0;
for (let b = 0; b < batches; b++) {
  const batch = Array.from({ length: per }, () => { n++; return makeBreach(n, t0 + n * 1000, {}, 'w'); });
  await store.add(batch);
  await writeStatus(db, { updated_at: new Date().toISOString(), pid: process.pid, running: true, version: 'test', counters: { breaches: n } });
  if (b === 0) process.stdout.write('ready\n');
}
await writeStatus(db, { updated_at: new Date().toISOString(), pid: process.pid, running: false, version: 'test', counters: { breaches: n } });
process.stdout.write(`done ${store.count()}\n`);
await db.close();
