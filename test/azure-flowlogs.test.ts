// Azure NSG (v1/v2) and VNet (v4) flow logs: the docs' samples parse to the
// values the docs describe; a blob cut anywhere (as one still being appended)
// yields exactly its complete records; the per-flow span memory stays within
// its cap; and no mutation of a real blob makes the reader throw.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ACTION, DIRECTION, FlowEvent, SOURCE, type FlowEventSink, type FlowRejection } from '../sensor/flowlogs/flow-event.ts';
import {
  AzureBlobParser, AzureRecordExtractor, FlowSpans, parseAzureBlob, readAzureFlowLogs, type AzureReadOptions,
} from '../sensor/flowlogs/azure-reader.ts';
import { parseNsgTuple } from '../sensor/flowlogs/azure-nsg.ts';
import { parseVnetTuple, type TupleError, type TupleState } from '../sensor/flowlogs/azure-vnet.ts';
import { formatAddress } from '../sensor/flows/ip-address.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';

interface Ev {
  source: number; reporter: string; start: number; end: number; src: string; dst: string; srcPort: number; dstPort: number;
  proto: number; pkts: number; bytes: number; revPkts: number; revBytes: number; bidir: boolean; action: number; direction: number;
}
const copy = (e: FlowEvent): Ev => ({
  source: e.source, reporter: e.reporter, start: e.start, end: e.end,
  src: formatAddress(e.src, e.ipVersion), dst: formatAddress(e.dst, e.ipVersion), srcPort: e.srcPort, dstPort: e.dstPort,
  proto: e.proto, pkts: e.pkts, bytes: e.bytes, revPkts: e.revPkts, revBytes: e.revBytes, bidir: e.bidir, action: e.action, direction: e.direction,
});

function collect(): FlowEventSink & { events: Ev[]; rejections: FlowRejection[] } {
  const events: Ev[] = [];
  const rejections: FlowRejection[] = [];
  return { events, rejections, emit: (e) => { events.push(copy(e)); }, reject: (r) => { rejections.push(r); } };
}

function parse(bytes: Buffer | string, opts: AzureReadOptions = {}) {
  const sink = collect();
  const result = parseAzureBlob(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes), 'test', sink, opts);
  return { ...sink, result };
}

const NSG_ID = '/SUBSCRIPTIONS/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/RESOURCEGROUPS/FABRIKAMRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/FABRIAKMVM1-NSG';
const VNET_ID = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/myResourceGroup/providers/Microsoft.Network/virtualNetworks/myVNet';

const find = (evs: Ev[], srcPort: number, pred: (e: Ev) => boolean = () => true) => {
  const e = evs.find((x) => x.srcPort === srcPort && pred(x));
  assert.ok(e, `event with source port ${srcPort}`);
  return e!;
};

// ------------------------------------------------------------------ the docs' samples

test('every shared Azure sample parses; only the MALFORMED one is rejected, cleanly', async () => {
  if (!needSharedData('azure flow logs')) return;
  const blobs = [...sharedFiles('flows/azure_nsg'), ...sharedFiles('flows/azure_vnet')].filter((p) => p.endsWith('.json'));
  assert.ok(blobs.length >= 4, 'the samples are there');
  const expected: Record<string, number> = { msdocs_nsg_v1_PT1H: 12, msdocs_nsg_v2_PT1H: 11, msdocs_vnet_flowlog_v4_PT1H: 19, msdocs_nsg_v1_doc_nested_records_MALFORMED: 9 };
  for (const rel of blobs) {
    const sink = collect();
    const r = await readAzureFlowLogs(sharedPath(rel), sink);
    const name = rel.split('/').pop()!.replace(/\.json$/, '');
    if (name in expected) assert.is(r.events, expected[name], `${name}: events`);
    assert.is(sink.events.length, r.events);
    assert.ok(r.complete, `${name}: blob closed`);
    if (rel.includes('_MALFORMED')) {
      // the docs print a third records[] element that itself holds records[]
      assert.equal(sink.rejections.map((x) => x.kind), ['bad_record'], name);
      assert.ok(sink.rejections[0]!.offset! > 0);
    } else {
      assert.equal(sink.rejections, [], name);
    }
  }
});

