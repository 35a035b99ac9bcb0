// `edge-sensor aggregator` and `edge-sensor certs` as a user runs them (the
// CLI in a child process): the aggregator binds port 0 for gRPC and HTTP
// and names the ports in its start-up line, answers the HTTP API, stores
// what a sensor delivers and exits 0 on SIGTERM with its data intact;
// certificates from `certs` are accepted by an mTLS aggregator and its
// sensors, a revoked or certificate-less sensor is refused; files are
// never overwritten without --force; usage errors exit 2, unusable files 1.
// `breaches --api` and `incidents` read an aggregator's HTTP API (here one
// in this process over a store with breaches): the same filters as against
// a sensor's state, plus --sensor, acknowledgements shown; `incidents
// --unacknowledged` leaves acknowledged ones out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, type ChannelCredentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { UplinkClient, validateBreachItem, validateHello, type AggregatorMessageIn, type SensorMessageOut } from '../sensor/uplink/protocol.ts';
import { openAggregatorStore } from '../sensor/aggregator/aggregator-store.ts';
import { startHttpApi } from '../sensor/aggregator/http-api.ts';
import { IncidentService } from '../sensor/aggregator/incident-service.ts';
import type { Breach } from '../sensor/models/breach.ts';
import { cliAsync, jsonLines, logLines, type CliResult } from './helpers/cli.ts';
import { REPO_ROOT } from './helpers/shared-data.ts';
import { makeBreach } from './helpers/breach-fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'edge-aggregator-cli-'));
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const WAIT_MS = 15_000;

test.after(() => { rmSync(tmp, { recursive: true, force: true }); });

const nodeArgs = (args: string[]) => ['--import', 'tsx', 'sensor/cli/main.ts', ...args];

interface Running { child: ChildProcess; grpcPort: number; httpPort: number; stderr: () => string; exited: Promise<number | null> }

