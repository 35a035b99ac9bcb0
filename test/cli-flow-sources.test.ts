// `edge-sensor analyze` over flow-record inputs, as a user runs it: formats
// recognised by content, directories read whole, gzip, --format for what
// cannot be guessed, and one record shape (Zeek fields + source fields)
// whatever the source.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { cli, jsonLines, logLines } from './helpers/cli.ts';
import { needSharedData, sharedPath } from './helpers/shared-data.ts';

const tmp = mkdtempSync(join(tmpdir(), 'edge-cli-flows-'));
type Rec = Record<string, unknown>;

function run(args: string[]): { flows: Rec[]; summary: Rec; stderr: string; code: number } {
  const summaryFile = join(tmp, `summary-${Math.random().toString(36).slice(2)}.json`);
  const r = cli(['analyze', ...args, '--flows', '-', '--summary', summaryFile]);
  let summary: Rec = {};
  try { summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as Rec; } catch { /* asserted by callers */ }
  return { flows: jsonLines(r.stdout), summary, stderr: r.stderr, code: r.code };
}

test('every flow-log sample is recognised by content and becomes flow records', () => {
  if (!needSharedData('flow logs through the CLI')) return;
  const cases: [string, string][] = [
    ['flows/aws_vpc/awsdocs_v2_default_with_header.log', 'aws_vpc'],
    ['flows/aws_vpc/awsdocs_v2_default_no_header.log', 'aws_vpc'],
    ['flows/azure_vnet/msdocs_vnet_flowlog_v4_PT1H.json', 'azure_vnet'],
    ['flows/azure_nsg/msdocs_nsg_v2_PT1H.json', 'azure_nsg'],
    ['flows/gcp_vpc/otel_vpc-flow-log-managed-instance.ndjson', 'gcp_vpc'],
    ['flows/zeek_conn/rita/proxy/proxy__conn.log', 'zeek_conn'],
  ];
  for (const [rel, source] of cases) {
    const r = run([sharedPath(rel)]);
    assert.is(r.code, 0, `${rel}: ${r.stderr}`);
    assert.ok(r.flows.length > 0, rel);
    for (const f of r.flows) {
      assert.is(f.source, source, rel);
      for (const k of ['ts', 'uid', 'id.orig_h', 'id.resp_h', 'proto', 'conn_state', 'orig_pkts', 'orig_ip_bytes', 'community_id', 'source_records']) assert.ok(k in f, `${rel}: ${k}`);
      assert.not.ok('orig_wire_bytes' in f, 'wire bytes are a packet-path field');
    }
    assert.is((r.summary.flow_events as number) > 0, true, rel);
    assert.is(r.summary.packets, 0);
  }
});

test('AWS: the docs example pairs request and response of the SSH flow; REJECT is kept', () => {
  if (!needSharedData('AWS sample')) return;
  const r = run([sharedPath('flows/aws_vpc/awsdocs_v2_default_with_header.log')]);
  const ssh = r.flows.find((f) => f['id.resp_p'] === 22)!;
  assert.ok(ssh, JSON.stringify(r.flows));
  assert.is(ssh['id.orig_h'], '172.31.16.139');
  assert.is(ssh.orig_pkts, 20);
  assert.is(ssh.orig_ip_bytes, 4249);
  assert.is(ssh.reporter, 'eni-1235b8ca123456789');
  const rdp = r.flows.find((f) => f['id.resp_p'] === 3389)!;
  assert.is(rdp.action, 'reject');
});

test('a directory of gzip and plain files is read in order, the same as the files one by one', () => {
  if (!needSharedData('AWS sample')) return;
  const dir = join(tmp, 'vpc', '2024', '01');
  mkdirSync(dir, { recursive: true });
  const src = sharedPath('flows/aws_vpc/awsdocs_v3_custom_tcpflags.log');
  writeFileSync(join(dir, 'a.log.gz'), gzipSync(readFileSync(src)));
  cpSync(sharedPath('flows/aws_vpc/awsdocs_v2_default_with_header.log'), join(dir, 'b.log'));
  const whole = run([join(tmp, 'vpc')]);
  assert.is(whole.code, 0, whole.stderr);
  const one = run([src, sharedPath('flows/aws_vpc/awsdocs_v2_default_with_header.log')]);
  const strip = (fs: Rec[]) => fs.map(({ uid: _u, ...rest }) => rest);
  assert.equal(strip(whole.flows), strip(one.flows));
  // the folder's size in the summary: every file below it, as stored (gzip compressed)
  const bytes = (whole.summary.inputs as { bytes: number }[])[0]!.bytes;
  assert.is(bytes, statSync(join(dir, 'a.log.gz')).size + statSync(join(dir, 'b.log')).size);
});