test('NSG v1: tuples become zero-count, one-direction events with the decision as action', () => {
  if (!needSharedData('azure flow logs')) return;
  const { events } = parse(readFileSync(sharedPath('flows/azure_nsg/msdocs_nsg_v1_PT1H.json')));
  assert.is(events.length, 12);
  // "1487282421,192.0.2.95,10.1.0.4,51529,5358,T,I,D" under DefaultRule_DenyAllInBound
  assert.equal(events[0], {
    source: SOURCE.azure_nsg, reporter: `${NSG_ID}/macAddress=000D3AF8801A`, start: 1487282421, end: 1487282421,
    src: '192.0.2.95', dst: '10.1.0.4', srcPort: 51529, dstPort: 5358, proto: 6,
    pkts: 0, bytes: 0, revPkts: 0, revBytes: 0, bidir: false, action: ACTION.reject, direction: DIRECTION.ingress,
  });
  // "1487282481,198.51.100.194,10.1.0.4,53,1732,U,I,D"
  const udp = find(events, 53);
  assert.is(udp.proto, 17);
  assert.is(udp.action, ACTION.reject);
  // the RDP allow rule
  assert.is(events.filter((e) => e.dstPort === 3389 && e.action === ACTION.accept).length, 8);
  assert.is(events.filter((e) => e.action === ACTION.reject).length, 4);
});

test('NSG v2: state and delta counters; B has none', () => {
  if (!needSharedData('azure flow logs')) return;
  const { events } = parse(readFileSync(sharedPath('flows/azure_nsg/msdocs_nsg_v2_PT1H.json')));
  assert.is(events.length, 11);
  // "1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A,C,30,16978,24,14008"
  const c = find(events, 44931);
  assert.equal([c.pkts, c.bytes, c.revPkts, c.revBytes, c.bidir], [30, 16978, 24, 14008, true]);
  assert.is(c.direction, DIRECTION.egress);
  assert.is(c.action, ACTION.accept);
  assert.is(c.dst, '203.0.113.115');
  assert.is(c.reporter, `${NSG_ID}/macAddress=000D3AF87856`);
  // "1542110402,192.0.2.190,10.5.16.4,28746,443,U,I,D,B,,,," — denied, only a B: kept as a zero-count event
  const denied = find(events, 28746);
  assert.equal([denied.action, denied.proto, denied.pkts, denied.bidir, denied.start], [ACTION.reject, 17, 0, false, 1542110402]);
  assert.is(events.filter((e) => e.action === ACTION.reject).length, 7);
  // "…,59932,443,T,O,A,E,1,66,1,66"
  const e = find(events, 59932);
  assert.equal([e.pkts, e.bytes, e.revPkts, e.revBytes], [1, 66, 1, 66]);
});

test('VNet v4: ms timestamps, numeric protocols, D = denied, E spans back to its B', () => {
  if (!needSharedData('azure flow logs')) return;
  const bytes = readFileSync(sharedPath('flows/azure_vnet/msdocs_vnet_flowlog_v4_PT1H.json'));
  const { events, rejections } = parse(bytes);
  assert.equal(rejections, []);
  assert.is(events.length, 19);
  assert.ok(events.every((e) => e.source === SOURCE.azure_vnet && e.reporter === `${VNET_ID}/macAddress=00224871C205`));
  // "1663146017343,10.0.0.6,104.16.218.84,36776,443,6,O,B,NX,0,0,0,0" then
  // "1663146022793,10.0.0.6,104.16.218.84,36776,443,6,O,E,NX,22,2217,33,32466"
  const [b, e] = events.filter((x) => x.srcPort === 36776);
  assert.equal([b!.start, b!.end, b!.pkts, b!.bidir], [1663146017.343, 1663146017.343, 0, false]);
  assert.equal([e!.start, e!.end], [1663146017.343, 1663146022.793], 'the delta covers (B, E]');
  assert.equal([e!.pkts, e!.bytes, e!.revPkts, e!.revBytes, e!.bidir, e!.proto], [22, 2217, 33, 32466, true, 6]);
  assert.is(e!.direction, DIRECTION.egress);
  // "1663145998065,101.33.218.153,10.0.0.6,55188,22,6,I,D,NX,0,0,0,0"
  const d = find(events, 55188);
  assert.equal([d.action, d.direction, d.dstPort, d.start, d.end, d.bidir], [ACTION.reject, DIRECTION.ingress, 22, 1663145998.065, 1663145998.065, false]);
  assert.is(events.filter((x) => x.action === ACTION.reject).length, 9);
  // totals over the blob: sum of the deltas
  assert.is(events.reduce((s, x) => s + x.revBytes, 0), 1580 + 4569 + 4569 + 108 + 32466);
  // without span memory every tuple is an instant
  const plain = parse(bytes, { spans: null }).events;
  assert.is(plain.length, events.length);
  assert.ok(plain.every((x) => x.start === x.end));
});

