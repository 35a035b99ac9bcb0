// The core's NetFlow v9 / IPFIX record decoder (asm/nfdata.ts, driven by
// sensor/pipeline/core-data-sets.ts) must change nothing but speed: every
// input is decoded twice, once with it and once by the JavaScript decoder
// alone, and the two runs must hand the merger byte-identical events, write
// byte-identical flow records, and report the same rejections and decoder
// counters. Inputs: every shared NetFlow/IPFIX capture, and seeded
// datagrams from random templates over every field the decoder knows (odd
// counter widths, both address families, biflow, every time encoding,
// sampling stated per record, per sampler and per domain, uptime wrap), then
// the same datagrams with random bytes changed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REC_SIZE } from '../sensor/core/flow-record.ts';
import { WasmCore } from '../sensor/core/wasm-core.ts';
import type { FlowRejection } from '../sensor/flowlogs/flow-event.ts';
import { NetflowDecoder } from '../sensor/netflow/datagram.ts';
import { compileTemplate, K, type Template } from '../sensor/netflow/templates.ts';
import {
  ipfixMessage, ipfixOptionsTemplateSet, ipfixTemplateSet, record, set, v9Datagram, v9OptionsTemplateSet, v9TemplateSet,
  type FieldSpec, type FieldValue,
} from '../sensor/netflow/export-writer.ts';
import { CoreDataSets } from '../sensor/pipeline/core-data-sets.ts';
import { EventPump } from '../sensor/pipeline/event-pump.ts';
import { readFlowInput } from '../sensor/pipeline/flow-inputs.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { needSharedData, sharedPath } from './helpers/shared-data.ts';

/** An EventPump that keeps a copy of every batch of events it hands the merger. */
class CapturingPump extends EventPump {
  readonly batches: Buffer[] = [];
  constructor(private readonly c: WasmCore, drain: (c: WasmCore) => void, onReject: (r: FlowRejection) => void) {
    super(c, drain, onReject);
  }
  override push(): void {
    const n = this.pendingEvents;
    if (n > 0) {
      const r = this.c.eventRegion();
      this.batches.push(Buffer.from(r.u8.subarray(r.off, r.off + n * REC_SIZE)));
    }
    super.push();
  }
}

interface Run { events: Buffer; records: Buffer; rejections: FlowRejection[]; stats: unknown; inCore: number; count: number }

function harness() {
  const core = new WasmCore({});
  core.enableEvents();
  const parts: Buffer[] = [];
  const drain = (c: WasmCore) => { c.drainRaw((b) => { parts.push(Buffer.from(b)); }); };
  const rejections: FlowRejection[] = [];
  const pump = new CapturingPump(core, drain, (r) => rejections.push({ ...r }));
  const result = (stats: unknown, inCore: number): Run => {
    pump.finish();
    const events = Buffer.concat(pump.batches);
    return { events, records: Buffer.concat(parts), rejections, stats: JSON.parse(JSON.stringify(stats)), inCore, count: events.length / REC_SIZE };
  };
  return { core, pump, drain, result };
}

/** Datagrams through a NetflowDecoder, with or without the core's record decoder. */
function decodeAll(datagrams: { u8: Uint8Array; from: string; at: number }[], inCore: boolean): Run {
  const h = harness();
  const dataSets = inCore ? new CoreDataSets(h.core, h.pump) : undefined;
  const dec = new NetflowDecoder({ sink: h.pump, dataSets });
  for (const d of datagrams) dec.decode(d.u8, d.from, d.at);
  dec.finish();
  return h.result(dec.stats, dataSets?.totalTaken ?? 0);
}

async function readBoth(path: string): Promise<[Run, Run]> {
  const once = async (netflowInCore: boolean): Promise<Run> => {
    const h = harness();
    const res = await readFlowInput(path, 'netflow-pcap', h.pump, h.core, h.drain, { netflowInCore });
    return h.result(res.netflow, res.netflowRecordsInCore ?? 0);
  };
  return [await once(false), await once(true)];
}

/** Where two event streams first differ: event index and byte offset in the record. */
function firstDifference(a: Buffer, b: Buffer): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `event ${Math.floor(i / REC_SIZE)}, byte ${i % REC_SIZE}`;
  return `lengths ${a.length} vs ${b.length}`;
}

function same(js: Run, wasm: Run, what: string): void {
  assert.is(js.inCore, 0, `${what}: the JavaScript run used the core decoder`);
  assert.is(wasm.count, js.count, `${what}: events`);
  assert.ok(wasm.events.equals(js.events), `${what}: events differ at ${firstDifference(js.events, wasm.events)}`);
  assert.ok(wasm.records.equals(js.records), `${what}: flow records differ`);
  assert.equal(wasm.stats, js.stats, `${what}: decoder counters`);
  assert.equal(wasm.rejections, js.rejections, `${what}: rejections`);
}

