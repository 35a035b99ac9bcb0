// The uplink protocol's checks (sensor/uplink/protocol.ts): what a sensor
// really sends is accepted as it was sent; wrong types, NaN, huge strings,
// deep nesting, bad times and JSON that disagrees with the typed fields are
// refused with the field named; and nothing — random objects, random bytes,
// mutations of valid messages — makes a check throw.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  MAX_BATCH_ITEMS, MAX_BREACH_JSON_BYTES, MAX_JSON_DEPTH, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, UPLINK_SERVICE,
  decodeSensorMessage, encodeAggregatorMessage, isValidSensorId, validateBreachItem, validateDevice, validateHealth, validateHello,
  type BreachItem, type Checked, type Device, type Health, type Hello,
} from '../sensor/uplink/protocol.ts';
import type { Breach } from '../sensor/models/breach.ts';
import { makeBreach, makeDevices } from './helpers/breach-fixtures.ts';

const T0 = Date.parse('2024-05-01T00:00:00Z');

function item(n: number, over: Partial<BreachItem> = {}, breach: Breach = makeBreach(n, T0 + n * 1000)): BreachItem {
  return { seq: n, id: breach.id, time: breach.time, model: breach.model, score: breach.score, json: JSON.stringify(breach), ...over };
}

function hello(over: Partial<Hello> = {}): Hello {
  return { sensor_id: 'sensor-a', sensor_version: '0.1.0', protocol_version: 1, capabilities: ['commands'], last_seq: 0, state_id: '0b9f2c1e-4a7d-4f0e-9a51-3c2d1e0f9a8b', ...over };
}

function device(over: Partial<Device> = {}): Device {
  return { ip: '10.0.0.10', mac: '02:00:00:00:00:0A', first_seen: '2024-05-01T00:00:00.000Z', last_seen: '2024-05-02T00:00:00.000Z', name: 'ws-10', tags: ['workstation'], interface: '', risk: 12.5, breaches: 1, peer_group: 0, ...over };
}

function health(over: Partial<Health> = {}): Health {
  return {
    time: '2024-05-01T00:00:10Z', packets_per_s: 120000, records_per_s: 0, flows_per_s: 850.5, breaches_per_s: 0.1,
    drops: 3, lag_s: 0.2, memory_bytes: 180 << 20, outbox: 12, evictions: { flows: 10, endpoints: 0 }, counters: { packets: 1e9 }, ...over,
  };
}

function refused<T>(r: Checked<T>, field: string | RegExp, what: string): void {
  assert.is(r.ok, false, `${what}: expected a refusal`);
  if (r.ok) return;
  if (typeof field === 'string') assert.is(r.error.field, field, `${what}: ${r.error.field}: ${r.error.reason}`);
  else assert.match(r.error.field, field, what);
  assert.ok(r.error.reason.length > 0 && !r.error.reason.includes('\n'), 'a one-line reason');
}

function accepted<T>(r: Checked<T>, what: string): T {
  if (!r.ok) assert.unreachable(`${what}: refused: ${r.error.field}: ${r.error.reason}`);
  return (r as { ok: true; value: T }).value;
}

test('the service and the limits', () => {
  assert.is(PROTOCOL_VERSION, 1);
  assert.is(MAX_MESSAGE_BYTES, 4 << 20);
  assert.is(MAX_BATCH_ITEMS, 1000);
  const m = UPLINK_SERVICE.Connect!;
  assert.is(m.path, '/edge.v1.Uplink/Connect');
  assert.ok(m.requestStream && m.responseStream, 'one bidirectional stream');
  // uint64 as numbers, enums as names, oneof kind named
  const bytes = m.requestSerialize({ breaches: { items: [item(7)] } });
  const back = decodeSensorMessage(bytes);
  const v = accepted(back, 'round trip');
  assert.is(v.msg, 'breaches');
  if (v.msg === 'breaches') assert.equal(v.breaches.items[0], item(7));
  const err = m.responseDeserialize(encodeAggregatorMessage({ error: { code: 'REJECTED', message: 'x' } }));
  assert.equal(err, { msg: 'error', error: { code: 'REJECTED', message: 'x' } });
  const welcome = m.responseDeserialize(encodeAggregatorMessage({ welcome: { aggregator_id: 'a', protocol_version: 1, acked_seq: 2 ** 53 - 1, max_batch_items: 1000, max_message_bytes: 4 << 20 } }));
  assert.is(welcome.welcome.acked_seq, Number.MAX_SAFE_INTEGER, 'seqs up to 2^53 − 1 are exact');
});

