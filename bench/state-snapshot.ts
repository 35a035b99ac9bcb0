// Snapshots of a large learned state, a section of `npm run bench` (issue 5:
// "`npm run bench` reports snapshot size and duration for a large state
// (e.g. 100k devices, 1M channels), restore time, and the ingestion pause a
// snapshot causes. Target: snapshot of such a state in under 1 s with
// ingestion continuing, restore in under 2 s.").
//
// The state is built in this process, seeded: ~100,000 internal devices
// (10.1.0.0/15), each with five peers (two of 2,000 internal servers, three
// of 400,000 internet addresses) on two ports each — ~500,000 pairs and
// ~1,000,000 channels — as 1,000,000 connections over two hours of capture
// time, then a lead-in of the continuing traffic so that the flow-record
// merger holds the flows of its lateness window, as it does while input
// flows. The events go through the real path of a flow-record input
// (EventPump → the core's flow-event merger → learning and models) with the
// tables of `--memory` at 8× the defaults (atScale(3): devices 2^17,
// endpoints and pairs 2^20, channels 2^21). Then, best of N:
//   image    core.image() (the copy the packet thread makes: the pause), the
//            detector's state serialized, the device inventory (with inline
//            detection the packet thread builds both for the snapshot too);
//   write    the snapshot (writeSnapshot in one StateDb.write transaction,
//            synced) into fresh state directories, then over and over into
//            one of them: data.mdb grows for two more, then stays (the steady
//            state);
//   restore  readSnapshot, a core set up as before, core.restore, the
//            detector's loadState — checked: the tables and counters equal
//            the state's;
//   ingest   500,000 more connections (--events; the channels already known,
//            the next hour) into cores restored from the state, through
//            StateKeeper and the state writer thread as `analyze --state` runs them,
//            with none and with a snapshot every 0.5 s (every ~0.5 s only when
//            the writer has finished the last one) — into a fresh state
//            directory (the first snapshot a sensor ever writes: data.mdb
//            grows) and into the steady-state directory the write step left
//            (every later snapshot of a running sensor) — taking turns; with
//            detection in the packet thread and in its own thread (the
//            default).
//
//   npx tsx bench/state-snapshot.ts [--runs N (3)] [--events N (500000)] [--no-write]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { imageBytes, type CoreImage } from '../sensor/core/core-image.ts';
import { WasmCore, type LearnTableStats } from '../sensor/core/wasm-core.ts';
import { FlowEvent, SOURCE, setV4 } from '../sensor/flowlogs/flow-event.ts';
import { logger } from '../sensor/log/logger.ts';
import { Detector } from '../sensor/models/detector.ts';
import { openDetection, type DetectionStage } from '../sensor/pipeline/detection-stage.ts';
import { EventPump } from '../sensor/pipeline/event-pump.ts';
import { atScale } from '../sensor/pipeline/memory-budget.ts';
import { StateKeeper } from '../sensor/pipeline/state-keeper.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { readSnapshot, writeSnapshot, type SnapshotParts } from '../sensor/state/snapshot-store.ts';
import { openStateDb } from '../sensor/state/state-db.ts';
import { writeResultsSection } from './measure.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => { const i = args.indexOf(name); return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt; };
const RUNS = Math.max(1, Number(flag('--runs', '3')));
const EVENTS = Math.max(10_000, Number(flag('--events', '500000')));
const WRITE = !args.includes('--no-write');
const SEED = 'edge-sensor-state-1';
/** The issue's targets. */
const SNAPSHOT_TARGET_MS = 1000;
const RESTORE_TARGET_MS = 2000;
/** Wall seconds between snapshots while ingesting (StateOptions.everyS). */
const EVERY_S = 0.5;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
const temps: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'edge-sensor-bench-state-')); temps.push(d); return d; };
const removeTemps = () => { for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true }); };
process.on('exit', removeTemps);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { removeTemps(); process.exit(130); });

// ---------------------------------------------------------------- the network

const DEVICES = 100_000;
const SERVERS = 2_000;
const EXTERNAL = 400_000;
const PAIRS_PER_DEVICE = 5;
/** channels: every device × peer × 2 ports */
const CHANNELS = DEVICES * PAIRS_PER_DEVICE * 2;
const T0 = Date.UTC(2025, 0, 6, 8) / 1000; // a Monday, 08:00 UTC
const SPAN_BUILD = 7200;
/** capture seconds of the continuing traffic per EVENTS connections (the next hour) */
const SPAN_MORE = 3600;
/** the continuing traffic the state is built with: the merger's lateness window (600 s) and gap (120 s) of it, so it holds its pending flows as it does while input flows */
const LEAD_IN_S = 900;

