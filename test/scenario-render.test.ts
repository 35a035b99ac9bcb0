// The scenario renderers (test/scenario/): hand-made connections — every TCP
// end state, DNS over UDP and TCP (NXDOMAIN, TXT, AAAA), ICMP and ICMPv6, IPv6,
// VLAN, a 10-minute connection across windows and an hour boundary, a 1 GB
// transfer — rendered as a capture, AWS VPC and Azure VNet flow logs, then
// read back by the sensor: one flow per connection with the planned tuple,
// conn_state and counts; tshark reads the DNS messages as planned; the flow
// logs give the capture's packets and IP bytes with no parse errors.
// Run: node --import tsx node_modules/uvu/bin.js test scenario-render
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { analyze, type AnalyzeSummary } from '../sensor/pipeline/analyze.ts';
import type { FlowRecord } from '../sensor/flows/zeek-record.ts';
import type { FrameSink } from '../sensor/sample/capture-writer.ts';
import type { Conn } from './scenario/conn.ts';
import { MAX_GAP_S, dnsSizes, planPackets, planTotals, plannedPackets, type PlanTotals } from './scenario/packet-plan.ts';
import { PacketRenderer, renderPcap } from './scenario/render-pcap.ts';
import { renderAwsFlowLogs, renderAzureFlowLogs } from './scenario/render-flowlogs.ts';
import { TSHARK, haveTshark } from './helpers/tshark.ts';