test('decodeSensorMessage: malformed protobuf and unknown kinds are errors, not exceptions', () => {
  refused(decodeSensorMessage(Buffer.from([0x12, 0xff, 0xff])), 'message', 'a length past the end');
  refused(decodeSensorMessage(Buffer.alloc(0)), 'msg', 'nothing set');
  refused(decodeSensorMessage(Buffer.from([0x4a, 0x00])), 'msg', 'field 9: a kind from the future');
  refused(decodeSensorMessage(Buffer.from([0x0f])), 'message', 'wire type 7');
  // a uint64 past 2^53 decodes to a double ≥ 2^53 and is refused by the checks
  const big = decodeSensorMessage(UPLINK_SERVICE.Connect!.requestSerialize({ breaches: { items: [{ ...item(1), seq: '18446744073709551615' }] } }));
  const v = accepted(big, 'decodes');
  if (v.msg !== 'breaches') throw new Error('kind');
  refused(validateBreachItem(v.breaches.items[0]), 'seq', 'seq 2^64 − 1');
  const justPast = decodeSensorMessage(UPLINK_SERVICE.Connect!.requestSerialize({ hello: { ...hello(), last_seq: '9007199254740993' } }));
  const h = accepted(justPast, 'decodes');
  if (h.msg !== 'hello') throw new Error('kind');
  refused(validateHello(h.hello), 'last_seq', '2^53 + 1');
});

test('validateHello: a sensor\'s Hello as sent; wrong types, bad ids, too many capabilities refused', () => {
  assert.equal(accepted(validateHello(hello()), 'hello'), hello());
  accepted(validateHello(hello({ state_id: '', capabilities: [], sensor_version: '' })), 'optional fields empty');
  accepted(validateHello(hello({ sensor_id: 'a'.repeat(128) })), '128 characters');
  accepted(validateHello(hello({ protocol_version: 2 })), 'another version is the server\'s to answer, not malformed');
  refused(validateHello(null), 'hello', 'null');
  refused(validateHello([hello()]), 'hello', 'an array');
  refused(validateHello(hello({ sensor_id: '' })), 'sensor_id', 'empty id');
  refused(validateHello(hello({ sensor_id: 'a'.repeat(129) })), 'sensor_id', 'long id');
  refused(validateHello(hello({ sensor_id: '../other' })), 'sensor_id', 'a slash');
  refused(validateHello(hello({ sensor_id: 'a\u0000b' })), 'sensor_id', 'a NUL');
  refused(validateHello(hello({ sensor_id: 42 as unknown as string })), 'sensor_id', 'a number');
  refused(validateHello(hello({ sensor_version: 'x'.repeat(65) })), 'sensor_version', 'long version');
  refused(validateHello(hello({ sensor_version: '1\n2' })), 'sensor_version', 'a newline');
  refused(validateHello(hello({ protocol_version: -1 })), 'protocol_version', 'negative');
  refused(validateHello(hello({ protocol_version: 1.5 })), 'protocol_version', 'fraction');
  refused(validateHello(hello({ capabilities: 'commands' as unknown as string[] })), 'capabilities', 'not a list');
  refused(validateHello(hello({ capabilities: Array.from({ length: 33 }, (_, i) => `c${i}`) })), 'capabilities', '33 capabilities');
  refused(validateHello(hello({ capabilities: [''] })), 'capabilities', 'an empty capability');
  refused(validateHello(hello({ capabilities: ['x'.repeat(100_000)] })), 'capabilities', 'a huge capability');
  for (const last of [-1, 0.5, NaN, Infinity, 2 ** 53, '3']) refused(validateHello(hello({ last_seq: last as number })), 'last_seq', `last_seq ${String(last)}`);
  refused(validateHello(hello({ state_id: 'x'.repeat(65) })), 'state_id', 'long state id');
  refused(validateHello(hello({ state_id: 'a b' })), 'state_id', 'a space');
  assert.ok(isValidSensorId('0b9f2c1e-4a7d-4f0e-9a51-3c2d1e0f9a8b'));
  assert.ok(isValidSensorId('sensor@site-1.example:7'));
  assert.not.ok(isValidSensorId('x/y'));
  assert.not.ok(isValidSensorId(undefined));
});