function tupleLines(rel: string): string[] {
  return readFileSync(sharedPath(rel), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
}

test('bandwidth examples: C + E deltas sum to the docs totals; empty counters on B', () => {
  if (!needSharedData('azure flow logs')) return;
  const sum = (tuples: string[], p: (t: string, ev: FlowEvent) => TupleState | TupleError) => {
    const ev = new FlowEvent();
    const tot = { pkts: 0, bytes: 0, revPkts: 0, revBytes: 0, states: '' };
    for (const t of tuples) {
      ev.reset(0);
      const r = p(t, ev);
      assert.type(r, 'string', t);
      tot.pkts += ev.pkts; tot.bytes += ev.bytes; tot.revPkts += ev.revPkts; tot.revBytes += ev.revBytes; tot.states += r as string;
      if (r === 'B') assert.is(ev.bidir, false);
    }
    return tot;
  };
  const want = { pkts: 1021 + 52, bytes: 588096 + 29952, revPkts: 8005 + 47, revBytes: 4610880 + 27072, states: 'BCE' };
  assert.equal(sum(tupleLines('flows/azure_nsg/msdocs_nsg_v2_bandwidth_example_tuples.txt'), (t, ev) => parseNsgTuple(t, 2, ev)), want);
  assert.equal(sum(tupleLines('flows/azure_vnet/msdocs_vnet_bandwidth_example_tuples.txt'), parseVnetTuple), want);
  // The same tuples as a VNet blob through the reader: seconds timestamps (< 1e11), and the
  // docs' C is dated before its B — spans never run backwards.
  const tuples = tupleLines('flows/azure_vnet/msdocs_vnet_bandwidth_example_tuples.txt');
  const blob = JSON.stringify({ records: [{ flowLogVersion: 4, macAddress: 'AA', targetResourceID: 'nic', flowRecords: { flows: [{ aclID: 'x', flowGroups: [{ rule: 'r', flowTuples: tuples }] }] } }] });
  const { events, rejections } = parse(blob);
  assert.equal(rejections, []);
  assert.equal(events.map((e) => [e.start, e.end]), [[1493763938, 1493763938], [1493695838, 1493695838], [1493696138, 1493696138]]);
  assert.is(events[0]!.reporter, 'nic/macAddress=AA');
});

// ------------------------------------------------------------------ blobs cut anywhere

/** End offsets (exclusive) of the records[] elements, found independently of the extractor. */
function recordEnds(text: Buffer): number[] {
  const start = text.indexOf('[', text.indexOf('"records"'));
  const ends: number[] = [];
  let depth = 0, inStr = false, esc = false;
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]!;
    if (inStr) { if (esc) esc = false; else if (c === 0x5c) esc = true; else if (c === 0x22) inStr = false; continue; }
    if (c === 0x22) inStr = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) { if (depth === 0) break; if (--depth === 0) ends.push(i + 1); }
  }
  return ends;
}

test('a blob cut at every 97th byte yields exactly the complete records before the cut', () => {
  if (!needSharedData('azure flow logs')) return;
  for (const rel of ['flows/azure_nsg/msdocs_nsg_v1_PT1H.json', 'flows/azure_nsg/msdocs_nsg_v2_PT1H.json', 'flows/azure_vnet/msdocs_vnet_flowlog_v4_PT1H.json', 'flows/azure_nsg/msdocs_nsg_v1_doc_nested_records_MALFORMED.json']) {
    const bytes = readFileSync(sharedPath(rel));
    const full = parse(bytes);
    const ends = recordEnds(bytes);
    const perRecord: number[] = [];
    parse(bytes, { onRecord: (_s, _e, st) => { perRecord.push(st.emitted); } });
    assert.is(perRecord.length, ends.length, `${rel}: records found`);
    for (let cut = 0; cut < bytes.length; cut += 97) {
      const part = parse(bytes.subarray(0, cut));
      const complete = ends.filter((e) => e <= cut).length;
      const want = perRecord.slice(0, complete).reduce((a, b) => a + b, 0);
      assert.is(part.events.length, want, `${rel} cut at ${cut}`);
      assert.equal(part.events, full.events.slice(0, want), `${rel} cut at ${cut}: same events`);
      const kinds = part.rejections.map((r) => r.kind);
      assert.is(kinds.filter((k) => k === 'truncated_blob').length, 1, `${rel} cut at ${cut}: one truncated_blob`);
      assert.ok(kinds.every((k) => k === 'truncated_blob' || k === 'bad_record'), `${rel} cut at ${cut}: ${kinds}`);
      assert.not.ok(part.result.complete);
      // tail mode (the blob is still being written): silent
      const tail = parse(bytes.subarray(0, cut), { tail: true });
      assert.ok(tail.rejections.every((r) => r.kind !== 'truncated_blob'));
      // and the rest, once the blob has grown, picks up where the cut left off
      // (before the records array: from the start)
      const { resumeOffset, inRecords } = tail.result;
      const rest = parse(bytes.subarray(resumeOffset), { resume: { offset: resumeOffset, inRecords }, spans: null });
      assert.is(want + rest.events.length, full.events.length, `${rel} resumed at ${resumeOffset}`);
      assert.ok(rest.result.complete);
      // no rejection the whole blob does not have (a misplaced resume reads half records)
      const known = new Set(full.rejections.map((r) => `${r.kind}@${r.offset}`));
      for (const r of rest.rejections) assert.ok(known.has(`${r.kind}@${r.offset}`), `${rel} resumed at ${resumeOffset}: ${r.kind} at ${r.offset}`);
    }
  }
});

