// The aggregator's HTTP JSON API (sensor/aggregator/http-api.ts) over a
// real store on loopback: breaches filtered by time, score, model, device,
// sensor and limit; sensors with health, lag and who is connected; devices;
// the aggregator's own health; acknowledgements and comments kept in the
// store (and after a reopen). Every bad parameter is a 400 with a JSON
// error, unknown routes 404, large bodies 413, and nothing a client sends
// — garbage bytes, a failing handler — takes the server down. Incidents
// are acknowledged and commented like breaches; an incident merged into
// another answers as that one, and what analysts wrote on it is still
// shown there.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAggregatorStore, type AggregatorStore } from '../sensor/aggregator/aggregator-store.ts';
import { startHttpApi, type HttpApi } from '../sensor/aggregator/http-api.ts';
import { IncidentService } from '../sensor/aggregator/incident-service.ts';
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

// ---- incidents ----

interface IncidentRes { status: number; body: Record<string, any> }

/** An API over the same store with its own incidents; `add` feeds them a breach. */
async function incidentApi(): Promise<{ http: HttpApi; service: IncidentService; req: (method: string, path: string, body?: unknown) => Promise<IncidentRes>; add: (sensor: string, seq: number, min: number, device: string, peer?: string) => string }> {
  const service = new IncidentService();
  const http = await startHttpApi({ address: '127.0.0.1:0', store, server: fakeServer, incidents: service, logger: log });
  const req = async (method: string, path: string, body?: unknown): Promise<IncidentRes> => {
    const res = await fetch(`http://127.0.0.1:${http.port}${path}`, { method, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
    return { status: res.status, body: await res.json() as Record<string, any> };
  };
  const add = (sensor: string, seq: number, min: number, device: string, peer?: string) =>
    service.add(sensor, seq, makeBreach(seq, T0 + min * 60_000, { device: { ip: device }, ...(peer ? { peer: { ip: peer, port: 445 } } : {}) }, sensor.slice(-1)) as unknown as Record<string, unknown>)!;
  return { http, service, req, add };
}

test('incidents: acknowledge, comment and withdraw like breaches; shown with the incident and in its listing; bad bodies 400, unknown ids 404', async () => {
  const { http, req, add } = await incidentApi();
  try {
    const x = add('i-x', 1, 0, '10.50.0.1');
    const y = add('i-y', 1, 0, '10.50.0.2');
    assert.is.not(x, y);
    const ack = await req('POST', `/api/v1/incidents/${x}/ack`, { by: 'ana', comment: 'on it' });
    assert.is(ack.status, 200);
    assert.equal([ack.body.id, ack.body.merged_into, ack.body.annotation.acknowledged.by, ack.body.annotation.acknowledged.comment], [x, undefined, 'ana', 'on it']);
    const c = await req('POST', `/api/v1/incidents/${x}/comment`, { by: 'bob', comment: 'ticket #7' });
    assert.equal([c.status, c.body.annotation.comments.map((k: { comment: string }) => k.comment)], [200, ['ticket #7']]);
    const one = await req('GET', `/api/v1/incidents/${x}`);
    assert.equal([one.status, one.body.id, one.body.annotation.acknowledged.by, one.body.merged_ids, one.body.merged_annotations, one.body.merged_into], [200, x, 'ana', [], {}, undefined]);
    const other = await req('GET', `/api/v1/incidents/${y}`);
    assert.is(other.body.annotation, null);
    // the listing: every incident with its annotation (or null); filtered by acknowledgement
    const all = await req('GET', '/api/v1/incidents');
    const byId = new Map((all.body.incidents as Record<string, any>[]).map((i) => [i.id, i]));
    assert.equal([byId.get(x)!.annotation.acknowledged.by, byId.get(y)!.annotation], ['ana', null]);
    const ids = async (q: string) => ((await req('GET', `/api/v1/incidents?${q}`)).body.incidents as { id: string }[]).map((i) => i.id).sort();
    assert.equal(await ids('acknowledged=true'), [x]);
    assert.equal(await ids('acknowledged=false'), [y]);
    const limited = await req('GET', '/api/v1/incidents?acknowledged=false&limit=1');
    assert.equal([limited.body.count, limited.body.truncated], [1, false], 'one unacknowledged: not truncated by the acknowledged one');
    // withdrawn: the comment stays, the filter follows
    const un = await req('DELETE', `/api/v1/incidents/${x}/ack`);
    assert.equal([un.status, un.body.id, un.body.annotation.acknowledged, un.body.annotation.comments.length], [200, x, null, 1]);
    assert.equal(await ids('acknowledged=false'), [x, y].sort());
    // bad bodies and parameters: 400 with the same messages as breaches'
    const bad: [string, unknown, RegExp][] = [
      ['comment', {}, /comment is required/],
      ['comment', '{"comment":', /not valid JSON/],
      ['comment', { comment: 'x', admin: true }, /unknown field "admin"/],
      ['comment', { comment: 'x'.repeat(5000) }, /comment must be 1–4000/],
      ['ack', [1], /JSON object/],
      ['ack', { by: 'a\u0007b' }, /by must be/],
      ['ack', { by: '' }, /by must be/],
    ];
    for (const [route, body, msg] of bad) {
      const r = await req('POST', `/api/v1/incidents/${y}/${route}`, body);
      assert.is(r.status, 400, JSON.stringify(body));
      assert.match(String(r.body.error), msg);
    }
    assert.is((await req('GET', `/api/v1/incidents/${y}`)).body.annotation, null, 'nothing stored by a refused request');
    for (const q of ['acknowledged=yes', 'acknowledged=', 'acknowledged=true&acknowledged=false', 'acked=true']) assert.is((await req('GET', `/api/v1/incidents?${q}`)).status, 400, q);
    assert.is((await req('POST', `/api/v1/incidents/${x}/ack?x=1`, {})).status, 400);
    // unknown ids, wrong methods, unknown routes
    for (const [method, path] of [['GET', '/api/v1/incidents/inc-nope'], ['POST', '/api/v1/incidents/inc-nope/ack'], ['DELETE', '/api/v1/incidents/inc-nope/ack'], ['POST', '/api/v1/incidents/inc-nope/comment']] as const) {
      const r = await req(method, path, method === 'POST' ? { comment: 'x' } : undefined);
      assert.is(r.status, 404, `${method} ${path}`);
      assert.match(String(r.body.error), /no incident "inc-nope"/);
    }
    assert.is((await req('GET', `/api/v1/incidents/${x}/ack/more`)).status, 404);
    const wrong = await fetch(`http://127.0.0.1:${http.port}/api/v1/incidents/${x}/comment`, { method: 'DELETE' });
    assert.equal([wrong.status, wrong.headers.get('allow')], [405, 'POST']);
    const get = await fetch(`http://127.0.0.1:${http.port}/api/v1/incidents/${x}/ack`);
    assert.equal([get.status, get.headers.get('allow')], [405, 'POST, DELETE']);
  } finally {
    await http.close();
  }
  // without incidents the routes do not exist
  assert.is((await post('/api/v1/incidents/inc-0000000000000000/ack', {})).status, 404);
});

test('incidents merged: the merged-away id answers as the incident it is now part of (merged_into), and what was written on it is kept (merged_ids, merged_annotations), along chains', async () => {
  const { http, service, req, add } = await incidentApi();
  try {
    // c the earliest, then b, then a: a joins b, then b joins c
    const c = add('m-c', 1, 0, '10.60.0.1');
    const b = add('m-b', 1, 5, '10.60.0.2');
    const a = add('m-a', 1, 7, '10.60.0.3');
    assert.equal(new Set([a, b, c]).size, 3);
    await req('POST', `/api/v1/incidents/${a}/ack`, { by: 'ana', comment: 'benign' });
    await req('POST', `/api/v1/incidents/${b}/comment`, { by: 'bob', comment: 'looking' });
    assert.is(add('m-a', 2, 8, '10.60.0.3', '10.60.0.2'), b, 'a merged into b');
    const viaA = await req('GET', `/api/v1/incidents/${a}`);
    assert.equal([viaA.status, viaA.body.id, viaA.body.merged_into, viaA.body.merged_ids], [200, b, b, [a]]);
    assert.is(viaA.body.merged_annotations[a].acknowledged.by, 'ana', 'the acknowledgement made on a is shown on b');
    assert.is(viaA.body.annotation.comments[0].comment, 'looking', 'b\'s own');
    assert.is(viaA.body.annotation.acknowledged, null);
    // an acknowledgement made on a merged part does not cover the incident (what joined it is new)
    assert.equal(((await req('GET', '/api/v1/incidents?acknowledged=false')).body.incidents as { id: string }[]).map((i) => i.id).sort(), [b, c].sort());
    // b joins c: a now answers as c (a → b → c)
    assert.is(add('m-b', 2, 9, '10.60.0.2', '10.60.0.1'), c, 'b merged into c');
    const chain = await req('GET', `/api/v1/incidents/${a}`);
    assert.equal([chain.status, chain.body.id, chain.body.merged_into, chain.body.merged_ids], [200, c, c, [b, a]]);
    assert.equal(Object.keys(chain.body.merged_annotations).sort(), [a, b].sort());
    assert.is(chain.body.merged_annotations[a].acknowledged.comment, 'benign');
    assert.is(chain.body.merged_annotations[b].comments[0].by, 'bob');
    assert.is(chain.body.breaches, 5);
    // annotating a merged-away id annotates the incident it is now part of, and says so
    const viaB = await req('POST', `/api/v1/incidents/${b}/ack`, { by: 'carol' });
    assert.equal([viaB.status, viaB.body.id, viaB.body.merged_into, viaB.body.annotation.acknowledged.by], [200, c, c, 'carol']);
    const cm = await req('POST', `/api/v1/incidents/${a}/comment`, { comment: 'same story' });
    assert.equal([cm.body.id, cm.body.merged_into, cm.body.annotation.comments.map((k: { comment: string }) => k.comment)], [c, c, ['same story']]);
    const direct = await req('GET', `/api/v1/incidents/${c}`);
    assert.equal([direct.body.id, direct.body.merged_into, direct.body.annotation.acknowledged.by], [c, undefined, 'carol']);
    assert.is(direct.body.merged_annotations[a].acknowledged.by, 'ana', 'the earlier acknowledgement is still there');
    const listed = (await req('GET', '/api/v1/incidents?acknowledged=true')).body.incidents as Record<string, any>[];
    assert.equal(listed.map((i) => [i.id, i.merged_ids, Object.keys(i.merged_annotations).length]), [[c, [b, a], 2]]);
    const un = await req('DELETE', `/api/v1/incidents/${a}/ack`);
    assert.equal([un.body.id, un.body.merged_into, un.body.annotation.acknowledged], [c, c, null]);
    assert.is(service.resolve(a), c);
    assert.is(service.incident(a), null, 'the correlator\'s own lookup stays strict');
  } finally {
    await http.close();
  }
});

test.run();
