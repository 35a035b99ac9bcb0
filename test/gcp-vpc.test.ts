// Google Cloud VPC Flow Logs: the OpenTelemetry samples (JSON lines and
// pretty-printed single entries) parse to their values; numbers as strings,
// RFC 3339 times, SRC/DEST reporters, ICMP without ports, IPv6; bad entries
// are rejected one by one with stable kinds; a seeded fuzz never throws and
// accounts for every entry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readGcpVpc, type GcpVpcReadOptions, type GcpVpcReadSummary } from '../sensor/flowlogs/gcp-vpc-reader.ts';
import { GCP_ERROR, GCP_FLOW, GCP_NOMINAL_SAMPLING, GcpVpcParser, parseRfc3339 } from '../sensor/flowlogs/gcp-vpc.ts';
import { ACTION, DIRECTION, SOURCE } from '../sensor/flowlogs/flow-event.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { Collect, snap } from './helpers/collect-sink.ts';
import { needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';

async function read(path: string, opts: GcpVpcReadOptions = {}): Promise<{ sink: Collect; sum: GcpVpcReadSummary }> {
  const sink = new Collect();
  return { sink, sum: await readGcpVpc(path, sink, opts) };
}
async function readText(text: string | Buffer, opts: GcpVpcReadOptions = {}, name = 'flows.json') {
  const dir = mkdtempSync(join(tmpdir(), 'gcp-vpc-'));
  try {
    writeFileSync(join(dir, name), text);
    return await read(join(dir, name), opts);
  } finally { rmSync(dir, { recursive: true, force: true }); }
}
const near = (a: number, b: number) => Math.abs(a - b) < 1e-6;

const GCP = 'flows/gcp_vpc';

test('shared samples: every entry a record, no rejections', async () => {
  if (!needSharedData('GCP VPC samples')) return;
  const want: Record<string, number> = {
    'otel_vpc-flow-log-from-computeengine.json': 1,
    'otel_vpc-flow-log-google-service.ndjson': 2,
    'otel_vpc-flow-log-managed-instance.ndjson': 2,
    'otel_vpc-flow-log-w-dest-vpc.json': 1,
    'otel_vpc-flow-log-w-internet-routing-details.json': 1,
  };
  for (const f of sharedFiles(GCP)) {
    const name = f.slice(GCP.length + 1);
    assert.ok(want[name] !== undefined, `no expectation for new sample ${name}`);
    const { sink, sum } = await read(sharedPath(f));
    assert.equal([sum.records, sum.entries, sink.kinds()], [want[name], want[name], []], name);
  }
  const all = await read(sharedPath(GCP));
  assert.equal([all.sum.files, all.sum.records, all.sum.rejected], [5, 7, 0]);
});

test('JSON lines: SRC and DEST reporters, string counts, RFC 3339 times, reporting VM', async () => {
  if (!needSharedData('GCP VPC samples')) return;
  const { sink } = await read(sharedPath(`${GCP}/otel_vpc-flow-log-google-service.ndjson`));
  const [out, back] = sink.events;
  assert.equal({ ...out!, start: 0, end: 0 }, {
    reporter: 'projects/elastic-logstash/zones/us-central1-f/instances/andrewvc-flowfixtures-vm-2qhb',
    src: '10.10.0.3', dst: '142.251.183.95', srcPort: 57046, dstPort: 443, proto: 6, pkts: 72, bytes: 38144,
    start: 0, end: 0, direction: DIRECTION.egress, action: ACTION.none, ipVersion: 4, sampling: GCP_NOMINAL_SAMPLING,
    source: SOURCE.gcp_vpc, bidir: false, tcpFlags: 0,
  });
  assert.ok(near(out!.start, Date.UTC(2025, 10, 7, 21, 17, 47) / 1000 + 0.862783471), String(out!.start));
  assert.ok(near(out!.end, Date.UTC(2025, 10, 7, 21, 18, 47) / 1000 + 0.883105401), String(out!.end));
  // DEST reporter: the destination VM reported, traffic entering it.
  assert.equal([back!.direction, back!.reporter, back!.src, back!.srcPort, back!.dstPort, back!.pkts, back!.bytes],
    [DIRECTION.ingress, 'projects/elastic-logstash/zones/us-central1-f/instances/andrewvc-flowfixtures-vm-2qhb', '64.233.179.95', 443, 52900, 32, 1968]);

  const mi = (await read(sharedPath(`${GCP}/otel_vpc-flow-log-managed-instance.ndjson`))).sink.events;
  // 8 packets, 0 bytes: a sampling estimate, kept as given.
  assert.equal([mi[0]!.pkts, mi[0]!.bytes, mi[0]!.start === mi[0]!.end, mi[0]!.dstPort], [8, 0, true, 22]);
});

test('pretty-printed single entries: ICMP without ports, newer log name, vpc_flow_logs_config resource', async () => {
  if (!needSharedData('GCP VPC samples')) return;
  const icmp = (await read(sharedPath(`${GCP}/otel_vpc-flow-log-w-internet-routing-details.json`))).sink.events[0]!;
  assert.equal([icmp.proto, icmp.srcPort, icmp.dstPort, icmp.src, icmp.dst, icmp.pkts, icmp.bytes, icmp.direction],
    [1, 0, 0, '192.0.2.6', '203.0.113.6', 20, 800, DIRECTION.egress]);
  assert.is(icmp.reporter, 'projects/test-project-id/zones/asia-south1-c/instances/service-integration-dev-idc-ubuntu25-4');
  const ce = (await read(sharedPath(`${GCP}/otel_vpc-flow-log-from-computeengine.json`))).sink.events[0]!;
  assert.equal([ce.src, ce.srcPort, ce.dst, ce.dstPort, ce.pkts, ce.bytes, ce.direction, ce.reporter],
    ['203.0.113.4', 55524, '192.0.2.4', 443, 16, 0, DIRECTION.ingress, 'projects/test-project-id/zones/us-central1-a/instances/proxy-crest-new-group-892l']);
  const dv = (await read(sharedPath(`${GCP}/otel_vpc-flow-log-w-dest-vpc.json`))).sink.events[0]!;
  assert.ok(near(dv.end - dv.start, 0.943125002 - 0.686128981));
});

test('RFC 3339', () => {
  assert.is(parseRfc3339('1970-01-01T00:00:00Z'), 0);
  assert.ok(near(parseRfc3339('2025-11-07T21:18:47.883105401Z'), 1762550327.883105401));
  assert.is(parseRfc3339('2025-01-01T01:00:00+01:00'), Date.UTC(2025, 0, 1) / 1000);
  assert.is(parseRfc3339('2025-01-01t00:00:00-00:30'), Date.UTC(2025, 0, 1, 0, 30) / 1000);
  assert.is(parseRfc3339('2016-12-31T23:59:60.5Z'), Date.UTC(2016, 11, 31, 23, 59, 59) / 1000 + 0.5);
  for (const bad of ['', '2025-02-30T00:00:00Z', '2025-13-01T00:00:00Z', '2025-01-01T24:00:00Z', '2025-01-01T00:00:00',
    '2025-01-01 00:00:00 UTC', '1700000000', '2025-01-01T00:00:00.Z', '2025-01-01T00:00:00+25:00']) {
    assert.ok(Number.isNaN(parseRfc3339(bad)), bad);
  }
});

function entry(over: Record<string, unknown> = {}, conn: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    insertId: 'x', logName: 'projects/p/logs/compute.googleapis.com%2Fvpc_flows',
    resource: { type: 'gce_subnetwork', labels: { project_id: 'p', subnetwork_name: 'sn', location: 'europe-west1' } },
    timestamp: '2025-01-01T00:00:10Z',
    jsonPayload: {
      connection: { src_ip: '10.0.0.1', dest_ip: '10.0.0.2', src_port: 40000, dest_port: 443, protocol: 6, ...conn },
      bytes_sent: '1500', packets_sent: '3', start_time: '2025-01-01T00:00:00Z', end_time: '2025-01-01T00:00:05.5Z', reporter: 'SRC',
      src_instance: { project_id: 'p', zone: 'europe-west1-b', vm_name: 'vm1' }, ...over,
    },
  };
}

