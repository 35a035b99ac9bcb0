// The aggregator's HTTP JSON API (sensor/aggregator/http-api.ts) over a
// real store on loopback: breaches filtered by time, score, model, device,
// sensor and limit; sensors with health, lag and who is connected; devices;
// the aggregator's own health; acknowledgements and comments kept in the
// store (and after a reopen). Every bad parameter is a 400 with a JSON
// error, unknown routes 404, large bodies 413, and nothing a client sends
// — garbage bytes, a failing handler — takes the server down.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAggregatorStore, type AggregatorStore } from '../sensor/aggregator/aggregator-store.ts';
import { startHttpApi, type HttpApi } from '../sensor/aggregator/http-api.ts';
import type { ServerStats } from '../sensor/aggregator/grpc-server.ts';
import { validateBreachItem, validateDevice, validateHealth, validateHello, type BreachItem } from '../sensor/uplink/protocol.ts';
import type { Log } from '../sensor/log/logger.ts';
import type { Breach } from '../sensor/models/breach.ts';
import { makeBreach } from './helpers/breach-fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'edge-aggregator-http-'));
const T0 = Date.parse('2024-05-01T00:00:00Z');
const dir = join(tmp, 'agg');
let store: AggregatorStore;
let api: HttpApi;
let base: string;
const log = memoryLog();
const grpcStats = { stored: 12 } as ServerStats;
const fakeServer = { stats: () => grpcStats, connected: () => ['s-a'] };

function memoryLog(): Log & { lines: { level: string; msg?: string }[] } {
  const lines: { level: string; msg?: string }[] = [];
  const at = (level: string) => (_obj: object, msg?: string) => { lines.push({ level, ...(msg !== undefined ? { msg } : {}) }); };
  return { level: 'debug', lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') };
}

function item(sensor: string, seq: number, over: Partial<Breach> = {}): BreachItem {
  const b = makeBreach(seq, T0 + seq * 1000, over, sensor.slice(-1));
  return { seq, id: b.id, time: b.time, model: b.model, score: b.score, json: JSON.stringify(b) };
}
function valid<T>(c: { ok: true; value: T } | { ok: false; error: { reason: string } }): T {
  if (!c.ok) throw new Error(c.error.reason);
  return c.value;
}
const hello = (id: string) => valid(validateHello({ sensor_id: id, sensor_version: '0.1.0', protocol_version: 1, capabilities: [], last_seq: 0, state_id: 'st-1' }));

interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> & { error?: string } }

/** One request with node:http (full control of the body: length, chunking). */
function call(method: string, path: string, body?: string | Buffer, opts: { chunked?: boolean } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers: body !== undefined && !opts.chunked ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => {
        try { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as Res['body'] }); } catch { reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`)); }
      });
    });
    req.on('error', reject);
    if (body !== undefined && opts.chunked) {
      // in pieces, without a Content-Length: the limit is found while reading
      const buf = Buffer.from(body);
      for (let off = 0; off < buf.length; off += 8192) req.write(buf.subarray(off, off + 8192));
    } else if (body !== undefined) req.write(body);
    req.end();
  });
}
const get = (path: string) => call('GET', path);
const post = (path: string, body: unknown) => call('POST', path, typeof body === 'string' ? body : JSON.stringify(body));
const ids = (r: Res) => (r.body.breaches as { sensor: string; seq: number }[]).map((b) => `${b.sensor}:${b.seq}`);

test.before(async () => {
  store = openAggregatorStore(dir);
  await store.connect('s-a', hello('s-a'));
  await store.connect('s-b', hello('s-b'));
  await store.storeBreaches('s-a', [1, 2, 3, 4, 5, 6].map((n) => valid(validateBreachItem(item('s-a', n)))));
  await store.storeBreaches('s-b', [1, 2, 3].map((n) => valid(validateBreachItem(item('s-b', n, { device: { ip: '10.9.9.9' }, model: 'port-scan', score: 90 })))));
  await store.putDevices('s-a', [valid(validateDevice({ ip: '10.0.0.1', mac: '', first_seen: '2024-05-01T00:00:00Z', last_seen: '2024-05-01T01:00:00Z', name: 'ws-1', tags: [], interface: '', risk: 2, breaches: 1 }))]);
  await store.putDevices('s-b', [valid(validateDevice({ ip: '10.9.9.9', mac: '', first_seen: '2024-05-01T00:00:00Z', last_seen: '2024-05-01T01:00:00Z', name: 'srv', tags: ['server'], interface: '', risk: 9, breaches: 3 }))]);
  await store.recordHealth('s-a', valid(validateHealth({ time: '2024-05-01T00:00:10Z', packets_per_s: 10, records_per_s: 0, flows_per_s: 1, breaches_per_s: 0, drops: 0, lag_s: 1.5, memory_bytes: 1 << 20, outbox: 0, evictions: {}, counters: {} })));
  api = await startHttpApi({ address: '127.0.0.1:0', store, server: fakeServer, logger: log });
  base = `http://127.0.0.1:${api.port}`;
});