/** a fixed 32-bit mix (the peers of a device) */
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
const deviceAddr = (d: number) => ((10 << 24) | (1 << 16)) + d; // 10.1.0.0 + d
const serverAddr = (s: number) => (10 << 24) | (200 << 16) | s; // 10.200.0.0 + s
/** 34.0.0.0/8, the addresses spread by an odd multiplier (a bijection mod 2^24) */
const externalAddr = (e: number) => ((34 << 24) + ((Math.imul(e, 0x9e3779b1) >>> 0) & 0xffffff)) >>> 0;

/** Channel c: device c / 10, its peer (c % 10) >> 1 and one of that peer's two ports. */
function channelEvent(ev: FlowEvent, c: number, ts: number, sport: number): void {
  const d = Math.floor(c / (PAIRS_PER_DEVICE * 2)), k = c % (PAIRS_PER_DEVICE * 2), p = k >> 1, second = k & 1;
  ev.reset(SOURCE.zeek_conn);
  ev.start = ts;
  ev.end = ts + 1.5;
  setV4(ev.src, deviceAddr(d));
  let port: number;
  if (p === 0) { setV4(ev.dst, serverAddr(mix(d * 8) % SERVERS)); port = second ? 443 : 445; }
  else if (p === 1) { setV4(ev.dst, serverAddr(mix(d * 8 + 1) % SERVERS)); port = second ? 80 : 443; }
  else { setV4(ev.dst, externalAddr(mix(d * 8 + p + 0x5bd1e995) % EXTERNAL)); port = second ? 80 : 443; }
  ev.srcPort = sport;
  ev.dstPort = port;
  ev.proto = 6;
  ev.pkts = 12; ev.bytes = 1800; ev.revPkts = 10; ev.revBytes = 9000; ev.bidir = true;
  ev.payloadBytes = 1140; ev.revPayloadBytes = 8480;
  ev.connState = 'SF';
}

/** The connections, in time order: channel, time, source port. */
interface Stream { channel: Int32Array; ts: Float64Array; sport: Uint16Array }

function streams(): { build: Stream; more: Stream } {
  const rng = new Rng(SEED);
  // every channel once, in an order spread over all devices (611953 is prime, so i ↦ i·611953 mod C is a permutation)
  const n1 = CHANNELS;
  const lead = Math.round(EVENTS * LEAD_IN_S / SPAN_MORE);
  const n2 = lead + EVENTS;
  const b: Stream = { channel: new Int32Array(n1 + lead), ts: new Float64Array(n1 + lead), sport: new Uint16Array(n1 + lead) };
  const m: Stream = { channel: new Int32Array(EVENTS), ts: new Float64Array(EVENTS), sport: new Uint16Array(EVENTS) };
  for (let i = 0; i < n1; i++) {
    b.channel[i] = (i * 611953) % CHANNELS;
    b.ts[i] = T0 + (i / n1) * SPAN_BUILD;
    b.sport[i] = 32768 + rng.int(0, 28231);
  }
  // the continuing traffic: channels already known, at random, over the next hour (per EVENTS)
  for (let i = 0; i < n2; i++) {
    const s = i < lead ? b : m, j = i < lead ? n1 + i : i - lead;
    s.channel[j] = rng.int(0, CHANNELS - 1);
    s.ts[j] = T0 + SPAN_BUILD + (i / EVENTS) * SPAN_MORE;
    s.sport[j] = 32768 + rng.int(0, 28231);
  }
  return { build: b, more: m };
}

// ---------------------------------------------------------------- cores

const SCALE = 3;
const O = atScale(SCALE);
const SETUP = { capacities: O.learn, maxKeys: O.maxKeys };

type Mode = 'inline' | 'thread';

