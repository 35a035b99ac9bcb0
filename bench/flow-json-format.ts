// The writer thread's cost per flow record: the Wasm formatter
// (asm/json/, sensor/flows/flow-json-wasm.ts) over synthetic IPFIX-like
// records (IPv4, TCP/UDP, random addresses and counters — every one a
// different flow, as in the worst case of the flow-record rows), against
// the readable object path it must match byte for byte (toFlowRecord +
// flowRecordJson). Not part of `npm run bench`'s table: a tool for working
// on the formatter.
//
//   node --import tsx bench/flow-json-format.ts [--records N] [--rounds R]
import { R, REC_SIZE, decodeRawFlow } from '../sensor/core/flow-record.ts';
import { WasmFlowJson } from '../sensor/flows/flow-json-wasm.ts';
import { flowRecordJson, toFlowRecord } from '../sensor/flows/zeek-record.ts';
import { LocalNets } from '../sensor/flows/local-nets.ts';
import { Rng } from '../sensor/sample/rng.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : dflt; };
const N = flag('--records', 200_000);
const ROUNDS = flag('--rounds', 10);

const rng = new Rng('flow-json-format-1');
const recs = new Uint8Array(N * REC_SIZE);
const dv = new DataView(recs.buffer);
for (let i = 0; i < N; i++) {
  const o = i * REC_SIZE;
  const ts = 1_700_000_000 + rng.int(0, 86_400_000) / 1000;
  dv.setFloat64(o + R.TS, ts, true);
  dv.setFloat64(o + R.LAST_TS, ts + rng.int(0, 5000) / 1000, true);
  for (const f of [R.ORIG_BYTES, R.ORIG_IP_BYTES, R.ORIG_WIRE_BYTES]) dv.setFloat64(o + f, rng.int(40, 1_500_000), true);
  for (const f of [R.RESP_BYTES, R.RESP_IP_BYTES, R.RESP_WIRE_BYTES]) dv.setFloat64(o + f, 0, true);
  dv.setFloat64(o + R.ORIG_PKTS, rng.int(1, 1000), true);
  dv.setFloat64(o + R.SERIAL, i + 1, true);
  recs[o + R.ORIG_H + 10] = 0xff; recs[o + R.ORIG_H + 11] = 0xff;
  recs[o + R.RESP_H + 10] = 0xff; recs[o + R.RESP_H + 11] = 0xff;
  dv.setUint32(o + R.ORIG_H + 12, (10 << 24) | rng.int(0, 0xffff));
  dv.setUint32(o + R.RESP_H + 12, rng.u32() | 1);
  dv.setUint16(o + R.ORIG_P, rng.int(1024, 65535), true);
  dv.setUint16(o + R.RESP_P, rng.pick([443, 80, 53]), true);
  recs[o + R.PROTO] = rng.pick([6, 17]);
  recs[o + R.IP_VERSION] = 4;
  recs[o + R.CONN_STATE] = 12;
  dv.setUint16(o + R.VLAN, 0xffff, true);
  dv.setUint16(o + R.INNER_VLAN, 0xffff, true);
  recs[o + R.END_REASON] = 0;
  recs[o + R.SOURCE] = 6;
  dv.setUint32(o + R.RECORDS, 1, true);
  dv.setUint32(o + R.SAMPLING, 1, true);
}

const localNets = new LocalNets();
const w = new WasmFlowJson({ localNets });
let bytes = 0;
const sink = (t: Uint8Array) => { bytes += t.length; };
w.format(recs, N, sink); // warm
let best = Infinity;
for (let r = 0; r < ROUNDS; r++) {
  const t0 = process.hrtime.bigint();
  w.format(recs, N, sink);
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / N);
}
const ctx = { localNets, communityIdSeed: 0, reporterName: () => '' };
const m = Math.min(N, 50_000);
let same = 0;
const check: string[] = [];
w.format(recs.subarray(0, m * REC_SIZE), m, (t) => check.push(Buffer.from(t).toString('latin1')));
const lines = check.join('').split('\n');
const t1 = process.hrtime.bigint();
for (let i = 0; i < m; i++) if (flowRecordJson(toFlowRecord(decodeRawFlow(dv, recs, i * REC_SIZE), ctx)) === lines[i]) same++;
const objNs = Number(process.hrtime.bigint() - t1) / m;
console.log(`Wasm formatter: ${best.toFixed(0)} ns/record (best of ${ROUNDS} rounds of ${N.toLocaleString('en')}), ${(bytes / (N * (ROUNDS + 1))).toFixed(0)} bytes/line`);
console.log(`object path:    ${objNs.toFixed(0)} ns/record (${(objNs / best).toFixed(1)}× slower); identical lines: ${same} of ${m}`);
if (same !== m) {
  console.error('the Wasm formatter and the object path disagree: the timing above is of a wrong formatter');
  process.exitCode = 1;
}
