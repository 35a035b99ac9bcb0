// The edge-sensor command as a user meets it: help, exit codes, clear
// errors for bad input, stdin, gzip, and Zeek-style JSON lines out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { pcapHeader, pcapRecord } from './helpers/capture-bytes.ts';
import { MAC_A, MAC_B, eth, ipv4, udp, zeros } from './helpers/packet-bytes.ts';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, jsonLines, logLines } from './helpers/cli.ts';
import { REPO_ROOT, needSharedData, sharedPath } from './helpers/shared-data.ts';

const tmp = mkdtempSync(join(tmpdir(), 'edge-cli-'));

test('every subcommand has --help; unknown commands and bad flags exit 2', () => {
  for (const sub of ['analyze', 'demo']) {
    const r = cli([sub, '--help']);
    assert.is(r.code, 0, sub);
    assert.match(r.stdout, `Usage: edge-sensor ${sub}`);
  }
  const top = cli(['--help']);
  assert.is(top.code, 0);
  assert.match(top.stdout, 'analyze');
  assert.is(cli(['frobnicate']).code, 2);
  const bad = cli(['analyze', 'x.pcap', '--format', 'csv']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, '--format must be');
  assert.is(cli(['analyze']).code, 2);
  assert.is(cli(['analyze', 'x.pcap', '--max-flows', 'lots']).code, 2);
  assert.is(cli(['analyze', 'x.pcap', '--no-such-flag']).code, 2);
});

test('demo (npm start): the sample network\'s injected attack is detected — a sweep, a port scan, brute force on its workstation, and the meta model; nothing else breaches; the breaches reach the in-process aggregator and are one incident', () => {
  const r = cli(['demo', '--packets', '20000']);
  assert.is(r.code, 0, r.stderr);
  const m = /Injected at \+[\d.]+ s from \S+ \((\S+)\):/.exec(r.stdout);
  assert.ok(m, r.stdout);
  const ip = m[1]!;
  const breaches = [...r.stdout.matchAll(/\] (.+?)  \(T[\d, T.]+\)\n\s+(\S+) /g)].map((x) => `${x[1]} ${x[2]}`);
  assert.equal(breaches, [
    `Device / Network Scan ${ip}`, `Device / Suspicious Port Scan ${ip}`, `Device / Brute Force Attempt ${ip}`, `Device / Large Number of Model Breaches ${ip}`,
  ]);
  assert.match(r.stdout, 'Model breaches (4;');
  // the second half: delivered over the uplink to the in-process aggregator, correlated into one incident, its API named
  assert.match(r.stdout, 'Aggregator: 4 breaches delivered over gRPC, 1 incident');
  assert.match(r.stdout, `Credential Access → Discovery on ${ip}`);
  assert.match(r.stdout, /API: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/incidents/);
});

test('missing files and non-captures fail clearly, other inputs still run', () => {
  const notCapture = join(tmp, 'notes.txt');
  writeFileSync(notCapture, 'hello, this is not a capture\n');
  const r = cli(['analyze', join(tmp, 'missing.pcap'), notCapture]);
  assert.is(r.code, 1);
  const logs = logLines(r.stderr);
  assert.ok(logs.some((l) => l.kind === 'unreadable_input'), r.stderr);
  assert.ok(logs.some((l) => l.kind === 'unknown_format' && String(l.error).includes('68656c6c')), r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.is(summary.inputs.length, 2);
  assert.is(summary.errors.unreadable_input, 1);
  assert.is(summary.errors.unknown_format, 1);
});

test('flows as JSON lines with Zeek field names; stdin and gzip give the same flows', () => {
  if (!needSharedData('CLI on real captures')) return;
  const summaryFile = join(tmp, 'summary.json');
  const plain = cli(['analyze', sharedPath('pcap/benign/echo-connections.pcap'), '--flows', '-', '--summary', summaryFile]);
  assert.is(plain.code, 0, plain.stderr);
  const flows = jsonLines(plain.stdout);
  assert.ok(flows.length > 0);
  for (const k of ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'conn_state', 'history', 'orig_pkts', 'orig_ip_bytes', 'resp_pkts', 'resp_ip_bytes', 'community_id', 'local_orig', 'local_resp']) {
    assert.ok(k in flows[0]!, `field ${k}`);
  }
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
  assert.is(summary.packets, 82582);
  assert.is(summary.flow_records, flows.length);

  const gz = cli(['analyze', sharedPath('pcap/derived/echo-connections.pcap.gz'), '--flows', '-']);
  assert.is(gz.code, 0, gz.stderr);
  assert.equal(jsonLines(gz.stdout), flows);

  const piped = cli(['analyze', '-', '--flows', '-'], readFileSync(sharedPath('pcap/benign/echo-connections.pcap')));
  assert.is(piped.code, 0, piped.stderr);
  assert.equal(jsonLines(piped.stdout), flows);
});