/** The core(s) and detector as the pipeline sets them up for a flow-record input with --state (events enabled first). */
function buildCores(mode: Mode): { packet: WasmCore; learner: WasmCore; detector: Detector; drain: (c: WasmCore) => void } {
  const packet = new WasmCore(O.core);
  packet.enableEvents(O.events);
  if (mode === 'inline') {
    const detector = new Detector(packet, { ...SETUP, onBreach: () => {} });
    return { packet, learner: packet, detector, drain: (c) => { detector.pull(c); c.drainRaw(() => {}); } };
  }
  // the detection thread's core (detection-thread.ts), fed in this thread as the ring would feed it
  packet.enableLearnLog();
  const learner = new WasmCore({ flowCapacity: 16, fragCapacity: 16, chunkBytes: 1 << 16, outputRecords: packet.outputCapacity });
  const detector = new Detector(learner, { ...SETUP, onBreach: () => {} });
  return {
    packet, learner, detector,
    drain: (c) => { c.takeLearnBatch((l, records, n) => { if (l.length || n) detector.pullShipped(l, records, n); }); c.drainRaw(() => {}); },
  };
}

function feed(pump: EventPump, s: Stream, from = 0, to = s.channel.length): void {
  const ev = new FlowEvent();
  for (let i = from; i < to; i++) {
    channelEvent(ev, s.channel[i]!, s.ts[i]!, s.sport[i]!);
    pump.emit(ev);
  }
}

interface Built {
  mode: Mode;
  packetImage: CoreImage;
  learnerImage: CoreImage | null;
  state: Uint8Array;
  tables: LearnTableStats[];
  counters: Record<string, number>;
  memoryBytes: number;
  buildS: number;
}

// ---------------------------------------------------------------- measurements

const ms = (t0: number) => performance.now() - t0;
const best = (xs: number[]) => Math.min(...xs);
const worst = (xs: number[]) => Math.max(...xs);
const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
const f0 = (n: number) => n.toFixed(0);
const int = (n: number) => Math.round(n).toLocaleString('en');
const sameTables = (a: LearnTableStats[], b: LearnTableStats[]) => JSON.stringify(a.map((t) => [t.name, t.used, t.active, t.evictions])) === JSON.stringify(b.map((t) => [t.name, t.used, t.active, t.evictions]));

interface ImageTimes { imageMs: number[]; reusedMs: number[]; stateMs: number[]; inventoryMs: number[]; chunks: number; stateBytes: number; devices: number }

function measureImage(b: { packet: WasmCore; detector: Detector }, now: number): ImageTimes {
  const out: ImageTimes = { imageMs: [], reusedMs: [], stateMs: [], inventoryMs: [], chunks: 0, stateBytes: 0, devices: 0 };
  for (let r = 0; r < RUNS; r++) {
    gc();
    let t = performance.now();
    const img = b.packet.image();
    out.imageMs.push(ms(t));
    out.chunks = img.chunks.length;
    // the steady state: the state writer hands each written image's buffers back for the next
    const spare = img.chunks.map((c) => c.bytes);
    t = performance.now();
    b.packet.image(spare);
    out.reusedMs.push(ms(t));
    t = performance.now();
    const st = serialize(b.detector.saveState());
    out.stateMs.push(ms(t));
    out.stateBytes = st.length;
    t = performance.now();
    out.devices = b.detector.inventoryRaw(now).count; // the learning thread's part; the state writer formats the rows
    out.inventoryMs.push(ms(t));
  }
  return out;
}

interface WriteTimes { firstMs: number[]; growingMs: number[]; steadyMs: number[]; bytes: number; fileBytes: number[]; diskBytes: number; dir: string }

/**
 * The snapshot written into RUNS fresh state directories (the first
 * snapshot), then over and over into the first of them: LMDB cannot reuse
 * the pages of the two latest commits, so data.mdb grows for two more
 * snapshots, after which each reuses the pages freed two commits back (the
 * steady state, RUNS writes).
 */
