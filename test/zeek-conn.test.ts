// Zeek conn.log (TSV and JSON) → flow events: every shared sample reads,
// hand-checked rows of Zeek's own baselines come out with their values, the
// JSON writer's form of a log gives the same events as its TSV form, and no
// mutation makes the parser throw or lose count of a line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { FlowEvent, SOURCE, type FlowEventSink, type FlowRejection } from '../sensor/flowlogs/flow-event.ts';
import { isoSeconds, parseZeekConnBuffer, type ZeekConnOptions } from '../sensor/flowlogs/zeek-conn.ts';
import { parseZeekConnChunks, readZeekConn, readZeekConnFile } from '../sensor/flowlogs/zeek-conn-reader.ts';
import { NO_VLAN } from '../sensor/core/flow-record.ts';
import { flowRecordJson, type FlowRecord } from '../sensor/flows/zeek-record.ts';
import { formatAddress } from '../sensor/flows/ip-address.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';
import { parseZeekTsv } from './helpers/zeek-log.ts';

interface Ev {
  reporter: string; start: number; end: number; src: string; dst: string; srcPort: number; dstPort: number; proto: number;
  pkts: number; bytes: number; revPkts: number; revBytes: number; payloadBytes: number; revPayloadBytes: number; bidir: boolean;
  connState: string | null; history: string; tcpFlags: number; revTcpFlags: number; vlan: number; ipVersion: number;
}
const copy = (e: FlowEvent): Ev => ({
  reporter: e.reporter, start: e.start, end: e.end, src: formatAddress(e.src, e.ipVersion), dst: formatAddress(e.dst, e.ipVersion),
  srcPort: e.srcPort, dstPort: e.dstPort, proto: e.proto, pkts: e.pkts, bytes: e.bytes, revPkts: e.revPkts, revBytes: e.revBytes,
  payloadBytes: e.payloadBytes, revPayloadBytes: e.revPayloadBytes, bidir: e.bidir, connState: e.connState, history: e.history,
  tcpFlags: e.tcpFlags, revTcpFlags: e.revTcpFlags, vlan: e.vlan, ipVersion: e.ipVersion,
});

function collect(): FlowEventSink & { events: Ev[]; rejections: FlowRejection[] } {
  const events: Ev[] = [];
  const rejections: FlowRejection[] = [];
  return {
    events, rejections,
    emit: (e) => { assert.is(e.source, SOURCE.zeek_conn); events.push(copy(e)); },
    reject: (r) => { rejections.push(r); },
  };
}

function parse(text: string | Buffer, opts: ZeekConnOptions = {}) {
  const sink = collect();
  const p = parseZeekConnBuffer(Buffer.isBuffer(text) ? text : Buffer.from(text), 'test', sink, opts);
  return { ...sink, stats: p.stats, format: p.format };
}