test('flows to a file, summary to stdout', () => {
  if (!needSharedData('CLI on real captures')) return;
  const out = join(tmp, 'flows.jsonl');
  const r = cli(['analyze', sharedPath('pcap/benign/wikipedia.pcap'), '--flows', out]);
  assert.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.is(summary.packets, 136);
  const flows = jsonLines(readFileSync(out, 'utf8'));
  assert.is(flows.length, summary.flow_records);
  assert.is(summary.sink.sent, flows.length);
  const pkts = flows.reduce((s, f) => s + Number(f.orig_pkts) + Number(f.resp_pkts), 0);
  assert.ok(pkts <= 136 && pkts > 100, `packets in flows: ${pkts}`);
});

test('the installed bin runs (bundle when fresh, tsx otherwise) and gives the same flows', () => {
  if (!needSharedData('CLI on real captures')) return;
  const viaBin = spawnSync(process.execPath, ['sensor/cli/bin.cjs', 'analyze', sharedPath('pcap/benign/wikipedia.pcap'), '--flows', '-'], { cwd: REPO_ROOT });
  assert.is(viaBin.status, 0, viaBin.stderr.toString());
  const direct = cli(['analyze', sharedPath('pcap/benign/wikipedia.pcap'), '--flows', '-']);
  assert.equal(jsonLines(viaBin.stdout.toString()), jsonLines(direct.stdout));
});

test('flows into a pipe that closes early: no crash, the rest is discarded and counted', () => {
  if (!needSharedData('CLI on real captures')) return;
  const summaryFile = join(tmp, 'epipe-summary.json');
  const r = spawnSync('bash', ['-c', `node --import tsx sensor/cli/main.ts analyze ${sharedPath('pcap/benign/echo-connections.pcap')} --flows - --summary ${summaryFile} | head -c 300 > /dev/null; echo "\${PIPESTATUS[0]}"`], { cwd: REPO_ROOT });
  assert.is(r.stdout.toString().trim(), '0', r.stderr.toString());
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
  assert.is(summary.sink.errors, 0);
  assert.ok(summary.sink.discarded > 0);
  assert.is(summary.sink.sent + summary.sink.discarded, summary.flow_records);
});

test('a full disk under --flows: records counted as lost, logged, exit 1', () => {
  if (!needSharedData('CLI on real captures')) return;
  const r = cli(['analyze', sharedPath('pcap/benign/wikipedia.pcap'), '--flows', '/dev/full']);
  assert.is(r.code, 1);
  const summary = JSON.parse(r.stdout);
  assert.is(summary.sink.errors, 1);
  assert.is(summary.sink.sent, 0);
  assert.is(summary.sink.discarded, summary.flow_records);
  assert.match(summary.sink.error, 'ENOSPC');
  assert.ok(logLines(r.stderr).some((l) => l.msg === 'cannot write flow records'), r.stderr);
});

test('a gzip capture cut in the middle: what was decompressed is analysed, the damage counted', () => {
  if (!needSharedData('CLI on real captures')) return;
  const whole = gzipSync(readFileSync(sharedPath('pcap/benign/echo-connections.pcap')));
  const cut = join(tmp, 'cut.pcap.gz');
  writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 3)));
  const r = cli(['analyze', cut]);
  assert.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.ok(summary.packets > 10000 && summary.packets < 82582, `packets ${summary.packets}`);
  assert.is(summary.errors.stream_error, 1);
  assert.is(summary.errors.truncated_record, 1);
  assert.ok(logLines(r.stderr).some((l) => l.kind === 'stream_error'), r.stderr);
});