const dir = mkdtempSync(join(tmpdir(), 'edge-sensor-scenario-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// 22:59:00 UTC: the 10-minute connection crosses into the next hour (Azure's hourly blobs).
const T0 = 1700002740;
const mac = (n: number) => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;
const GW = '00:00:0c:07:ac:01';
let port = 40000;
function conn(ts: number, proto: Conn['proto'], orig_h: string, resp_h: string, resp_p: number, state: Conn['state'], duration: number, orig_bytes: number, resp_bytes: number, extra: Partial<Conn> = {}): Conn {
  const icmp = proto === 'icmp';
  return {
    ts: T0 + ts, duration, proto, orig_h, orig_p: icmp ? 8 : ++port, resp_h, resp_p: icmp ? 0 : resp_p,
    orig_bytes, resp_bytes, state, orig_mac: mac(port & 0xff), resp_mac: GW, kind: 'test', ...extra,
  };
}

const CONNS: Conn[] = [
  conn(0.25, 'tcp', '10.0.0.21', '10.0.0.80', 443, 'SF', 3, 800, 12000, { kind: 'browse' }),
  conn(1, 'udp', '10.0.0.21', '10.0.0.53', 53, 'SF', 0.004, 0, 0, { dns: { qname: 'www.corp.example', qtype: 1, rcode: 0, answers: ['10.0.0.80', '10.0.0.81'], ttl: 300 } }),
  conn(1.5, 'udp', '10.0.0.22', '10.0.0.53', 53, 'SF', 0.003, 0, 0, { dns: { qname: 'nosuch.corp.example', qtype: 1, rcode: 3, answers: [], ttl: 0 } }),
  conn(2, 'udp', '10.0.0.23', '198.51.100.53', 53, 'SF', 0.03, 0, 0, {
    attack: 'dns-tunnel-1', dns: { qname: 'aGVsbG8gd29ybGQ.t.example.net', qtype: 16, rcode: 0, answers: [], ttl: 60, txt: ['v=spf1 -all', 'x'.repeat(300)] },
  }),
  conn(2.5, 'tcp', '10.0.0.24', '10.0.0.53', 53, 'SF', 0.02, 0, 0, { dns: { qname: 'v6.corp.example', qtype: 28, rcode: 0, answers: ['2001:db8::1', '2001:db8::2'], ttl: 3600 } }),
  conn(3, 'tcp', '10.0.0.22', '198.51.100.7', 8443, 'S0', 3.5, 0, 0),
  conn(3.2, 'tcp', '10.0.0.23', '10.0.0.9', 23, 'REJ', 0.0004, 0, 0, { attack: 'scan-1' }),
  conn(4, 'tcp', '10.0.0.24', '203.0.113.5', 22, 'S1', 20, 2000, 30000),
  conn(4.5, 'tcp', '10.0.0.25', '10.0.0.80', 8080, 'RSTO', 2, 500, 700),
  conn(5, 'icmp', '10.0.0.26', '10.0.0.1', 0, 'SF', 3, 224, 224, { kind: 'monitor-ping' }),
  conn(5.5, 'icmp', 'fd00::26', 'fd00::1', 0, 'SF', 2, 168, 168),
  conn(6, 'icmp', '10.0.0.26', '198.51.100.99', 0, 'S0', 1, 112, 0),
  conn(6.5, 'tcp', 'fd00::21', '2001:db8::80', 443, 'SF', 5, 1500, 250000),
  conn(7, 'udp', '10.20.0.5', '10.0.0.60', 514, 'S0', 10, 3000, 0, { vlan: 20, kind: 'syslog' }),
  conn(7.5, 'udp', '10.0.0.27', '10.0.0.2', 123, 'SF', 0.01, 48, 48, { kind: 'ntp' }),
  conn(8, 'udp', '10.0.0.28', '10.0.0.54', 53, 'S0', 4, 0, 0, { dns: { qname: 'dead.corp.example', qtype: 1, rcode: 0, answers: [], ttl: 0 } }),
  conn(9, 'tcp', '10.30.0.29', '10.0.0.81', 22, 'SF', 600, 50000, 400000, { vlan: 30, kind: 'ssh' }),
  conn(10, 'tcp', '10.0.0.30', '10.0.0.40', 445, 'SF', 20, 1e9, 20000, { kind: 'backup' }),
];
const PLANS = CONNS.map((c) => ({ conn: c, plan: planPackets(c), totals: planTotals(planPackets(c)) }));

/** The flow key the sensor reports: ICMP as (type, counterpart type) from packets, (0, 0) from flow logs (which have no type). */
function keyOf(c: Conn, flowLog = false): string {
  const v6 = c.orig_h.includes(':');
  const [op, rp] = c.proto !== 'icmp' ? [c.orig_p, c.resp_p] : flowLog ? [0, 0] : v6 ? [128, 129] : [8, 0];
  return `${c.proto} ${c.orig_h} ${op} ${c.resp_h} ${rp}`;
}
const recKey = (r: FlowRecord) => `${r.proto} ${r['id.orig_h']} ${r['id.orig_p']} ${r['id.resp_h']} ${r['id.resp_p']}`;

async function flowsOf(path: string): Promise<{ flows: Map<string, FlowRecord[]>; summary: AnalyzeSummary }> {
  const flows = new Map<string, FlowRecord[]>();
  const summary = await analyze({ inputs: [path], progress: false, onRecord: (r) => { if (!r.interim) flows.set(recKey(r), [...(flows.get(recKey(r)) ?? []), r]); } });
  return { flows, summary };
}

/** Each connection is exactly one flow record, and nothing else was reported. */
function onePerConn(flows: Map<string, FlowRecord[]>, flowLog = false): Map<Conn, FlowRecord> {
  const out = new Map<Conn, FlowRecord>();
  for (const { conn } of PLANS) {
    const k = keyOf(conn, flowLog);
    const got = flows.get(k);
    assert.ok(got, `no flow for ${k}; flows: ${[...flows.keys()].join(' | ')}`);
    assert.is(got.length, 1, `${got.length} flows for ${k}`);
    out.set(conn, got[0]!);
  }
  assert.is(flows.size, PLANS.length, `extra flows: ${[...flows.keys()].filter((k) => !PLANS.some((p) => keyOf(p.conn, flowLog) === k)).join(' | ')}`);
  return out;
}

function sameCounts(r: FlowRecord, t: PlanTotals, what: string): void {
  assert.equal(
    { orig_pkts: r.orig_pkts, resp_pkts: r.resp_pkts, orig_ip_bytes: r.orig_ip_bytes, resp_ip_bytes: r.resp_ip_bytes },
    { orig_pkts: t.orig_pkts, resp_pkts: t.resp_pkts, orig_ip_bytes: t.orig_ip_bytes, resp_ip_bytes: t.resp_ip_bytes },
    what,
  );
}

/** The conn_state a capture of this connection shows (UDP: answered or not; ICMP has none in Zeek's sense). */
function expectedState(c: Conn): string {
  if (c.proto === 'icmp') return 'OTH';
  if (c.proto === 'udp') return c.state === 'S0' ? 'S0' : 'SF';
  return c.state;
}

// ---------------------------------------------------------------- the plans

test('plans: first packet at ts, last at ts + duration (S0: the last retry), in order, never silent beyond MAX_GAP_S', () => {
  for (const { conn, plan, totals } of PLANS) {
    const what = `${conn.kind} ${keyOf(conn)} ${conn.state}`;
    assert.is(plan.ns[0], 0, what);
    for (let i = 1; i < plan.n; i++) {
      assert.ok(plan.ns[i]! >= plan.ns[i - 1]!, `${what}: packet ${i} goes back in time`);
      assert.ok(plan.ns[i]! - plan.ns[i - 1]! <= MAX_GAP_S * 1e9, `${what}: ${(plan.ns[i]! - plan.ns[i - 1]!) / 1e9} s of silence`);
    }
    if (conn.state === 'S0' && conn.proto !== 'udp') assert.ok(totals.duration <= conn.duration, what);
    else if (!(conn.state === 'S0' && conn.dns)) assert.is(totals.duration, conn.duration, what);
    // the Conn's payload bytes, except where the state (S0/REJ TCP) or the DNS messages decide
    if (!conn.dns && !(conn.proto === 'tcp' && (conn.state === 'S0' || conn.state === 'REJ'))) {
      assert.is(totals.orig_bytes, conn.orig_bytes, `${what} orig_bytes`);
      assert.is(totals.resp_bytes, conn.state === 'S0' ? 0 : conn.resp_bytes, `${what} resp_bytes`);
    }
  }
  const byKind = (k: string) => PLANS.find((p) => p.conn.kind === k)!;
  // a 1 GB transfer in 65000-byte GRO segments: ~15 k packets, not 700 k
  assert.ok(byKind('backup').plan.n < 16000, `backup: ${byKind('backup').plan.n} packets`);
  const s0 = PLANS.find((p) => p.conn.proto === 'tcp' && p.conn.state === 'S0')!;
  assert.equal(plannedPackets(s0.plan).map((p) => [p.t - s0.conn.ts, p.flags]), [[0, 2], [1, 2], [3, 2]]);
  const rej = PLANS.find((p) => p.conn.state === 'REJ')!;
  assert.equal(plannedPackets(rej.plan).map((p) => [p.dir, p.flags]), [[0, 2], [1, 0x14]]);
  // DNS: the encoded messages are the payload; an unanswered query is sent three times in 4 s
  for (const { conn, totals } of PLANS.filter((p) => p.conn.dns)) {
    const s = dnsSizes(conn)!;
    const sends = conn.state === 'S0' ? 3 : 1;
    assert.equal([totals.orig_bytes, totals.resp_bytes], [s.query * sends, conn.state === 'S0' ? 0 : s.response], conn.dns!.qname);
  }
  // deterministic: the same conn plans the same packets
  const again = planPackets(CONNS[0]!);
  assert.equal([...again.ns], [...PLANS[0]!.plan.ns]);
});

// ---------------------------------------------------------------- the capture

const pcapPath = join(dir, 'scenario.pcap');
const pcapngPath = join(dir, 'scenario.pcapng');

test('capture: one flow per connection with its tuple, conn_state, payload and IP counts, VLAN and MACs', async () => {
  const stats = renderPcap(pcapPath, CONNS);
  assert.is(stats.conns, CONNS.length);
  assert.is(stats.packets, PLANS.reduce((s, p) => s + p.plan.n, 0));
  assert.ok(stats.capturedBytes < stats.packets * 128 + 4096, 'frames are cut at the snap length (DNS ones kept whole)');
  const { flows, summary } = await flowsOf(pcapPath);
  assert.is(summary.packets, stats.packets);
  const byKey = onePerConn(flows);
  for (const { conn, totals } of PLANS) {
    const r = byKey.get(conn)!;
    const what = `${conn.kind} ${keyOf(conn)}`;
    assert.is(r.conn_state, expectedState(conn), what);
    assert.equal([r.orig_bytes, r.resp_bytes], [totals.orig_bytes, totals.resp_bytes], `${what} payload bytes`);
    sameCounts(r, totals, what);
    assert.ok(Math.abs(r.ts - conn.ts) < 1e-6, `${what} ts ${r.ts}`);
    assert.ok(Math.abs((r.duration ?? 0) - totals.duration) < 2e-6, `${what} duration ${r.duration}`);
    assert.is(r.vlan, conn.vlan, what);
    assert.equal([r.orig_l2_addr, r.resp_l2_addr], [conn.orig_mac, conn.resp_mac], what);
  }
});

test('capture: pcapng and any FrameSink get the same packets in time order', async () => {
  renderPcap(pcapngPath, CONNS, { format: 'pcapng', nanosecond: true });
  const { flows } = await flowsOf(pcapngPath);
  const byKey = onePerConn(flows);
  for (const { conn, totals } of PLANS) sameCounts(byKey.get(conn)!, totals, keyOf(conn));
  // the walk's order, and the frames' declared lengths, seen by a plain sink
  let last = -Infinity, frames = 0, wire = 0;
  const sink: FrameSink = {
    frame(sec, nsec, _d, _o, len, wireLen) {
      const t = sec * 1e9 + nsec;
      assert.ok(t >= last, 'frames in capture-time order');
      assert.ok(len <= wireLen);
      last = t; frames++; wire += wireLen;
    },
  };
  const r = new PacketRenderer(sink, { snaplen: 96 });
  for (const c of CONNS) r.add(c);
  const s = r.finish();
  assert.is(frames, s.packets);
  assert.is(wire, s.wireBytes);
  assert.ok(s.maxOpen >= 2 && s.maxOpen < CONNS.length);
  // rendering is deterministic, byte for byte
  const copy = join(dir, 'again.pcap');
  renderPcap(copy, CONNS);
  assert.ok(readFileSync(copy).equals(readFileSync(pcapPath)), 'same conns, same bytes');
  assert.throws(() => { const x = new PacketRenderer(sink); x.add(CONNS[1]!); x.add(CONNS[0]!); }, /start-time order/);
});

test('capture: tshark decodes the DNS queries and answers as planned', () => {
  if (!haveTshark()) { console.log(`  [skip] tshark DNS check: ${TSHARK} not installed`); return; }
  const fields = ['frame.number', 'dns.flags.response', 'dns.qry.name', 'dns.qry.type', 'dns.flags.rcode', 'dns.count.answers', 'dns.a', 'dns.aaaa', 'dns.txt', 'dns.resp.ttl', 'udp.srcport', 'tcp.srcport', 'udp.dstport', 'tcp.dstport'];
  const out = execFileSync(TSHARK, ['-r', pcapPath, '-n', '-Y', 'dns', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const rows = out.trim().split('\n').map((l) => Object.fromEntries(l.split('\t').map((v, i) => [fields[i]!, v])) as Record<string, string>);
  const dnsConns = PLANS.filter((p) => p.conn.dns);
  const isResponse = (r: Record<string, string>) => r['dns.flags.response'] === '1' || r['dns.flags.response'] === 'True'; // tshark 4.0 / 4.2+
  for (const { conn } of dnsConns) {
    const d = conn.dns!;
    const port = String(conn.orig_p);
    const queries = rows.filter((r) => !isResponse(r) && (r['udp.srcport'] === port || r['tcp.srcport'] === port));
    const answers = rows.filter((r) => isResponse(r) && (r['udp.dstport'] === port || r['tcp.dstport'] === port));
    assert.is(queries.length, conn.state === 'S0' ? 3 : 1, `${d.qname} queries`);
    for (const q of queries) assert.equal([q['dns.qry.name'], q['dns.qry.type']], [d.qname, String(d.qtype)], d.qname);
    if (conn.state === 'S0') { assert.is(answers.length, 0); continue; }
    assert.is(answers.length, 1, `${d.qname} answers`);
    const a = answers[0]!;
    assert.equal([a['dns.qry.name'], a['dns.qry.type'], a['dns.flags.rcode']], [d.qname, String(d.qtype), String(d.rcode)], d.qname);
    assert.is(a['dns.count.answers'], String(d.rcode === 0 ? d.answers.length + (d.txt?.length ?? 0) : 0), d.qname);
    const list = (f: string) => (a[f] ? a[f]!.split('|') : []);
    assert.equal(list('dns.a'), d.answers.filter((x) => !x.includes(':')), `${d.qname} A`);
    assert.equal(list('dns.aaaa'), d.answers.filter((x) => x.includes(':')), `${d.qname} AAAA`);
    // a TXT string over 255 bytes is split into character-strings of one record
    assert.is(list('dns.txt').join(''), (d.txt ?? []).join(''), `${d.qname} TXT`);
    if (d.rcode === 0) assert.ok(list('dns.resp.ttl').every((t) => t === String(d.ttl)), `${d.qname} TTL`);
  }
  // checksums: every frame kept whole verifies (frames cut at the snap length cannot be checked)
  const whole = join(dir, 'whole.pcap');
  renderPcap(whole, CONNS.filter((c) => c.kind !== 'backup'), { snaplen: 262144 });
  const status = execFileSync(TSHARK, ['-r', whole, '-n', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE',
    '-T', 'fields', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'udp.checksum.status', '-e', 'icmp.checksum.status', '-e', 'icmpv6.checksum.status'],
  { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const verdicts = new Set(status.split(/\s+/).filter((v) => v !== ''));
  assert.equal([...verdicts], ['1'], `checksum verdicts (1 = good): ${[...verdicts].join(' ')}`);
  // nothing malformed anywhere in the capture
  const bad = execFileSync(TSHARK, ['-r', pcapPath, '-n', '-Y', '_ws.malformed || _ws.expert.severity == "error"', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  assert.is(bad, '', `malformed frames: ${bad.split('\n').slice(0, 10).join(' ')}`);
});

// ---------------------------------------------------------------- flow logs

/** The flow-log rendering read back: no rejections, one flow per connection with the capture's counts. */
async function checkFlowLog(path: string, what: string, states: boolean): Promise<Map<Conn, FlowRecord>> {
  const { flows, summary } = await flowsOf(path);
  assert.equal(summary.errors, {}, `${what}: errors`);
  for (const i of summary.inputs) {
    assert.ok(i.ok, `${what}: ${i.name} ${i.error ?? ''}`);
    assert.is(i.rejected ?? 0, 0, `${what}: rejected records`);
  }
  const byKey = onePerConn(flows, true);
  for (const { conn, totals } of PLANS) {
    const r = byKey.get(conn)!;
    sameCounts(r, totals, `${what} ${conn.kind} ${keyOf(conn)}`);
    if (states && conn.proto !== 'icmp') assert.is(r.conn_state, expectedState(conn), `${what} ${keyOf(conn)} conn_state`);
    assert.is(r.late, undefined, `${what} ${keyOf(conn)} late`);
  }
  return byKey;
}

test('AWS VPC flow logs: per interface, direction and 60 s window; read back with the capture’s packets and IP bytes', async () => {
  const path = join(dir, 'vpc.log');
  const s = renderAwsFlowLogs(path, CONNS);
  assert.is(s.late, 0);
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  assert.match(lines[0]!, /^version account-id interface-id srcaddr dstaddr .* tcp-flags type pkt-srcaddr pkt-dstaddr region az-id flow-direction traffic-path$/);
  assert.is(lines.length - 1, s.records);
  const ends = lines.slice(1).map((l) => Number(l.split(' ')[11]));
  assert.equal(ends, [...ends].sort((a, b) => a - b), 'records in time order');
  for (const l of lines.slice(1)) {
    const f = l.split(' ');
    assert.is(Number(f[11]) - Number(f[10]), 60, 'start/end are the capture window');
    const flags = Number(f[17]);
    assert.ok((flags & ~0x17) === 0 && (!(flags & 16) || (flags & 2) !== 0), `tcp-flags ${flags}: FIN, SYN, RST and SYN-ACK only`);
  }
  const byKey = await checkFlowLog(path, 'aws', true);
  // both ends internal: both ENIs logged it, the sensor kept one copy
  assert.is(byKey.get(CONNS[0]!)!.deduped, true);
  assert.is(byKey.get(CONNS.find((c) => c.resp_h === '203.0.113.5')!)!.deduped, undefined);
  // the long connection: ten-odd windows, both ways, merged into one flow
  assert.ok(byKey.get(CONNS.find((c) => c.kind === 'ssh')!)!.source_records! >= 20);
});

test('AWS VPC flow logs: 10-minute interval and packet times also read back exactly', async () => {
  const path = join(dir, 'vpc-600.log.gz');
  renderAwsFlowLogs(path, CONNS, { interval: 600, times: 'packets', gzip: true });
  await checkFlowLog(path, 'aws-600', true);
});

test('Azure VNet flow logs: B/C/E tuples per NIC, one blob or hourly blobs; read back with the capture’s packets and IP bytes', async () => {
  const blob = join(dir, 'PT1H.json');
  const s = renderAzureFlowLogs(blob, CONNS);
  assert.is(s.late, 0);
  const doc = JSON.parse(readFileSync(blob, 'utf8')) as { records: { time: string; macAddress: string; flowRecords: { flows: { flowGroups: { flowTuples: string[] }[] }[] } }[] };
  const tuples = doc.records.flatMap((r) => r.flowRecords.flows.flatMap((f) => f.flowGroups.flatMap((g) => g.flowTuples)));
  assert.is(tuples.length, s.records);
  assert.is(doc.records.length, s.blocks);
  // the 10-minute connection reports every 5 minutes: B, C, C, E per NIC (both ends internal)
  const ssh = CONNS.find((c) => c.kind === 'ssh')!;
  const states = tuples.filter((t) => t.includes(`,${ssh.orig_p},22,`)).map((t) => t.split(',')[7]);
  assert.equal(states.sort(), ['B', 'B', 'C', 'C', 'C', 'C', 'E', 'E']);
  await checkFlowLog(blob, 'azure', false);
  // one blob per hour, read as a tree
  const tree = join(dir, 'azure-tree');
  const h = renderAzureFlowLogs(tree, CONNS, { hourly: true });
  assert.is(h.files.length, 2, h.files.join(' '));
  assert.ok(h.files.every((f) => /y=2023\/m=11\/d=1[45]\/h=\d\d\/m=00\/PT1H\.json$/.test(f)), h.files.join(' '));
  assert.ok(readdirSync(tree).length === 1);
  await checkFlowLog(tree, 'azure-hourly', false);
});

test.run();
