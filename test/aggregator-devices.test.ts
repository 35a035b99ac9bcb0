// Devices at the aggregator: rolling scores (sensor/aggregator/device-scores.ts)
// over the last hour, day and week of the sensors' own clock, worked out by
// hand here; similar devices from the sensors' peer groups; the devices API
// (sorting, filtering, one device, devices known only by their breaches);
// scores rebuilt from the store equal to scores fed live; the bound.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAggregatorStore, type AggregatorStore } from '../sensor/aggregator/aggregator-store.ts';
import { DeviceScores } from '../sensor/aggregator/device-scores.ts';
import { startHttpApi, type HttpApi } from '../sensor/aggregator/http-api.ts';
import { validateBreachItem, validateDevice, validateHello, type ValidBreach } from '../sensor/uplink/protocol.ts';
import type { Log } from '../sensor/log/logger.ts';
import { makeBreach } from './helpers/breach-fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'edge-aggregator-devices-'));
const quiet = { level: 'error', debug() {}, info() {}, warn() {}, error() {}, fatal() {} } as unknown as Log;
const NOW = Date.parse('2024-05-10T12:00:00Z');
const H = 3600_000;

function valid<T>(c: { ok: true; value: T } | { ok: false; error: { reason: string } }): T {
  if (!c.ok) throw new Error(c.error.reason);
  return c.value;
}

let seq = 0;
function breachAt(ip: string, ms: number, score: number): ValidBreach {
  const b = makeBreach(++seq, ms, { device: { ip }, score });
  return valid(validateBreachItem({ seq, id: b.id, time: b.time, model: b.model, score: b.score, json: JSON.stringify(b) }));
}

const row = (ip: string, group?: number) => valid(validateDevice({
  ip, mac: '', first_seen: '2024-05-01T00:00:00Z', last_seen: '2024-05-10T11:00:00Z', name: '', tags: [], interface: '', risk: 0, breaches: 0, peer_group: group === undefined ? 0 : group + 1,
}));

let store: AggregatorStore;
let api: HttpApi;
let live: DeviceScores;

test.before(async () => {
  store = openAggregatorStore(join(tmp, 'agg'));
  await store.connect('s-a', valid(validateHello({ sensor_id: 's-a', sensor_version: '0.1.0', protocol_version: 1, capabilities: [], last_seq: 0, state_id: 'st' })));
  // A: 50 half an hour ago and 50 three hours ago; B: 80 two days ago; C: nothing; D: 30 eight days ago (out of every window) and 40 now, no inventory row
  const batch = [
    breachAt('10.0.0.1', NOW - 3 * H, 50), breachAt('10.0.0.1', NOW - H / 2, 50),
    breachAt('10.0.0.2', NOW - 48 * H, 80),
    breachAt('10.0.0.4', NOW - 8 * 24 * H, 30), breachAt('10.0.0.4', NOW, 40),
  ];
  await store.storeBreaches('s-a', batch);
  live = new DeviceScores();
  live.addStored('s-a', batch);
  // A and C behave alike (peer group 1); B alone in group 2
  await store.putDevices('s-a', [row('10.0.0.1', 1), row('10.0.0.2', 2), row('10.0.0.3', 1)]);
  api = await startHttpApi({ address: '127.0.0.1:0', store, scores: live, logger: quiet });
});

test.after(async () => {
  await api.close();
  await store.close();
  rmSync(tmp, { recursive: true, force: true });
});

const get = async (path: string) => {
  const res = await fetch(`http://${api.address}/api/v1/${path}`);
  return { status: res.status, body: await res.json() as Record<string, any> };
};

test('rolling scores combine a window\'s breaches as independent evidence, on the capture clock', () => {
  assert.equal(live.score('s-a', '10.0.0.1')!.scores, { '1h': 50, '24h': 75, '7d': 75 });
  assert.equal(live.score('s-a', '10.0.0.2')!.scores, { '1h': 0, '24h': 0, '7d': 80 });
  assert.equal(live.score('s-a', '10.0.0.4')!.scores, { '1h': 40, '24h': 40, '7d': 40 }, 'eight days ago is outside the week');
  assert.is(live.score('s-a', '10.0.0.1')!.breaches_7d, 2);
  assert.is(live.score('s-a', '10.0.0.1')!.last_breach, new Date(NOW - H / 2).toISOString());
  assert.is(live.score('s-a', '10.0.0.3'), null);
  assert.is(live.score('s-b', '10.0.0.1'), null, 'per sensor');
});