test('validateBreachItem: real breaches accepted with their index fields, as sent', () => {
  for (let n = 1; n <= 60; n++) {
    const it = item(n);
    const v = accepted(validateBreachItem(it), `breach ${n}`);
    const b = makeBreach(n, T0 + n * 1000);
    assert.is(v.seq, n);
    assert.is(v.id, b.id);
    assert.is(v.time_ms, T0 + n * 1000);
    assert.is(v.device_ip, b.device.ip);
    assert.is(v.json, it.json, 'kept as sent');
    assert.equal(v.breach, JSON.parse(it.json), 'the parsed breach, for consumers');
  }
  accepted(validateBreachItem(item(1, {}, makeBreach(1, T0, { device: { ip: '2001:db8::7' } }))), 'an IPv6 device');
  accepted(validateBreachItem(item(1, {}, makeBreach(1, T0, { score: 0 }))), 'score 0');
  accepted(validateBreachItem(item(1, {}, makeBreach(1, T0, { score: 100 }))), 'score 100');
  // times with offsets and fractions, compared as text with the JSON's
  const t = '2024-05-01T02:00:00.123456+02:00';
  const v = accepted(validateBreachItem(item(1, {}, makeBreach(1, T0, { time: t }))), 'an offset');
  assert.is(Math.round(v.time_ms), T0 + 123);
  accepted(validateBreachItem(item(1, { seq: Number.MAX_SAFE_INTEGER })), 'the largest seq');
  // brackets inside strings are not nesting
  accepted(validateBreachItem(item(1, {}, makeBreach(1, T0, { summary: '['.repeat(5000) + '{'.repeat(5000) }))), 'brackets in a string');
  // unknown fields: the schema evolves in the sensor
  const withMore = { ...makeBreach(1, T0), future_field: { nested: [1, 2, 3] } };
  accepted(validateBreachItem(item(1, {}, withMore as Breach)), 'an unknown field');
});

test('validateBreachItem: seq, id, time, model, score of the wrong type or out of range refused', () => {
  for (const seq of [0, -1, 1.5, NaN, Infinity, 2 ** 53, '5', null, undefined]) refused(validateBreachItem({ ...item(1), seq }), 'seq', `seq ${String(seq)}`);
  for (const id of ['', 'x'.repeat(129), 'a b', 'é', 'a\u0000', 7, null]) refused(validateBreachItem({ ...item(1), id }), 'id', `id ${JSON.stringify(id)}`);
  const badTimes = [
    '', '2024-05-01', '2024-05-01 00:00', 'yesterday', '2024-02-30T00:00:00Z', '2024-13-01T00:00:00Z', '2024-05-01T24:00:00Z',
    '2024-05-01T00:00:00', '2024-05-01T00:00:00+25:00', `2024-05-01T00:00:00.${'1'.repeat(40)}Z`, 1714521600000, null,
  ];
  for (const time of badTimes) refused(validateBreachItem({ ...item(1), time }), 'time', `time ${JSON.stringify(time)}`);
  for (const model of ['', 'm'.repeat(129), 'a\tb', 3]) refused(validateBreachItem({ ...item(1), model }), 'model', `model ${JSON.stringify(model)}`);
  for (const score of [NaN, Infinity, -Infinity, -0.001, 100.001, '50', null]) refused(validateBreachItem({ ...item(1), score }), 'score', `score ${String(score)}`);
  refused(validateBreachItem(null), 'item', 'null');
  refused(validateBreachItem('{"seq":1}'), 'item', 'a string');
  refused(validateBreachItem([item(1)]), 'item', 'an array');
});