async function measureWrite(built: Built): Promise<WriteTimes> {
  const out: WriteTimes = { firstMs: [], growingMs: [], steadyMs: [], bytes: 0, fileBytes: [], diskBytes: 0, dir: '' };
  const parts: SnapshotParts = {
    id: 1, captureTs: null, packet: built.packetImage, detection: { image: null, state: built.state },
    checkpoint: { inputs: [{ name: 'synthetic', identity: { size: 0, head: '' }, done: false }] },
  };
  const bytesHint = imageBytes(built.packetImage) + built.state.length;
  let id = 1;
  const write = async (db: ReturnType<typeof openStateDb>): Promise<number> => {
    gc();
    const t = performance.now();
    const rec = await db.write('writing a snapshot', () => writeSnapshot(db, { ...parts, id: id++ }), { bytesHint });
    out.bytes = rec.bytes;
    return ms(t);
  };
  let keep: ReturnType<typeof openStateDb> | null = null;
  for (let r = 0; r < RUNS; r++) {
    const dir = tempDir();
    const db = openStateDb(dir);
    out.firstMs.push(await write(db));
    out.fileBytes.push(db.usage().fileBytes);
    if (r === 0) { keep = db; out.dir = dir; } else { await db.close(); rmSync(dir, { recursive: true, force: true }); }
  }
  for (let k = 0; k < 2; k++) { out.growingMs.push(await write(keep!)); out.fileBytes.push(keep!.usage().fileBytes); }
  for (let k = 0; k < RUNS; k++) { out.steadyMs.push(await write(keep!)); out.fileBytes.push(keep!.usage().fileBytes); }
  out.diskBytes = keep!.usage().diskBytes;
  await keep!.close();
  return out;
}

interface RestoreTimes { readMs: number[]; setupMs: number[]; restoreMs: number[]; loadMs: number[]; totalMs: number[]; ok: boolean; problem: string }

async function measureRestore(dir: string, built: Built): Promise<RestoreTimes> {
  const out: RestoreTimes = { readMs: [], setupMs: [], restoreMs: [], loadMs: [], totalMs: [], ok: true, problem: '' };
  for (let r = 0; r < RUNS; r++) {
    gc();
    const t0 = performance.now();
    // as StateKeeper.open: open the state, read the last snapshot, close
    const db = openStateDb(dir);
    let saved;
    try { saved = readSnapshot(db); } finally { await db.close(); }
    const t1 = performance.now();
    const c = buildCores('inline');
    const t2 = performance.now();
    if (!saved?.packetImage || !saved.detection) throw new Error('no snapshot read back');
    c.packet.restore(saved.packetImage);
    const t3 = performance.now();
    c.detector.loadState(deserialize(saved.detection.state));
    const t4 = performance.now();
    out.readMs.push(t1 - t0); out.setupMs.push(t2 - t1); out.restoreMs.push(t3 - t2); out.loadMs.push(t4 - t3); out.totalMs.push(t4 - t0);
    const tables = c.packet.learnTables();
    const counters = c.packet.counters();
    if (!sameTables(tables, built.tables)) { out.ok = false; out.problem = 'learning tables differ after restore'; }
    if (JSON.stringify(counters) !== JSON.stringify(built.counters)) { out.ok = false; out.problem = 'counters differ after restore'; }
  }
  return out;
}

interface IngestRun { ms: number; snapshots: number; pauseMaxMs: number; writeMaxMs: number; longestBatchMs: number; tables: LearnTableStats[]; error?: string }

/**
 * One timed ingest of the continuing traffic into cores restored from the
 * state, through StateKeeper (snapshots every EVERY_S, or none) and the
 * detection stage the pipeline opens: `analyze --state DIR` in miniature.
 */
async function ingest(built: Built, more: Stream, snapshots: boolean, dir: string): Promise<IngestRun> {
  gc();
  const packet = new WasmCore(O.core);
  packet.enableEvents(O.events);
  // (the keeper reads the directory's snapshot, if any, before the clock starts; the cores are restored from `built` below)
  const keeper = await StateKeeper.open({ dir, everyS: snapshots ? EVERY_S : 1e9 }, logger(), built.mode === 'thread');
  const detection = openDetection(packet, {
    ...SETUP,
    ...(built.mode === 'inline' ? { onBreach: () => {}, inlineDetection: true } : { breachesTo: '/dev/null' }),
    // a copy: v8.deserialize returns typed arrays that are views into the bytes it is given (when aligned), so the
    // restored detector's window stores would write into built.state and the next run would restore a corrupted state
    state: { writer: keeper.writer, restore: { image: built.learnerImage, state: built.state.slice() } },
  }) as DetectionStage;
  packet.restore(built.packetImage);
  const drain = (c: WasmCore) => { detection.pull(c); c.drainRaw(() => {}); };
  let longest = 0, last = 0;
  // after each batch reaches the core, as analyze's flow-record path does (keeper.afterEvents: there with the file's checkpoint)
  const pump = new EventPump(packet, drain, () => {}, () => {
    if (keeper.due) keeper.snapshotNow(packet, detection, packet.eventClock());
    const now = performance.now();
    if (now - last > longest) longest = now - last;
    last = now;
  });
  keeper.trackReporters(pump.reporters);
  const t0 = performance.now();
  last = t0;
  feed(pump, more);
  pump.finish();
  const took = ms(t0);
  const summary = await keeper.finish(packet, detection, packet.eventClock(), false);
  const det = await detection.finish(packet.eventClock(), logger());
  return {
    ms: took, snapshots: summary.snapshots.written, pauseMaxMs: summary.snapshots.pause_ms_max, writeMaxMs: summary.snapshots.max_ms,
    longestBatchMs: longest, tables: det.tables, ...(summary.error ? { error: summary.error } : {}),
  };
}

