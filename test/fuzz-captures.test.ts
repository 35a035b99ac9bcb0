// Mutation fuzzing of the capture path: real captures from ../shared/data,
// damaged at random (seeded) — flipped bytes, extreme length fields,
// truncation, inserted garbage, spliced duplicates — run through the Wasm
// core. Every case must end (no hang, no trap, no exception), keep memory at
// its init size, never invent packets, and never lose the records that lie
// wholly before the first damaged byte.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, statSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Rng } from '../sensor/sample/rng.ts';
import { CONN_STATES } from '../sensor/core/flow-record.ts';
import { WasmCore } from '../sensor/core/wasm-core.ts';
import { needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';
import { runCoreBytes } from './helpers/core-run.ts';

const CASES = Number(process.env.FUZZ_CASES ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const CORE_OPTS = { flowCapacity: 1024, fragCapacity: 256, outputRecords: 256, chunkBytes: 1 << 16 };

interface Mutated { bytes: Uint8Array; firstDamage: number; kind: string }

const EXTREMES = [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 0xffff, 0x10000, 0x40000, 16, 24];

function mutate(rng: Rng, src: Uint8Array): Mutated {
  const kind = rng.pick(['flip', 'word', 'truncate', 'insert', 'splice', 'zero', 'header']);
  let b = Uint8Array.from(src);
  let firstDamage = b.length;
  const at = () => rng.int(0, Math.max(0, b.length - 1));
  switch (kind) {
    case 'flip': {
      const n = rng.int(1, 16);
      for (let i = 0; i < n; i++) { const p = at(); b[p]! ^= 1 << rng.int(0, 7); firstDamage = Math.min(firstDamage, p); }
      break;
    }
    case 'word': {
      const p = Math.max(0, at() & ~3);
      const v = rng.pick(EXTREMES);
      for (let i = 0; i < 4 && p + i < b.length; i++) b[p + i] = (v >>> (8 * i)) & 0xff;
      firstDamage = p;
      break;
    }
    case 'truncate': {
      const p = at();
      b = b.subarray(0, p);
      firstDamage = p;
      break;
    }
    case 'insert': {
      const p = at();
      const g = new Uint8Array(rng.int(1, 4096));
      for (let i = 0; i < g.length; i++) g[i] = rng.int(0, 255);
      const out = new Uint8Array(b.length + g.length);
      out.set(b.subarray(0, p)); out.set(g, p); out.set(b.subarray(p), p + g.length);
      b = out; firstDamage = p;
      break;
    }
    case 'splice': {
      const from = at(), len = rng.int(1, 2048), p = at();
      const piece = b.slice(from, from + len);
      const out = new Uint8Array(b.length + piece.length);
      out.set(b.subarray(0, p)); out.set(piece, p); out.set(b.subarray(p), p + piece.length);
      b = out; firstDamage = p;
      break;
    }
    case 'zero': {
      const p = at(), len = rng.int(1, 512);
      b.fill(0, p, p + len);
      firstDamage = p;
      break;
    }
    case 'header': {
      // the file header: link type, snaplen, byte-order magic, version
      const p = rng.int(0, Math.min(27, b.length - 1));
      b[p] = rng.int(0, 255);
      firstDamage = 0;
      break;
    }
  }
  return { bytes: b, firstDamage, kind };
}

/** Offsets at which each record of a classic pcap ends (for the no-loss check). */
function pcapRecordEnds(b: Uint8Array): number[] | null {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 24) return null;
  const magic = dv.getUint32(0, true);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else return null;
  const ends: number[] = [];
  let p = 24;
  while (p + 16 <= b.length) {
    const cap = dv.getUint32(p + 8, le);
    if (cap > 262144 || p + 16 + cap > b.length) break;
    p += 16 + cap;
    ends.push(p);
  }
  return ends;
}

/**
 * The cases run in a worker thread so that a hang inside Wasm (which no
 * timer on the same thread can interrupt) is caught by a watchdog that
 * terminates the worker and names the case it was stuck on.
 */
function runCases(progress: Int32Array): void {
  const files = sharedFiles('pcap', (p) => /\.(pcap|pcapng|cap)$/.test(p) && statSync(p).size < 400_000 && statSync(p).size > 24);
  assert.ok(files.length > 50, `found ${files.length} seed captures`);
  const seeds = files.map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(sharedPath(f))) }));
  const rng = new Rng(SEED);
  const kinds = new Map<string, number>();
  const initMemory = new WasmCore(CORE_OPTS).memoryBytes();
  for (let i = 0; i < CASES; i++) {
    const seed = rng.pick(seeds);
    const m = mutate(rng, seed.bytes);
    kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
    const format = seed.bytes[0] === 0x0a ? 'pcapng' : 'pcap';
    const where = `case ${i} (${m.kind} of ${seed.name}, first damage at ${m.firstDamage})`;
    Atomics.store(progress, 0, i);
    let run;
    try {
      run = runCoreBytes(m.bytes, format, CORE_OPTS);
    } catch (e) {
      assert.unreachable(`${where}: threw ${(e as Error).message}`);
      return;
    }
    assert.is(run.core.memoryBytes(), initMemory, `${where}: memory grew`);
    const c = run.counters;
    let pkts = 0, wire = 0;
    for (const f of run.flows) {
      assert.ok(Number.isFinite(f.ts) && Number.isFinite(f.lastTs) && f.lastTs >= f.ts, `${where}: flow times`);
      assert.ok(CONN_STATES.includes(f.connState), `${where}: conn_state`);
      assert.ok(f.origPkts + f.respPkts >= 1, `${where}: empty flow`);
      pkts += f.origPkts + f.respPkts;
      wire += f.origWireBytes + f.respWireBytes;
    }
    assert.ok(pkts <= c.records!, `${where}: ${pkts} packets in flows but only ${c.records} records read`);
    assert.ok(wire <= c.wire_bytes!, `${where}: flows hold more wire bytes than were read`);
    assert.ok(c.capture_bytes! <= m.bytes.length, `${where}: consumed more bytes than the input has`);
    if (format === 'pcap' && m.firstDamage >= 24) {
      const ends = pcapRecordEnds(seed.bytes) ?? [];
      const intact = ends.filter((e) => e <= m.firstDamage).length;
      assert.ok(c.records! >= intact, `${where}: ${c.records} records read but ${intact} lie before the damage`);
    }
  }
  assert.ok(kinds.size >= 6, 'every mutation kind exercised');
}