test('parser: numbers as strings or numbers, reporters and fallbacks, IPv6, sampling option', () => {
  const p = new GcpVpcParser();
  const ok = (e: unknown) => { assert.is(p.parseEntry(e), GCP_FLOW, p.errorMessage); return snap(p.ev); };
  let e = ok(entry());
  assert.equal([e.pkts, e.bytes, e.start, e.end, e.reporter, e.direction], [3, 1500, 1735689600, 1735689605.5, 'projects/p/zones/europe-west1-b/instances/vm1', DIRECTION.egress]);
  e = ok(entry({ bytes_sent: 10, packets_sent: 1 }, { src_port: '123', protocol: '17' }));
  assert.equal([e.bytes, e.pkts, e.srcPort, e.proto], [10, 1, 123, 17]);
  // DEST without dest_instance: the subnetwork the entry is logged under
  e = ok(entry({ reporter: 'DEST' }));
  assert.equal([e.direction, e.reporter], [DIRECTION.ingress, 'projects/p/regions/europe-west1/subnetworks/sn']);
  e = ok(entry({ reporter: 'DEST_GATEWAY', dest_gateway: { type: 'VPN_TUNNEL', project_id: 'p', location: 'us-east1', name: 'tun1' } }));
  assert.equal([e.direction, e.reporter], [DIRECTION.ingress, 'projects/p/regions/us-east1/vpnTunnels/tun1']);
  e = ok(entry({ reporter: undefined, src_instance: undefined }));
  assert.equal([e.direction, e.reporter], [DIRECTION.unknown, 'projects/p/regions/europe-west1/subnetworks/sn']);
  e = ok(entry({ start_time: undefined, end_time: undefined }));
  assert.equal([e.start, e.end], [1735689610, 1735689610]);
  e = ok(entry({ start_time: undefined }));
  assert.equal([e.start, e.end], [1735689605.5, 1735689605.5]);
  e = ok(entry({}, { src_ip: '2001:db8::1', dest_ip: '2001:DB8::2' }));
  assert.equal([e.ipVersion, e.src, e.dst], [6, '2001:db8::1', '2001:db8::2']);
  // a bare jsonPayload (no LogEntry around it)
  e = ok((entry() as { jsonPayload: unknown }).jsonPayload);
  assert.is(e.pkts, 3);
  const q = new GcpVpcParser({ sampling: 1 });
  assert.is(q.parseEntry(entry()), GCP_FLOW);
  assert.is(q.ev.sampling, 1);
});