test('validateBreachItem: JSON that is not one object, too large, too deep, or disagrees with the typed fields refused', () => {
  const b = makeBreach(3, T0);
  for (const json of ['', 'not json', '{', '[]', 'null', '"x"', '1', `${JSON.stringify(b)} x`]) refused(validateBreachItem(item(3, { json })), 'json', `json ${json.slice(0, 20)}`);
  refused(validateBreachItem(item(3, { json: 42 as unknown as string })), 'json', 'a number');
  // size: counted in UTF-8 bytes
  const big = makeBreach(3, T0, { summary: 'x'.repeat(MAX_BREACH_JSON_BYTES) });
  refused(validateBreachItem(item(3, {}, big)), 'json', 'over 256 KiB');
  const multiByte = makeBreach(3, T0, { summary: 'é'.repeat(MAX_BREACH_JSON_BYTES / 2) });
  assert.ok(JSON.stringify(multiByte).length < MAX_BREACH_JSON_BYTES, 'fewer characters than the limit');
  refused(validateBreachItem(item(3, {}, multiByte)), 'json', 'over 256 KiB of UTF-8');
  refused(validateBreachItem(item(3), { maxJsonBytes: 100 }), 'json', 'a lower limit');
  // depth: 32 is the limit
  const nest = (d: number) => ({ ...b, deep: JSON.parse('['.repeat(d) + ']'.repeat(d)) as unknown });
  accepted(validateBreachItem(item(3, {}, nest(MAX_JSON_DEPTH - 1) as Breach)), 'depth 32 (the object itself is the first level)');
  refused(validateBreachItem(item(3, {}, nest(MAX_JSON_DEPTH) as Breach)), 'json', 'depth 33');
  refused(validateBreachItem(item(3, { json: JSON.stringify(b).slice(0, -1) + `,"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}` })), 'json', 'depth 100 001');
  // the typed fields must be the JSON's exactly
  refused(validateBreachItem(item(3, { id: 'b0000000000000ff' })), 'json.id', 'another id');
  refused(validateBreachItem(item(3, { time: '2024-05-01T00:00:00Z' })), 'json.time', 'the same instant, other text');
  refused(validateBreachItem(item(3, { model: 'port-scan-x' })), 'json.model', 'another model');
  refused(validateBreachItem(item(3, { score: b.score + 0.5 })), 'json.score', 'another score');
  refused(validateBreachItem(item(3, {}, { ...b, score: '43' } as unknown as Breach)), /^(score|json\.score)$/, 'a string score in the JSON');
  const noId = { ...b } as Partial<Breach>;
  delete noId.id;
  refused(validateBreachItem(item(3, { json: JSON.stringify(noId) })), 'json.id', 'no id in the JSON');
  // the device address indexed must be an address
  for (const device of [undefined, null, 'x', { ip: '' }, { ip: 'not-an-ip' }, { ip: 7 }, { ip: '10.0.0.256' }, { ip: '1'.repeat(100) }]) {
    refused(validateBreachItem(item(3, {}, { ...b, device } as unknown as Breach)), 'json.device.ip', `device ${JSON.stringify(device)}`);
  }
});

test('validateDevice: inventory rows as the sensor keeps them; bad addresses, MACs, times, tags refused', () => {
  const v = accepted(validateDevice(device()), 'a device');
  assert.equal(v, { ip: '10.0.0.10', mac: '02:00:00:00:00:0a', name: 'ws-10', tags: ['workstation'], first_seen: '2024-05-01T00:00:00.000Z', last_seen: '2024-05-02T00:00:00.000Z', risk: 12.5, breaches: 1 });
  // every fixture row, through the protocol's shape
  for (const row of makeDevices()) {
    const { peer_group: _group, ...rest } = row;
    const d = accepted(validateDevice(device({ ...rest, mac: row.mac ?? '', name: row.name ?? '', tags: row.tags ?? [], interface: row.interface ?? '', risk: row.risk ?? 0, breaches: row.breaches ?? 0 })), row.ip);
    assert.is(d.ip, row.ip);
    assert.is(d.interface, row.interface);
  }
  // one device is one key however the address is spelled
  assert.is(accepted(validateDevice(device({ ip: '2001:DB8:0:0::1' })), 'upper case, zeros').ip, '2001:db8::1');
  assert.is(accepted(validateBreachItem(item(1, {}, makeBreach(1, T0, { device: { ip: '2001:0db8::0001' } }))), 'breach').device_ip, '2001:db8::1');
  for (const ip of ['', 'host', '10.0.0', '::g', ' 10.0.0.1', 'fe80::1%eth0', 42, null]) refused(validateDevice(device({ ip: ip as string })), 'ip', `ip ${String(ip)}`);
  for (const mac of ['02:00:00:00:00', '02-00-00-00-00-01', 'zz:00:00:00:00:01', 5]) refused(validateDevice(device({ mac: mac as string })), 'mac', `mac ${String(mac)}`);
  refused(validateDevice(device({ first_seen: '2024-05-01' })), 'first_seen', 'a date only');
  refused(validateDevice(device({ last_seen: '' })), 'last_seen', 'empty');
  refused(validateDevice(device({ name: 'n'.repeat(257) })), 'name', 'long name');
  refused(validateDevice(device({ name: 'a\u001b[31mred' })), 'name', 'an escape sequence');
  refused(validateDevice(device({ tags: Array.from({ length: 65 }, (_, i) => `t${i}`) })), 'tags', '65 tags');
  refused(validateDevice(device({ tags: ['ok', ''] })), 'tags', 'an empty tag');
  refused(validateDevice(device({ tags: [3] as unknown as string[] })), 'tags', 'a number tag');
  refused(validateDevice(device({ interface: 'i'.repeat(129) })), 'interface', 'long interface');
  for (const risk of [NaN, -1, Infinity]) refused(validateDevice(device({ risk })), 'risk', `risk ${risk}`);
  for (const breaches of [-1, 0.5, 2 ** 53]) refused(validateDevice(device({ breaches })), 'breaches', `breaches ${breaches}`);
  // the peer group travels as 1 + its number (0: in none), and is kept as its number
  assert.is(accepted(validateDevice(device({ peer_group: 3 })), 'group').peer_group, 2);
  assert.is(accepted(validateDevice(device({ peer_group: 0 })), 'no group').peer_group, undefined);
  const { peer_group: _none, ...older } = device();
  assert.is(accepted(validateDevice(older), 'a sensor of an older build').peer_group, undefined);
  for (const peer_group of [-1, 0.5, 2 ** 32, NaN]) refused(validateDevice(device({ peer_group })), 'peer_group', `peer_group ${peer_group}`);
});