test('a blob that grows after it was complete (Azure adds blocks before the footer), or was empty: read on, each record once', () => {
  if (!needSharedData('azure flow logs')) return;
  const blob = readFileSync(sharedPath('flows/azure_vnet/msdocs_vnet_flowlog_v4_PT1H.json'), 'utf8');
  const rec = (JSON.parse(blob) as { records: Record<string, unknown>[] }).records[0]!;
  const recs = [6, 7, 8].map((host) => JSON.stringify({ ...rec, macAddress: `00224871C20${host}` }).replaceAll('10.0.0.6,', `10.0.0.${host},`));
  const blobOf = (n: number) => `{"records":[${recs.slice(0, n).join(',')}]}`;
  const all = parse(blobOf(3), { spans: null });
  const one = parse(blobOf(1), { tail: true, spans: null });
  assert.ok(one.result.complete);
  assert.equal([one.result.inRecords, one.result.resumable], [true, true]);
  assert.is(blobOf(1)[one.result.resumeOffset], ']', 'resumes at the array\'s closing bracket');
  const grown = Buffer.from(blobOf(3));
  const rest = parse(grown.subarray(one.result.resumeOffset), { tail: true, resume: { offset: one.result.resumeOffset, inRecords: true }, spans: null });
  assert.equal(rest.rejections, []);
  assert.ok(rest.result.complete);
  assert.ok(one.events.length > 0);
  assert.equal([...one.events, ...rest.events], all.events, 'the first read and the read on give the whole blob once');
  // an empty file (created, not yet written): read from the start once it has content
  const empty = parse('', { tail: true, spans: null });
  assert.equal([empty.result.resumeOffset, empty.result.inRecords, empty.result.resumable, empty.rejections], [0, false, true, []]);
  const later = parse(grown, { tail: true, resume: { offset: empty.result.resumeOffset, inRecords: empty.result.inRecords }, spans: null });
  assert.equal([later.events, later.rejections], [all.events, []]);
  // a blob rejected as bad_blob is not read again
  assert.is(parse('[1,2]', { tail: true, spans: null }).result.resumable, false);
});

test('chunk boundaries anywhere give the same events as the whole blob', () => {
  if (!needSharedData('azure flow logs')) return;
  const rng = new Rng('azure-chunks');
  for (const rel of ['flows/azure_nsg/msdocs_nsg_v2_PT1H.json', 'flows/azure_vnet/msdocs_vnet_flowlog_v4_PT1H.json']) {
    const bytes = readFileSync(sharedPath(rel));
    const want = parse(bytes).events;
    for (let i = 0; i < 200; i++) {
      const sink = collect();
      const p = new AzureBlobParser('x', sink);
      for (let o = 0; o < bytes.length;) {
        const n = rng.chance(0.3) ? 1 : rng.int(1, 400);
        p.push(Buffer.from(bytes.subarray(o, o + n)));
        o += n;
      }
      const r = p.end();
      assert.ok(r.complete);
      assert.equal(sink.events, want);
      assert.equal(sink.rejections, []);
    }
  }
});

// ------------------------------------------------------------------ framing and rejection kinds

const vnetRecord = (tuples: unknown, extra: Record<string, unknown> = {}) => ({
  time: '2024-01-01T00:00:00Z', flowLogVersion: 4, macAddress: '001122334455', targetResourceID: 'vnet',
  flowRecords: { flows: [{ aclID: 'acl', flowGroups: [{ rule: 'r "quoted" ]}[{', flowTuples: tuples }] }] }, ...extra,
});
const T = '1700000000000,10.0.0.1,10.0.0.2,1234,80,6,O,C,NX,1,2,3,4';