test('scores rebuilt from the store equal the scores fed live', () => {
  const rebuilt = new DeviceScores();
  assert.is(rebuilt.rebuild(store), 5);
  for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) assert.equal(rebuilt.score('s-a', ip), live.score('s-a', ip), ip);
});

test('GET /devices: rows with scores and similar devices (peer group members); devices known only by breaches listed too', async () => {
  const r = await get('devices');
  assert.is(r.status, 200);
  const by = new Map((r.body.devices as any[]).map((d) => [d.ip, d]));
  assert.equal([...by.keys()].sort(), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
  assert.equal(by.get('10.0.0.1').scores, { '1h': 50, '24h': 75, '7d': 75 });
  assert.equal(by.get('10.0.0.1').similar, [{ ip: '10.0.0.3', score_24h: 0 }]);
  assert.equal(by.get('10.0.0.3').similar, [{ ip: '10.0.0.1', score_24h: 75 }]);
  assert.equal(by.get('10.0.0.2').similar, []);
  assert.is(by.get('10.0.0.2').peer_group, 2);
  assert.is(by.get('10.0.0.4').sensor, 's-a');
  assert.is(by.get('10.0.0.4').first_seen, undefined, 'no inventory row: only what the breaches tell');
  const sorted = await get('devices?sort=score');
  assert.equal((sorted.body.devices as any[]).map((d) => d.ip), ['10.0.0.1', '10.0.0.4', '10.0.0.2', '10.0.0.3']);
  const hot = await get('devices?min_score=50');
  assert.equal((hot.body.devices as any[]).map((d) => d.ip), ['10.0.0.1']);
  assert.is((await get('devices?sort=risk')).status, 400);
  assert.is((await get('devices?min_score=101')).status, 400);
});

test('GET /devices/:sensor/:ip: one device, any spelling of its address; 404 and 400 otherwise', async () => {
  const one = await get('devices/s-a/10.0.0.1');
  assert.is(one.status, 200);
  assert.equal(one.body.scores, { '1h': 50, '24h': 75, '7d': 75 });
  assert.is(one.body.similar_count, 1);
  assert.is((await get('devices/s-a/::ffff:10.0.0.9')).status, 404);
  assert.is((await get('devices/s-a/not-an-ip')).status, 400);
  assert.is((await get('devices/s-b/10.0.0.1')).status, 404);
});

test('bounded: past maxDevices the least recently breaching tenth is forgotten, counted', () => {
  const s = new DeviceScores(100);
  for (let i = 0; i < 250; i++) s.add('s', `10.1.${i >> 8}.${i & 255}`, NOW + i * 1000, 10);
  assert.ok(s.size <= 100);
  assert.is(s.evicted, 250 - s.size);
  assert.ok(s.score('s', '10.1.0.249') !== null, 'the newest kept');
  assert.is(s.score('s', '10.1.0.0'), null, 'the oldest forgotten');
  // a device's buckets stay within the week; and the buckets over all devices are bounded too
  const one = new DeviceScores();
  for (let h = 0; h < 400; h++) one.add('s', '10.2.0.1', NOW + h * H, 1);
  // 168 hourly breaches in the week, and the one exactly a week ago: its 5-minute bucket overlaps the window's start
  assert.is(one.score('s', '10.2.0.1')!.breaches_7d, 169);
  const busy = new DeviceScores(1000, 500);
  for (let i = 0; i < 2000; i++) busy.add('s', `10.3.0.${i % 20}`, NOW + i * 10 * 60_000, 5);
  assert.ok(busy.bucketCount <= 500, `${busy.bucketCount} buckets held`);
  assert.ok(busy.evicted > 0);
});

test.run();