test('parser: bad entries rejected with their kinds', () => {
  const p = new GcpVpcParser();
  const cases: [unknown, string][] = [
    [null, 'bad_entry'], [[1], 'bad_entry'], ['str', 'bad_entry'],
    [{ ...entry(), logName: 'projects/p/logs/compute.googleapis.com%2Ffirewall' }, 'not_flow_log'],
    [{ logName: 'projects/p/logs/x%2Fvpc_flows' }, 'missing_connection'],
    [entry({ connection: 'nope' }), 'missing_connection'],
    [entry({}, { src_ip: undefined }), 'missing_address'],
    [entry({}, { dest_ip: 7 }), 'missing_address'],
    [entry({}, { src_ip: '10.0.0.256' }), 'bad_address'],
    [entry({}, { dest_ip: '::1' }), 'bad_address'],
    [entry({}, { src_port: 70000 }), 'bad_number'],
    [entry({}, { protocol: -1 }), 'bad_number'],
    [entry({ bytes_sent: '12a' }), 'bad_number'],
    [entry({ packets_sent: '-3' }), 'bad_number'],
    [entry({ bytes_sent: 1.5 }), 'bad_number'],
    [entry({ bytes_sent: '99999999999999999' }), 'bad_number'],
    [entry({ start_time: 'yesterday' }), 'bad_time'],
    [entry({ end_time: 1735689600 }), 'bad_time'],
    [{ ...entry({ start_time: undefined, end_time: undefined }), timestamp: undefined }, 'missing_time'],
    [entry({ start_time: '2025-01-01T00:00:06Z' }), 'bad_time_range'],
  ];
  for (const [e, kind] of cases) {
    assert.is(p.parseEntry(e), GCP_ERROR, kind);
    assert.is(p.errorKind, kind, JSON.stringify(e).slice(0, 200));
    assert.ok(p.errorMessage.length > 0);
  }
});