test('framing: other top-level keys, strings with brackets and escapes, BOM, empty array', () => {
  const rec = JSON.stringify(vnetRecord([T, T.replace('1234', '1235')]));
  const blob = `\ufeff{ "meta" : {"a": "]}\\"[", "b": [1, {"c": "}"}]}, "n": 5, "records" : [ ${rec} , ${rec} ] , "after": "x" }\n`;
  const r = parse(blob);
  assert.equal(r.rejections, []);
  assert.is(r.events.length, 4);
  assert.ok(r.result.complete);
  assert.is(r.result.records, 2);
  const empty = parse('{"records":[]}');
  assert.equal([empty.events.length, empty.rejections.length, empty.result.complete], [0, 0, true]);
  const ipv6 = parse(JSON.stringify({ records: [vnetRecord(['1700000000,2001:db8::1,2001:db8::2,1,2,17,I,C,X,1,1,1,1', '1700000000,2001:db8::1,2001:db8::2,1,2,I,I,C,X,1,1,1,1'])] }));
  assert.equal(ipv6.rejections, []);
  assert.equal(ipv6.events.map((e) => [e.src, e.proto]), [['2001:db8::1', 17], ['2001:db8::1', 58]]);
});

test('framing errors: not a blob, no records array, trailing data, records not an array', () => {
  const kinds = (s: string) => parse(s).rejections.map((r) => r.kind);
  assert.equal(kinds('[1,2,3]'), ['bad_blob']);
  assert.equal(kinds('{"other": []}'), ['bad_blob']);
  assert.equal(kinds('{"records": {}}'), ['bad_blob']);
  assert.equal(kinds(`{"records":[${JSON.stringify(vnetRecord([T]))}]} trailing`), ['bad_blob']);
  assert.is(parse(`{"records":[${JSON.stringify(vnetRecord([T]))}]} trailing`).events.length, 1, 'records before the garbage are kept');
  assert.equal(kinds(''), ['truncated_blob']);
  assert.equal(kinds('\n  '), ['truncated_blob']);
  assert.equal(parse('', { tail: true }).rejections, []);
});

test('record-level rejections: bad JSON, too large, unknown version, wrong shape — neighbours still parse', () => {
  const good = JSON.stringify(vnetRecord([T]));
  const big = JSON.stringify(vnetRecord(new Array(200).fill(T)));
  const blob = `{"records":[${good},{"broken": tru},${big},${JSON.stringify(vnetRecord([T], { flowLogVersion: 5 }))},` +
    `${JSON.stringify({ properties: { Version: 3, flows: [] } })},${JSON.stringify({ records: [] })},17,"str",${JSON.stringify({ properties: { Version: 2, flows: 'x' } })},${good}]}`;
  const r = parse(blob, { maxRecordBytes: 4000 });
  assert.equal(r.rejections.map((x) => x.kind), ['bad_json', 'record_too_large', 'unknown_version', 'unknown_version', 'bad_record', 'bad_record', 'bad_record', 'bad_record']);
  assert.is(r.events.length, 2);
  assert.ok(r.rejections.every((x) => x.input === 'test' && typeof x.offset === 'number' && x.offset > 0));
  const big1 = blob.indexOf(big);
  assert.is(r.rejections[1]!.offset, big1, 'record_too_large points at the record');
  assert.ok(r.result.complete);
});