interface IngestTimes { off: IngestRun; fresh: IngestRun; on: IngestRun; same: boolean }

/**
 * Best (fastest) of RUNS each, taking turns: without snapshots, with them
 * into a fresh state directory, and with them into the steady-state
 * directory `steadyDir` (`on`: what a running sensor's snapshots cost).
 */
async function measureIngest(built: Built, more: Stream, steadyDir: string): Promise<IngestTimes> {
  const offAll: IngestRun[] = [], freshAll: IngestRun[] = [], onAll: IngestRun[] = [];
  for (let r = 0; r < RUNS; r++) {
    const scratch = [tempDir(), tempDir()];
    offAll.push(await ingest(built, more, false, scratch[0]!));
    freshAll.push(await ingest(built, more, true, scratch[1]!));
    onAll.push(await ingest(built, more, true, steadyDir));
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
    log(`  ${built.mode} run ${r + 1}: without ${(offAll[r]!.ms / 1000).toFixed(2)} s, with (fresh state) ${(freshAll[r]!.ms / 1000).toFixed(2)} s, with (steady state) ${(onAll[r]!.ms / 1000).toFixed(2)} s; ` +
      `transactions ${f0(freshAll[r]!.writeMaxMs)} / ${f0(onAll[r]!.writeMaxMs)} ms`);
  }
  const fastest = (xs: IngestRun[]) => xs.reduce((a, b) => (b.ms < a.ms ? b : a));
  const same = [...offAll, ...freshAll, ...onAll].every((x) => sameTables(x.tables, offAll[0]!.tables));
  return { off: fastest(offAll), fresh: fastest(freshAll), on: fastest(onAll), same };
}

// ---------------------------------------------------------------- main

