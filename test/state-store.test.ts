// The durable state (issue 5): an LMDB environment that is only read as the
// format it was written in, refuses directories that are not ours, keeps
// breaches once each with durable sequence numbers, an outbox acknowledged
// cumulatively, history pruned but never undelivered, and turns machine
// conditions (read-only filesystem, full disk, size limit) into one-line
// errors that leave what was stored readable. A second process reads while
// one writes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { DISK_RESERVE_BYTES, STATE_FORMAT_VERSION, StateError, StateFormatError, freshState, openStateDb } from '../sensor/state/state-db.ts';
import { BreachStore, DEFAULT_RETENTION_S } from '../sensor/state/breach-store.ts';
import { DeviceStore } from '../sensor/state/device-store.ts';
import { readStatus, writeStatus, type SensorStatus } from '../sensor/state/status-store.ts';
import { REPO_ROOT } from './helpers/shared-data.ts';
import { makeBreach, makeDevices } from './helpers/breach-fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'edge-state-'));
let dirs = 0;
const newDir = (name = 'state') => join(tmp, `${name}-${++dirs}`);
const T0 = Date.parse('2024-05-01T00:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

test.after(() => { rmSync(tmp, { recursive: true, force: true }); });

function throwsState(fn: () => unknown, code: string, re: RegExp): StateError {
  try {
    fn();
  } catch (e) {
    assert.instance(e, StateError, `expected a StateError, got ${String((e as Error)?.stack ?? e)}`);
    assert.is((e as StateError).code, code, (e as Error).message);
    assert.match((e as Error).message, re);
    assert.not.match((e as Error).message, /\n/, 'one line');
    return e as StateError;
  }
  assert.unreachable(`expected a StateError ${code}`);
  throw new Error('unreachable');
}

async function rejectsState(p: Promise<unknown>, code: string, re: RegExp): Promise<StateError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, StateError, `expected a StateError, got ${String((e as Error)?.stack ?? e)}`);
    assert.is((e as StateError).code, code, (e as Error).message);
    assert.match((e as Error).message, re);
    return e as StateError;
  }
  assert.unreachable(`expected a StateError ${code}`);
  throw new Error('unreachable');
}

/** Overwrite the format record with lmdb directly, as a future sensor would have written it. */
async function setFormat(dir: string, format: unknown): Promise<void> {
  const env = open(dir, { noSubdir: false, overlappingSync: false });
  await env.openDB('meta', { encoding: 'json' }).put('format', format);
  await env.close();
}