test('tuple rejections: each kind, the rest of the record still emitted', () => {
  const bad: [string, string][] = [
    ['1700000000,10.0.0.1,10.0.0.2,1,2,6,O,C,NX,1,2,3', 'bad_tuple'],
    ['1700000000,10.0.0.1,10.0.0.2,1,2,6,X,C,NX,1,2,3,4', 'bad_tuple'],
    ['1700000000,10.0.0.1,10.0.0.2,1,2,6,O,Q,NX,1,2,3,4', 'bad_tuple'],
    ['1700000000,10.0.0.1,10.0.0.2,1,2,Z,O,C,NX,1,2,3,4', 'bad_tuple'],
    ['1700000000,10.0.0.1,10.0.0.2,1,2,6,O,C,7,1,2,3,4', 'bad_tuple'],
    ['1700000000,10.0.0.256,10.0.0.2,1,2,6,O,C,NX,1,2,3,4', 'bad_address'],
    ['1700000000,10.0.0.1,2001:db8::1,1,2,6,O,C,NX,1,2,3,4', 'bad_address'],
    ['1700000000,10.0.0.1,10.0.0.2,70000,2,6,O,C,NX,1,2,3,4', 'bad_number'],
    ['1700000000,10.0.0.1,10.0.0.2,1,2,300,O,C,NX,1,2,3,4', 'bad_number'],
    ['-1,10.0.0.1,10.0.0.2,1,2,6,O,C,NX,1,2,3,4', 'bad_number'],
    ['1700000000,10.0.0.1,10.0.0.2,1,2,6,O,C,NX,1,,3,4', 'bad_number'],
    ['1700000000,10.0.0.1,10.0.0.2,1,2,6,O,C,NX,1,2,3,4x', 'bad_number'],
  ];
  const r = parse(JSON.stringify({ records: [vnetRecord([T, ...bad.map((b) => b[0]), 42, T])] }));
  assert.equal(r.rejections.map((x) => x.kind), [...bad.map((b) => b[1]), 'bad_tuple']);
  assert.is(r.events.length, 2);
  const nsg = (v: number, tuples: string[]) => JSON.stringify({ records: [{ resourceId: 'NSG', properties: { Version: v, flows: [{ rule: 'r', flows: [{ mac: 'M', flowTuples: tuples }] }] } }] });
  const v1 = parse(nsg(1, ['1,10.0.0.1,10.0.0.2,1,2,T,I,A', '1,10.0.0.1,10.0.0.2,1,2,T,I,A,B,,,,', '1,10.0.0.1,10.0.0.2,1,2,T,I,X']));
  assert.equal(v1.rejections.map((x) => x.kind), ['bad_tuple', 'bad_tuple']);
  assert.is(v1.events[0]!.reporter, 'NSG/macAddress=M');
  const v2 = parse(nsg(2, ['1,10.0.0.1,10.0.0.2,1,2,T,I,A,B', '1,10.0.0.1,10.0.0.2,1,2,T,I,A,D,,,,', '1,10.0.0.1,10.0.0.2,1,2,T,I,A']));
  assert.equal(v2.rejections.map((x) => x.kind), ['bad_tuple', 'bad_tuple']);
  assert.is(v2.events.length, 1, 'a v2 tuple without counter fields is accepted');
});

// ------------------------------------------------------------------ span memory

test('FlowSpans: B starts, C/E extend from the previous tuple, E forgets, the cap holds', () => {
  const spans = new FlowSpans(4, 900);
  const tuple = (t: number, port: number, state: string, rep = 'nic') =>
    ({ flowLogVersion: 4, macAddress: '', targetResourceID: rep, flowRecords: { flows: [{ flowGroups: [{ flowTuples: [`${t},10.0.0.1,10.0.0.2,${port},443,6,O,${state},NX,1,1,1,1`] }] }] } });
  const run = (recs: unknown[]) => parse(JSON.stringify({ records: recs }), { spans }).events.map((e) => [e.start, e.end]);
  assert.equal(run([tuple(100, 1, 'B'), tuple(400, 1, 'C'), tuple(700, 1, 'E')]), [[100, 100], [100, 400], [400, 700]]);
  assert.is(spans.size, 0, 'E forgets the flow');
  assert.equal(run([tuple(100, 2, 'C'), tuple(5000, 2, 'C')]), [[100, 100], [5000, 5000]], 'a gap beyond maxGap is not a span');
  assert.equal(run([tuple(100, 3, 'B', 'a'), tuple(200, 3, 'C', 'b')]), [[100, 100], [200, 200]], 'reporters are separate');
  assert.equal(run([tuple(100, 4, 'C'), tuple(150, 4, 'B'), tuple(200, 4, 'C')]), [[100, 100], [150, 150], [150, 200]], 'a new B restarts');
  spans.clear();
  run(Array.from({ length: 50 }, (_, i) => tuple(100 + i, 1000 + i, 'B')));
  assert.is(spans.size, 4);
  assert.ok(spans.evicted >= 46);
  // denied tuples are independent reports: not remembered
  spans.clear();
  parse(JSON.stringify({ records: [vnetRecord(['1700000000,10.0.0.1,10.0.0.2,1,2,6,I,D,NX,0,0,0,0'])] }), { spans });
  assert.is(spans.size, 0);
});

// ------------------------------------------------------------------ fuzz

const TOKENS = [',', '"', '{', '}', '[', ']', '\\', ':', ' ', '\n', '0', '9', '-', 'B', 'C', 'E', 'D', 'I', 'O', 'T', 'U', '.', '::', '4294967296', '99999999999999999999', 'null', 'true', '"records"', '\\u0000', 'é'];