test('validateHealth: a status report; NaN, negatives, oversized or odd maps refused', () => {
  assert.equal(accepted(validateHealth(health()), 'health'), health());
  for (const f of ['packets_per_s', 'records_per_s', 'flows_per_s', 'breaches_per_s', 'lag_s'] as const) {
    for (const bad of [NaN, -1, Infinity, '1']) refused(validateHealth(health({ [f]: bad })), f, `${f} ${String(bad)}`);
  }
  for (const f of ['drops', 'memory_bytes', 'outbox'] as const) {
    for (const bad of [-1, 1.5, 2 ** 53, NaN]) refused(validateHealth(health({ [f]: bad })), f, `${f} ${bad}`);
  }
  refused(validateHealth(health({ time: 'now' })), 'time', 'a bad time');
  refused(validateHealth(health({ evictions: [] as unknown as Record<string, number> })), 'evictions', 'a list');
  refused(validateHealth(health({ evictions: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`t${i}`, i])) })), 'evictions', '257 entries');
  refused(validateHealth(health({ evictions: { 'bad key': 1 } })), 'evictions', 'a space in a key');
  refused(validateHealth(health({ counters: { ['k'.repeat(65)]: 1 } })), 'counters', 'a long key');
  refused(validateHealth(health({ counters: { x: -1 } })), 'counters.x', 'a negative count');
  refused(validateHealth(health({ counters: { x: NaN } })), 'counters.x', 'NaN');
  // "__proto__" as a key (JSON.parse makes it an own property) stays an entry, not a prototype
  const odd = JSON.parse('{"__proto__": 5, "constructor": 1}') as Record<string, number>;
  const v = accepted(validateHealth(health({ counters: odd })), '__proto__ as a key');
  assert.is(Object.getPrototypeOf(v.counters), Object.prototype);
  assert.equal(Object.keys(v.counters).sort(), ['__proto__', 'constructor']);
});

// ---- fuzz: nothing throws ----