test('a new state: created with its directory, format 1 with a stable sensor id, all sub-databases', async () => {
  const dir = join(newDir('nested'), 'a', 'state');
  const db = openStateDb(dir);
  assert.is(db.dir, dir);
  assert.is(db.readOnly, false);
  assert.is(db.format.version, STATE_FORMAT_VERSION);
  assert.match(db.sensorId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(Number.isFinite(Date.parse(db.format.created_at)));
  assert.is(await db.write('storing a snapshot', () => {
    db.chunks.putSync(['packet', 12], Buffer.from([1, 2, 3]));
    db.snapshot.putSync('engine', { windows: [1, 2], t: 5 });
    return 'done';
  }), 'done');
  // a write that throws is not half-applied
  const failed = await db.write('a failing write', () => { db.snapshot.putSync('half', 1); throw new Error('bug'); }).then(() => null, (e: Error) => e);
  assert.is(failed?.message, 'bug', 'not a StateError: a bug stays a bug');
  assert.not.instance(failed, StateError);
  assert.is(db.snapshot.get('half'), undefined);
  const id = db.sensorId;
  await db.close();
  const again = openStateDb(dir);
  assert.is(again.sensorId, id, 'the sensor id is made once');
  assert.equal([...again.chunks.get(['packet', 12])!], [1, 2, 3]);
  assert.equal(again.snapshot.get('engine'), { windows: [1, 2], t: 5 });
  await again.close();
  const raw = open(dir, { noSubdir: false, readOnly: true });
  assert.equal([...raw.getKeys()].map(String).sort(), ['breach_time', 'breaches', 'chunks', 'devices', 'meta', 'outbox', 'snapshot']);
  await raw.close();
});

test('another format version is refused with what was found, what is read and the way out; --fresh-state moves it aside', async () => {
  const dir = newDir();
  const db = openStateDb(dir);
  await new BreachStore(db).add([makeBreach(1, T0)]);
  const oldId = db.sensorId;
  await db.close();
  await setFormat(dir, { version: 2, created_at: '2030-01-01T00:00:00Z', sensor_id: oldId });
  for (const readOnly of [false, true]) {
    const e = throwsState(() => openStateDb(dir, { readOnly }), 'FORMAT', /format version 2/);
    assert.instance(e, StateFormatError);
    assert.match(e.message, `reads format version ${STATE_FORMAT_VERSION}`);
    assert.match(e.message, `start fresh with --fresh-state (the old state is moved aside to ${dir}.old-<timestamp>)`);
    assert.is((e as StateFormatError).found, 2);
  }
  // an unreadable record is refused the same way
  await setFormat(dir, 'garbage');
  throwsState(() => openStateDb(dir), 'FORMAT', /unreadable format record.*--fresh-state/);

  const moved = freshState(dir, new Date('2024-05-01T12:34:56.789Z'));
  assert.is(moved, `${dir}.old-2024-05-01T123456.789Z`);
  assert.ok(existsSync(join(moved!, 'data.mdb')), 'the old state is kept, moved');
  assert.not.ok(existsSync(dir));
  const fresh = openStateDb(dir);
  assert.is.not(fresh.sensorId, oldId);
  assert.is(new BreachStore(fresh).count(), 0);
  await fresh.close();
  // moved twice in the same millisecond: not over the first
  const second = freshState(dir, new Date('2024-05-01T12:34:56.789Z'));
  assert.is(second, `${dir}.old-2024-05-01T123456.789Z-1`);
  assert.is(freshState(dir), null, 'nothing to move');
  mkdirSync(dir);
  assert.is(freshState(dir), null, 'an empty directory is nothing');
});

test('a directory that is not our state is refused and left untouched', async () => {
  // files, but no LMDB environment
  const files = newDir();
  mkdirSync(files);
  writeFileSync(join(files, 'notes.txt'), 'mine');
  for (const readOnly of [false, true]) throwsState(() => openStateDb(files, { readOnly }), 'NOT_STATE', /holds files but no LMDB environment \(no data\.mdb\)/);
  assert.equal(readdirSync(files), ['notes.txt']);
  throwsState(() => freshState(files), 'NOT_STATE', /refusing to move it/);
  assert.ok(existsSync(join(files, 'notes.txt')));

  // another program's LMDB environment
  const foreign = newDir();
  const env = open(foreign, { noSubdir: false });
  await env.openDB('users', {}).put('alice', { admin: true });
  await env.close();
  for (const readOnly of [false, true]) throwsState(() => openStateDb(foreign, { readOnly }), 'NOT_STATE', /LMDB environment that is not edge-sensor state \(it has "users"\)/);
  const check = open(foreign, { noSubdir: false, readOnly: true });
  assert.equal([...check.getKeys()].map(String), ['users'], 'no sub-database was added');
  await check.close();

  // a data.mdb that is not LMDB
  const garbage = newDir();
  mkdirSync(garbage);
  writeFileSync(join(garbage, 'data.mdb'), Buffer.alloc(16384, 7));
  for (const readOnly of [false, true]) throwsState(() => openStateDb(garbage, { readOnly }), 'NOT_STATE', /its data\.mdb is not an LMDB environment \(no LMDB header\)/);

  // an empty data.mdb (LMDB creates it so, then writes it): not yet state to a reader, a writer completes it
  const empty = newDir();
  mkdirSync(empty);
  writeFileSync(join(empty, 'data.mdb'), '');
  throwsState(() => openStateDb(empty, { readOnly: true }), 'ENOENT', /its data\.mdb is empty/);
  const completed = openStateDb(empty);
  assert.is(completed.format.version, STATE_FORMAT_VERSION);
  await completed.close();

  // a file, a missing directory read-only (not created), an empty one read-only
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'x');
  throwsState(() => openStateDb(file), 'ENOTDIR', /is not a directory/);
  const missing = newDir();
  throwsState(() => openStateDb(missing, { readOnly: true }), 'ENOENT', /no state at .*does not exist/);
  assert.not.ok(existsSync(missing));
  mkdirSync(missing);
  throwsState(() => openStateDb(missing, { readOnly: true }), 'ENOENT', /the directory is empty/);
});