test('shared NetFlow v9 / IPFIX captures: identical with and without the core decoder', async () => {
  if (!needSharedData('NetFlow/IPFIX samples through the core decoder')) return;
  const dirs = ['flows/netflow_ipfix/akvorado', 'flows/netflow_ipfix/misc', 'flows/netflow_ipfix/pmacct'];
  let events = 0, inCore = 0;
  for (const d of dirs) {
    const [js, wasm] = await readBoth(sharedPath(d));
    same(js, wasm, d);
    events += wasm.count; inCore += wasm.inCore;
  }
  assert.ok(events > 100, `${events} events`);
  // v5 and packet-section records stay in JS; most v9/IPFIX records are the core's
  assert.ok(inCore > 0.5 * events, `the core decoded ${inCore} of ${events} records`);
});

// ---- seeded datagrams ----

/** Uniform integer in [0, n). */
function below(rng: Rng, n: number): number { return rng.int(0, n - 1); }

const REV = 29305;
/** Every field the decoder acts on, with the widths exporters use (and odd ones). */
const MENU: { id: number; lens: number[]; pen?: number; ipfixOnly?: boolean }[] = [
  { id: 8, lens: [4] }, { id: 12, lens: [4] }, { id: 27, lens: [16] }, { id: 28, lens: [16] },
  { id: 7, lens: [2, 1, 4, 8] }, { id: 11, lens: [2, 3, 8] }, { id: 180, lens: [2] }, { id: 183, lens: [2] },
  { id: 4, lens: [1, 2] }, { id: 6, lens: [1, 2] },
  { id: 1, lens: [4, 8, 3, 5, 6, 7] }, { id: 2, lens: [4, 8, 2] }, { id: 85, lens: [8] }, { id: 86, lens: [8] },
  { id: 23, lens: [4] }, { id: 24, lens: [4] }, { id: 231, lens: [8] }, { id: 232, lens: [8] }, { id: 298, lens: [8] }, { id: 299, lens: [8] },
  { id: 1, lens: [8, 4], pen: REV, ipfixOnly: true }, { id: 2, lens: [8, 4], pen: REV, ipfixOnly: true },
  { id: 85, lens: [8], pen: REV, ipfixOnly: true }, { id: 86, lens: [8], pen: REV, ipfixOnly: true }, { id: 6, lens: [1, 2], pen: REV, ipfixOnly: true },
  { id: 21, lens: [4] }, { id: 22, lens: [4] }, { id: 150, lens: [4] }, { id: 151, lens: [4] }, { id: 152, lens: [8] }, { id: 153, lens: [8] },
  { id: 154, lens: [8] }, { id: 155, lens: [8] }, { id: 156, lens: [8] }, { id: 157, lens: [8] },
  { id: 158, lens: [4] }, { id: 159, lens: [4] }, { id: 160, lens: [8] }, { id: 161, lens: [4] }, { id: 162, lens: [4] },
  { id: 32, lens: [2] }, { id: 139, lens: [2] }, { id: 176, lens: [1] }, { id: 177, lens: [1] }, { id: 178, lens: [1] }, { id: 179, lens: [1] },
  { id: 61, lens: [1] }, { id: 58, lens: [2] }, { id: 243, lens: [2] },
  { id: 34, lens: [4] }, { id: 50, lens: [4] }, { id: 48, lens: [1, 2] }, { id: 302, lens: [4] }, { id: 304, lens: [2] }, { id: 305, lens: [4] },
  { id: 306, lens: [4] }, { id: 309, lens: [4] }, { id: 310, lens: [4] }, { id: 311, lens: [8, 4] },
  { id: 89, lens: [1, 4] }, { id: 233, lens: [1] }, { id: 40005, lens: [1] }, { id: 10, lens: [4] }, { id: 14, lens: [4] }, { id: 312, lens: [2] },
  { id: 100, lens: [3, 12] }, { id: 5, lens: [1] }, { id: 7, lens: [4], pen: 9, ipfixOnly: true },
];

function randomTemplate(rng: Rng, ipfix: boolean): FieldSpec[] {
  const fields: FieldSpec[] = [];
  // addresses most of the time (a record without any goes to JS and is reported)
  const fam = rng.float();
  if (fam < 0.45) fields.push({ id: 8, length: 4 }, { id: 12, length: 4 });
  else if (fam < 0.8) fields.push({ id: 27, length: 16 }, { id: 28, length: 16 });
  else if (fam < 0.95) fields.push({ id: 8, length: 4 }, { id: 28, length: 16 }, { id: 12, length: 4 });
  const n = 3 + below(rng, 14);
  for (let i = 0; i < n; i++) {
    const m = MENU[below(rng, MENU.length)]!;
    if (m.ipfixOnly && !ipfix) continue;
    const spec: FieldSpec = { id: m.id, length: m.lens[below(rng, m.lens.length)]! };
    if (m.pen !== undefined) spec.pen = m.pen;
    fields.splice(below(rng, fields.length + 1), 0, spec);
  }
  return fields;
}