const dataLines = (b: Buffer) => b.toString('utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).length;

// ------------------------------------------------------------------ shared samples

test('every shared conn.log reads; only the deliberately truncated ones have rejections', async () => {
  if (!needSharedData('zeek conn.log')) return;
  const logs = sharedFiles('flows/zeek_conn', (p) => /conn[^/]*$/.test(p.split('/').pop()!));
  assert.ok(logs.length >= 20, `${logs.length} logs`);
  const expectRejects: Record<string, string[]> = {
    'rita/truncated/conn_json.log': ['bad_port', 'bad_json'], // id.orig_p 93145; last line cut
    'rita/truncated/truncated__conn.log': ['truncated_line'], // cut inside its last line
  };
  let total = 0;
  for (const rel of logs) {
    const sink = collect();
    const r = await readZeekConnFile(sharedPath(rel), sink, { maskedTime: true });
    const key = Object.keys(expectRejects).find((k) => rel.endsWith(k));
    assert.equal(sink.rejections.map((x) => x.kind), key ? expectRejects[key] : [], rel);
    const lines = dataLines(readFileSync(sharedPath(rel)));
    assert.is(r.emitted, lines - r.rejected, `${rel}: every data line is an event`);
    assert.is(r.lines, r.emitted + r.rejected + r.headers + r.skipped);
    assert.is(sink.events.length, r.emitted);
    assert.ok(sink.events.every((e) => e.end >= e.start && e.bidir), rel);
    total += r.emitted;
  }
  assert.ok(total > 5000, `${total} events`);
});

test('a non-conn log beside them is refused once, not line by line', async () => {
  if (!needSharedData('zeek conn.log')) return;
  const sink = collect();
  const r = await readZeekConnFile(sharedPath('flows/zeek_conn/stratosphere/test18-ctu-sme-11-labeled/dns.log.labeled'), sink);
  assert.equal(sink.rejections.map((x) => x.kind), ['missing_field']);
  assert.match(sink.rejections[0]!.message, /conn_state/);
  assert.is(r.emitted, 0);
  assert.ok(r.skipped >= 20);
});

test('btest baselines: hand-checked rows', () => {
  if (!needSharedData('zeek conn.log')) return;
  const base = 'flows/zeek_conn/zeek_btest_baselines/';
  const ssh = parse(readFileSync(sharedPath(base + 'ssh_ssh.pcap/scripts.base.protocols.ssh.basic__conn.log')), { maskedTime: true });
  assert.equal(ssh.rejections, []);
  // 192.168.1.79 51880 131.159.21.1 22 tcp ssh 6.159326 2669 2501 SF T F 0 ShAdDaFf 25 3981 20 3549 - 6
  assert.equal(ssh.events[0], {
    reporter: '', start: 0, end: 6.159326, src: '192.168.1.79', dst: '131.159.21.1', srcPort: 51880, dstPort: 22, proto: 6,
    pkts: 25, bytes: 3981, revPkts: 20, revBytes: 3549, payloadBytes: 2669, revPayloadBytes: 2501, bidir: true,
    connState: 'SF', history: 'ShAdDaFf', tcpFlags: 2 | 16 | 1, revTcpFlags: 2 | 16 | 1, vlan: NO_VLAN, ipVersion: 4,
  });
  // 192.168.2.1 55179 → 192.168.2.158 2200 … RSTR ShADadFr 37 4693 29 3225
  const rstr = ssh.events.find((e) => e.srcPort === 55179)!;
  assert.equal([rstr.connState, rstr.pkts, rstr.bytes, rstr.revPkts, rstr.revBytes, rstr.revTcpFlags], ['RSTR', 37, 4693, 29, 3225, 2 | 16 | 4]);
  assert.is(ssh.events.reduce((s, e) => s + e.pkts, 0), 25 + 22 + 38 + 23 + 37 + 17 + 26 + 25 + 26 + 19 + 25 + 14 + 23 + 32 + 32 + 33 + 24 + 36 + 1 + 1 + 6 + 42 + 16 + 179 + 183);

  const pppoe = parse(readFileSync(sharedPath(base + 'pppoe.pcap/core.pppoe__conn.log')), { maskedTime: true });
  // fc00:0:2:100::1:1 128 fc00::1 129 icmp - 0.156000 260 260 OTH T T 0 - 5 500 5 500 - 58
  assert.equal(pppoe.events[0], {
    reporter: '', start: 0, end: 0.156, src: 'fc00:0:2:100::1:1', dst: 'fc00::1', srcPort: 128, dstPort: 129, proto: 58,
    pkts: 5, bytes: 500, revPkts: 5, revBytes: 500, payloadBytes: 260, revPayloadBytes: 260, bidir: true,
    connState: 'OTH', history: '', tcpFlags: 0, revTcpFlags: 0, vlan: NO_VLAN, ipVersion: 6,
  });
  // fe80::c801:eff:fe88:8 134 fe80::ce05:eff:fe88:0 133 icmp - - - - OTH … 1 64 0 0
  const ra = pppoe.events[1]!;
  assert.equal([ra.end, ra.payloadBytes, ra.revPayloadBytes, ra.pkts, ra.bytes, ra.revPkts], [0, -1, -1, 1, 64, 0]);

  const teredo = parse(readFileSync(sharedPath(base + 'tunnels_Teredo.pcap/core.tunnels.teredo__conn.log')), { maskedTime: true });
  const v6 = teredo.events.find((e) => e.srcPort === 1286)!;
  assert.equal([v6.src, v6.dst, v6.connState, v6.bytes, v6.revBytes], ['2001:0:4137:9e50:8000:f12a:b9c8:2815', '2001:4860:0:2001::68', 'S1', 2279, 11191]);
  const flipped = teredo.events.find((e) => e.history === '^fA')!;
  assert.equal([flipped.tcpFlags, flipped.revTcpFlags, flipped.connState], [16, 1, 'SHR']);

  // without maskedTime the masked timestamps are rejected, one per row
  const strict = parse(readFileSync(sharedPath(base + 'q-in-q.pcap/core.q-in-q__conn.log')));
  assert.equal(strict.rejections.map((r) => r.kind), ['bad_time', 'bad_time']);
  assert.equal(strict.rejections.map((r) => r.line), [10, 11]);
});

test('rotated hourly logs: node name as reporter, two header blocks concatenated', () => {
  if (!needSharedData('zeek conn.log')) return;
  const a = readFileSync(sharedPath('flows/zeek_conn/rita/rotated_hourly/conn.00:00:00-01:00:00.log'));
  const b = readFileSync(sharedPath('flows/zeek_conn/rita/rotated_hourly/conn.01:00:00-02:00:00.log'));
  const r = parse(Buffer.concat([a, b]));
  assert.equal(r.rejections, []);
  assert.is(r.stats.emitted, dataLines(a) + dataLines(b));
  assert.is(r.stats.headers, 18);
  // worker-eth0-1 1713484795.943239 … 167.94.138.145 25320 64.225.56.201 6008 tcp - 0.000064 0 0 REJ F T 0 Sr 1 60 1 40 -
  const e = r.events[0]!;
  assert.equal([e.reporter, e.start, e.end, e.src, e.srcPort, e.dst, e.dstPort, e.connState, e.tcpFlags, e.revTcpFlags, e.bytes, e.revBytes],
    ['worker-eth0-1', 1713484795.943239, 1713484795.943239 + 0.000064, '167.94.138.145', 25320, '64.225.56.201', 6008, 'REJ', 2, 4, 60, 40]);
  assert.ok(r.events.every((x) => x.reporter === 'worker-eth0-1'));
  const fallback = parse(a, { reporter: 'sensor-7' });
  assert.is(fallback.events[0]!.reporter, 'worker-eth0-1', 'the record\'s own node name wins');
});

// ------------------------------------------------------------------ TSV ⇄ JSON

/** Zeek's JSON writer's form of a TSV log (unset fields omitted, counts as numbers), made from an independent TSV parser. */
function toJsonLines(tsv: string, opts: { isoTs?: boolean; nested?: boolean } = {}): string {
  const log = parseZeekTsv(tsv);
  const typeOf = new Map(log.fields.map((f, i) => [f, log.types[i]!]));
  return log.rows.map((row) => {
    const o: Record<string, unknown> = {};
    for (const f of log.fields) {
      const v = row[f];
      if (v === null || v === undefined) continue;
      const t = typeOf.get(f)!;
      let val: unknown = v;
      if (t === 'count' || t === 'port' || t === 'time' || t === 'interval') val = Number(v);
      else if (t === 'bool') val = v === 'T';
      else if (t.startsWith('set[') || t.startsWith('vector[')) val = v === '' ? [] : v.split(',');
      if (f === 'ts' && opts.isoTs) {
        const [sec, frac] = v.split('.');
        val = new Date(Number(sec) * 1000).toISOString().replace('.000Z', `.${frac}Z`);
      }
      if (opts.nested && f.startsWith('id.')) { ((o.id ??= {}) as Record<string, unknown>)[f.slice(3)] = val; continue; }
      o[f] = val;
    }
    return JSON.stringify(o);
  }).join('\n') + '\n';
}

test('JSON and TSV forms of the same logs give the same events (numeric and ISO ts, dotted and nested ids)', () => {
  if (!needSharedData('zeek conn.log')) return;
  const rels = ['flows/zeek_conn/rita/proxy/proxy__conn.log', 'flows/zeek_conn/rita/rotated_hourly/conn.01:00:00-02:00:00.log',
    'flows/zeek_conn/stratosphere/test18-ctu-sme-11-labeled/zeek-labeled__conn.log.labeled', 'flows/zeek_conn/rita/open_conns/open_conn.log'];
  for (const rel of rels) {
    const tsv = readFileSync(sharedPath(rel), 'utf8');
    const fromTsv = parse(tsv);
    assert.equal(fromTsv.rejections, [], rel);
    assert.is(fromTsv.format, 'tsv');
    for (const opts of [{}, { isoTs: true }, { nested: true }]) {
      const fromJson = parse(toJsonLines(tsv, opts));
      assert.is(fromJson.format, 'json');
      assert.equal(fromJson.rejections, [], `${rel} ${JSON.stringify(opts)}`);
      assert.is(fromJson.events.length, fromTsv.events.length);
      for (let i = 0; i < fromTsv.events.length; i++) assert.equal(fromJson.events[i], fromTsv.events[i], `${rel} ${JSON.stringify(opts)} row ${i}`);
    }
  }
});

test('the shared JSON logs read with their concrete values', () => {
  if (!needSharedData('zeek conn.log')) return;
  const r = parse(readFileSync(sharedPath('flows/zeek_conn/rita/json_with_all_fields/json_with_all_fields__conn.log')));
  assert.equal(r.rejections, []);
  // {"ts": 1517422326.539915, … "id.orig_h": "10.55.100.100", "id.orig_p": 61843, "id.resp_h": "205.204.101.182", "id.resp_p": 80,
  //  "proto": "tcp", "duration": 108.985496, "orig_bytes": 719, "resp_bytes": 336, "conn_state": "SF", "history": "ShADadfF",
  //  "orig_pkts": 10, "orig_ip_bytes": 1131, "resp_pkts": 4, "resp_ip_bytes": 508}
  const e = r.events[0]!;
  assert.equal([e.start, e.end, e.src, e.srcPort, e.dst, e.dstPort, e.proto, e.payloadBytes, e.revPayloadBytes, e.connState, e.history, e.pkts, e.bytes, e.revPkts, e.revBytes],
    [1517422326.539915, 1517422326.539915 + 108.985496, '10.55.100.100', 61843, '205.204.101.182', 80, 6, 719, 336, 'SF', 'ShADadfF', 10, 1131, 4, 508]);
  const dhcp = parse(readFileSync(sharedPath('flows/zeek_conn/stratosphere/test13-dhcpscan/test13-malicious-dhcpscan-zeek-dir__conn.log')));
  // {"ts":147.026993,…,"id.orig_h":"10.0.2.2","id.orig_p":11,"id.resp_h":"10.0.2.15","id.resp_p":0,"proto":"icmp", … no history}
  assert.equal([dhcp.events[0]!.proto, dhcp.events[0]!.srcPort, dhcp.events[0]!.history, dhcp.events[0]!.pkts], [1, 11, '', 26]);
});

// ------------------------------------------------------------------ header handling and rejection kinds

const HEAD = ['#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tconn'];
const FIELDS = '#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_bytes\tresp_bytes\tconn_state\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\tvlan';
const ROW = '1700000000.5\t10.0.0.1\t1234\t10.0.0.2\t80\ttcp\t1.25\t10\t20\tSF\tShADadFf\t3\t130\t2\t100\t42';

test('TSV: optional columns, vlan, CRLF, blank lines, reordered columns, escapes, a custom separator and unset marker', () => {
  const r = parse([...HEAD, FIELDS, ROW, '', ROW.replace('\t42', '\t-') + '\r', '#close\t2024'].join('\n') + '\n');
  assert.equal(r.rejections, []);
  assert.equal(r.events.map((e) => [e.vlan, e.start, e.end, e.history]), [[42, 1700000000.5, 1700000001.75, 'ShADadFf'], [NO_VLAN, 1700000000.5, 1700000001.75, 'ShADadFf']]);
  assert.equal(r.stats, { lines: 10, emitted: 2, rejected: 0, headers: 7, skipped: 1 });
  // reordered, only the required columns (counts then 0 / payload unknown)
  const min = parse('#fields\tconn_state\tproto\tid.resp_p\tid.resp_h\tid.orig_p\tid.orig_h\tts\nS0\tudp\t53\t10.0.0.2\t5353\t10.0.0.1\t5\n');
  assert.equal(min.rejections, []);
  assert.equal([min.events[0]!.proto, min.events[0]!.srcPort, min.events[0]!.dstPort, min.events[0]!.pkts, min.events[0]!.payloadBytes, min.events[0]!.end], [17, 5353, 53, 0, -1, 5]);
  // separator "," (escaped in its header line), unset "NA", escaped history
  const comma = parse(['#separator \\x2c', '#unset_field,NA', '#fields,ts,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto,conn_state,history,orig_bytes',
    '1.5,10.0.0.1,1,10.0.0.2,2,tcp,S0,S\\x2cx,NA'].join('\n') + '\n');
  assert.equal(comma.rejections, []);
  assert.equal([comma.events[0]!.history, comma.events[0]!.payloadBytes], ['S,x', -1]);
  // unknown_transport uses ip_proto when the column exists
  const ip = parse('#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tconn_state\tip_proto\n1\t10.0.0.1\t0\t10.0.0.2\t0\tunknown_transport\tOTH\t47\n');
  assert.is(ip.events[0]!.proto, 47);
  // every name the sensor's own conn log writes (PROTO_NAME) reads back, sctp included
  const names = parse([...HEAD, FIELDS, ...['tcp', 'udp', 'icmp', 'sctp'].map((n) => ROW.replace('\ttcp\t', `\t${n}\t`)),
    ROW.replace('\ttcp\t', '\ticmp\t').replace('10.0.0.1', '2001:db8::1').replace('10.0.0.2', '2001:db8::2')].join('\n') + '\n');
  assert.equal(names.rejections, []);
  assert.equal(names.events.map((e) => e.proto), [6, 17, 1, 132, 58]);
  // a name not in the table: ip_proto decides when set; unset or absent → bad_protocol
  const IPF = '#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tconn_state\tip_proto';
  const other = parse([IPF, '1\t10.0.0.1\t0\t10.0.0.2\t0\tgre\tOTH\t47', '1\t10.0.0.1\t0\t10.0.0.2\t0\tgre\tOTH\t-',
    '1\t10.0.0.1\t0\t10.0.0.2\t0\tgre\tOTH\t256', '1\t10.0.0.1\t0\t10.0.0.2\t0\tsctp\tOTH\tx',
    '1\t10.0.0.1\t0\t10.0.0.2\t0\tunknown_transport\tOTH\t-', '1\t10.0.0.1\t0\t10.0.0.2\t0\tunknown_transportx\tOTH\t-'].join('\n') + '\n');
  assert.equal(other.events.map((e) => e.proto), [47, 0]);
  assert.equal(other.rejections.map((x) => [x.kind, x.line]), [['bad_protocol', 3], ['bad_protocol', 4], ['bad_protocol', 5], ['bad_protocol', 7]]);
});

test('TSV rejections: each kind, once per bad header block, line numbers and offsets', () => {
  const text = [
    ROW, ROW, // data before any header: one missing_header, then skipped
    ...HEAD, FIELDS,
    ROW.replace('10.0.0.1', '10.0.0.300'),
    ROW.replace('1234', '65536'),
    ROW.replace('\ttcp\t', '\tgre\t'), // not a name the table knows, and no ip_proto column
    ROW.replace('\t130\t', '\t13x\t'),
    ROW.replace('1700000000.5', '17e8'),
    ROW.replace('\t1.25\t', '\t-1\t'),
    ROW.replace('\t42', ''),
    ROW + '\textra',
    ROW.replace('10.0.0.2', '2001:db8::1'),
    ROW.replace('\t42', '\t70000'),
    ROW,
    '#separator \\x09', '#path\tdns', FIELDS, ROW, ROW, // not a conn log: one rejection
    '#separator \\x09', '#fields\tts\tid.orig_h\tproto', ROW, // missing fields: one rejection
    '#separator \\x09\\x09', FIELDS, ROW, // bad separator: the block stays refused
    '#separator \\x09', FIELDS, ROW,
  ].join('\n') + '\n';
  const r = parse(text);
  assert.equal(r.rejections.map((x) => x.kind), ['missing_header', 'bad_address', 'bad_port', 'bad_protocol', 'bad_number', 'bad_time', 'bad_time',
    'bad_field_count', 'bad_field_count', 'bad_address', 'bad_number', 'not_conn_log', 'missing_field', 'bad_header']);
  assert.is(r.stats.emitted, 2);
  assert.is(r.stats.lines, r.stats.emitted + r.stats.rejected + r.stats.headers + r.stats.skipped);
  assert.equal(r.rejections.slice(0, 3).map((x) => x.line), [1, 9, 10]);
  const lines = text.split('\n');
  for (const x of r.rejections) assert.is(x.offset, lines.slice(0, x.line! - 1).reduce((s, l) => s + l.length + 1, 0), `offset of line ${x.line}`);
});

test('JSON: rejections by kind, ISO timestamps with offsets, numeric strings', () => {
  const base = { ts: 1700000000.25, 'id.orig_h': '10.0.0.1', 'id.orig_p': 1, 'id.resp_h': '10.0.0.2', 'id.resp_p': 2, proto: 'udp', conn_state: 'S0', orig_pkts: 1, orig_ip_bytes: 40 };
  const lines = [
    base, { ...base, ts: '2023-11-14T22:13:20.250000Z' }, { ...base, ts: '2023-11-14T23:13:20.250000+01:00' }, { ...base, 'id.orig_p': '1', orig_pkts: '1' },
    { ...base, ts: 'yesterday' }, { ...base, 'id.orig_h': 'x' }, { ...base, 'id.resp_p': -1 }, { ...base, proto: 'gre' }, { ...base, orig_pkts: 1.5 },
    { ...base, conn_state: undefined }, { ...base, duration: -2 }, { ...base, _path: 'dns' }, { ...base, vlan: 5000000 }, [1, 2],
  ].map((o) => JSON.stringify(o));
  const r = parse([...lines, '{"ts": 1,', 'not json'].join('\n'));
  assert.equal(r.rejections.map((x) => x.kind), ['bad_time', 'bad_address', 'bad_port', 'bad_protocol', 'bad_number', 'missing_field', 'bad_time', 'not_conn_log',
    'bad_number', 'bad_json', 'bad_json', 'bad_json']);
  assert.equal(r.events.map((e) => e.start), [1700000000.25, 1700000000.25, 1700000000.25, 1700000000.25]);
  const bom = parse('\ufeff' + lines[0] + '\n');
  assert.equal([bom.format, bom.events.length], ['json', 1]);
  assert.is(isoSeconds('2024-01-19T01:00:00.123456Z'), 1705626000.123456);
  assert.ok(Number.isNaN(isoSeconds('2024-13-01T00:00:00Z')));
});

test('JSON: proto by the sensor\'s own names (sctp), ip_proto wins over an unknown name, neither → bad_protocol', () => {
  // this sensor's own JSON output for an SCTP flow: proto "sctp", ip_proto 132
  const rec: FlowRecord = {
    ts: 1700000000.5, uid: 'CabcdefghijklmnopqR', 'id.orig_h': '10.0.0.1', 'id.orig_p': 2905, 'id.resp_h': '10.0.0.2', 'id.resp_p': 2905,
    proto: 'sctp', duration: 1.5, conn_state: 'OTH', local_orig: true, local_resp: true, missed_bytes: 0, history: '', orig_pkts: 4,
    orig_ip_bytes: 400, resp_pkts: 3, resp_ip_bytes: 300, ip_proto: 132, community_id: '1:AAAAAAAAAAAAAAAAAAAAAAAAAAA=', end_reason: 'inactive',
  };
  const own = parse(flowRecordJson(rec) + '\n');
  assert.equal(own.rejections, []);
  assert.equal([own.events.length, own.events[0]!.proto, own.events[0]!.srcPort, own.events[0]!.pkts, own.events[0]!.revBytes], [1, 132, 2905, 4, 300]);
  // the name alone is enough, for every name the sensor writes
  const base = { ts: 1, 'id.orig_h': '10.0.0.1', 'id.orig_p': 1, 'id.resp_h': '10.0.0.2', 'id.resp_p': 2, conn_state: 'OTH' };
  const lines = [
    { ...base, proto: 'tcp' }, { ...base, proto: 'udp' }, { ...base, proto: 'icmp' }, { ...base, proto: 'sctp' }, { ...base, proto: 'unknown_transport' },
    { ...base, proto: 'icmp', 'id.orig_h': '2001:db8::1', 'id.resp_h': '2001:db8::2' },
    { ...base, proto: 'gre', ip_proto: 47 }, { ...base, proto: 'unknown_transport', ip_proto: 89 },
    { ...base, proto: 'gre' }, { ...base, proto: 'gre', ip_proto: null }, { ...base, proto: 'gre', ip_proto: 256 }, { ...base, proto: 'sctp', ip_proto: 'x' },
    { ...base, proto: 5 },
  ].map((o) => JSON.stringify(o));
  const r = parse(lines.join('\n') + '\n');
  assert.equal(r.events.map((e) => e.proto), [6, 17, 1, 132, 0, 58, 47, 89]);
  assert.equal(r.rejections.map((x) => [x.kind, x.line]), [['bad_protocol', 9], ['bad_protocol', 10], ['bad_protocol', 11], ['bad_protocol', 12], ['bad_protocol', 13]]);
});

// ------------------------------------------------------------------ the reader

test('reader: gzip, directory, stdin-like chunking, cut last line, long lines, corrupt gzip', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zeek-conn-test-'));
  try {
    const text = [...HEAD, FIELDS, ROW, ROW, ROW].join('\n') + '\n';
    writeFileSync(join(dir, 'a.log.gz'), gzipSync(text));
    writeFileSync(join(dir, 'b.log'), text + ROW.slice(0, 30)); // cut mid-line
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ ts: 1, 'id.orig_h': '10.0.0.1', 'id.orig_p': 1, 'id.resp_h': '10.0.0.2', 'id.resp_p': 2, proto: 'tcp', conn_state: 'S0' })); // no newline: complete JSON is fine
    writeFileSync(join(dir, 'd.log'), [...HEAD, FIELDS, 'x'.repeat(5000), ROW].join('\n') + '\n');
    writeFileSync(join(dir, 'e.log.gz'), gzipSync(text).subarray(0, 40));
    const sink = collect();
    const r = await readZeekConn(dir, sink, { maxLine: 4096 });
    assert.is(r.files, 5);
    assert.equal(sink.rejections.map((x) => [x.input.split('/').pop(), x.kind]),
      [['b.log', 'truncated_line'], ['d.log', 'line_too_long'], ['e.log.gz', 'corrupt_gzip']]);
    assert.is(r.emitted, 3 + 3 + 1 + 1);
    assert.equal(sink.rejections[1]!.line, 7);
    const missing = collect();
    await readZeekConn(join(dir, 'nope.log'), missing);
    assert.equal(missing.rejections.map((x) => x.kind), ['unreadable_input']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('any chunking gives the same result as the whole buffer', () => {
  if (!needSharedData('zeek conn.log')) return;
  const rng = new Rng('zeek-chunks');
  for (const rel of ['flows/zeek_conn/rita/proxy/proxy__conn.log', 'flows/zeek_conn/rita/truncated/truncated__conn.log', 'flows/zeek_conn/stratosphere/test9-mixed/test9-mixed-zeek-dir__conn.log']) {
    const bytes = readFileSync(sharedPath(rel));
    const whole = parse(bytes);
    for (let i = 0; i < 20; i++) {
      const chunks: Buffer[] = [];
      for (let o = 0; o < bytes.length;) { const n = rng.chance(0.2) ? rng.int(1, 3) : rng.int(1, 3000); chunks.push(bytes.subarray(o, o + n)); o += n; }
      const sink = collect();
      const p = parseZeekConnChunks(chunks, 'test', sink);
      assert.equal(sink.events, whole.events, rel);
      assert.equal(sink.rejections, whole.rejections, rel);
      assert.equal(p.stats, whole.stats);
    }
  }
});

// ------------------------------------------------------------------ fuzz

test('fuzz: thousands of mutated logs never throw, every line is accounted for, events are sane', () => {
  if (!needSharedData('zeek conn.log')) return;
  const samples = ['flows/zeek_conn/rita/proxy/proxy__conn.log', 'flows/zeek_conn/zeek_btest_baselines/pppoe.pcap/core.pppoe__conn.log',
    'flows/zeek_conn/rita/json_with_all_fields/json_with_all_fields__conn.log', 'flows/zeek_conn/stratosphere/test18-ctu-sme-11-labeled/zeek-labeled__conn.log.labeled']
    .map((p) => { const b = readFileSync(sharedPath(p)); return b.subarray(0, Math.min(b.length, 6000)); });
  const TOK = ['\t', '\n', '#', '-', '(empty)', ',', '"', '{', '}', ':', '.', '\\x09', '#fields\tts', '#separator \\x2c', '#unset_field\tX', '99999999999999999999', '1e308', 'tcp', 'icmp', '::', 'é', '\r', ' '];
  const rng = new Rng('zeek-fuzz-1');
  let emitted = 0, rejected = 0;
  const kinds = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    let b = Buffer.from(rng.pick(samples));
    for (let k = rng.int(1, 8); k > 0; k--) {
      const at = rng.int(0, Math.max(0, b.length - 1));
      switch (rng.int(0, 5)) {
        case 0: b[at] = rng.int(0, 255); break;
        case 1: b = Buffer.concat([b.subarray(0, at), Buffer.from(rng.pick(TOK)), b.subarray(at)]); break;
        case 2: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 30)))]); break;
        case 3: { const len = rng.int(1, 400); b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]); break; }
        case 4: b = b.subarray(0, at); break;
        default: { let s = at; while (s < b.length && !(b[s]! >= 0x30 && b[s]! <= 0x39)) s++; let e = s; while (e < b.length && b[e]! >= 0x30 && b[e]! <= 0x39) e++;
          b = Buffer.concat([b.subarray(0, s), Buffer.from(String(rng.pick([0, 65535, 65536, 256, 2 ** 53, rng.u32()]))), b.subarray(e)]); }
      }
    }
    let evs = 0, rejs = 0;
    const sink: FlowEventSink = {
      emit(e) {
        evs++;
        for (const v of [e.pkts, e.bytes, e.revPkts, e.revBytes]) assert.ok(Number.isFinite(v) && v >= 0, `count ${v}`);
        for (const v of [e.payloadBytes, e.revPayloadBytes]) assert.ok(Number.isFinite(v) && v >= -1);
        assert.ok(Number.isFinite(e.start) && e.start >= 0 && Number.isFinite(e.end) && e.end >= e.start, `span ${e.start}..${e.end}`);
        assert.ok(e.srcPort <= 65535 && e.dstPort <= 65535 && e.proto >= 0 && e.proto <= 255 && e.vlan >= 0 && e.vlan <= 0xffff);
        assert.ok(e.ipVersion === 4 || e.ipVersion === 6);
        assert.ok(e.history.length <= 64 && e.reporter.length <= 256);
      },
      reject(r) { rejs++; kinds.add(r.kind); assert.ok(typeof r.line === 'number' && r.line >= 1); },
    };
    let p;
    try {
      p = rng.chance(0.5) ? parseZeekConnBuffer(b, 'fuzz', sink, { maskedTime: true })
        : parseZeekConnChunks((function* () { for (let o = 0; o < b.length;) { const n = rng.int(1, 900); yield b.subarray(o, o + n); o += n; } })(), 'fuzz', sink, { maskedTime: true, maxLine: 2000 });
    } catch (e) { assert.unreachable(`threw on mutation ${i}: ${(e as Error).stack}`); return; }
    const s = p.stats;
    assert.is(s.emitted, evs);
    assert.is(s.rejected, rejs);
    assert.is(s.lines, s.emitted + s.rejected + s.headers + s.skipped, 'every line accounted for');
    emitted += evs; rejected += rejs;
  }
  assert.ok(emitted > 30000 && rejected > 1000, `${emitted} events, ${rejected} rejections`);
  assert.ok(kinds.size >= 9, [...kinds].join(' '));
});

test.run();