test('breaches: stored once by id, sequence numbers monotonic and never reused, across reopen', async () => {
  const dir = newDir();
  let db = openStateDb(dir);
  let store = new BreachStore(db);
  const first = [1, 2, 3, 4, 5].map((n) => makeBreach(n, T0 + n * 1000));
  assert.equal(await store.add(first), { added: 5, duplicates: 0, seqs: [1, 2, 3, 4, 5] });
  // a restart re-processes the input: the same breaches again, plus new ones
  const replay = [...first, makeBreach(6, T0 + 6000), makeBreach(7, T0 + 7000)];
  assert.equal(await store.add(replay), { added: 2, duplicates: 5, seqs: [6, 7] });
  // a duplicate within one call
  assert.equal(await store.add([makeBreach(8, T0 + 8000), makeBreach(8, T0 + 8000)]), { added: 1, duplicates: 1, seqs: [8] });
  assert.equal(await store.add([]), { added: 0, duplicates: 0, seqs: [] });
  assert.is(store.count(), 8);
  assert.is(store.get(makeBreach(3, 0).id)!.seq, 3);
  await db.close();

  db = openStateDb(dir);
  store = new BreachStore(db);
  assert.equal((await store.add([makeBreach(2, T0 + 2000), makeBreach(9, T0 + 9000)])).seqs, [9], 'seq continues after reopen; old ids still known');
  // concurrent calls: distinct, contiguous
  const results = await Promise.all([10, 20, 30].map((base) => store.add([makeBreach(base, T0), makeBreach(base + 1, T0)])));
  assert.equal(results.flatMap((r) => r.seqs).sort((a, b) => a - b), [10, 11, 12, 13, 14, 15]);
  assert.is(db.meta.get('next_seq'), 16);
  // exactly what was given comes back
  assert.equal(store.get(makeBreach(7, 0).id)!.breach, makeBreach(7, T0 + 7000));
  await db.close();
});