test.after(async () => {
  await api.close();
  await store.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('breaches: every stored breach, in time order, with sensor, epoch, seq and received_at added', async () => {
  const r = await get('/api/v1/breaches');
  assert.is(r.status, 200);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.equal([r.body.count, r.body.limit, r.body.truncated], [9, 1000, false]);
  const rows = r.body.breaches as Record<string, unknown>[];
  const times = rows.map((b) => Date.parse(b.time as string));
  assert.equal(times, [...times].sort((x, y) => x - y), 'oldest first');
  const first = rows.find((b) => b.sensor === 's-a' && b.seq === 1)!;
  const added = { sensor: undefined, epoch: undefined, seq: undefined, received_at: undefined, annotation: undefined };
  assert.equal({ ...first, ...added }, { ...JSON.parse(item('s-a', 1).json), ...added }, 'the breach as sent');
  assert.equal([first.epoch, first.annotation], [0, null]);
  assert.ok(Number.isFinite(Date.parse(first.received_at as string)));
});

test('breaches: filters by time (RFC 3339 and epoch seconds), score, model, device (any spelling), sensor, limit', async () => {
  assert.equal(ids(await get('/api/v1/breaches?since=2024-05-01T00:00:02Z&until=2024-05-01T00:00:03Z')), ['s-a:2', 's-b:2', 's-a:3', 's-b:3']);
  assert.equal(ids(await get(`/api/v1/breaches?since=${T0 / 1000 + 5}`)), ['s-a:5', 's-a:6']);
  assert.equal(ids(await get('/api/v1/breaches?until=2024-05-01T02:00:01%2B02:00')), ['s-a:1', 's-b:1'], 'a zone offset');
  assert.equal(ids(await get('/api/v1/breaches?sensor=s-b')), ['s-b:1', 's-b:2', 's-b:3']);
  assert.equal(ids(await get('/api/v1/breaches?device=10.9.9.9')).length, 3);
  assert.equal(ids(await get('/api/v1/breaches?device=010.9.9.9')).length, 3, 'any spelling of the address');
  assert.equal(ids(await get('/api/v1/breaches?model=port-scan&sensor=s-a')), ['s-a:1', 's-a:5']);
  assert.equal(ids(await get('/api/v1/breaches?model=network-scan&sensor=s-b')), []);
  assert.equal(ids(await get('/api/v1/breaches?min_score=90')), ['s-b:1', 's-b:2', 's-b:3']);
  const two = await get('/api/v1/breaches?limit=2');
  assert.equal([ids(two), two.body.truncated], [['s-a:1', 's-b:1'], true]);
});

test('every bad parameter is a 400 with a JSON error that names it', async () => {
  const cases: [string, RegExp][] = [
    ['since=yesterday', /since must be an RFC 3339 time/],
    ['until=2024-02-31T00:00:00Z', /until must be/],
    ['since=2024-05-02T00:00:00Z&until=2024-05-01T00:00:00Z', /since is after until/],
    ['min_score=101', /min_score must be a number from 0 to 100/],
    ['min_score=', /min_score/],
    ['min_score=abc', /min_score/],
    ['limit=0', /limit must be an integer from 1 to 10000/],
    ['limit=1.5', /limit/],
    ['limit=10001', /limit/],
    ['device=999.1.1.1', /device must be an IPv4 or IPv6 address/],
    ['device=evil.example', /device/],
    ['sensor=a%2Fb', /sensor must be a sensor id/],
    ['model=', /model must be a model id/],
    ['min-score=50', /unknown parameter "min-score"/],
    ['limit=1&limit=2', /"limit" given twice/],
  ];
  for (const [q, msg] of cases) {
    const r = await get(`/api/v1/breaches?${q}`);
    assert.is(r.status, 400, q);
    assert.match(r.body.error ?? '', msg, q);
  }
  assert.is((await get('/api/v1/devices?sensor=no%20spaces')).status, 400);
  assert.is((await get('/api/v1/devices?limit=-1')).status, 400);
  assert.is((await get('/api/v1/sensors?x=1')).status, 400);
  assert.is((await get('/api/v1/health?verbose')).status, 400);
  assert.is((await get('/api/v1/breaches/s-a/0')).status, 400, 'seq from 1');
  assert.is((await get('/api/v1/breaches/s-a/1?epoch=-1')).status, 400);
  assert.is((await get('/api/v1/breaches/%E0%A4%A/1')).status, 400, 'bad percent-encoding');
});

test('unknown routes 404, wrong methods 405 with Allow; a breach that is not there 404', async () => {
  for (const p of ['/', '/api', '/api/v2/breaches', '/api/v1/', '/api/v1/incidentz', '/api/v1/breaches/s-a', '/api/v1/breaches/s-a/1/ack/x', '/api/v1/sensors/s-a']) {
    const r = await get(p);
    assert.is(r.status, 404, p);
    assert.type(r.body.error, 'string');
  }
  const m = await call('POST', '/api/v1/breaches', '{}');
  assert.equal([m.status, m.headers.allow], [405, 'GET']);
  const g = await get('/api/v1/breaches/s-a/1/comment');
  assert.equal([g.status, g.headers.allow], [405, 'POST']);
  assert.is((await get('/api/v1/breaches/s-a/99')).status, 404);
  assert.is((await get('/api/v1/breaches/s-a/1?epoch=3')).status, 404);
  assert.is((await post('/api/v1/breaches/s-z/1/ack', {})).status, 404);
});

test('acknowledge and comment: stored in the aggregator, shown with the breach and in listings, kept across a reopen', async () => {
  const ack = await post('/api/v1/breaches/s-a/2/ack', { by: 'ana', comment: 'known scanner' });
  assert.is(ack.status, 200);
  const a = ack.body.annotation as { acknowledged: { by: string; comment: string; at: string }; comments: unknown[] };
  assert.equal([ack.body.sensor, ack.body.seq, a.acknowledged.by, a.acknowledged.comment, a.comments], ['s-a', 2, 'ana', 'known scanner', []]);
  const c1 = await post('/api/v1/breaches/s-a/2/comment', { comment: 'ticket #42\nopened', by: 'bob' });
  const c2 = await post('/api/v1/breaches/s-a/2/comment', { comment: 'closed' });
  assert.equal([c1.status, c2.status], [200, 200]);
  const one = await get('/api/v1/breaches/s-a/2');
  assert.is(one.status, 200);
  assert.is(one.body.id, JSON.parse(item('s-a', 2).json).id);
  const ann = one.body.annotation as { acknowledged: { by: string }; comments: { by: string; comment: string }[] };
  assert.equal(ann.comments.map((x) => [x.by, x.comment]), [['bob', 'ticket #42\nopened'], ['anonymous', 'closed']]);
  assert.is(ann.acknowledged.by, 'ana');
  // listings carry it; other breaches have none
  const listed = (await get('/api/v1/breaches?sensor=s-a')).body.breaches as Record<string, unknown>[];
  assert.ok(listed.find((b) => b.seq === 2)!.annotation);
  assert.is(listed.find((b) => b.seq === 3)!.annotation, null);
  // bad bodies
  assert.match((await post('/api/v1/breaches/s-a/2/comment', {})).body.error ?? '', /comment is required/);
  assert.match((await post('/api/v1/breaches/s-a/2/comment', '{"comment":')).body.error ?? '', /not valid JSON/);
  assert.match((await post('/api/v1/breaches/s-a/2/comment', { comment: 'x', admin: true })).body.error ?? '', /unknown field "admin"/);
  assert.match((await post('/api/v1/breaches/s-a/2/comment', { comment: 'x'.repeat(5000) })).body.error ?? '', /comment must be 1–4000/);
  assert.match((await post('/api/v1/breaches/s-a/2/ack', [1])).body.error ?? '', /JSON object/);
  assert.match((await post('/api/v1/breaches/s-a/2/ack', { by: 'a\u0007b' })).body.error ?? '', /by must be/);
  // withdrawn: the comments stay
  const un = await call('DELETE', '/api/v1/breaches/s-a/2/ack');
  assert.equal([un.status, (un.body.annotation as { acknowledged: unknown }).acknowledged, (un.body.annotation as { comments: unknown[] }).comments.length], [200, null, 2]);
  await post('/api/v1/breaches/s-a/2/ack', {});
  // reopen the store: everything is there
  await api.close();
  await store.close();
  store = openAggregatorStore(dir);
  api = await startHttpApi({ address: '127.0.0.1:0', store, server: fakeServer, logger: log });
  base = `http://127.0.0.1:${api.port}`;
  const again = (await get('/api/v1/breaches/s-a/2')).body.annotation as { acknowledged: { by: string }; comments: unknown[] };
  assert.equal([again.acknowledged.by, again.comments.length], ['anonymous', 2]);
  // a reader opening the data read-only sees it too
  const { AnnotationStore, breachKey } = await import('../sensor/aggregator/annotation-store.ts');
  const ro = openAggregatorStore(dir, { readOnly: true });
  try {
    assert.is(new AnnotationStore(ro).get(breachKey('s-a', 0, 2))?.comments.length, 2);
  } finally {
    await ro.close();
  }
});

test('bodies over 64 KiB: 413, announced or found reading; the server goes on', async () => {
  const big = JSON.stringify({ comment: 'x'.repeat(100 << 10) });
  const announced = await call('POST', '/api/v1/breaches/s-a/1/comment', big);
  assert.equal([announced.status, announced.headers.connection], [413, 'close']);
  assert.match(announced.body.error ?? '', /over 65536 bytes/);
  const chunked = await call('POST', '/api/v1/breaches/s-a/1/comment', big, { chunked: true });
  assert.is(chunked.status, 413);
  assert.is((await get('/api/v1/breaches/s-a/1')).body.annotation, null, 'nothing stored');
  assert.is((await get('/api/v1/health')).status, 200);
});

test('sensors: counters, health, acknowledgement, connected now, lag', async () => {
  const r = await get('/api/v1/sensors');
  assert.is(r.status, 200);
  const [a, b] = r.body.sensors as Record<string, any>[];
  assert.equal([a!.id, a!.connected, a!.acked_seq, a!.counters.stored, a!.version], ['s-a', true, 6, 6, '0.1.0']);
  assert.equal([b!.id, b!.connected, b!.acked_seq, b!.last_health], ['s-b', false, 3, null]);
  assert.is(a!.last_health.lag_s, 1.5);
  assert.equal(a!.last_breach.seq, 6);
  assert.ok(a!.lag.health_s >= 0 && a!.lag.health_s < 120, 'seconds since the last health');
  assert.ok(a!.lag.breach_s >= 0 && a!.lag.breach_s < 120, 'seconds since the last breach arrived');
  assert.is(a!.lag.sensor_s, 1.5, 'the lag the sensor reports');
  assert.is(b!.lag.health_s, null);
  // without a gRPC server: nobody is known to be connected
  const alone = await startHttpApi({ address: '127.0.0.1:0', store, logger: log });
  try {
    const res = await fetch(`http://127.0.0.1:${alone.port}/api/v1/sensors`);
    const body = await res.json() as { sensors: { connected: unknown }[] };
    assert.equal(body.sensors.map((s) => s.connected), [null, null]);
  } finally {
    await alone.close();
  }
});

test('devices: all, or one sensor\'s rows', async () => {
  const all = await get('/api/v1/devices');
  assert.equal((all.body.devices as { sensor: string; ip: string }[]).map((d) => `${d.sensor} ${d.ip}`), ['s-a 10.0.0.1', 's-b 10.9.9.9']);
  const b = await get('/api/v1/devices?sensor=s-b');
  assert.equal((b.body.devices as { name: string }[]).map((d) => d.name), ['srv']);
  assert.equal((await get('/api/v1/devices?sensor=s-none')).body.devices, []);
  assert.equal([(await get('/api/v1/devices?limit=1')).body.truncated, (await get('/api/v1/devices?limit=1')).body.count], [true, 1]);
});

test('health: the aggregator\'s own counters', async () => {
  const r = await get('/api/v1/health');
  assert.is(r.status, 200);
  const body = r.body as Record<string, any>;
  assert.equal([body.status, body.aggregator_id, body.store.breaches, body.store.sensors, body.grpc.stored, body.grpc.connected], ['ok', store.aggregatorId, 9, 2, 12, 1]);
  assert.ok(body.http.received >= 1);
  assert.ok(body.store.annotations >= 1);
});

test('garbage stays garbage: malformed HTTP answered 400 and counted, a failing handler is a 500; the server stays up', async () => {
  const before = api.stats();
  const reply = await new Promise<string>((resolve, reject) => {
    const s = tcpConnect(api.port, '127.0.0.1', () => s.write('\u0000\u0001GARBAGE \xff\r\n\r\n'));
    let text = '';
    s.on('data', (d) => { text += d.toString('latin1'); });
    s.on('close', () => resolve(text));
    s.on('error', reject);
  });
  assert.match(reply, /^HTTP\/1\.1 400 /);
  assert.is(api.stats().malformed, before.malformed + 1);
  // a handler that throws (the store failing underneath): 500 for that request only, logged
  const original = store.breaches.bind(store);
  store.breaches = () => { throw new Error('boom'); };
  try {
    const r = await get('/api/v1/breaches');
    assert.equal([r.status, r.body.error], [500, 'internal error']);
  } finally {
    store.breaches = original;
  }
  assert.ok(log.lines.some((l) => l.level === 'error' && l.msg?.includes('request failed')));
  // a client that vanishes mid-body
  await new Promise<void>((resolve) => {
    const s = tcpConnect(api.port, '127.0.0.1', () => {
      s.write('POST /api/v1/breaches/s-a/1/comment HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"comm');
      setTimeout(() => { s.destroy(); resolve(); }, 50);
    });
  });
  const s = api.stats();
  assert.ok(s.errors >= 1 && s.rejected >= 1);
  assert.is((await get('/api/v1/health')).status, 200, 'still serving');
});

test('a sensor cannot speak for the aggregator: its breach JSON\'s sensor, seq and annotation fields are overridden', async () => {
  const spoof = { sensor: 's-a', seq: 1, annotation: { acknowledged: { by: 'soc', at: '2024-05-01T00:00:00Z' }, comments: [] } } as unknown as Partial<Breach>;
  await store.storeBreaches('s-b', [valid(validateBreachItem(item('s-b', 4, spoof)))]);
  const r = await get('/api/v1/breaches/s-b/4');
  assert.equal([r.body.sensor, r.body.seq, r.body.annotation], ['s-b', 4, null]);
});

test.run();