/** mulberry32: a small seeded PRNG, so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['seq', 'id', 'time', 'model', 'score', 'json', 'sensor_id', 'protocol_version', 'capabilities', 'last_seq', 'state_id', 'ip', 'mac', 'tags',
  'first_seen', 'last_seen', 'evictions', 'counters', 'device', '__proto__', 'constructor', 'toString', 'valueOf', 'length'];

function randomValue(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * 14);
  switch (k) {
    case 0: return null;
    case 1: return undefined;
    case 2: return r() < 0.5;
    case 3: return [NaN, Infinity, -Infinity, -0, 0, 1, -1, 2 ** 53, 2 ** 64, 1e308, Number.MIN_VALUE, 100, 100.5][Math.floor(r() * 13)];
    case 4: return Math.floor(r() * 2 ** 32) - 2 ** 31;
    case 5: return r() * 200 - 50;
    case 6: return '';
    case 7: return String.fromCharCode(...Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 0xffff)));
    case 8: return ['2024-05-01T00:00:00Z', '10.0.0.1', '::1', '{}', '[]', '{"id":1}', 'sensor-a', '02:00:00:00:00:01'][Math.floor(r() * 8)];
    case 9: return r() < 0.05 ? 'x'.repeat(300_000) : 'y'.repeat(Math.floor(r() * 300));
    case 10: case 11: {
      if (depth > 4) return {};
      const o: Record<string, unknown> = {};
      const n = Math.floor(r() * 8);
      for (let i = 0; i < n; i++) Object.defineProperty(o, KEYS[Math.floor(r() * KEYS.length)]!, { value: randomValue(r, depth + 1), enumerable: true, writable: true, configurable: true });
      return o;
    }
    case 12: return depth > 4 ? [] : Array.from({ length: Math.floor(r() * 6) }, () => randomValue(r, depth + 1));
    default: return JSON.stringify(randomValue(r, depth + 1)) ?? 'undefined';
  }
}

function mutate(r: () => number, base: Record<string, unknown>): Record<string, unknown> {
  const o = { ...base };
  // none a quarter of the time: what still passes is checked for the invariants
  const n = Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const keys = Object.keys(o);
    const key = keys[Math.floor(r() * keys.length)]!;
    if (key === 'json' && typeof o.json === 'string' && r() < 0.6) {
      // edit the JSON text: a cut, a flipped character, a field changed
      const s = o.json as string;
      const at = Math.floor(r() * s.length);
      const choice = Math.floor(r() * 3);
      o.json = choice === 0 ? s.slice(0, at) : choice === 1 ? s.slice(0, at) + String.fromCharCode(Math.floor(r() * 128)) + s.slice(at + 1) : s.replace(/"score":\d+/, `"score":${JSON.stringify(randomValue(r)) ?? 50}`);
    } else {
      o[key] = randomValue(r);
    }
  }
  return o;
}

test('fuzz: 20 000 seeded random and mutated inputs never make a check throw; what passes keeps the invariants', () => {
  const r = rng(0x5eed);
  let passed = 0;
  for (let i = 0; i < 20_000; i++) {
    const v = i % 2 === 0 ? randomValue(r) : mutate(r, [item(1 + (i % 50)), hello(), device(), health()][(i >> 1) % 4]! as unknown as Record<string, unknown>);
    const b = validateBreachItem(v);
    if (b.ok) {
      passed++;
      assert.ok(Number.isSafeInteger(b.value.seq) && b.value.seq >= 1);
      assert.ok(b.value.score >= 0 && b.value.score <= 100);
      assert.ok(Number.isFinite(b.value.time_ms));
      const parsed = JSON.parse(b.value.json) as Breach;
      assert.is(parsed.id, b.value.id);
    }
    validateHello(v);
    validateDevice(v);
    const h = validateHealth(v);
    if (h.ok) for (const x of Object.values(h.value.counters)) assert.ok(Number.isSafeInteger(x) && x >= 0);
  }
  assert.ok(passed > 100, `mutations that leave an item valid still pass (${passed})`);
});

test('fuzz: random bytes and bit flips of valid messages never make decoding throw', () => {
  const r = rng(42);
  const connect = UPLINK_SERVICE.Connect!;
  const valid = [
    connect.requestSerialize({ hello: hello() }),
    connect.requestSerialize({ breaches: { items: [item(1), item(2), item(3)] } }),
    connect.requestSerialize({ devices: { devices: [device(), device({ ip: '2001:db8::1' })] } }),
    connect.requestSerialize({ health: health() }),
  ];
  let decoded = 0;
  for (let i = 0; i < 20_000; i++) {
    let bytes: Buffer;
    if (i % 2 === 0) {
      bytes = Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)));
    } else {
      bytes = Buffer.from(valid[i % valid.length]!);
      const flips = 1 + Math.floor(r() * 4);
      for (let f = 0; f < flips; f++) bytes[Math.floor(r() * bytes.length)]! ^= 1 << Math.floor(r() * 8);
      if (r() < 0.2) bytes = bytes.subarray(0, Math.floor(r() * bytes.length));
    }
    const m = decodeSensorMessage(bytes);
    if (!m.ok) continue;
    decoded++;
    switch (m.value.msg) {
      case 'hello': validateHello(m.value.hello); break;
      case 'breaches': for (const it of m.value.breaches.items ?? []) validateBreachItem(it); break;
      case 'devices': for (const d of m.value.devices.devices ?? []) validateDevice(d); break;
      case 'health': validateHealth(m.value.health); break;
    }
  }
  assert.ok(decoded > 1000, `many mutations still decode (${decoded}) and are checked`);
});

test.run();