function build(mode: Mode, s: Stream): { built: Built; cores: ReturnType<typeof buildCores> } {
  const t = performance.now();
  const cores = buildCores(mode);
  const pump = new EventPump(cores.packet, cores.drain);
  feed(pump, s);
  pump.push(); // the lead-in's flows stay pending in the merger, as while input flows
  const buildS = ms(t) / 1000;
  const built: Built = {
    mode, packetImage: cores.packet.image(), learnerImage: mode === 'thread' ? cores.learner.image() : null,
    state: new Uint8Array(serialize(cores.detector.saveState())),
    tables: cores.learner.learnTables(), counters: cores.learner.counters(), memoryBytes: cores.learner.memoryBytes(), buildS,
  };
  return { built, cores };
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadStart = loadavg();
  log(`building the state: ${int(DEVICES)} devices, ${int(CHANNELS)} channels (seed ${SEED}; tables of --memory at scale ${2 ** SCALE}×)`);
  const { build: s1, more } = streams();
  let first: ReturnType<typeof build> | null = build('inline', s1);
  const inline = first.built;
  const tb = (name: string) => inline.tables.find((t) => t.name === name)!;
  log(`  built in ${inline.buildS.toFixed(1)} s: ${inline.tables.slice(0, 6).map((t) => `${t.name} ${int(t.used)}`).join(', ')}`);

  log(`image: core.image(), the detector's state, the device inventory (best of ${RUNS})`);
  const img = measureImage(first.cores, T0 + SPAN_BUILD + LEAD_IN_S);
  first = null; // the built cores are not needed any more: their image and state are
  gc();

  log(`write: the snapshot into fresh state directories, then over and over into one (best of ${RUNS})`);
  const wr = await measureWrite(inline);
  log(`restore: readSnapshot, a core set up, restore, loadState (best of ${RUNS})`);
  const rs = await measureRestore(wr.dir, inline);
  // wr.dir stays: the steady-state directory the ingest runs snapshot into (as a running sensor's)
  gc();

  log(`ingest ${int(EVENTS)} more connections, detection in the packet thread, without and with snapshots every ${EVERY_S} s (best of ${RUNS}, taking turns)`);
  const ingInline = await measureIngest(inline, more, wr.dir);
  gc();

  log('building the state again with detection in its own thread (the default)');
  const threadBuilt = build('thread', s1).built;
  gc();
  log(`ingest ${int(EVENTS)} more connections, detection in its thread, without and with snapshots (best of ${RUNS}, taking turns)`);
  const ingThread = await measureIngest(threadBuilt, more, wr.dir);
  rmSync(wr.dir, { recursive: true, force: true });
  const loadEnd = loadavg();
  const runS = ms(started) / 1000;

  // ---- report
  const snapshotMs = best(img.imageMs) + best(img.stateMs) + best(wr.firstMs);
  const steadyMs = best(img.reusedMs) + best(img.stateMs) + best(wr.steadyMs); // steady: the image into the buffers handed back
  const fileMax = worst(wr.fileBytes);
  const met = (v: number, target: number) => (v < target ? 'yes' : '**no**');
  const pauseInline = best(img.imageMs) + best(img.stateMs) + best(img.inventoryMs);
  const imageMiB = imageBytes(inline.packetImage) / 2 ** 20;
  const rows: string[][] = [
    ['core.image(): the copy of the memory in use (the packet thread\'s pause), into new buffers (the first snapshot)', `${f0(best(img.imageMs))} ms (worst ${f0(worst(img.imageMs))})`, `${int(img.chunks)} chunks of 64 KiB = ${imageMiB.toFixed(0)} MiB of ${mib(inline.memoryBytes)}`, '', ''],
    ['core.image() into the buffers of the image before (every later snapshot: the writer hands them back once written)', `${f0(best(img.reusedMs))} ms (worst ${f0(worst(img.reusedMs))})`, 'no page faults for fresh memory', '', ''],
    ['detector state: v8.serialize(saveState())', `${f0(best(img.stateMs))} ms (worst ${f0(worst(img.stateMs))})`, `${(img.stateBytes / 2 ** 20).toFixed(1)} MiB`, '', ''],
    ['device inventory: the raw rows the learning thread copies (the state writer formats them)', `${f0(best(img.inventoryMs))} ms`, `${int(img.devices)} rows`, '', ''],
    ['LMDB: the first snapshot, into a fresh state (one transaction, synced)', `${f0(best(wr.firstMs))} ms (worst ${f0(worst(wr.firstMs))})`, `${mib(wr.bytes)} (the record's bytes: chunks + detector state)`, '', ''],
    ['LMDB: the 2nd and 3rd over it (every chunk replaced; data.mdb grows)', `${wr.growingMs.map(f0).join(' ms, ')} ms`, `data.mdb ${wr.fileBytes.slice(RUNS - 1, RUNS + 2).map((b) => f0(b / 2 ** 20)).join(' → ')} MiB`, '', ''],
    ['LMDB: the steady state (4th on: pages of two snapshots back reused)', `${f0(best(wr.steadyMs))} ms (worst ${f0(worst(wr.steadyMs))})`, `data.mdb stays ${mib(fileMax)}; the state dir takes ${mib(wr.diskBytes)} on disk`, '', ''],
    ['**snapshot** = image + detector state + first write', `${f0(snapshotMs)} ms`, '', '< 1 s', met(snapshotMs, SNAPSHOT_TARGET_MS)],
    ['**snapshot**, steady state (image into the buffers handed back + detector state + the steady LMDB write)', `${f0(steadyMs)} ms`, '', '< 1 s', met(steadyMs, SNAPSHOT_TARGET_MS)],
    ['restore: open the state + readSnapshot', `${f0(best(rs.readMs))} ms`, '', '', ''],
    ['restore: a core and detector set up as before', `${f0(best(rs.setupMs))} ms`, '', '', ''],
    ['restore: core.restore(image)', `${f0(best(rs.restoreMs))} ms`, '', '', ''],
    ['restore: detector.loadState(deserialize(state))', `${f0(best(rs.loadMs))} ms`, '', '', ''],
    ['**restore** (total, process start excluded)', `${f0(best(rs.totalMs))} ms (worst ${f0(worst(rs.totalMs))})`, rs.ok ? 'tables and counters as saved' : `**${rs.problem}**`, '< 2 s', met(best(rs.totalMs), RESTORE_TARGET_MS)],
  ];
  const ingestRow = (label: string, r: IngestTimes, note: string): string[][] => {
    const lostOf = (x: IngestRun) => (x.snapshots > 0 ? `${f0((x.ms - r.off.ms) / x.snapshots)} ms of ingestion lost per snapshot` : 'no snapshot');
    const whole = (x: IngestRun) => x.pauseMaxMs + x.writeMaxMs;
    const failed = [r.fresh, r.on].map((x) => x.error).filter(Boolean);
    return [
      [`ingest ${int(EVENTS)} connections, ${label}: without snapshots → with one every ${EVERY_S} s into a fresh state → into the steady-state one`,
        `${(r.off.ms / 1000).toFixed(2)} s → ${(r.fresh.ms / 1000).toFixed(2)} s → ${(r.on.ms / 1000).toFixed(2)} s`,
        `${r.on.snapshots} snapshot${r.on.snapshots === 1 ? '' : 's'} taken (the next waits for the writer): ${lostOf(r.fresh)} (fresh), ${lostOf(r.on)} (steady)${note}${failed.length ? `; writer failed: ${failed.join('; ')}` : ''}${r.same ? '' : '; **the tables differ between runs**'}`, '', ''],
      [`  ${label}: the packet thread's pause per snapshot (StateKeeper's pause_ms_max)`, `${f0(r.on.pauseMaxMs)} ms`, 'of the fastest steady-state run', '', ''],
      [`  ${label}: longest batch of 1,024 events, without → with snapshots`, `${f0(r.off.longestBatchMs)} ms → ${f0(r.on.longestBatchMs)} ms`, 'the longest the packet thread went without taking input (steady state)', '', ''],
      [`  ${label}: the writer thread's snapshot transaction while ingesting, fresh → steady state`, `${f0(r.fresh.writeMaxMs)} ms → ${f0(r.on.writeMaxMs)} ms`, 'StateWriter stats.max_ms (fresh: data.mdb grows by the whole snapshot)', '', ''],
      r.fresh.snapshots > 0
        ? [`  **first snapshot with ingestion continuing**, ${label} (pause + transaction, fresh state)`, `${f0(whole(r.fresh))} ms`, 'once per state directory', '< 1 s', met(whole(r.fresh), SNAPSHOT_TARGET_MS)]
        : [`  **first snapshot with ingestion continuing**, ${label}`, '–', 'no snapshot was taken while ingesting (a larger --events)', '< 1 s', '?'],
      r.on.snapshots > 0
        ? [`  **snapshot with ingestion continuing**, ${label} (pause + transaction, steady state)`, `${f0(whole(r.on))} ms`, 'every later snapshot', '< 1 s', met(whole(r.on), SNAPSHOT_TARGET_MS)]
        : [`  **snapshot with ingestion continuing**, ${label}`, '–', 'no snapshot was taken while ingesting (a larger --events)', '< 1 s', '?'],
    ];
  };
  rows.push(...ingestRow('detection in the packet thread', ingInline, ''),
    ...ingestRow('detection in its thread (default)', ingThread, '; both times include the detection thread\'s start and restore (the longest batch without snapshots)'));
  const table = [
    '| measure | time | size / note | target | met? |',
    '|---|--:|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  const stateRows = [
    '| table | entries in use | active slots | capacity | MiB | evictions |',
    '|---|--:|--:|--:|--:|--:|',
    ...inline.tables.filter((t) => t.used > 0).map((t) => `| ${t.name} | ${int(t.used)} | ${int(t.active)} | ${int(t.capacity)} | ${(t.bytes / 2 ** 20).toFixed(1)} | ${int(t.evictions)} |`),
  ];
  const verdict: string[] = [];
  const live = ([['detection inline', ingInline], ['detection in its thread', ingThread]] as const)
    .filter(([, r]) => r.on.snapshots > 0).map(([label, r]) => ({ label, ms: r.on.pauseMaxMs + r.on.writeMaxMs }));
  const liveFirst = ([['detection inline', ingInline], ['detection in its thread', ingThread]] as const)
    .filter(([, r]) => r.fresh.snapshots > 0).map(([label, r]) => `${f0(r.fresh.pauseMaxMs + r.fresh.writeMaxMs)} ms (${label})`);
  if (snapshotMs >= SNAPSHOT_TARGET_MS || steadyMs >= SNAPSHOT_TARGET_MS || live.some((x) => x.ms >= SNAPSHOT_TARGET_MS)) {
    verdict.push(`the snapshot target (< 1 s) is **not met**: ${f0(snapshotMs)} ms (first) / ${f0(steadyMs)} ms (steady state) alone${live.length ? `, ${live.map((x) => `${f0(x.ms)} ms (${x.label})`).join(' / ')} with ingestion continuing (steady state)` : ''}`);
  } else {
    verdict.push(`the snapshot target (< 1 s) is met in the steady state, alone (${f0(steadyMs)} ms) and with ingestion continuing (${live.map((x) => `${f0(x.ms)} ms, ${x.label}`).join('; ')})`);
  }
  if (liveFirst.length) verdict.push(`a state directory's first snapshot with ingestion continuing: ${liveFirst.join(' / ')}`);
  verdict.push(best(rs.totalMs) < RESTORE_TARGET_MS ? 'the restore target (< 2 s) is met' : `the restore target (< 2 s) is **not met**: ${f0(best(rs.totalMs))} ms`);
  const pauseNote = `with detection in the packet thread a snapshot stops ingestion for ${f0(ingInline.on.pauseMaxMs)} ms at worst (image ${f0(best(img.imageMs))} + detector state ${f0(best(img.stateMs))} + inventory ${f0(best(img.inventoryMs))} ms at best: ${f0(pauseInline)} ms)`;
  const load = `load average ${loadStart.map((x) => x.toFixed(2)).join(' / ')} (1/5/15 min) at start, ${loadEnd.map((x) => x.toFixed(2)).join(' / ')} at the end, ${cpus().length} cores${loadStart[0]! > 0.5 * cpus().length || loadEnd[0]! > 0.5 * cpus().length ? ' — other work was running: expect noise' : ''}`;
  const head = `state snapshots: ${int(tb('devices').used)} devices, ${int(tb('endpoints').used)} endpoints, ${int(tb('pairs').used)} pairs, ${int(tb('channels').used)} channels; core memory in use ${imageMiB.toFixed(0)} MiB — best of ${RUNS}; ${load}; ${runS.toFixed(0)} s`;
  process.stdout.write(`\n${head}\n\n${table.join('\n')}\n\n${stateRows.join('\n')}\n\n${verdict.join('; ')}; ${pauseNote}.\n`);
  if (WRITE) {
    writeResultsSection(root, '## State snapshots (bench/state-snapshot.ts)', [
      `A learned state built in the process (seed \`${SEED}\`): ${int(DEVICES)} internal devices and their ${int(SERVERS)} servers, each device with five peers on two ports — ` +
      `${int(CHANNELS)} connections over two hours of capture time and ${LEAD_IN_S / 60} minutes more, as flow events through the flow-record path with learning and every model on, ` +
      `the tables of \`--memory\` at ${2 ** SCALE}× the defaults (devices ${int(O.learn.devices!)}, endpoints ${int(O.learn.endpoints!)}, pairs ${int(O.learn.pairs!)}, channels ${int(O.learn.channels!)}). ` +
      `Best of ${RUNS}; ${load}. Then ${int(EVENTS)} more connections (the same channels, the next hour) are ingested into cores restored from the state through StateKeeper and the state writer thread, ` +
      `without snapshots and with one every ${EVERY_S} s (the next waits until the writer has finished the last) into a fresh state directory and into the steady-state directory of the write step, taking turns.`,
      '',
      ...table,
      '',
      `The state (learning tables in use; ${mib(inline.memoryBytes)} of core memory reserved, ${imageMiB.toFixed(0)} MiB of it in use — the image):`,
      '',
      ...stateRows,
      '',
      `${verdict.join('; ')}; ${pauseNote}.`,
    ]);
    log('appended to bench/RESULTS.md');
  }
  log(`done in ${runS.toFixed(0)} s`);
}

await main();
