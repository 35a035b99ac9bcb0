// `edge-sensor run`, the long-running sensor, as a user runs it: a NetFlow/
// IPFIX collector on loopback and a watched flow-log folder at the same time,
// a live packet pipe whose quiet flows time out by wall time, and a clean
// stop on SIGTERM that writes every open flow.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipfixMessage, ipfixTemplateSet, record, set, type FieldSpec } from '../sensor/netflow/export-writer.ts';
import { pcapHeader, pcapRecord } from './helpers/capture-bytes.ts';
import { MAC_A, MAC_B, eth, ipv4, tcp, udp, zeros } from './helpers/packet-bytes.ts';
import { jsonLines } from './helpers/cli.ts';
import { REPO_ROOT, needSharedData, sharedPath } from './helpers/shared-data.ts';
import { buildScenario, SCENARIO_TAGS } from './scenario/generate.ts';
import { renderAwsFlowLogs } from './scenario/render-flowlogs.ts';
import { renderPcap } from './scenario/render-pcap.ts';

const tmp = mkdtempSync(join(tmpdir(), 'edge-run-'));

function start(args: string[], stdin: 'pipe' | 'ignore' = 'ignore'): { child: ChildProcess; stderr: () => string; stdout: () => string } {
  // without --state a test keeps none: `run` would otherwise share the user's default state between tests
  const state = args.includes('--state') ? [] : ['--no-state'];
  const child = spawn(process.execPath, ['--import', 'tsx', 'sensor/cli/main.ts', 'run', ...state, ...args], { cwd: REPO_ROOT, stdio: [stdin, 'pipe', 'pipe'] });
  let err = '', out = '';
  child.stderr!.on('data', (b) => { err += b; });
  child.stdout!.on('data', (b) => { out += b; });
  return { child, stderr: () => err, stdout: () => out };
}

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const FIELDS: FieldSpec[] = [
  { id: 8, length: 4 }, { id: 12, length: 4 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 4, length: 1 },
  { id: 1, length: 8 }, { id: 2, length: 8 }, { id: 152, length: 8 }, { id: 153, length: 8 },
];