test('reader: bad JSON, oversized and truncated lines, arrays, blank lines, gzip, document mode', async () => {
  const good = JSON.stringify(entry());
  const text = [good, '{"truncated": ', '', JSON.stringify([entry(), entry({ packets_sent: 'x' })]), 'x'.repeat(5000), '42', good.slice(0, 100)].join('\n');
  const r = await readText(text, { maxLine: 4096 });
  assert.equal(r.sink.kinds(), ['bad_json', 'bad_number', 'line_too_long', 'bad_entry', 'bad_json']);
  assert.equal(r.sink.rejects.map((x) => x.line), [2, 4, 5, 6, 7]);
  assert.equal([r.sum.records, r.sum.entries, r.sum.lines], [2, 7, 7]);

  const gz = await readText(gzipSync(`${good}\n${good}\n`), {}, 'a.json.gz');
  assert.is(gz.sum.records, 2);

  // one pretty-printed array of entries
  const arr = await readText(JSON.stringify([entry(), entry({ reporter: 'DEST' })], null, 2));
  assert.equal([arr.sum.records, arr.sink.events.map((e) => e.direction)], [2, [DIRECTION.egress, DIRECTION.ingress]]);
  // a pretty-printed document that is cut short
  const cut = JSON.stringify(entry(), null, 2);
  const bad = await readText(cut.slice(0, cut.length - 20));
  assert.equal([bad.sink.kinds(), bad.sink.rejects[0]!.line], [['bad_json'], 1]);
  // a document larger than allowed
  const big = await readText(JSON.stringify([entry(), entry()], null, 2), { maxDocument: 200 });
  assert.equal(big.sink.kinds(), ['document_too_large']);
  // JSON lines after a stray "{" line: read as JSON lines, the "{" rejected
  const stray = await readText(`{\n${good}\n${good}\n`);
  assert.equal([stray.sum.records, stray.sink.kinds(), stray.sink.rejects[0]!.line], [2, ['bad_json'], 1]);
  // a pretty-printed document with an over-long line: one rejection, not one per line
  const longDoc = await readText(JSON.stringify([entry({ note: 'n'.repeat(3000) })], null, 2), { maxLine: 1000 });
  assert.equal(longDoc.sink.kinds(), ['document_too_large']);
  // BOM and CRLF (Windows-saved export)
  const win = await readText(`\ufeff${good}\r\n${good}\r\n`);
  assert.equal([win.sum.records, win.sink.kinds()], [2, []]);
  const missing = await read('/nonexistent/gcp');
  assert.equal(missing.sink.kinds(), ['unreadable_input']);
});

