// scratch: build the large state and print counts/timings (deleted before hand-over)
import { WasmCore } from '../sensor/core/wasm-core.ts';
import { Detector } from '../sensor/models/detector.ts';
import { EventPump } from '../sensor/pipeline/event-pump.ts';
import { atScale } from '../sensor/pipeline/memory-budget.ts';
import { FlowEvent, SOURCE, setV4 } from '../sensor/flowlogs/flow-event.ts';
import { imageBytes } from '../sensor/core/core-image.ts';
import { serialize } from 'node:v8';

const o = atScale(3);
const DEVICES = 100_000;
const SERVERS = 2000;
const EXTERNAL = 400_000;
const PAIRS = 5;
const C = DEVICES * PAIRS * 2;
const T0 = 1_700_000_000;
function hash(x: number): number { x = Math.imul(x ^ (x >>> 16), 0x85ebca6b); x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35); return (x ^ (x >>> 16)) >>> 0; }
const devAddr = (d: number) => (10 << 24) | (1 << 16) + d; // 10.1.0.0 +
const serverAddr = (s: number) => (10 << 24) | (200 << 16) | s;
const extAddr = (e: number) => ((34 << 24) + ((Math.imul(e, 0x9e3779b1) >>> 0) & 0xffffff)) >>> 0;

const core = new WasmCore(o.core);
core.enableEvents(o.events);
let breaches = 0;
const det = new Detector(core, { capacities: o.learn, maxKeys: o.maxKeys, onBreach: () => { breaches++; } });
const drain = (c: WasmCore) => { det.pull(c); c.drainRaw(() => {}); };
const pump = new EventPump(core, drain);
const ev = new FlowEvent();
function emit(c: number, ts: number, sport: number) {
  const d = Math.floor(c / (PAIRS * 2)), k = c % (PAIRS * 2), p = k >> 1, second = k & 1;
  ev.reset(SOURCE.zeek_conn);
  ev.start = ts; ev.end = ts + 2;
  setV4(ev.src, devAddr(d));
  let port: number;
  if (p < 2) { setV4(ev.dst, serverAddr(hash(d * 8 + p) % SERVERS)); port = p === 0 ? (second ? 443 : 445) : (second ? 80 : 443); }
  else { setV4(ev.dst, extAddr(hash(d * 8 + p + 1_000_000) % EXTERNAL)); port = second ? 80 : 443; }
  ev.srcPort = sport; ev.dstPort = port; ev.proto = 6;
  ev.pkts = 10; ev.bytes = 1500; ev.revPkts = 8; ev.revBytes = 6000; ev.bidir = true; ev.connState = 'SF';
  pump.emit(ev);
}
let t = performance.now();
const SPAN1 = 7200;
for (let i = 0; i < C; i++) {
  const c = (i * 611953) % C;
  emit(c, T0 + (i / C) * SPAN1, 32768 + (i % 28000));
}
pump.finish();
console.log('stream1', ((performance.now() - t) / 1000).toFixed(2), 's', 'breaches', breaches);
for (const tb of core.learnTables()) console.log(tb.name, tb.used, tb.active, tb.capacity, (tb.bytes / 2 ** 20).toFixed(1), tb.evictions);
console.log('memory', (core.memoryBytes() / 2 ** 20).toFixed(0), 'MiB');
t = performance.now();
const img = core.image();
console.log('image', (performance.now() - t).toFixed(0), 'ms', (imageBytes(img) / 2 ** 20).toFixed(0), 'MiB', img.chunks.length);
t = performance.now();
const st = serialize(det.saveState());
console.log('state', (performance.now() - t).toFixed(0), 'ms', (st.length / 2 ** 20).toFixed(1), 'MiB');
t = performance.now();
const inv = det.inventory(T0 + SPAN1);
console.log('inventory', (performance.now() - t).toFixed(0), 'ms', inv.length);
console.log('rss', (process.memoryUsage().rss / 2 ** 20).toFixed(0));
console.log(core.counters());
for (let r = 0; r < 3; r++) {
  let t1 = performance.now();
  const im = core.image();
  console.log('image again', (performance.now() - t1).toFixed(0), 'ms', im.chunks.length);
}
{
  const mem = (core as any).x.memory as WebAssembly.Memory;
  const words = new Int32Array(mem.buffer);
  let t1 = performance.now();
  let nz = 0;
  for (let i = 0; i < mem.buffer.byteLength / 65536; i++) {
    const w = i * 16384; let z = true;
    for (let j = w; j < w + 16384; j += 8) if ((words[j]! | words[j + 1]! | words[j + 2]! | words[j + 3]! | words[j + 4]! | words[j + 5]! | words[j + 6]! | words[j + 7]!) !== 0) { z = false; break; }
    if (!z) nz++;
  }
  console.log('scan only', (performance.now() - t1).toFixed(0), 'ms', nz);
  const u8 = new Uint8Array(mem.buffer);
  t1 = performance.now();
  const big = new Uint8Array(nz * 65536);
  console.log('alloc one', (performance.now() - t1).toFixed(0));
  t1 = performance.now();
  big.set(u8.subarray(0, nz * 65536));
  console.log('copy into one buffer', (performance.now() - t1).toFixed(0));
  t1 = performance.now();
  big.set(u8.subarray(0, nz * 65536));
  console.log('copy again (faulted)', (performance.now() - t1).toFixed(0));
  t1 = performance.now();
  const parts = [];
  for (let i = 0; i < nz; i++) parts.push(u8.slice(i * 65536, (i + 1) * 65536));
  console.log('slices', (performance.now() - t1).toFixed(0));
}