test('outbox: pending in seq order, cumulative acknowledge, durable', async () => {
  const dir = newDir();
  let db = openStateDb(dir);
  let store = new BreachStore(db);
  await store.add(Array.from({ length: 8 }, (_, i) => makeBreach(i + 1, T0 + (8 - i) * 1000))); // times reversed: seq order is not time order
  assert.equal(store.pending().map((p) => p.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(store.pending(3).map((p) => p.breach.id), [1, 2, 3].map((n) => makeBreach(n, 0).id));
  assert.is(await store.acknowledge(3), 3);
  assert.is(store.outboxSize(), 5);
  assert.is(await store.acknowledge(3), 0, 'acknowledging again removes nothing');
  assert.is(store.pending()[0]!.seq, 4);
  assert.is(store.count(), 8, 'acknowledged breaches stay in the history');
  await db.close();
  db = openStateDb(dir);
  store = new BreachStore(db);
  assert.equal(store.pending().map((p) => p.seq), [4, 5, 6, 7, 8]);
  assert.is(await store.acknowledge(100), 5);
  assert.is(store.outboxSize(), 0);
  await db.close();
});

test('history: time order and every filter (since/until inclusive, score, model, device, limit)', async () => {
  const db = openStateDb(newDir());
  const store = new BreachStore(db);
  const all = Array.from({ length: 40 }, (_, i) => makeBreach(i, T0 + ((i * 7) % 40) * HOUR)); // added out of time order
  await store.add(all);
  const byTime = [...all].sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || (a.id < b.id ? -1 : 1));
  assert.equal([...store.history()], byTime);
  const since = T0 + 10 * HOUR, until = T0 + 20 * HOUR;
  const window = [...store.history({ since, until })];
  assert.equal(window, byTime.filter((b) => Date.parse(b.time) >= since && Date.parse(b.time) <= until));
  assert.is(window.length, 11, 'both ends inclusive');
  assert.equal([...store.history({ minScore: 90 })], byTime.filter((b) => b.score >= 90));
  assert.equal([...store.history({ model: 'port-scan' })], byTime.filter((b) => b.model === 'port-scan'));
  assert.equal([...store.history({ device: '10.0.0.5' })], byTime.filter((b) => b.device.ip === '10.0.0.5'));
  assert.equal([...store.history({ limit: 3 })], byTime.slice(0, 3));
  assert.equal([...store.history({ since, model: 'network-scan', limit: 2 })], byTime.filter((b) => Date.parse(b.time) >= since && b.model === 'network-scan').slice(0, 2));
  assert.equal([...store.history({ since: T0 + 100 * DAY })], []);
  await db.close();
});

test('prune: history past the retention goes, unacknowledged breaches stay however old', async () => {
  const db = openStateDb(newDir());
  const store = new BreachStore(db);
  const now = T0 + 60 * DAY;
  const old = Array.from({ length: 5200 }, (_, i) => makeBreach(i, T0 + i * 1000)); // 60 days old; more than one prune batch
  const recent = Array.from({ length: 10 }, (_, i) => makeBreach(10_000 + i, now - DAY + i * 1000));
  await store.add(old);
  await store.add(recent);
  await store.acknowledge(5100); // the last 100 old ones are not delivered yet
  assert.is(DEFAULT_RETENTION_S, 30 * 86400);
  assert.is(await store.prune(DEFAULT_RETENTION_S, now), 5100);
  assert.is(store.count(), 110);
  const left = [...store.history()];
  assert.equal(left.map((b) => b.id), [...old.slice(5100), ...recent].map((b) => b.id));
  assert.is([...db.breachTime.getKeys()].length, 110, 'the time index follows');
  assert.is(await store.prune(DEFAULT_RETENTION_S, now), 0);
  await store.acknowledge(1_000_000);
  assert.is(await store.prune(DEFAULT_RETENTION_S, now), 100, 'delivered now: pruned');
  assert.is(await store.prune(3600, now), 10, 'a shorter retention');
  assert.is(store.count(), 0);
  await db.close();
});

test('devices and status: replaced by address, listed in address order; status round trip', async () => {
  const dir = newDir();
  const db = openStateDb(dir);
  const devices = new DeviceStore(db);
  const rows = makeDevices();
  await devices.putDevices(rows);
  assert.equal(devices.list().map((d) => d.ip), ['10.0.0.2', '10.0.0.10', '192.168.1.1', '2001:db8::5']);
  const updated = { ...rows[0]!, last_seen: '2024-05-03T00:00:00.000Z', risk: 80, tags: [] };
  await devices.putDevices([updated]);
  assert.equal(devices.get('10.0.0.10'), updated);
  assert.is(devices.list().length, 4);
  assert.is(devices.get('10.9.9.9'), undefined);
  // a snapshot's inventory replaces the whole set: a device the table no longer holds goes
  await devices.replaceDevices([updated, rows[1]!]);
  assert.equal(devices.list().map((d) => d.ip).sort(), [rows[0]!.ip, rows[1]!.ip].sort());
  await devices.replaceDevices(rows);

  assert.is(readStatus(db), undefined);
  const status: SensorStatus = {
    updated_at: '2024-05-01T00:00:00.000Z', pid: 4242, running: true, version: '0.1.0',
    snapshot: { taken_at: '2024-05-01T00:00:00.000Z', capture_ts: '2024-04-30T23:59:59.000Z', bytes: 123456, duration_ms: 80, pause_ms: 4 },
    inputs: [{ name: 'eth0.pcap', offset: 99, done: false }],
    counters: { packets: 10 }, evictions: { flows: 2 }, tables: [{ name: 'flows', capacity: 131072, used: 100, evictions: 2 }],
  };
  await writeStatus(db, status);
  assert.equal(readStatus(db), status);
  await db.close();
  const ro = openStateDb(dir, { readOnly: true });
  assert.equal(readStatus(ro), status);
  assert.equal(new DeviceStore(ro).list().length, 4);
  await rejectsState(new DeviceStore(ro).putDevices(rows), 'READ_ONLY', /opened read-only/);
  await ro.close();
});

test('the size limit (MDB_MAP_FULL): a StateError, nothing half-written, the data before readable after reopen', async () => {
  const dir = newDir();
  const db = openStateDb(dir, { mapSizeBytes: 256 * 1024 });
  const store = new BreachStore(db);
  let stored = 0, batches = 0;
  let err: StateError | undefined;
  for (; batches < 200 && !err; batches++) {
    const batch = Array.from({ length: 20 }, (_, i) => makeBreach(batches * 20 + i, T0 + (batches * 20 + i) * 1000));
    try { stored += (await store.add(batch)).added; } catch (e) { err = e as StateError; }
  }
  assert.ok(err, 'the limit was reached');
  assert.instance(err, StateError);
  assert.is(err!.code, 'MDB_MAP_FULL');
  assert.match(err!.message, `state directory ${dir} is full (MDB_MAP_FULL): storing breaches would take its data past the size limit of 256.0 KiB: refused; the state kept so far is intact`);
  assert.ok(stored > 0 && stored % 20 === 0, `whole batches only (${stored})`);
  assert.is(store.count(), stored);
  assert.ok(db.usage().liveBytes <= 256 * 1024);
  // smaller writes still fit; the failed one consumed no sequence numbers
  assert.is(db.meta.get('next_seq'), stored + 1);
  await db.close();
  const again = openStateDb(dir);
  const reread = new BreachStore(again);
  assert.is(reread.count(), stored);
  assert.is([...reread.history()].length, stored);
  assert.equal(reread.pending().map((p) => p.seq), Array.from({ length: stored }, (_, i) => i + 1));
  assert.equal((await reread.add([makeBreach(999_999, T0)])).seqs, [stored + 1], 'without the limit, writing goes on');
  await again.close();
});

test('a second process reads consistent, growing state while another process writes', async () => {
  const dir = newDir();
  await openStateDb(dir).close(); // created here, so the reader never races the creation
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/sensor-writer.ts', dir, '60', '25'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (b) => { out += b; });
  child.stderr.on('data', (b) => { err += b; });
  const exited = new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
  const until = async (cond: () => boolean, what: string) => {
    const end = Date.now() + 15_000;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; writer stderr: ${err}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await until(() => out.includes('ready') || out.includes('done'), 'the writer');
  const reader = openStateDb(dir, { readOnly: true });
  const store = new BreachStore(reader);
  const seen: number[] = [];
  let running = true;
  void exited.then(() => { running = false; });
  while (running) {
    const count = store.count();
    // one snapshot per event turn: counts, index and outbox agree, whole batches only
    const history = [...store.history()];
    assert.is(history.length, count);
    assert.is(store.outboxSize(), count);
    assert.is(count % 25, 0, 'a batch is seen whole or not at all');
    if (seen.length === 0 || seen[seen.length - 1] !== count) seen.push(count);
    const status = readStatus(reader);
    assert.ok(status && status.pid === child.pid);
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.is(await exited, 0, err);
  assert.match(out, 'done 1500');
  await new Promise((r) => setImmediate(r)); // a new event turn: a fresh read snapshot
  assert.is(store.count(), 1500);
  assert.equal([...store.history()].map((b) => b.id), Array.from({ length: 1500 }, (_, i) => makeBreach(i + 1, 0, {}, 'w').id));
  assert.is(readStatus(reader)!.running, false);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, 'never goes back');
  assert.ok(seen.length >= 3, `the reader saw the state grow while it was written (${seen.join(', ')})`);
  if (process.env.STATE_TEST_VERBOSE) console.log(`  reader saw counts ${seen.join(', ')}`);
  await reader.close();
});

// Read-only filesystems and full disks, for real: a private mount namespace
// (unshare, as root or through a user namespace) with a read-only bind mount
// or a small tmpfs. chmod cannot stand in: root writes through it.
function unshareWorks(): boolean {
  const probe = join(tmp, 'probe-mount');
  mkdirSync(probe, { recursive: true });
  const r = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o size=1m tmpfs ${probe}`], { encoding: 'utf8' });
  return r.status === 0;
}
const CAN_MOUNT = unshareWorks();
function skipNoMount(what: string): boolean {
  if (CAN_MOUNT) return false;
  console.log(`  [skip] ${what}: needs "unshare -rm" and mount (user and mount namespaces) to make a real read-only or full filesystem`);
  return true;
}

function probeIn(setup: string, args: string[]): Record<string, any> {
  const cmd = `${setup} && exec "${process.execPath}" --import tsx test/helpers/mount-probe.ts ${args.map((a) => `'${a}'`).join(' ')}`;
  const r = spawnSync('unshare', ['-rm', 'sh', '-c', cmd], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.is(r.status, 0, `probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('a read-only filesystem: writing refused with EROFS in one line, reading still works', async () => {
  if (skipNoMount('read-only filesystem')) return;
  const dir = newDir();
  const db = openStateDb(dir);
  await new BreachStore(db).add([makeBreach(1, T0), makeBreach(2, T0)]);
  const id = db.sensorId;
  await db.close();
  const mnt = newDir('ro-mount');
  mkdirSync(mnt);
  const r = probeIn(`mount --bind '${dir}' '${mnt}' && mount -o remount,ro,bind '${mnt}'`, ['read-only-fs', mnt]);
  assert.equal(r.writable, { code: 'EROFS', message: `state directory ${mnt} is on a read-only filesystem (EROFS): cannot keep state there` });
  assert.equal(r.create, { code: 'EROFS', message: `state directory ${join(mnt, 'new-state')} is on a read-only filesystem (EROFS): cannot keep state there` });
  assert.equal(r.readOnly, { count: 2, sensorId: id });
});

test('a full disk: writing refused with ENOSPC in one line, everything stored before readable after reopen', async () => {
  if (skipNoMount('full disk')) return;
  const mnt = newDir('tmpfs');
  mkdirSync(mnt);
  const r = probeIn(`mount -t tmpfs -o size=4m tmpfs '${mnt}'`, ['disk-full', join(mnt, 'state')]);
  assert.is(r.error.code, 'ENOSPC', JSON.stringify(r));
  assert.match(r.error.message, `the disk holding state directory ${join(mnt, 'state')} is full (ENOSPC:`);
  assert.match(r.error.message, 'storing breaches refused; the state kept so far is intact');
  assert.ok(r.stored > 0);
  assert.equal(r.afterReopen, { count: r.stored, history: r.stored, outbox: r.stored });
  assert.ok(DISK_RESERVE_BYTES > 0);
});

test('add() of 1,000 breaches: one durable transaction that keeps the event loop turning', async () => {
  const db = openStateDb(newDir());
  const store = new BreachStore(db);
  await store.add([makeBreach(0, T0)]); // warm up
  const batch = Array.from({ length: 1000 }, (_, i) => makeBreach(i + 1, T0 + i * 1000));
  let ticks = 0, maxGap = 0, last = performance.now();
  const timer = setInterval(() => { const t = performance.now(); maxGap = Math.max(maxGap, t - last); last = t; ticks++; }, 1);
  const t0 = performance.now();
  const r = await store.add(batch);
  const ms = performance.now() - t0;
  clearInterval(timer);
  assert.is(r.added, 1000);
  assert.ok(ms < 2000, `add(1000) took ${ms.toFixed(1)} ms`);
  assert.ok(maxGap < 250, `the event loop was blocked ${maxGap.toFixed(1)} ms`);
  await db.close();
});

test.run();