/** Start the aggregator and wait for its start-up line (it names the ports bound for port 0). */
async function startAggregator(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, nodeArgs(['aggregator', '--grpc', '127.0.0.1:0', '--http', '127.0.0.1:0', ...args]), {
    cwd: REPO_ROOT, env: { ...process.env, EDGE_SENSOR_LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start-up line within ${WAIT_MS} ms: ${stderr}`)), WAIT_MS);
    child.stderr!.on('data', (b) => {
      stderr += b;
      const l = logLines(stderr.slice(0, stderr.lastIndexOf('\n') + 1)).find((x) => x.msg === 'aggregator: running');
      if (l) { clearTimeout(timer); resolve(l); }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`the aggregator exited (${code}) before it ran: ${stderr}`)); });
  });
  return { child, grpcPort: line.grpc_port as number, httpPort: line.http_port as number, stderr: () => stderr, exited };
}

async function stop(r: Running): Promise<number | null> {
  r.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([r.exited, new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), WAIT_MS); })]);
  clearTimeout(timer);
  if (code === 'timeout') { r.child.kill('SIGKILL'); throw new Error('the aggregator did not exit after SIGTERM'); }
  return code;
}

/** A sensor's stream: send Hello (and more), collect what comes back until the stream ends or `count` messages came. */
async function sensorSession(port: number, creds: ChannelCredentials, sensorId: string, then: SensorMessageOut[] = [], count = 1 + then.length): Promise<{ messages: AggregatorMessageIn[]; code: number | null }> {
  // the aggregator's certificate names localhost and 127.0.0.1; TLS's server name must be a DNS name (RFC 6066)
  const client = new UplinkClient(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': 'localhost' });
  const call = (client as unknown as { Connect(md: Metadata): ClientDuplexStream<SensorMessageOut, AggregatorMessageIn> }).Connect(new Metadata());
  const messages: AggregatorMessageIn[] = [];
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ messages, code: null }), WAIT_MS);
      call.on('data', (m: AggregatorMessageIn) => {
        messages.push(m);
        if (messages.length === count) { clearTimeout(timer); resolve({ messages, code: 0 }); }
      });
      call.on('error', (e: { code: number }) => { clearTimeout(timer); resolve({ messages, code: e.code }); });
      call.write({ hello: { sensor_id: sensorId, sensor_version: '0.1.0', protocol_version: 1, capabilities: [], last_seq: 0, state_id: 'st-1' } });
      for (const m of then) call.write(m);
    });
  } finally {
    call.cancel();
    client.close();
  }
}

function breachItem(sensor: string, seq: number) {
  const b = makeBreach(seq, Date.parse('2024-05-01T00:00:00Z') + seq * 1000);
  return { seq, id: b.id, time: b.time, model: b.model, score: b.score, json: JSON.stringify(b) };
}

const getJson = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.json() as Record<string, any> };
};

test('aggregator: ports picked and logged, HTTP API up, a sensor\'s breaches stored, SIGTERM exits 0 with the data kept', async () => {
  const data = join(tmp, 'plain');
  const r = await startAggregator(['--data', data]);
  try {
    assert.ok(r.grpcPort > 0 && r.httpPort > 0);
    assert.match(r.stderr(), /plaintext gRPC on loopback/, 'warned');
    const health = await getJson(r.httpPort, '/api/v1/health');
    assert.equal([health.status, health.body.status, health.body.grpc.streams_open], [200, 'ok', 0]);
    const s = await sensorSession(r.grpcPort, credentials.createInsecure(), 'lab-1', [{ breaches: { items: [breachItem('lab-1', 1), breachItem('lab-1', 2)] } }]);
    assert.equal(s.messages.map((m) => m.msg), ['welcome', 'ack']);
    const listed = await getJson(r.httpPort, '/api/v1/breaches?sensor=lab-1');
    assert.equal((listed.body.breaches as { seq: number }[]).map((b) => b.seq), [1, 2]);
    assert.is((await getJson(r.httpPort, '/api/v1/nothing')).status, 404);
  } finally {
    assert.is(await stop(r), 0, r.stderr());
  }
  assert.ok(logLines(r.stderr()).some((l) => l.msg === 'aggregator: stopped'));
  const store = openAggregatorStore(data, { readOnly: true });
  try { assert.is(store.breachCount(), 2); } finally { await store.close(); }
});

test('certs: a CA, the aggregator and each sensor, keys 0600; never overwritten without --force; an existing CA is reused', async () => {
  if (!hasOpenssl) { console.log('  (skipped: no openssl)'); return; }
  const out = join(tmp, 'pki-files');
  const made = await cliAsync(['certs', '--out', out, '--sensor', 's1', '--sensor', 's2', '--aggregator-host', 'agg.test', '--days', '2']);
  assert.is(made.code, 0, made.stderr);
  const files = ['ca.pem', 'ca.key', 'aggregator.pem', 'aggregator.key', 'sensor-s1.pem', 'sensor-s1.key', 'sensor-s2.pem', 'sensor-s2.key'];
  assert.equal(made.stdout.trim().split('\n'), files.map((f) => join(out, f)));
  for (const f of files) assert.is(statSync(join(out, f)).mode & 0o777, f.endsWith('.key') ? 0o600 : 0o644, f);
  const text = (f: string) => spawnSync('openssl', ['x509', '-in', join(out, f), '-noout', '-subject', '-ext', 'subjectAltName,extendedKeyUsage'], { encoding: 'utf8' }).stdout;
  assert.match(text('aggregator.pem'), /DNS:agg\.test, DNS:localhost, IP Address:127\.0\.0\.1/);
  assert.match(text('sensor-s1.pem'), /CN ?= ?s1[\s\S]*TLS Web Client Authentication/);
  const caBefore = readFileSync(join(out, 'ca.pem'));

  const again = await cliAsync(['certs', '--out', out, '--sensor', 's1']);
  assert.is(again.code, 1);
  assert.match(again.stderr, /already has sensor-s1\.pem, sensor-s1\.key: not overwritten/);
  // a later sensor: signed by the same CA, nothing else touched
  const s3 = await cliAsync(['certs', '--out', out, '--sensor', 's3']);
  assert.is(s3.code, 0, s3.stderr);
  assert.equal(s3.stdout.trim().split('\n'), [join(out, 'sensor-s3.pem'), join(out, 'sensor-s3.key')]);
  assert.equal(readFileSync(join(out, 'ca.pem')), caBefore);
  assert.is(spawnSync('openssl', ['verify', '-CAfile', join(out, 'ca.pem'), join(out, 'sensor-s3.pem')]).status, 0);
  // --force: a new CA
  const forced = await cliAsync(['certs', '--out', out, '--sensor', 's1', '--force']);
  assert.is(forced.code, 0, forced.stderr);
  assert.not.equal(readFileSync(join(out, 'ca.pem')), caBefore);
  assert.is(spawnSync('openssl', ['verify', '-CAfile', join(out, 'ca.pem'), join(out, 'sensor-s3.pem')]).status === 0, false, 'the old CA\'s certificates no longer verify');
});

test('certs + aggregator over mTLS: a sensor with its certificate delivers; a revoked one, one without a certificate or off the allow list is refused', async () => {
  if (!hasOpenssl) { console.log('  (skipped: no openssl)'); return; }
  const pki = join(tmp, 'pki');
  const made = await cliAsync(['certs', '--out', pki, '--sensor', 's1', '--sensor', 's2', '--sensor', 's3', '--days', '2']);
  assert.is(made.code, 0, made.stderr);
  const allow = join(tmp, 'allow.txt');
  const revoked = join(tmp, 'revoked.txt');
  writeFileSync(allow, '# lab sensors\ns1\ns2\n');
  writeFileSync(revoked, 's2  # lost laptop\n');
  const r = await startAggregator(['--data', join(tmp, 'tls-data'), '--tls-ca', join(pki, 'ca.pem'), '--tls-cert', join(pki, 'aggregator.pem'), '--tls-key', join(pki, 'aggregator.key'), '--allow-sensors', allow, '--revoked', revoked]);
  try {
    const ca = readFileSync(join(pki, 'ca.pem'));
    const creds = (s: string) => credentials.createSsl(ca, readFileSync(join(pki, `sensor-${s}.key`)), readFileSync(join(pki, `sensor-${s}.pem`)));
    const ok = await sensorSession(r.grpcPort, creds('s1'), 's1', [{ breaches: { items: [breachItem('s1', 1)] } }]);
    assert.equal(ok.messages.map((m) => m.msg), ['welcome', 'ack'], 'the certificate from certs is accepted, and names s1');
    const rev = await sensorSession(r.grpcPort, creds('s2'), 's2');
    assert.equal([rev.messages[0]?.msg, rev.messages[0]?.msg === 'error' ? rev.messages[0].error.code : null], ['error', 'REFUSED']);
    const unlisted = await sensorSession(r.grpcPort, creds('s3'), 's3');
    assert.equal(unlisted.messages[0]?.msg === 'error' ? unlisted.messages[0].error.code : null, 'REFUSED');
    const noCert = await sensorSession(r.grpcPort, credentials.createSsl(ca), 's1');
    assert.equal([noCert.messages.length, noCert.code], [0, 14], 'refused at the handshake (UNAVAILABLE)');
    // the lists are read again when they change: s2 is forgiven
    writeFileSync(revoked, '# nobody\n');
    const back = await sensorSession(r.grpcPort, creds('s2'), 's2');
    assert.is(back.messages[0]?.msg, 'welcome');
    const sensors = (await getJson(r.httpPort, '/api/v1/sensors')).body.sensors as { id: string }[];
    assert.equal(sensors.map((s) => s.id), ['s1', 's2']);
  } finally {
    assert.is(await stop(r), 0, r.stderr());
  }
});

test('usage errors exit 2 with a pointer to --help; unusable files and ports exit 1 with one line', async () => {
  const notData = join(tmp, 'not-data');
  mkdirSync(notData);
  writeFileSync(join(notData, 'notes.txt'), 'mine');
  const badList = join(tmp, 'bad-list.txt');
  writeFileSync(badList, 's1\nnot a sensor id\n');
  const cases: [string[], number, RegExp][] = [
    [['aggregator', '--grpc', '0.0.0.0:4317'], 2, /plaintext gRPC is allowed only on a loopback address/],
    [['aggregator', '--tls-ca', 'ca.pem'], 2, /go together/],
    [['aggregator', '--http', 'localhost'], 2, /--http: "localhost" is not HOST:PORT/],
    [['aggregator', '--grpc', '127.0.0.1:70000'], 2, /port must be 0–65535/],
    [['aggregator', 'extra'], 2, /takes no arguments/],
    [['certs'], 2, /--out DIR is required/],
    [['certs', '--out', join(tmp, 'x'), '--aggregator-host', 'bad host'], 2, /not a DNS name or IP address/],
    [['certs', '--out', join(tmp, 'x'), '--ca-name', 'a/b'], 2, /--ca-name must be/],
    [['aggregator', '--grpc', '127.0.0.1:0', '--http', '127.0.0.1:0', '--data', notData], 1, /is not aggregator data/],
    [['aggregator', '--grpc', '127.0.0.1:0', '--http', '127.0.0.1:0', '--data', join(tmp, 'd1'), '--allow-sensors', badList], 1, /--allow-sensors .*bad-list\.txt:2: "not a sensor id" is not a sensor id/],
    [['aggregator', '--grpc', '127.0.0.1:0', '--http', '127.0.0.1:0', '--data', join(tmp, 'd2'), '--tls-ca', join(tmp, 'none.pem'), '--tls-cert', 'x', '--tls-key', 'y'], 1, /cannot read the TLS file .*none\.pem: ENOENT/],
  ];
  const results = await Promise.all(cases.map(([args]) => cliAsync(args)));
  results.forEach((r, i) => {
    const [args, code, msg] = cases[i]!;
    assert.is(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg, args.join(' '));
    if (code === 2) assert.match(r.stderr, /\(see "edge-sensor (aggregator|certs) --help"\)/);
    else assert.is(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  });
  assert.is(readFileSync(join(notData, 'notes.txt'), 'utf8'), 'mine');
  // a port already taken: one line, exit 1, nothing left running
  const first = await startAggregator(['--data', join(tmp, 'busy-1')]);
  try {
    const second = await cliAsync(['aggregator', '--grpc', '127.0.0.1:0', '--http', `127.0.0.1:${first.httpPort}`, '--data', join(tmp, 'busy-2')]);
    assert.is(second.code, 1, second.stderr);
    assert.match(second.stderr, /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  } finally {
    assert.is(await stop(first), 0);
  }
  const help = await Promise.all([cliAsync(['aggregator', '--help']), cliAsync(['certs', '--help']), cliAsync(['--help'])]);
  assert.match(help[0]!.stdout, /^Usage: edge-sensor aggregator/);
  assert.match(help[1]!.stdout, /^Usage: edge-sensor certs --out DIR/);
  assert.match(help[2]!.stdout, /aggregator {9}the central aggregator[\s\S]*certs {14}make a lab CA/);
});

test('breaches --api and incidents against an aggregator: filters, sensors, acknowledgements, --json as the API returns it; usage errors 2, no aggregator 1', async () => {
  const store = openAggregatorStore(join(tmp, 'api-data'));
  const T = Date.parse('2024-05-01T00:00:00Z');
  const valid = <T>(c: { ok: true; value: T } | { ok: false; error: { reason: string } }): T => { if (!c.ok) throw new Error(c.error.reason); return c.value; };
  const stored = async (sensor: string, rows: [number, string, string, number][]) => {
    await store.connect(sensor, valid(validateHello({ sensor_id: sensor, sensor_version: '0.1.0', protocol_version: 1, capabilities: [], last_seq: 0, state_id: `${sensor}-st` })));
    await store.storeBreaches(sensor, rows.map(([seq, device, model, score], i) => {
      // peer left out: every breach on its own device, so each device is one incident
      const b: Breach = { ...makeBreach(seq, T + (sensor === 'lab-1' ? i : 10 + i) * 1000, { device: { ip: device }, model, score }, sensor.slice(-1)), peer: undefined } as Breach;
      return valid(validateBreachItem({ seq, id: b.id, time: b.time, model: b.model, score: b.score, json: JSON.stringify(b) }));
    }));
  };
  await stored('lab-1', [[1, '10.1.0.1', 'port-scan', 50], [2, '10.1.0.1', 'network-scan', 95], [3, '10.1.0.2', 'port-scan', 60], [4, '10.1.0.3', 'brute-force-ssh', 70]]);
  await stored('lab-2', [[1, '10.2.0.1', 'port-scan', 91], [2, '10.2.0.2', 'network-scan', 40]]);
  const incidents = new IncidentService();
  assert.is(incidents.rebuild(store), 6);
  const http = await startHttpApi({ address: '127.0.0.1:0', store, incidents, logger: { level: 'error', debug() {}, info() {}, warn() {}, error() {}, fatal() {} } });
  const api = `http://127.0.0.1:${http.port}`;
  try {
    const post = (path: string, body: unknown) => fetch(`${api}${path}`, { method: 'POST', body: JSON.stringify(body) });
    assert.is((await post('/api/v1/breaches/lab-1/2/ack', { by: 'ana' })).status, 200);
    const acked = incidents.incidents().find((i) => i.devices[0] === '10.1.0.1')!.id;
    assert.is((await post(`/api/v1/incidents/${acked}/ack`, { by: 'ana', comment: 'pen test\nweek 18' })).status, 200);
    const apiBreaches = (await getJson(http.port, '/api/v1/breaches')).body.breaches as Record<string, unknown>[];

    const keys = (r: CliResult) => jsonLines<{ sensor: string; seq: number }>(r.stdout).map((b) => `${b.sensor}:${b.seq}`);
    const runs: Record<string, string[]> = {
      table: ['breaches', '--api', api],
      json: ['breaches', '--api', `${api}/`, '--json'],
      sensor: ['breaches', '--api', api, '--sensor', 'lab-2', '--json'],
      rfc3339: ['breaches', '--api', api, '--since', '2024-05-01T00:00:01Z', '--until', '2024-05-01T02:00:09+02:00', '--json'],
      epoch: ['breaches', '--api', api, '--since', String(T / 1000 + 3), '--json'],
      score: ['breaches', '--api', api, '--min-score', '90', '--json'],
      model: ['breaches', '--api', api, '--model', 'port-scan', '--sensor', 'lab-1', '--json'],
      device: ['breaches', '--api', api, '--device', '10.1.0.1', '--json'],
      limit: ['breaches', '--api', api, '--limit', '2'],
      none: ['breaches', '--api', api, '--sensor', 'lab-9'],
      incidents: ['incidents', '--api', api],
      unacked: ['incidents', '--api', api, '--unacknowledged', '--json'],
    };
    const names = Object.keys(runs);
    const results = Object.fromEntries((await Promise.all(names.map((n) => cliAsync(runs[n]!)))).map((r, i) => [names[i]!, r]));
    for (const n of names) assert.is(results[n]!.code, 0, `${n}: ${results[n]!.stderr}`);
    const table = results.table!.stdout.trimEnd().split('\n');
    assert.match(table[0]!, /^time\s+score\s+sensor\s+model\s+device\s+peer\s+ack\s+summary$/);
    assert.is(table.length, 7);
    assert.match(table.find((l) => l.includes('network-scan') && l.includes('10.1.0.1'))!, /\s95\s+lab-1\s+network-scan\s+10\.1\.0\.1\s+-\s+ack\s/);
    assert.is(table.slice(1).filter((l) => /\sack\s/.test(l)).length, 1, 'only the acknowledged breach');
    assert.equal(jsonLines(results.json!.stdout), apiBreaches, 'one breach per line, exactly as the API returns them');
    assert.equal(keys(results.sensor!), ['lab-2:1', 'lab-2:2']);
    assert.equal(keys(results.rfc3339!), ['lab-1:2', 'lab-1:3', 'lab-1:4'], 'RFC 3339 with zones');
    assert.equal(keys(results.epoch!), ['lab-1:4', 'lab-2:1', 'lab-2:2'], 'epoch seconds');
    assert.equal(keys(results.score!), ['lab-1:2', 'lab-2:1']);
    assert.equal(keys(results.model!), ['lab-1:1', 'lab-1:3']);
    assert.equal(keys(results.device!), ['lab-1:1', 'lab-1:2']);
    assert.is(results.limit!.stdout.trimEnd().split('\n').length, 3, 'a header and the oldest two');
    assert.match(results.limit!.stdout, /lab-1\s+port-scan\s+10\.1\.0\.1[\s\S]*lab-1\s+network-scan/);
    assert.is(results.none!.stdout, 'no breaches match\n');
    assert.match(results.incidents!.stdout, /acknowledged by ana at \d{4}-\d\d-\d\dT[\d:.]+Z: pen test week 18\n/);
    assert.is(results.incidents!.stdout.match(/acknowledged by/g)!.length, 1);
    const unacked = jsonLines<{ id: string; annotation: unknown }>(results.unacked!.stdout);
    assert.equal([unacked.length, unacked.some((i) => i.id === acked), unacked.every((i) => i.annotation === null)], [4, false, true]);

    const errors: [string[], number, RegExp][] = [
      [['breaches', '--api', api, '--state', join(tmp, 'api-data')], 2, /--state DIR and --api URL exclude each other/],
      [['breaches', '--state', join(tmp, 'api-data'), '--sensor', 'lab-1'], 2, /--sensor ID needs --api URL/],
      [['breaches'], 2, /--state DIR is required .*or --api URL/],
      [['breaches', '--api', 'ftp://x'], 2, /--api must be an http\(s\) URL/],
      [['breaches', '--api', api, '--min-score', '101'], 2, /--min-score must be at most 100/],
      [['breaches', '--api', api, '--since', 'yesterday'], 2, /--since must be an RFC 3339 time/],
      [['breaches', '--api', api, '--device', 'not-an-ip'], 1, /^edge-sensor breaches: the aggregator answered 400: device must be an IPv4 or IPv6 address/],
      [['breaches', '--api', `${api}/nothing-here`], 1, /^edge-sensor breaches: the aggregator answered 404: /],
      [['incidents', '--api', api, '--unacknowledged', 'x'], 2, /unexpected argument "x"/],
    ];
    const failed = await Promise.all(errors.map(([args]) => cliAsync(args)));
    failed.forEach((r, i) => {
      const [args, code, msg] = errors[i]!;
      assert.is(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg, args.join(' '));
      assert.is(r.stdout, '', args.join(' '));
    });
    const help = await cliAsync(['breaches', '--help']);
    assert.match(help.stdout, /^Usage: edge-sensor breaches --state DIR \[options\]\n {7}edge-sensor breaches --api URL/);
    assert.match(help.stdout, /--sensor ID/);
  } finally {
    await http.close();
  }
  const gone = await Promise.all([cliAsync(['breaches', '--api', api]), cliAsync(['incidents', '--api', api, '--unacknowledged'])]);
  assert.equal(gone.map((r) => r.code), [1, 1]);
  assert.match(gone[0]!.stderr, /^edge-sensor breaches: cannot reach the aggregator at http:\/\/127\.0\.0\.1:\d+\/: /);
  assert.match(gone[1]!.stderr, /^edge-sensor incidents: cannot reach the aggregator at /);
  await store.close();
});

test.run();