function randomValue(rng: Rng, f: FieldSpec): FieldValue {
  const r = rng.float();
  if (f.length > 8) return Array.from({ length: f.length }, () => (rng.float() < 0.3 ? 0 : below(rng, 256)));
  const max = (1n << BigInt(8 * f.length)) - 1n;
  if (r < 0.1) return 0;
  if (r < 0.15) return max;
  if (r < 0.5) return below(rng, Math.min(Number(max), 70000)) + 1;
  let v = 0n;
  for (let i = 0; i < f.length; i++) v = (v << 8n) | BigInt(below(rng, 256));
  return v;
}

function seededDatagrams(seed: string, count: number): { u8: Uint8Array; from: string; at: number }[] {
  const rng = new Rng(seed);
  const out: { u8: Uint8Array; from: string; at: number }[] = [];
  const exporters = ['192.0.2.1', '192.0.2.2', '2001:db8::9'];
  let seq = 0;
  for (let k = 0; k < count; k++) {
    const ipfix = rng.float() < 0.6;
    const from = exporters[below(rng, exporters.length)]!;
    const at = 1_700_000_000 + k;
    const tplId = 256 + below(rng, 6);
    const fields = randomTemplate(rng, ipfix);
    const sets: Uint8Array[] = [];
    // sometimes sampling state from options data: a sampler table or a domain rate
    if (rng.float() < 0.3) {
      const optId = 300 + below(rng, 2);
      const scopes: FieldSpec[] = [{ id: ipfix ? 149 : 1, length: 4 }];
      const options: FieldSpec[] = rng.float() < 0.5
        ? [{ id: ipfix ? 302 : 48, length: 2 }, { id: 34, length: 4 }]
        : [{ id: 34, length: 4 }, { id: 160, length: 8 }];
      sets.push(ipfix ? ipfixOptionsTemplateSet(optId, scopes, options) : v9OptionsTemplateSet(optId, scopes, options));
      const recs = [record([...scopes, ...options], [1, below(rng, 4), below(rng, 3) === 0 ? 0 : 1 + below(rng, 1000), rng.float() < 0.5 ? 0 : at * 1000 - below(rng, 1e9)])];
      sets.push(set(optId, recs));
    }
    sets.push(ipfix ? ipfixTemplateSet([{ id: tplId, fields }]) : v9TemplateSet([{ id: tplId, fields }]));
    const recs: Uint8Array[] = [];
    const nrec = 1 + below(rng, 40);
    for (let i = 0; i < nrec; i++) recs.push(record(fields, fields.map((f) => randomValue(rng, f))));
    sets.push(set(tplId, recs));
    const u8 = ipfix
      ? ipfixMessage({ exportTime: at - below(rng, 5), seq: seq, domain: below(rng, 3) }, sets)
      : v9Datagram({ uptime: rng.float() < 0.2 ? below(rng, 1000) : 3_000_000_000 + below(rng, 1e9), secs: at, seq: seq, sourceId: below(rng, 3) }, sets);
    seq += nrec;
    out.push({ u8, from, at });
  }
  return out;
}

test('seeded datagrams over every field: identical with and without the core decoder', () => {
  const dgs = seededDatagrams('netflow-core-1', 1500);
  const js = decodeAll(dgs, false);
  const wasm = decodeAll(dgs, true);
  same(js, wasm, 'seeded');
  assert.ok(js.count > 10_000, `${js.count} events`);
  assert.ok(wasm.inCore > 0.8 * wasm.count, `the core decoded ${wasm.inCore} of ${wasm.count} records`);
});

test('seeded datagrams with random bytes changed: identical with and without the core decoder', () => {
  const rng = new Rng('netflow-core-mutate');
  const dgs = seededDatagrams('netflow-core-2', 1500).map((d) => {
    const u8 = Uint8Array.from(d.u8);
    const flips = 1 + below(rng, 6);
    // past the header mostly, where the templates and records are
    for (let i = 0; i < flips; i++) u8[16 + below(rng, Math.max(1, u8.length - 16))] = below(rng, 256);
    return { ...d, u8 };
  });
  const js = decodeAll(dgs, false);
  const wasm = decodeAll(dgs, true);
  same(js, wasm, 'mutated');
  assert.ok(js.rejections.length > 0, 'mutations produced no rejection: they did not reach the decoder');
  assert.ok(wasm.inCore > 0.5 * wasm.count, `the core decoded ${wasm.inCore} of ${wasm.count} records`);
});