test('NetFlow/IPFIX/sFlow captures need --format netflow-pcap; flows and sampled packets come out', () => {
  if (!needSharedData('NetFlow samples')) return;
  const ipfix = run([sharedPath('flows/netflow_ipfix/akvorado/data+templates.pcap'), '--format', 'netflow-pcap']);
  assert.is(ipfix.code, 0, ipfix.stderr);
  assert.ok(ipfix.flows.length > 0);
  assert.ok(ipfix.flows.every((f) => f.source === 'ipfix' || f.source === 'netflow_v9'));
  const sflow = run([sharedPath('flows/sflow/akvorado/data-1140.pcap'), '--format', 'netflow-pcap']);
  assert.is(sflow.code, 0, sflow.stderr);
  assert.ok((sflow.summary.packets as number) > 0, 'sFlow samples went through the packet decoder');
  assert.ok(sflow.flows.length > 0);
  for (const f of sflow.flows) {
    assert.is(f.source, 'sflow');
    assert.ok((f.sampling as number) > 1, 'the sampling rate is on the record');
    assert.is((f.orig_pkts as number) % (f.sampling as number), 0, 'each sample counts as `sampling` packets');
  }
  // without --format the same file is a capture of UDP packets: flows of the export traffic itself
  const raw = run([sharedPath('flows/netflow_ipfix/akvorado/data+templates.pcap')]);
  assert.ok(raw.flows.length > 0, 'the export traffic itself is flows');
  assert.ok(raw.flows.every((f) => f.proto === 'udp' && f.source === undefined));
});

test('sFlow interface counters reach the summary, equal to what tshark decodes (latest per agent and ifIndex)', () => {
  if (!needSharedData('sFlow counter samples')) return;
  const file = sharedPath('flows/sflow/misc/sflow_multiple_counter_30_pdus.pcap');
  const r = run([file, '--format', 'netflow-pcap']);
  assert.is(r.code, 0, r.stderr);
  const ours = r.summary.interfaces as { agent: string; sub_agent: number; if_index: number; in_octets: number; out_octets: number }[];
  assert.ok(ours.length > 50, `${ours.length} interfaces`);
  const ts = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'sflow_245.agent', '-e', 'sflow_245.sub_agent_id', '-e', 'sflow_245.ifindex', '-e', 'sflow_245.ifinoct', '-e', 'sflow_245.ifoutoct'], { encoding: 'utf8' });
  if (ts.error) { console.log('  [skip] tshark not installed'); return; }
  const latest = new Map<string, [number, number]>();
  for (const line of ts.stdout.trim().split('\n')) {
    const [agent, sub, idx, inO, outO] = line.split('\t').map((x) => x.split(','));
    idx!.forEach((ix, i) => { if (ix) latest.set(`${agent![0]}/${sub![0]}/${ix}`, [Number(inO![i]), Number(outO![i])]); });
  }
  assert.is(ours.length, latest.size);
  for (const o of ours) assert.equal([o.in_octets, o.out_octets], latest.get(`${o.agent}/${o.sub_agent}/${o.if_index}`), `${o.agent} if ${o.if_index}`);
  const input = (r.summary.inputs as { bytes: number; netflow?: { sflowCounterSamples: number } }[])[0]!;
  assert.ok(input.netflow!.sflowCounterSamples >= ours.length);
  assert.is(input.bytes, statSync(file).size, 'a flow input reports its size');
});

test('garbage and unknown inputs: counted, reported, the rest still analysed', () => {
  const junk = join(tmp, 'junk.log');
  writeFileSync(junk, 'version srcaddr dstaddr\n2 not-an-ip 10.0.0.1\n' + 'x'.repeat(100) + '\n');
  const r = run([junk, '--format', 'aws-vpc']);
  assert.is(r.code, 0, 'a file of bad lines is read (and its lines rejected), not a failed input');
  assert.is(r.flows.length, 0);
  const errors = r.summary.errors as Record<string, number>;
  assert.ok(Object.values(errors).reduce((a, b) => a + b, 0) >= 2, JSON.stringify(errors));
  assert.ok(logLines(r.stderr).some((l) => String(l.msg).startsWith('input error')));
  const bad = cli(['analyze', junk, '--format', 'parquet']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--format must be one of/);
  const missing = run([join(tmp, 'nope.log'), '--format', 'aws-vpc']);
  assert.is(missing.code, 1);
  assert.is((missing.summary.errors as Record<string, number>).unreadable_input, 1);
  // an empty folder holds nothing to recognise: a failed input, named as such
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  const none = run([empty]);
  assert.is(none.code, 1);
  assert.is((none.summary.errors as Record<string, number>).unknown_format, 1);
  assert.match(String((none.summary.inputs as { error?: string }[])[0]!.error), /neither a capture nor a flow log/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