function mutate(rng: Rng, src: Buffer): Buffer {
  let b = Buffer.from(src);
  const n = rng.int(1, 6);
  for (let k = 0; k < n; k++) {
    const at = rng.int(0, Math.max(0, b.length - 1));
    switch (rng.int(0, 6)) {
      case 0: b[at] = rng.int(0, 255); break; // flip a byte
      case 1: b[at] = rng.pick([0x22, 0x2c, 0x7b, 0x7d, 0x5b, 0x5d, 0x5c, 0x30 + rng.int(0, 9)]); break;
      case 2: b = Buffer.concat([b.subarray(0, at), Buffer.from(rng.pick(TOKENS)), b.subarray(at)]); break;
      case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 40)))]); break; // delete
      case 4: { const len = rng.int(1, 200); b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]); break; } // duplicate
      case 5: b = b.subarray(0, at); break; // truncate
      default: { // replace a digit run (counters, ports, times) with another number
        let s = at; while (s < b.length && !(b[s]! >= 0x30 && b[s]! <= 0x39)) s++;
        let e = s; while (e < b.length && b[e]! >= 0x30 && b[e]! <= 0x39) e++;
        b = Buffer.concat([b.subarray(0, s), Buffer.from(String(rng.pick([0, 1, 255, 256, 65535, 65536, 1e11, 1e15, rng.u32()]))), b.subarray(e)]);
      }
    }
  }
  return b;
}

test('fuzz: thousands of mutated blobs never throw; every tuple emits or rejects; events are sane; spans bounded', () => {
  if (!needSharedData('azure flow logs')) return;
  const samples = ['flows/azure_nsg/msdocs_nsg_v1_PT1H.json', 'flows/azure_nsg/msdocs_nsg_v2_PT1H.json', 'flows/azure_vnet/msdocs_vnet_flowlog_v4_PT1H.json']
    .map((p) => readFileSync(sharedPath(p)));
  const rng = new Rng('azure-fuzz-1');
  const spans = new FlowSpans(8, 900);
  let emitted = 0, rejected = 0;
  const kinds = new Set<string>();
  const KNOWN = new Set(['bad_blob', 'bad_json', 'record_too_large', 'truncated_blob', 'bad_record', 'unknown_version', 'bad_tuple', 'bad_address', 'bad_number']);
  for (let i = 0; i < 4000; i++) {
    const blob = mutate(rng, rng.pick(samples));
    let evs = 0, rejs = 0;
    const sink: FlowEventSink = {
      emit(e) {
        evs++;
        assert.ok(e.source === SOURCE.azure_nsg || e.source === SOURCE.azure_vnet);
        for (const v of [e.pkts, e.bytes, e.revPkts, e.revBytes]) assert.ok(Number.isFinite(v) && v >= 0 && Number.isInteger(v), `count ${v}`);
        assert.ok(Number.isFinite(e.start) && e.start >= 0 && e.end >= e.start, `span ${e.start}..${e.end}`);
        assert.ok(e.srcPort >= 0 && e.srcPort <= 65535 && e.dstPort >= 0 && e.dstPort <= 65535 && e.proto >= 0 && e.proto <= 255);
        assert.ok(e.action === ACTION.accept || e.action === ACTION.reject);
        assert.ok(e.direction === DIRECTION.ingress || e.direction === DIRECTION.egress);
        assert.ok(e.ipVersion === 4 || e.ipVersion === 6);
        // a one-direction event is a tuple without stats (v1, B/D, empty counters): it carries no counts
        assert.ok(e.bidir || e.pkts + e.bytes + e.revPkts + e.revBytes === 0, `one-way event with counts ${e.pkts}/${e.bytes}/${e.revPkts}/${e.revBytes}`);
        assert.ok(spans.size <= spans.cap, 'span memory within its cap');
      },
      reject(r) { rejs++; kinds.add(r.kind); assert.ok(KNOWN.has(r.kind), r.kind); assert.type(r.message, 'string'); },
    };
    const opts: AzureReadOptions = {
      spans, maxRecordBytes: rng.chance(0.1) ? 1500 : undefined,
      onRecord(start, end, st) {
        assert.is(st.tuples, st.emitted + st.tupleRejects, 'every tuple emitted or rejected');
        assert.ok(end > start);
      },
    };
    let r;
    const p = new AzureBlobParser('fuzz', sink, opts, spans);
    if (rng.chance(0.5)) p.push(blob);
    else for (let o = 0; o < blob.length;) { const n = rng.int(1, 700); p.push(blob.subarray(o, o + n)); o += n; }
    try { r = p.end(); } catch (e) { assert.unreachable(`threw on mutation ${i}: ${(e as Error).stack}`); return; }
    assert.is(r.events, evs);
    assert.is(r.rejected, rejs);
    emitted += evs; rejected += rejs;
  }
  assert.ok(emitted > 10000 && rejected > 1000, `exercised both paths (${emitted} events, ${rejected} rejections)`);
  assert.ok(kinds.size >= 7, `rejection kinds seen: ${[...kinds].join(' ')}`);
  assert.ok(spans.size <= 8);
});

