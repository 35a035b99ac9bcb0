// scratch probe (deleted before hand-over)
import { WasmCore } from '../sensor/core/wasm-core.ts';
import { Detector } from '../sensor/models/detector.ts';
import { EventPump } from '../sensor/pipeline/event-pump.ts';
import { atScale } from '../sensor/pipeline/memory-budget.ts';
import { FlowEvent, SOURCE, setV4 } from '../sensor/flowlogs/flow-event.ts';
import { CHUNK_BYTES, imageBytes } from '../sensor/core/core-image.ts';
import { openStateDb } from '../sensor/state/state-db.ts';
import { writeSnapshot } from '../sensor/state/snapshot-store.ts';
import { serialize, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mkdtempSync, rmSync } from 'node:fs';
setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
const o = atScale(3);
const C = 1_000_000;
function hash(x: number): number { x = Math.imul(x ^ (x >>> 16), 0x85ebca6b); x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35); return (x ^ (x >>> 16)) >>> 0; }
const core = new WasmCore(o.core);
core.enableEvents(o.events);
const det = new Detector(core, { capacities: o.learn, maxKeys: o.maxKeys, onBreach: () => {} });
const pump = new EventPump(core, (c) => { det.pull(c); c.drainRaw(() => {}); });
const ev = new FlowEvent();
for (let i = 0; i < C; i++) {
  const c = (i * 611953) % C, d = Math.floor(c / 10), k = c % 10, p = k >> 1;
  ev.reset(SOURCE.zeek_conn); ev.start = 1.7e9 + i * 0.0072; ev.end = ev.start + 1;
  setV4(ev.src, 0x0a010000 + d);
  setV4(ev.dst, p < 2 ? 0x0ac80000 + hash(d * 8 + p) % 2000 : 0x22000000 + (Math.imul(hash(d * 8 + p + 7) % 400000, 0x9e3779b1) >>> 8));
  ev.srcPort = 32768 + (i % 28000); ev.dstPort = p === 0 ? (k & 1 ? 443 : 445) : (k & 1 ? 80 : 443); ev.proto = 6; ev.pkts = 10; ev.bytes = 1500; ev.bidir = true; ev.revPkts = 8; ev.revBytes = 6000; ev.connState = 'SF';
  pump.emit(ev);
}
pump.finish();
const mode = process.argv[2] ?? 'image';
if (mode === 'image') {
  for (let r = 0; r < 5; r++) {
    gc();
    const t = performance.now(); const img = core.image(); console.log('image', (performance.now() - t).toFixed(0), img.chunks.length);
  }
  // alternative: one pooled buffer reused
  const mem = (core as any).x.memory as WebAssembly.Memory;
  const pool = new Uint8Array(core.image().chunks.length * CHUNK_BYTES + 64 * CHUNK_BYTES);
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    const words = new Int32Array(mem.buffer), u8 = new Uint8Array(mem.buffer);
    let n = 0;
    for (let i = 0; i < mem.buffer.byteLength / CHUNK_BYTES; i++) {
      const w = i * 16384; let z = true;
      for (let j = w; j < w + 16384; j += 8) if ((words[j]! | words[j + 1]! | words[j + 2]! | words[j + 3]! | words[j + 4]! | words[j + 5]! | words[j + 6]! | words[j + 7]!) !== 0) { z = false; break; }
      if (z) continue;
      pool.set(u8.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES), n * CHUNK_BYTES); n++;
    }
    console.log('pooled copy', (performance.now() - t).toFixed(0), n);
  }
} else if (mode === 'state') {
  const st = det.saveState() as any;
  const sz = (x: unknown) => (serialize(x).length / 2 ** 20).toFixed(1);
  console.log('groupRows', st.groupRows?.length, sz(st.groupRows), 'byModel', sz(st.byModel), 'byDevice', sz(st.byDevice));
  const e = st.engine;
  console.log('risk', e.risk.size, sz(e.risk), 'meta', sz(e.meta));
  for (const m of e.models) { const s2 = sz(m); if (Number(s2) > 0.5) console.log(m.id, s2, 'windows', sz(m.windows), 'throttles', m.throttles.size, 'tail', sz(m.tail)); }
  console.log(JSON.stringify(e.models[0].windows, (k, v) => v instanceof Map ? `Map(${v.size})` : Array.isArray(v) && v.length > 5 ? `Array(${v.length})` : v).slice(0, 600));
} else if (mode === 'dirty') {
  const a = core.image();
  for (const n of [139, 8340, 139 * 600]) {
    for (let i = 0; i < n; i++) {
      const c = hash(i * 7 + n) % C, d = Math.floor(c / 10), k = c % 10, p = k >> 1;
      ev.reset(SOURCE.zeek_conn); ev.start = 1.7e9 + 7200 + i / 139; ev.end = ev.start + 1;
      setV4(ev.src, 0x0a010000 + d);
      setV4(ev.dst, p < 2 ? 0x0ac80000 + hash(d * 8 + p) % 2000 : 0x22000000 + (Math.imul(hash(d * 8 + p + 7) % 400000, 0x9e3779b1) >>> 8));
      ev.srcPort = 32768 + (i % 28000); ev.dstPort = k & 1 ? 443 : 80; ev.proto = 6; ev.pkts = 10; ev.bytes = 1500; ev.bidir = true; ev.revPkts = 8; ev.revBytes = 6000; ev.connState = 'SF';
      pump.emit(ev);
    }
    pump.finish();
    const b = core.image();
    const am = new Map(a.chunks.map((c) => [c.index, c.bytes]));
    let changed = 0;
    const t = performance.now();
    for (const c of b.chunks) { const o = am.get(c.index); if (!o || Buffer.compare(o, c.bytes) !== 0) changed++; }
    console.log('after', n, 'events: changed chunks', changed, 'of', b.chunks.length, 'compare ms', (performance.now() - t).toFixed(0));
  }
} else {
  const img = core.image();
  const state = new Uint8Array(serialize(det.saveState()));
  for (let r = 0; r < 1; r++) {
    const dir = mkdtempSync('/tmp/edge-sensor-probe-');
    const db = openStateDb(dir);
    for (let k = 0; k < 6; k++) {
      await new Promise((r) => setTimeout(r, 50));
      let body = 0;
      const t = performance.now();
      await db.write('x', () => { const t1 = performance.now(); writeSnapshot(db, { id: k, captureTs: null, packet: img, detection: { image: null, state }, checkpoint: { inputs: [] } }); body = performance.now() - t1; });
      console.log('write', k, (performance.now() - t).toFixed(0), 'body', body.toFixed(0), 'file', (db.usage().fileBytes / 2 ** 20).toFixed(0));
    }
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