const WATCHDOG_MS = Number(process.env.FUZZ_WATCHDOG_MS ?? 240_000);

if (!isMainThread && workerData?.fuzz) {
  try {
    runCases(new Int32Array(workerData.progress as SharedArrayBuffer));
    parentPort!.postMessage({ ok: true });
  } catch (e) {
    parentPort!.postMessage({ ok: false, message: (e as Error).message });
  }
} else {
  test(`${CASES} mutated captures: no crash, no hang, bounded memory, no invented or lost packets`, async () => {
    if (!needSharedData('capture fuzzing')) return;
    const progress = new SharedArrayBuffer(4);
    const worker = new Worker(new URL('../sensor/core/ts-worker.mjs', import.meta.url), { workerData: { fuzz: true, progress, entry: import.meta.url } });
    const result = await new Promise<{ ok: boolean; message?: string }>((resolve) => {
      const timer = setTimeout(() => {
        const i = Atomics.load(new Int32Array(progress), 0);
        void worker.terminate();
        resolve({ ok: false, message: `hung for ${WATCHDOG_MS} ms at case ${i} (FUZZ_SEED=${SEED})` });
      }, WATCHDOG_MS);
      worker.once('message', (m) => { clearTimeout(timer); void worker.terminate(); resolve(m); });
      worker.once('error', (e) => { clearTimeout(timer); resolve({ ok: false, message: e.message }); });
    });
    assert.ok(result.ok, result.message);
  });
  test.run();
}
