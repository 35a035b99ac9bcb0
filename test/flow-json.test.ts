// The writer thread's Wasm formatter (asm/json/, sensor/flows/flow-json-wasm.ts)
// must write exactly what the readable object path writes (toFlowRecord +
// flowRecordJson, which the other tests check field by field): compared here
// record by record over real and generated captures and over synthetic
// records that reach every optional field and edge (IPv6 zero runs, counters
// past 2^32, impossible times). The reference's community_id uses node:crypto,
// so this also checks the formatter's own SHA-1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WasmCore } from '../sensor/core/wasm-core.ts';
import { R, REC_SIZE, RF_FLIPPED, RF_HAS_MAC, RF_INTERIM, decodeRawFlow } from '../sensor/core/flow-record.ts';
import { WasmFlowJson } from '../sensor/flows/flow-json-wasm.ts';
import { flowRecordJson, toFlowRecord } from '../sensor/flows/zeek-record.ts';
import { LocalNets } from '../sensor/flows/local-nets.ts';
import { parseAddress } from '../sensor/flows/ip-address.ts';
import { flushCore, pumpCapture } from '../sensor/pipeline/capture-pump.ts';
import { openCaptureInput } from '../sensor/sources/capture-input.ts';
import { writeSampleCapture } from '../sensor/sample/sample-capture.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { SF_DEDUPED, SF_LATE, SF_PAIRED, SOURCE } from '../sensor/flowlogs/flow-event.ts';
import { needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';

const reporters = ['', 'eni-0a1b2c3d', 'exporter "10.0.0.1"/0 \\ é'];
const ctx = { localNets: new LocalNets(), communityIdSeed: 0, reporterName: (id: number) => reporters[id] ?? '' };

type Ctx = typeof ctx | { localNets: LocalNets; communityIdSeed: number; reporterName: (id: number) => string };

/** Everything the Wasm formatter writes for recs[0, n), as one string. */
function wasmText(recs: Uint8Array, n: number, c: Ctx, opts: { batchRecords?: number; outBytes?: number } = {}): string {
  const w = new WasmFlowJson({ localNets: c.localNets, communityIdSeed: c.communityIdSeed, ...opts });
  reporters.forEach((_, id) => { const name = c.reporterName(id); if (name !== '') w.setReporter(id, name); });
  const parts: string[] = [];
  w.format(recs, n, (text) => parts.push(Buffer.from(text).toString('latin1')));
  return parts.join('');
}

/**
 * Compare both paths on every record of a batch; returns the number
 * compared. Small record and output regions make the formatter stop and
 * resume mid-batch, the way a long batch does.
 */
function compareBatch(recs: Uint8Array, n: number, what: string, c: Ctx = ctx): number {
  const dv = new DataView(recs.buffer, recs.byteOffset, recs.byteLength);
  const want: string[] = [];
  for (let i = 0; i < n; i++) want.push(flowRecordJson(toFlowRecord(decodeRawFlow(dv, recs, i * REC_SIZE), c)) + '\n');
  for (const opts of [{}, { batchRecords: 7, outBytes: 65536 }]) {
    const got = wasmText(recs, n, c, opts).split(/(?<=\n)/).filter((l) => l !== '');
    assert.is(got.length, n, `${what}: ${got.length} lines for ${n} records`);
    for (let i = 0; i < n; i++) if (got[i] !== want[i]) assert.fixture(got[i]!, want[i]!, `${what}: record ${i}`);
  }
  return n;
}

async function captureRecords(path: string): Promise<{ recs: Uint8Array; n: number }> {
  const core = new WasmCore({});
  const parts: Uint8Array[] = [];
  let n = 0;
  const drain = (c: WasmCore) => c.drainRaw((b, k) => { parts.push(b.slice()); n += k; });
  const input = await openCaptureInput(path, 'auto', () => {});
  try { await pumpCapture(core, input, drain, () => {}); } finally { input.source.close(); }
  flushCore(core, drain);
  return { recs: Buffer.concat(parts), n };
}

test('same bytes as the object path over a generated enterprise capture', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flow-json-'));
  try {
    const path = join(dir, 's.pcap');
    writeSampleCapture(path, { packets: 30_000, seed: 'flow-json' });
    const { recs, n } = await captureRecords(path);
    assert.ok(n > 500, `${n} flows`);
    compareBatch(recs, n, 'sample');
    // another local-nets list and a community id seed
    compareBatch(recs, n, 'sample/seeded', { localNets: new LocalNets(['8.0.0.0/8', '2001:db8::/32']), communityIdSeed: 513, reporterName: () => '' });
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('same bytes as the object path over every shared capture', async () => {
  if (!needSharedData('flow-json over shared captures')) return;
  let total = 0;
  for (const rel of sharedFiles('pcap', (p) => /\.(pcap|pcapng|cap)(\.gz)?$/.test(p))) {
    let r;
    try { r = await captureRecords(sharedPath(rel)); } catch { continue; } // not a capture: other tests cover it
    total += compareBatch(r.recs, r.n, rel);
  }
  assert.ok(total > 1000, `${total} records compared`);
});

test('synthetic records reach every optional field, flow-record sources included', () => {
  const rng = new Rng('flow-json-synthetic');
  const n = 3000;
  const recs = new Uint8Array(n * REC_SIZE);
  const dv = new DataView(recs.buffer);
  const addrs = ['10.1.2.3', '8.8.8.8', '0.0.0.0', '255.255.255.255', 'fd00::1', '2001:db8::1:0:0:1', '::', 'fe80::1'].map((a) => parseAddress(a)!);
  for (let i = 0; i < n; i++) {
    const o = i * REC_SIZE;
    const v6 = rng.float() < 0.3;
    // IPv6: fixed addresses or random words with zero runs of every length (RFC 5952 "::" choice)
    const randomV6 = () => { const b = new Uint8Array(16); for (let k = 0; k < 8; k++) if (rng.float() < 0.5) { const w = rng.float() < 0.5 ? Math.floor(rng.float() * 16) : Math.floor(rng.float() * 65536); b[2 * k] = w >> 8; b[2 * k + 1] = w & 0xff; } return b; };
    const pick = () => { if (v6 && rng.float() < 0.5) return randomV6(); const c = addrs.filter((a) => (a.version === 6) === v6); return c[Math.floor(rng.float() * c.length)]!.bytes; };
    recs.set(pick(), o + R.ORIG_H); recs.set(pick(), o + R.RESP_H);
    recs[o + R.IP_VERSION] = v6 ? 6 : 4;
    recs[o + R.PROTO] = [6, 17, 1, 58, 132, 47, 0, 255][Math.floor(rng.float() * 8)]!;
    const odd = rng.float();
    // times no source should produce (negative, beyond 2286, not finite) must still match
    const ts = odd < 0.01 ? NaN : odd < 0.02 ? -Infinity : odd < 0.03 ? -12.3456785 : odd < 0.04 ? 9.87654321e9 + rng.float() : 1.7e9 + rng.float() * 1e8;
    dv.setFloat64(o + R.TS, odd > 0.95 ? 0 : ts, true);
    dv.setFloat64(o + R.LAST_TS, rng.float() < 0.3 ? ts : ts + rng.float() * 5000, true);
    for (const f of [R.ORIG_IP_BYTES, R.RESP_IP_BYTES, R.ORIG_WIRE_BYTES, R.RESP_WIRE_BYTES, R.ORIG_PKTS, R.RESP_PKTS, R.MISSED_BYTES])
      dv.setFloat64(o + f, Math.floor(rng.float() ** 3 * 2 ** (rng.float() < 0.1 ? 52 : 31)), true);
    dv.setFloat64(o + R.ORIG_BYTES, rng.float() < 0.2 ? -1 : Math.floor(rng.float() * 1e12), true);
    dv.setFloat64(o + R.RESP_BYTES, rng.float() < 0.2 ? -1 : Math.floor(rng.float() * 1e6), true);
    dv.setFloat64(o + R.SERIAL, rng.float() < 0.1 ? 2 ** 40 + i * 977 : i + 1, true);
    dv.setUint16(o + R.ORIG_P, Math.floor(rng.float() * 65536), true);
    dv.setUint16(o + R.RESP_P, [80, 443, 53, 0, 65535, 8][Math.floor(rng.float() * 6)]!, true);
    recs[o + R.CONN_STATE] = Math.floor(rng.float() * 15); // 13, 14: unknown codes
    recs[o + R.FLAGS] = (rng.float() < 0.3 ? RF_INTERIM : 0) | (rng.float() < 0.5 ? RF_HAS_MAC : 0) | (rng.float() < 0.3 ? RF_FLIPPED : 0);
    dv.setUint16(o + R.VLAN, rng.float() < 0.5 ? 0xffff : Math.floor(rng.float() * 4096), true);
    dv.setUint16(o + R.INNER_VLAN, rng.float() < 0.8 ? 0xffff : Math.floor(rng.float() * 4096), true);
    recs[o + R.TUNNEL_TYPE] = rng.float() < 0.7 ? 0 : Math.floor(rng.float() * 9);
    dv.setUint32(o + R.TUNNEL_ID, Math.floor(rng.float() * 2 ** 32), true);
    for (let k = 0; k < 12; k++) recs[o + R.ORIG_MAC + k] = Math.floor(rng.float() * 256);
    const hist = rng.float() < 0.3 ? '^hADad' : 'ShADadFf'.slice(0, Math.floor(rng.float() * 9));
    recs[o + R.HISTORY_LEN] = hist.length;
    for (let k = 0; k < hist.length; k++) recs[o + R.HISTORY + k] = hist.charCodeAt(k);
    recs[o + R.END_REASON] = Math.floor(rng.float() * 8); // 6, 7: unknown codes
    if (rng.float() < 0.5) {
      recs[o + R.SOURCE] = 1 + Math.floor(rng.float() * (SOURCE.zeek_conn + 2)); // past the last: unknown
      recs[o + R.ACTION] = Math.floor(rng.float() * 4); // 3: a code without a name
      recs[o + R.DIRECTION] = Math.floor(rng.float() * 4);
      dv.setUint32(o + R.REPORTER, Math.floor(rng.float() * reporters.length), true);
      dv.setUint32(o + R.SAMPLING, [0, 1, 100, 4096][Math.floor(rng.float() * 4)]!, true);
      recs[o + R.ORIG_TCP_FLAGS] = Math.floor(rng.float() * 64);
      recs[o + R.RESP_TCP_FLAGS] = Math.floor(rng.float() * 64);
      recs[o + R.SOURCE_FLAGS] = Math.floor(rng.float() * 16) & (SF_PAIRED | SF_DEDUPED | SF_LATE | 1);
      dv.setUint32(o + R.RECORDS, 1 + Math.floor(rng.float() * 10), true);
    }
  }
  compareBatch(recs, n, 'synthetic');
  // and every line is valid JSON
  const lines = wasmText(recs, n, ctx).trimEnd().split('\n');
  assert.is(lines.length, n);
  for (const l of lines) JSON.parse(l);
});

test('the longest possible line fits the room the formatter keeps per record', () => {
  // Every optional field present, every number at its widest, no "::" in
  // either IPv6 address, the longest name in every table: the formatter
  // stops a batch when less than MAX_LINE_BASE (1400, asm/json/writer.ts)
  // plus the reporter name's length is left, so this line must fit in that.
  const recs = new Uint8Array(REC_SIZE);
  const dv = new DataView(recs.buffer);
  recs.fill(0xff, R.ORIG_H, R.ORIG_H + 32); // ffff:ffff:…
  recs[R.IP_VERSION] = 6;
  recs[R.PROTO] = 6;
  dv.setFloat64(R.TS, 9_999_999_999.999999, true);
  dv.setFloat64(R.LAST_TS, 19_999_999_999.999999, true);
  for (const f of [R.ORIG_BYTES, R.RESP_BYTES, R.ORIG_IP_BYTES, R.RESP_IP_BYTES, R.ORIG_WIRE_BYTES, R.RESP_WIRE_BYTES, R.ORIG_PKTS, R.RESP_PKTS, R.MISSED_BYTES, R.SERIAL]) dv.setFloat64(f, 2 ** 53 - 1, true);
  dv.setUint16(R.ORIG_P, 65535, true); dv.setUint16(R.RESP_P, 3389, true);
  recs[R.CONN_STATE] = 8; // RSTOS0, the longest
  recs[R.FLAGS] = RF_INTERIM | RF_HAS_MAC | RF_FLIPPED;
  dv.setUint16(R.VLAN, 4095, true); dv.setUint16(R.INNER_VLAN, 4095, true);
  recs[R.TUNNEL_TYPE] = 255; dv.setUint32(R.TUNNEL_ID, 0xffffffff, true);
  recs[R.HISTORY_LEN] = 255; recs.fill(0x41, R.HISTORY, R.HISTORY + 24);
  recs[R.END_REASON] = 4; // active_timeout
  recs[R.SOURCE] = SOURCE.azure_vnet; recs[R.ACTION] = 2; recs[R.DIRECTION] = 1;
  dv.setUint32(R.REPORTER, 0, true); dv.setUint32(R.SAMPLING, 0xffffffff, true); dv.setUint32(R.RECORDS, 0xffffffff, true);
  recs[R.ORIG_TCP_FLAGS] = 255; recs[R.RESP_TCP_FLAGS] = 255; recs[R.SOURCE_FLAGS] = 0xff;
  const line = wasmText(recs, 1, ctx);
  JSON.parse(line);
  assert.ok(line.length > 900, `line of ${line.length} bytes: not the widest`);
  assert.ok(line.length + 8 < 1400, `longest line ${line.length} bytes (+ 8 for word-wide copies)`);
});

test.run();