test('reader: a corrupt or truncated gzip is one corrupt_gzip rejection, not an exception; other files still read', async () => {
  const good = JSON.stringify(entry());
  const lines = gzipSync(Array.from({ length: 500 }, (_, i) => good.replace('40000', String(1000 + i))).join('\n') + '\n');
  const doc = gzipSync(JSON.stringify(new Array(50).fill(entry()), null, 2));
  const damaged = Buffer.from(lines); damaged.fill(0, 30, 60);
  const bad: Record<string, Buffer> = {
    'truncated-lines.json.gz': lines.subarray(0, lines.length >> 1),
    'truncated-document.json.gz': doc.subarray(0, doc.length >> 1),
    'damaged.json.gz': damaged,
    'garbage.json.gz': Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('not deflate data, only a gzip magic number in front of text')]),
  };
  for (const [name, bytes] of Object.entries(bad)) {
    let r;
    try { r = await readText(bytes, {}, name); } catch (e) { assert.unreachable(`${name} threw: ${(e as Error).message}`); return; }
    const gz = r.sink.rejects.filter((x) => x.kind === 'corrupt_gzip');
    assert.is(gz.length, 1, `${name}: ${JSON.stringify(r.sink.kinds())}`);
    assert.ok(gz[0]!.input.endsWith(name) && gz[0]!.message !== '', name);
    assert.is(r.sum.rejected, r.sink.rejects.length, name);
    assert.is(r.sink.events.length, r.sum.records, name);
    assert.ok(r.sum.records < 500, `${name}: ${r.sum.records} records`);
  }
  // a directory: the intact file is read whole beside the broken ones
  const dir = mkdtempSync(join(tmpdir(), 'gcp-vpc-'));
  try {
    writeFileSync(join(dir, 'a-good.json.gz'), lines);
    for (const [name, bytes] of Object.entries(bad)) writeFileSync(join(dir, name), bytes);
    const all = await read(dir);
    assert.is(all.sum.files, 5);
    assert.is(all.sink.kinds().filter((k) => k === 'corrupt_gzip').length, 4);
    assert.ok(all.sum.records >= 500, `${all.sum.records} records`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

// ---- seeded fuzz ----

function mutate(rng: Rng, s: string): string {
  for (let m = rng.int(1, 4); m > 0; m--) {
    switch (rng.int(0, 4)) {
      case 0: { const p = rng.int(0, Math.max(0, s.length - 1)); s = s.slice(0, p) + String.fromCharCode(rng.int(0, 255)) + s.slice(p + 1); break; }
      case 1: s = s.slice(0, rng.int(0, s.length)); break;
      case 2: { // swap two quoted values
        const q = [...s.matchAll(/"[^"]*"/g)];
        if (q.length < 2) break;
        const a = rng.pick(q), b = rng.pick(q);
        if (a.index! >= b.index!) break;
        s = s.slice(0, a.index) + b[0] + s.slice(a.index! + a[0].length, b.index) + a[0] + s.slice(b.index! + b[0].length);
        break;
      }
      case 3: s = s.replace(rng.pick(['"3"', '"1500"', '40000', '443', '"SRC"', '"10.0.0.1"', 'connection', 'jsonPayload', '05.5Z']), rng.pick(['"-1"', 'null', '"x"', '1e400', '{}', '[]', '"::"', '"2025-99-01T00:00:00Z"', '""', '-0'])); break;
      default: { const p = rng.int(0, s.length); s = s.slice(0, p) + rng.pick(['{', '}', '[', ']', ',', '"', ':', '\\', '\u0000']) + s.slice(p); break; }
    }
  }
  return s.replace(/[\n\r]/g, ' ');
}

test('fuzz: mutated entries never throw, one outcome each, emitted events sane (seeded)', async () => {
  const rng = new Rng('gcp-fuzz');
  const base = Array.from({ length: 50 }, () => JSON.stringify(entry(
    { bytes_sent: String(rng.int(0, 1e9)), packets_sent: String(rng.int(0, 1e6)), reporter: rng.pick(['SRC', 'DEST']) },
    { src_port: rng.int(0, 65535), protocol: rng.pick([1, 6, 17]) })));
  const lines: string[] = [];
  for (let i = 0; i < 4000; i++) lines.push(rng.chance(0.2) ? rng.pick(base) : mutate(rng, rng.pick(base)));
  const p = new GcpVpcParser();
  let flows = 0, errors = 0;
  for (const l of lines) {
    let v: unknown;
    try { v = JSON.parse(l); } catch { continue; }
    const r = p.parseEntry(v);
    if (r === GCP_FLOW) flows++; else { errors++; assert.ok(p.errorKind !== ''); }
  }
  assert.ok(flows > 500 && errors > 200, `${flows} flows, ${errors} errors`);

  const { sink, sum } = await readText(Buffer.from(lines.join('\n'), 'latin1'));
  assert.is(sum.lines, lines.length);
  const blank = lines.filter((l) => l.trim() === '').length;
  let arrays = 0;
  for (const l of lines) { try { const v = JSON.parse(l); if (Array.isArray(v)) arrays += v.length - 1; } catch { /* not JSON */ } }
  assert.is(sum.entries, lines.length - blank + arrays);
  assert.is(sum.records + sum.rejected, sum.entries);
  assert.is(sink.events.length, sum.records);
  for (const e of sink.events) {
    assert.ok(e.src !== '' && e.dst !== '' && (e.ipVersion === 4 || e.ipVersion === 6));
    for (const n of [e.pkts, e.bytes]) assert.ok(Number.isInteger(n) && n >= 0);
    assert.ok(Number.isFinite(e.start) && Number.isFinite(e.end) && e.end >= e.start);
    assert.ok(e.srcPort <= 65535 && e.dstPort <= 65535 && e.proto <= 255 && e.direction <= 2);
  }
});

test.run();