test('the extractor alone: byte-at-a-time equals whole, and memory stays at one record', () => {
  const rec = JSON.stringify(vnetRecord(new Array(50).fill(T)));
  const blob = Buffer.from(`{"records":[${new Array(20).fill(rec).join(',')}]}`);
  const got: [number, number, number][] = [];
  const x = new AzureRecordExtractor({ record: (b, s, e) => { got.push([s, e, b.length]); }, reject: (k) => assert.unreachable(k) }, { maxRecordBytes: rec.length });
  for (let i = 0; i < blob.length; i++) x.push(blob.subarray(i, i + 1));
  // complete: a blob that grows gets its next records before the array's "]"
  assert.equal(x.end(), { complete: true, resumeOffset: blob.length - 2, inRecords: true, resumable: true });
  assert.is(got.length, 20);
  assert.ok(got.every(([s, e, n]) => e - s === rec.length && n === rec.length));
  const tooSmall: string[] = [];
  const y = new AzureRecordExtractor({ record: () => assert.unreachable('no record fits'), reject: (k) => { tooSmall.push(k); } }, { maxRecordBytes: rec.length - 1 });
  for (let i = 0; i < blob.length; i += 333) y.push(blob.subarray(i, i + 333));
  y.end();
  assert.equal(tooSmall, new Array(20).fill('record_too_large'));
});

test('reader: unreadable input and corrupt gzip are rejections, not exceptions', async () => {
  const sink = collect();
  const r = await readAzureFlowLogs('/nonexistent/azure/PT1H.json', sink);
  assert.equal(sink.rejections.map((x) => x.kind), ['unreadable_input']);
  assert.not.ok(r.complete);

  const dir = mkdtempSync(join(tmpdir(), 'azure-gz-'));
  try {
    const blob = Buffer.from(JSON.stringify({ records: new Array(200).fill(vnetRecord([T])) }));
    const gz = gzipSync(blob);
    const damaged = Buffer.from(gz); damaged.fill(0, 30, 60);
    const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('this is not deflate data at all, just text with a gzip magic number')]);
    writeFileSync(join(dir, 'a-good.json.gz'), gz);
    writeFileSync(join(dir, 'b-truncated.json.gz'), gz.subarray(0, gz.length >> 1));
    writeFileSync(join(dir, 'c-damaged.json.gz'), damaged);
    writeFileSync(join(dir, 'd-garbage.json.gz'), garbage);
    // gzip is transparent
    const good = collect();
    const g = await readAzureFlowLogs(join(dir, 'a-good.json.gz'), good);
    assert.equal([g.events, good.events.length, good.rejections, g.complete], [200, 200, [], true]);
    // each corrupt file: one corrupt_gzip rejection naming it, no exception, not complete
    for (const name of ['b-truncated.json.gz', 'c-damaged.json.gz', 'd-garbage.json.gz']) {
      const bad = collect();
      let res;
      try { res = await readAzureFlowLogs(join(dir, name), bad); } catch (e) { assert.unreachable(`${name} threw: ${(e as Error).message}`); return; }
      const gzErrors = bad.rejections.filter((x) => x.kind === 'corrupt_gzip');
      assert.is(gzErrors.length, 1, `${name}: ${JSON.stringify(bad.rejections.map((x) => x.kind))}`);
      assert.ok(gzErrors[0]!.input.endsWith(name) && gzErrors[0]!.message !== '', name);
      assert.is(bad.rejections[0]!.kind, 'corrupt_gzip', `${name}: the gzip error comes first`);
      assert.not.ok(res.complete, name);
      assert.is(res.rejected, bad.rejections.length, name);
      assert.ok(bad.events.length < 200, name);
    }
    // the whole directory: the good blob still read, one corrupt_gzip per bad file
    const all = collect();
    const r2 = await readAzureFlowLogs(dir, all);
    assert.is(r2.files, 4);
    assert.is(all.rejections.filter((x) => x.kind === 'corrupt_gzip').length, 3);
    assert.ok(all.events.length >= 200);
    assert.not.ok(r2.complete);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