test('collector and watched folder at once; SIGTERM writes every flow and a summary', async () => {
  if (!needSharedData('AWS sample for the watched folder')) return;
  const dir = join(tmp, 'vpc');
  mkdirSync(dir);
  const flowsFile = join(tmp, 'flows.jsonl');
  const r = start(['--netflow', 'udp://127.0.0.1:0', '--watch', dir, '--poll', '0.2', '--flows', flowsFile]);
  await until('the collector to listen', () => /"port":\d+/.test(r.stderr()) && r.stderr().includes('listening'));
  const port = Number(/"port":(\d+)[^\n]*listening/.exec(r.stderr())![1]);
  // IPFIX: template + two records (request and reply of one flow)
  const t = 1_700_000_000_000;
  const recs = [
    record(FIELDS, [0x0a000001, 0x0a000002, 40000, 443, 6, 5000, 10, t, t + 1000]),
    record(FIELDS, [0x0a000002, 0x0a000001, 443, 40000, 6, 90000, 70, t, t + 1000]),
  ];
  const msg = ipfixMessage({ exportTime: 1_700_000_002, seq: 0, domain: 3 }, [ipfixTemplateSet([{ id: 256, fields: FIELDS }]), set(256, recs)]);
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((res, rej) => sock.send(msg, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  sock.close();
  // a flow-log file appears in the watched folder (in a subfolder, as S3 delivers)
  mkdirSync(join(dir, '2024', '05'), { recursive: true });
  copyFileSync(sharedPath('flows/aws_vpc/awsdocs_v2_default_with_header.log'), join(dir, '2024', '05', 'a.log'));
  await until('the file to be read', () => r.stderr().includes('flow-log file read'));
  r.child.kill('SIGTERM');
  const code = await new Promise((res) => r.child.once('exit', res));
  assert.is(code, 0, r.stderr());
  const summary = JSON.parse(r.stdout());
  assert.is(summary.files_read, 1);
  assert.is(summary.datagrams, 1);
  assert.is(summary.collectors.length, 1);
  assert.equal([summary.collectors[0].ipfix, summary.collectors[0].records, summary.collectors[0].lostRecords, summary.collectors[0].templatesAdded], [1, 2, 0, 1]);
  // the exporter's first record goes through JavaScript (it names the reporter), the second through the core's decoder
  assert.is(summary.collectors[0].recordsInCore, 1);
  const flows = jsonLines(readFileSync(flowsFile, 'utf8'));
  const ipfix = flows.filter((f) => f.source === 'ipfix');
  assert.is(ipfix.length, 1, JSON.stringify(flows));
  assert.equal([ipfix[0]!['id.orig_h'], ipfix[0]!.orig_pkts, ipfix[0]!.resp_pkts, ipfix[0]!.paired], ['10.0.0.1', 10, 70, true]);
  assert.ok(flows.some((f) => f.source === 'aws_vpc' && f['id.resp_p'] === 22));
  assert.is(summary.flow_records, flows.length);
});

test('live packet pipe: a quiet flow times out by wall time while the pipe stays open', async () => {
  const flowsFile = join(tmp, 'live.jsonl');
  const r = start(['--packets', '-', '--udp-timeout', '1', '--flows', flowsFile], 'pipe');
  const now = Math.floor(Date.now() / 1000);
  const frame = Buffer.from(eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.0.0.7', dst: '10.0.0.53', proto: 17, payload: udp(40000, 53, zeros(20)) })));
  r.child.stdin!.write(Buffer.from(pcapHeader()));
  r.child.stdin!.write(Buffer.from(pcapRecord({ sec: now, frac: 0, data: [...frame] })));
  // no more packets: the flow must still end (1 s timeout + the 1 s tick + the writer's 200 ms batch age)
  await until('the quiet flow to be written', () => existsSync(flowsFile) && readFileSync(flowsFile, 'utf8').includes('10.0.0.7'), 10_000);
  const early = jsonLines(readFileSync(flowsFile, 'utf8'));
  assert.is(early.length, 1);
  assert.is(early[0]!.end_reason, 'inactive');
  r.child.kill('SIGTERM');
  assert.is(await new Promise((res) => r.child.once('exit', res)), 0, r.stderr());
  assert.is(JSON.parse(r.stdout()).packets, 1);
});

test('live packet pipe with --breaches: a sweep is reported while the pipe stays open (the detection thread gets partial slots by age)', async () => {
  const breachFile = join(tmp, 'live-breaches.jsonl');
  const r = start(['--packets', '-', '--breaches', breachFile, '--learning', '0'], 'pipe');
  const now = Math.floor(Date.now() / 1000);
  r.child.stdin!.write(Buffer.from(pcapHeader()));
  for (let h = 1; h <= 40; h++) {
    const syn = tcp({ sport: 51000 + h, dport: 445, flags: 0x02, seq: h });
    const frame = Buffer.from(eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.0.0.5', dst: `10.0.1.${h}`, proto: 6, payload: syn })));
    r.child.stdin!.write(Buffer.from(pcapRecord({ sec: now, frac: h * 10_000, data: [...frame] })));
  }
  // the probes stay open (S0 flows end after minutes): the breach comes from their starts, in a slot published by age
  try {
    await until('the scan breach to be written', () => existsSync(breachFile) && readFileSync(breachFile, 'utf8').includes('device-network-scan'), 10_000);
  } catch (e) { r.child.kill('SIGKILL'); throw e; }
  const breaches = jsonLines(readFileSync(breachFile, 'utf8'));
  assert.equal(breaches.map((b) => b.model), ['device-network-scan']);
  assert.equal((breaches[0]!.device as { ip: string }).ip, '10.0.0.5');
  r.child.kill('SIGTERM');
  assert.is(await new Promise((res) => r.child.once('exit', res)), 0, r.stderr());
  const summary = JSON.parse(r.stdout());
  assert.is(summary.detection.breaches, 1);
  assert.is(summary.counters.learn_conns, 40, 'the thread\'s learning counters in the summary');
});

test('a watched folder gives the same flows as analyze over the same files (replay = offline)', async () => {
  if (!needSharedData('AWS samples')) return;
  const dir = join(tmp, 'replay');
  mkdirSync(dir);
  for (const f of ['awsdocs_v3_custom_tcpflags.log', 'awsdocs_v2_default_with_header.log']) copyFileSync(sharedPath(`flows/aws_vpc/${f}`), join(dir, f));
  const flowsFile = join(tmp, 'replay.jsonl');
  const r = start(['--watch', dir, '--poll', '0.2', '--flows', flowsFile]);
  await until('both files to be read', () => (r.stderr().match(/flow-log file read/g) ?? []).length === 2);
  r.child.kill('SIGTERM');
  assert.is(await new Promise((res) => r.child.once('exit', res)), 0, r.stderr());
  const live = jsonLines(readFileSync(flowsFile, 'utf8'));
  const offline = spawnSync(process.execPath, ['--import', 'tsx', 'sensor/cli/main.ts', 'analyze', dir, '--flows', '-', '--summary', '/dev/null'], { cwd: REPO_ROOT, encoding: 'utf8' });
  const strip = (fs: Record<string, unknown>[]) => fs.map(({ uid: _u, ...rest }) => JSON.stringify(rest)).sort();
  assert.ok(live.length > 3);
  assert.equal(strip(live), strip(jsonLines(offline.stdout)));
});

test('run detects as analyze does: the same breaches from a watched folder of flow logs and from a capture (replay = offline)', async () => {
  const dir = join(tmp, 'detect');
  mkdirSync(dir);
  const scn = buildScenario({ seed: 21, days: 2, workstations: 8, attacks: ['scan-network', 'brute-force', 'beacon'], lookAlikes: false });
  renderAwsFlowLogs(join(dir, 'vpc.log'), scn.conns());
  const pcap = join(tmp, 'detect.pcap');
  renderPcap(pcap, scn.conns());
  const config = join(tmp, 'detect-config.json');
  writeFileSync(config, JSON.stringify({ tags: SCENARIO_TAGS }));
  const key = (bs: Record<string, unknown>[]) => bs.map((b) => JSON.stringify([b.id, b.time, b.model, b.device, b.summary])).sort();
  const offline = (input: string) => key(jsonLines(spawnSync(process.execPath, ['--import', 'tsx', 'sensor/cli/main.ts', 'analyze', input, '--breaches', '-', '--models', config, '--summary', '/dev/null'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout));

  const breachesFile = join(tmp, 'detect-watch.jsonl');
  const w = start(['--watch', dir, '--poll', '0.2', '--breaches', breachesFile, '--models', config]);
  await until('the flow log to be read', () => /flow-log file read/.test(w.stderr()), 60_000);
  w.child.kill('SIGTERM');
  assert.is(await new Promise((res) => w.child.once('exit', res)), 0, w.stderr());
  const fromFlows = key(jsonLines(readFileSync(breachesFile, 'utf8')));
  assert.ok(fromFlows.some((b) => b.includes('device-network-scan')) && fromFlows.some((b) => b.includes('compromise-beaconing-rare-endpoint')), fromFlows.join('\n'));
  assert.equal(fromFlows, offline(dir));

  const p = start(['--packets', pcap, '--breaches', '-', '--models', config, '--summary', '/dev/null']);
  await until('the capture to end', () => /packet input ended/.test(p.stderr()), 60_000);
  p.child.kill('SIGTERM');
  assert.is(await new Promise((res) => p.child.once('exit', res)), 0, p.stderr());
  const fromPackets = key(jsonLines(p.stdout()));
  assert.ok(fromPackets.some((b) => b.includes('device-brute-force')), fromPackets.join('\n'));
  assert.equal(fromPackets, offline(pcap));
});

test('an Azure blob still being appended is read as it grows — cut mid-record, then complete and grown again — each record once', async () => {
  if (!needSharedData('Azure sample')) return;
  const blob = readFileSync(sharedPath('flows/azure_vnet/msdocs_vnet_flowlog_v4_PT1H.json'), 'utf8');
  // an hour's blob of three records: the sample's, as if from three VMs (own NIC, own address)
  const rec = (JSON.parse(blob) as { records: Record<string, unknown>[] }).records[0]!;
  const recs = [6, 7, 8, 9].map((host) => JSON.stringify({ ...rec, macAddress: `00224871C20${host}` }).replaceAll('10.0.0.6,', `10.0.0.${host},`));
  const whole = `{"records":[${recs.slice(0, 3).join(',')}]}`;
  // later Azure adds a fourth record's block: before the footer, which moves to the new end
  const grown = `{"records":[${recs.join(',')}]}`;
  // written so far: the first record whole, the second cut in its middle
  const cut = whole.indexOf(recs[1]!) + Math.floor(recs[1]!.length / 2);
  const head = whole.slice(0, cut), rest = whole.slice(cut);
  const dir = join(tmp, 'azure');
  mkdirSync(dir);
  const file = join(dir, 'PT1H.json');
  writeFileSync(file, head);
  const finished = join(tmp, 'finished-PT1H.json');
  writeFileSync(finished, grown);
  const flowsFile = join(tmp, 'azure.jsonl');
  const r = start(['--watch', `${dir}=azure`, '--poll', '0.2', '--flows', flowsFile]);
  await until('the partial blob to be read', () => (r.stderr().match(/flow-log file read/g) ?? []).length === 1);
  appendFileSync(file, rest);
  await until('the grown blob to be read on', () => (r.stderr().match(/flow-log file read/g) ?? []).length === 2);
  writeFileSync(file, grown);
  await until('the completed blob, grown again, to be read on', () => (r.stderr().match(/flow-log file read/g) ?? []).length === 3);
  r.child.kill('SIGTERM');
  assert.is(await new Promise((res) => r.child.once('exit', res)), 0, r.stderr());
  const summary = JSON.parse(r.stdout());
  assert.equal(summary.errors, {}, 'no truncated_blob for a blob still being written');
  const offline = spawnSync(process.execPath, ['--import', 'tsx', 'sensor/cli/main.ts', 'analyze', finished, '--summary', '/dev/null', '--flows', '-'], { cwd: REPO_ROOT, encoding: 'utf8' });
  const strip = (fs: Record<string, unknown>[]) => fs.map(({ uid: _u, ...rest }) => JSON.stringify(rest)).sort();
  const live = jsonLines(readFileSync(flowsFile, 'utf8'));
  const vms = new Set(live.flatMap((f) => [f['id.orig_h'], f['id.resp_h']]).filter((a) => /^10\.0\.0\.[6789]$/.test(String(a))));
  assert.is(vms.size, 4, 'all four records were read');
  assert.equal(strip(live), strip(jsonLines(offline.stdout)), 'the same flows as reading the finished blob, none twice');
});

test('with a collector listening, detection sheds rather than waits: the summary counts what was shed (nothing, when it keeps up), and the breaches of what it learned are written', async () => {
  const breachFile = join(tmp, 'collector-breaches.jsonl');
  const r = start(['--netflow', 'udp://127.0.0.1:0', '--breaches', breachFile, '--learning', '0']);
  await until('the collector to listen', () => /"port":\d+/.test(r.stderr()) && r.stderr().includes('listening'));
  const port = Number(/"port":(\d+)[^\n]*listening/.exec(r.stderr())![1]);
  // a port scan through IPFIX: one host, 30 ports of another, each rejected (RST), within a minute
  const t = 1_700_000_000_000;
  const recs = Array.from({ length: 30 }, (_, i) => record(FIELDS, [0x0a000005, 0x0a000009, 40_000 + i, 1000 + i, 6, 44, 1, t + i * 1000, t + i * 1000]));
  const msg = ipfixMessage({ exportTime: 1_700_000_040, seq: 0, domain: 4 }, [ipfixTemplateSet([{ id: 256, fields: FIELDS }]), set(256, recs)]);
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((res, rej) => sock.send(msg, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  sock.close();
  await new Promise((res) => setTimeout(res, 500)); // (loopback: the datagram is in the socket's buffer, read at once)
  r.child.kill('SIGTERM');
  assert.is(await new Promise((res) => r.child.once('exit', res)), 0, r.stderr());
  const summary = JSON.parse(r.stdout());
  assert.equal(summary.detection.shed, { pulls: 0, records: 0, log_bytes: 0 });
  assert.equal(jsonLines<{ model: string }>(readFileSync(breachFile, 'utf8')).map((b) => b.model), ['device-port-scan']);
});

test('a packet input that cannot be opened fails the run; a missing watched folder is counted and the rest goes on', async () => {
  const flowsFile = join(tmp, 'err.jsonl');
  const r = start(['--packets', join(tmp, 'no-such.pcap'), '--watch', join(tmp, 'no-such-dir'), '--poll', '0.2', '--flows', flowsFile]);
  await until('the missing folder to be reported', () => r.stderr().includes('no-such-dir'));
  r.child.kill('SIGTERM');
  assert.is(await new Promise((res) => r.child.once('exit', res)), 1, r.stderr());
  const summary = JSON.parse(r.stdout());
  assert.match(summary.inputs.packets.error, /no-such\.pcap/);
  assert.ok(summary.errors.unreadable_input >= 2, JSON.stringify(summary.errors));
});

test('a collector port that is taken fails the run at once: it exits (writer thread stopped), exit 1, the reason logged', async () => {
  const taken = dgram.createSocket('udp4');
  await new Promise<void>((res) => taken.bind(0, '127.0.0.1', () => res()));
  try {
    const port = taken.address().port;
    const r = start(['--netflow', `udp://127.0.0.1:${port}`, '--flows', join(tmp, 'taken.jsonl')]);
    // no SIGTERM: it must end by itself (it used to hang, kept alive by the writer thread)
    const code = await Promise.race([
      new Promise((res) => r.child.once('exit', res)),
      new Promise((res) => setTimeout(() => { r.child.kill('SIGKILL'); res('hung'); }, 20_000)),
    ]);
    assert.is(code, 1, r.stderr());
    assert.match(r.stderr(), 'EADDRINUSE');
  } finally { taken.close(); }
});

test('flow records that cannot be written (a full disk) fail the run, counted in the summary', async () => {
  const dir = join(tmp, 'full');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a.log'), [
    'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status',
    '2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK',
    '2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK',
  ].join('\n') + '\n');
  const r = start(['--watch', dir, '--poll', '0.2', '--flows', '/dev/full']);
  await until('the file to be read', () => r.stderr().includes('flow-log file read'));
  r.child.kill('SIGTERM');
  assert.is(await new Promise((res) => r.child.once('exit', res)), 1, r.stderr());
  const summary = JSON.parse(r.stdout());
  assert.is(summary.files_read, 1);
  assert.is(summary.flow_records, 2);
  assert.is(summary.sink.target, '/dev/full');
  assert.ok(summary.sink.errors >= 1, JSON.stringify(summary.sink));
  assert.is(summary.sink.sent, 0);
  assert.is(summary.sink.discarded, summary.flow_records);
  assert.match(summary.sink.error, 'ENOSPC');
  assert.ok(r.stderr().includes('cannot write flow records'), r.stderr());
});

test('breaches that cannot be written (a full disk) fail the run too, counted in the detection summary', async () => {
  const dir = join(tmp, 'full-breaches');
  mkdirSync(dir);
  // a port scan: 30 ports of one host, rejected, within a minute
  const lines = ['version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status'];
  for (let p = 1; p <= 30; p++) lines.push(`2 123456789010 eni-1235b8ca123456789 10.0.0.5 10.0.0.9 ${40000 + p} ${p} 6 1 40 ${1418530010 + p} ${1418530011 + p} REJECT OK`);
  writeFileSync(join(dir, 'scan.log'), lines.join('\n') + '\n');
  const r = start(['--watch', dir, '--poll', '0.2', '--breaches', '/dev/full', '--learning', '0']);
  await until('the file to be read', () => r.stderr().includes('flow-log file read'));
  r.child.kill('SIGTERM');
  assert.is(await new Promise((res) => r.child.once('exit', res)), 1, r.stderr());
  const summary = JSON.parse(r.stdout());
  assert.is(summary.detection.by_model['device-port-scan'], 1);
  assert.equal([summary.detection.sink.target, summary.detection.sink.sent, summary.detection.sink.discarded], ['/dev/full', 0, 1]);
  assert.match(summary.detection.sink.error, 'ENOSPC');
  assert.ok(r.stderr().includes('cannot write breaches'), r.stderr());
});

test('usage errors', async () => {
  for (const args of [[], ['--netflow', 'tcp://x:1'], ['--watch', `${tmp}=parquet`], ['stray']]) {
    const r = start(args);
    const code = await new Promise((res) => r.child.once('exit', res));
    assert.is(code, 2, `${args.join(' ')}: ${r.stderr()}`);
  }
});

test('bad values of --netflow, --flows, --log-level are usage errors: exit 2, one line naming the problem, no stack', async () => {
  const cases: [string[], RegExp][] = [
    [['--netflow', 'udp://127.0.0.1:70000'], /^edge-sensor run: --netflow: .*udp:\/\/127\.0\.0\.1:70000.*port out of range$/],
    [['--watch', tmp, '--flows', join(tmp, 'no-such-dir', 'flows.jsonl')], /^edge-sensor run: --flows .*no-such-dir\/flows\.jsonl: ENOENT/],
    [['--watch', tmp, '--log-level', 'loud'], /^edge-sensor run: --log-level: unknown log level "loud"/],
  ];
  for (const [args, message] of cases) {
    const r = start(args);
    const code = await new Promise((res) => r.child.once('exit', res));
    const what = `${args.join(' ')}: ${r.stderr()}`;
    assert.is(code, 2, what);
    const lines = r.stderr().trimEnd().split('\n');
    assert.match(lines[0]!, message, what);
    assert.equal(lines.slice(1), ['(see "edge-sensor run --help")'], what);
    assert.not.match(r.stderr(), /\n\s+at /, what);
    assert.is(r.stdout(), '', what);
  }
});

test('run --state: a restart reads no watched file twice, keeps its breaches once each and its devices, and goes on with new files', async () => {
  const dir = join(tmp, 'stateful');
  mkdirSync(dir);
  const scn = buildScenario({ seed: 22, days: 2, workstations: 8, attacks: ['scan-network', 'beacon'], lookAlikes: false });
  const all = join(tmp, 'stateful-all.log');
  renderAwsFlowLogs(all, scn.conns());
  const [header, ...lines] = readFileSync(all, 'utf8').split('\n').filter((l) => l);
  const part = (i: number, n: number) => { const per = Math.ceil(lines.length / n); return [header, ...lines.slice(i * per, (i + 1) * per)].join('\n') + '\n'; };
  for (let i = 0; i < 3; i++) writeFileSync(join(dir, `vpc-${i}.log`), part(i, 4));
  const state = join(tmp, 'stateful-state');
  const stateCli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'sensor/cli/main.ts', ...args, '--state', state, '--json'], { cwd: REPO_ROOT, encoding: 'utf8' });
  const runOnce = async (files: number) => {
    const summary = join(tmp, `stateful-summary-${files}.json`);
    const r = start(['--watch', dir, '--poll', '0.2', '--breaches', '/dev/null', '--state', state, '--summary', summary]);
    await until(`${files} files read`, () => (r.stderr().match(/flow-log file read/g)?.length ?? 0) >= files, 60_000);
    // polls pass: nothing more is read. Long enough after start-up (tsx, the threads) for a dozen
    // scans at 0.2 s — a file is read on its second stable scan — so a restart that did read
    // its files again would have done so by now
    await new Promise((res) => setTimeout(res, files === 0 ? 4000 : 1200));
    r.child.kill('SIGTERM');
    assert.is(await new Promise((res) => r.child.once('exit', res)), 0, r.stderr());
    return JSON.parse(readFileSync(summary, 'utf8'));
  };
  const first = await runOnce(3);
  assert.is(first.files_read, 3);
  const breaches = () => jsonLines(stateCli(['breaches']).stdout).map((b) => b.id as string);
  const devices = () => jsonLines(stateCli(['devices']).stdout).map((d) => [d.ip, d.first_seen]);
  const b1 = breaches(), d1 = devices();
  assert.ok(b1.length > 0 && d1.length >= 8, `breaches ${b1.length}, devices ${d1.length}`);

  const second = await runOnce(0);
  assert.is(second.files_read, 0, 'no file read again');
  assert.is(second.flow_events, first.flow_events, 'no flow event added (the counters carry on with the state)');
  assert.equal(breaches(), b1, 'the breaches, once each');
  assert.equal(devices(), d1, 'the devices as learned (first seen unchanged: no relearning)');

  writeFileSync(join(dir, 'vpc-3.log'), part(3, 4));
  const third = await runOnce(1);
  assert.is(third.files_read, 1, 'only the new file');
  assert.ok(third.flow_events > first.flow_events, `the new file's records learned on top (${first.flow_events} → ${third.flow_events})`);
  const b3 = breaches();
  assert.equal(new Set(b3).size, b3.length, 'no breach stored twice');
  assert.ok(b1.every((id) => b3.includes(id)));
  const status = JSON.parse(stateCli(['status']).stdout);
  assert.is((status.status ?? status).running, false, 'stopped cleanly');
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