test('live pipe: a flow that ends is written while the input is still open', async () => {
  // `tcpdump -U -w - | edge-sensor analyze - --flows -`: the writer thread must
  // not sit on a partial batch until the capture ends.
  const child = spawn(process.execPath, ['--import', 'tsx', 'sensor/cli/main.ts', 'analyze', '-', '--flows', '-'], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (b) => { out += b; });
  const frame = (src: string, dst: string, sport: number) =>
    Buffer.from(eth(MAC_B, MAC_A, 0x0800, ipv4({ src, dst, proto: 17, payload: udp(sport, 53, zeros(20)) })));
  const rec = (sec: number, data: Buffer) => Buffer.from(pcapRecord({ sec, frac: 0, data: [...data] }));
  child.stdin.write(Buffer.from(pcapHeader()));
  child.stdin.write(rec(1000, frame('10.0.0.1', '10.0.0.53', 40000)));
  // 100 s later on the capture clock: the first UDP flow (60 s timeout) has ended.
  child.stdin.write(rec(1100, frame('10.0.0.2', '10.0.0.53', 40001)));
  const deadline = Date.now() + 8000;
  while (!out.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const early = out;
  child.stdin.end();
  await new Promise((r) => child.once('close', r));
  assert.ok(early.includes('"id.orig_h":"10.0.0.1"'), `nothing written while the pipe was open (got ${JSON.stringify(early)})`);
  assert.not.ok(early.includes('"id.orig_h":"10.0.0.2"'), 'the flow still open must not be written early');
  assert.is(jsonLines(out).length, 2);
});

test('an unwritable --flows target is a usage error', () => {
  const r = cli(['analyze', join(tmp, 'whatever.pcap'), '--flows', join(tmp, 'no-such-dir', 'flows.jsonl')]);
  assert.is(r.code, 2);
  assert.match(r.stderr, '--flows');
  assert.match(r.stderr.split('\n')[0]!, /^edge-sensor analyze: --flows .*no-such-dir\/flows\.jsonl: ENOENT/);
  assert.not.match(r.stderr, /\n\s+at /);
});

test('an unknown --log-level is a usage error: one line naming it, no stack', () => {
  for (const sub of [['analyze', join(tmp, 'whatever.pcap')], ['run', '--watch', tmp]]) {
    const r = cli([...sub, '--log-level', 'loud']);
    assert.is(r.code, 2, r.stderr);
    assert.equal(r.stderr.trimEnd().split('\n'), [`edge-sensor ${sub[0]}: --log-level: unknown log level "loud" (one of trace, debug, info, warn, error, fatal, silent)`, `(see "edge-sensor ${sub[0]} --help")`]);
  }
});

test('the CommonJS bundle builds from the sources (esbuild refuses a top-level await there), and started directly it runs the CLI alone (a module\'s "run if main" guard once ran the sample generator with its arguments)', () => {
  // bin.cjs runs this bundle
  assert.match(readFileSync(join(REPO_ROOT, 'sensor/cli/bin.cjs'), 'utf8'), "'build', 'js', 'cli', 'main.cjs'");
  // built here, from the sources under test, with the package's own command (a stale build/ proves nothing)
  const out = join(REPO_ROOT, 'build', `test-bundle-${process.pid}`);
  const script = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['build:js']!;
  assert.match(script, '--outdir=build/js');
  try {
    const b = spawnSync('sh', ['-c', script.replace('--outdir=build/js', `--outdir=${out}`)], {
      cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, PATH: `${join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH}` },
    });
    assert.is(b.status, 0, b.stderr);
    const capture = join(tmp, 'bundle.pcap');
    const frame = Buffer.from(eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.53', proto: 17, payload: udp(40000, 53, zeros(20)) })));
    writeFileSync(capture, Buffer.concat([Buffer.from(pcapHeader()), Buffer.from(pcapRecord({ sec: 1000, frac: 0, data: [...frame] }))]));
    const r = spawnSync(process.execPath, [join(out, 'cli', 'main.cjs'), 'analyze', capture, '--flows', '-', '--summary', '/dev/null'], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.not.match(r.stderr, 'unknown option');
    const flows = jsonLines(r.stdout);
    assert.equal(flows.map((f) => [f['id.orig_h'], f['id.resp_p']]), [['10.0.0.1', 53]]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