test('records without an address are left to JavaScript, which reports them once per set', () => {
  const fields: FieldSpec[] = [{ id: 7, length: 2 }, { id: 11, length: 2 }, { id: 2, length: 4 }, { id: 8, length: 4 }];
  const noAddr: FieldSpec[] = [{ id: 7, length: 2 }, { id: 2, length: 4 }];
  const dg = ipfixMessage({ exportTime: 1_700_000_000, seq: 0, domain: 1 }, [
    ipfixTemplateSet([{ id: 300, fields }, { id: 301, fields: noAddr }]),
    set(300, [record(fields, [1, 2, 3, 0x0a000001]), record(fields, [4, 5, 6, 0x0a000002])]),
    set(301, [record(noAddr, [1, 2]), record(noAddr, [3, 4]), record(noAddr, [5, 6])]),
    set(300, [record(fields, [7, 8, 9, 0x0a000003])]),
  ]);
  const js = decodeAll([{ u8: dg, from: '192.0.2.7', at: 1_700_000_000 }], false);
  const wasm = decodeAll([{ u8: dg, from: '192.0.2.7', at: 1_700_000_000 }], true);
  same(js, wasm, 'no address');
  assert.is(wasm.count, 3);
  // the exporter's first record goes to JavaScript (it interns the reporter id); the rest are the core's
  assert.is(wasm.inCore, 2);
  assert.is(wasm.rejections.filter((r) => r.kind === 'no_address').length, 1);
});

test('more samplers than the core keeps: the set is decoded in JavaScript, same events', () => {
  const scopes: FieldSpec[] = [{ id: 149, length: 4 }];
  const options: FieldSpec[] = [{ id: 302, length: 2 }, { id: 34, length: 4 }];
  const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 302, length: 2 }, { id: 2, length: 4 }, { id: 1, length: 4 }];
  const samplers = Array.from({ length: 40 }, (_, i) => record([...scopes, ...options], [1, i, 10 + i]));
  const data = Array.from({ length: 40 }, (_, i) => record(fields, [0x0a000001, 0x0a000002 + i, i, 3, 300]));
  const dg = ipfixMessage({ exportTime: 1_700_000_000, seq: 0, domain: 1 }, [
    ipfixOptionsTemplateSet(400, scopes, options), set(400, samplers),
    ipfixTemplateSet([{ id: 300, fields }]), set(300, data),
  ]);
  const js = decodeAll([{ u8: dg, from: '192.0.2.7', at: 1_700_000_000 }], false);
  const wasm = decodeAll([{ u8: dg, from: '192.0.2.7', at: 1_700_000_000 }], true);
  same(js, wasm, 'samplers');
  assert.is(wasm.count, 40);
  assert.is(wasm.inCore, 0, 'the core decoded records of a domain with 40 samplers');
});

test('the core refuses programs it cannot run (their records stay with JavaScript)', () => {
  const core = new WasmCore({});
  core.enableEvents();
  const prog = (kinds: number[], offs: number[], lens: number[], length: number) =>
    core.nfSetProgram(Uint8Array.from(kinds), Int32Array.from(offs), Int32Array.from(lens), length);
  assert.ok(prog([K.SRC_V4, K.DST_V4, K.PKTS], [0, 4, 8], [4, 4, 8], 16));
  assert.not.ok(prog([K.SRC_V4], [6], [4], 8), 'a field past the record');
  assert.not.ok(prog([K.SRC_V4], [0], [2], 8), 'an IPv4 address of 2 bytes');
  assert.not.ok(prog([K.START_NTP], [0], [4], 8), 'an NTP time of 4 bytes');
  assert.not.ok(prog([K.FRAME_SECTION], [0], [8], 8), 'a packet section');
  assert.not.ok(prog([99], [0], [1], 8), 'an unknown action');
  assert.not.ok(prog([K.PKTS], [0], [4], 0), 'records of length 0');
  assert.not.ok(prog(new Array(65).fill(K.PKTS), new Array(65).fill(0), new Array(65).fill(4), 8), 'more actions than the core holds');
});

test('templates without an address field, or with a packet section, are not handed to the core', () => {
  const v4: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 2, length: 4 }];
  const macOnly: FieldSpec[] = [{ id: 56, length: 6 }, { id: 80, length: 6 }, { id: 2, length: 4 }];
  const framed: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 315, length: 64 }];
  const compile = (f: FieldSpec[]) => compileTemplate(300, false, true, 0, f.map((x) => x.id), f.map((x) => x.length), f.map(() => 0), new Uint8Array(0));
  assert.equal([v4, macOnly, framed].map((f) => (compile(f) as Template).accelerable), [true, false, false]);
});

test.run();
