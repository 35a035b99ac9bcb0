// The uplink protocol (proto/edge/v1/uplink.proto) for both ends: the
// loaded service definition, the messages as TypeScript types, the limits,
// and the checks the aggregator runs on everything a sensor sends.
//
// The checks are pure and total, in the manner of Suricata's Rust parsers:
// bytes or an object in, a typed record or a typed error out, and they
// never throw, whatever a hostile or broken sensor sends (wrong types,
// NaN, huge strings, deep nesting, JSON that disagrees with the typed
// fields). The aggregator stores only what they return.
//
// proto-loader options, fixed for both ends:
// - keepCase: field names as in the .proto (sensor_id, acked_seq), as the
//   breaches' JSON spells its own;
// - longs: Number: uint64 fields are JavaScript numbers. Sequence numbers
//   and counters stay below 2^53 (the sensor's own seq is a JS number), so
//   nothing is lost; a decoded uint64 of 2^53 or more becomes a double of
//   at least 2^53 and is rejected here as not a safe integer;
// - defaults: true: every field is present after decoding (proto3 has no
//   "absent" for scalars), so checks compare against '' and 0;
// - oneofs: true: a decoded SensorMessage names its kind in `msg`;
// - enums: String: ErrorCode travels as its name ("REJECTED").
import type { DeviceRow } from '../state/device-store.ts';
import { join } from 'node:path';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { makeClientConstructor, type MethodDefinition, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { PACKAGE_ROOT } from '../core/package-root.ts';
import { parseRfc3339 } from '../flowlogs/gcp-vpc.ts';
import { formatAddress, parseAddress } from '../flows/ip-address.ts';

/** The protocol version this build speaks (Hello and Welcome carry it). */
export const PROTOCOL_VERSION = 1;
/** The largest SensorMessage the aggregator reads (grpc.max_receive_message_length): larger fails the stream. */
export const MAX_MESSAGE_BYTES = 4 << 20;
/** The most items in one BreachBatch or DeviceBatch. */
export const MAX_BATCH_ITEMS = 1000;
/** The largest breach JSON text, in UTF-8 bytes. */
export const MAX_BREACH_JSON_BYTES = 256 << 10;
/** The deepest nesting of arrays and objects in a breach's JSON (a real breach nests 3 deep). */
export const MAX_JSON_DEPTH = 32;

const MAX_ID_CHARS = 128;
const MAX_TIME_CHARS = 40;
const MAX_NAME_CHARS = 256;
const MAX_SHORT_CHARS = 64;
const MAX_CAPABILITIES = 32;
const MAX_TAGS = 64;
const MAX_MAP_ENTRIES = 256;

export const PROTO_PATH = join(PACKAGE_ROOT, 'proto', 'edge', 'v1', 'uplink.proto');
export const LOADER_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true } as const;

/** The loaded edge.v1 package (proto-loader's PackageDefinition). */
export const UPLINK_PACKAGE: PackageDefinition = loadSync(PROTO_PATH, LOADER_OPTIONS);
/** The Uplink service, for server.addService and clients. */
export const UPLINK_SERVICE = UPLINK_PACKAGE['edge.v1.Uplink'] as ServiceDefinition;
/** A grpc-js client class for the Uplink service: `new UplinkClient(address, credentials, options)`, then `.Connect()`. */
export const UplinkClient: ServiceClientConstructor = makeClientConstructor(UPLINK_SERVICE, 'Uplink');

const CONNECT = UPLINK_SERVICE.Connect as MethodDefinition<SensorMessage, AggregatorMessage>;

// ---- the messages, as proto-loader decodes them with LOADER_OPTIONS ----

export interface Hello {
  sensor_id: string;
  sensor_version: string;
  protocol_version: number;
  capabilities: string[];
  last_seq: number;
  state_id: string;
}

export interface BreachItem {
  seq: number;
  id: string;
  time: string;
  model: string;
  score: number;
  json: string;
}

export interface BreachBatch { items: BreachItem[] }

export interface Device {
  ip: string;
  mac: string;
  first_seen: string;
  last_seen: string;
  name: string;
  tags: string[];
  interface: string;
  risk: number;
  breaches: number;
  /** 1 + its peer group's number; 0: in none */
  peer_group: number;
}

export interface DeviceBatch { devices: Device[] }

export interface Health {
  time: string;
  packets_per_s: number;
  records_per_s: number;
  flows_per_s: number;
  breaches_per_s: number;
  drops: number;
  lag_s: number;
  memory_bytes: number;
  outbox: number;
  evictions: Record<string, number>;
  counters: Record<string, number>;
}

/** A sensor's message: exactly one kind, named by `msg`. */
export type SensorMessage =
  | { msg: 'hello'; hello: Hello }
  | { msg: 'breaches'; breaches: BreachBatch }
  | { msg: 'devices'; devices: DeviceBatch }
  | { msg: 'health'; health: Health };

export interface Welcome {
  aggregator_id: string;
  protocol_version: number;
  acked_seq: number;
  max_batch_items: number;
  max_message_bytes: number;
}

export interface Ack { acked_seq: number }

export interface Command {
  id: string;
  kind: string;
  args: Record<string, string>;
}

export type ErrorCode =
  | 'ERROR_CODE_UNSPECIFIED' | 'PROTOCOL' | 'UNSUPPORTED_VERSION' | 'UNAUTHENTICATED'
  | 'REFUSED' | 'REPLACED' | 'UNAVAILABLE' | 'REJECTED';

export interface ErrorMessage { code: ErrorCode; message: string }

/** The aggregator's message: exactly one kind (as written; decoded ones also carry `msg`). */
export type AggregatorMessage =
  | { welcome: Welcome }
  | { ack: Ack }
  | { command: Command }
  | { error: ErrorMessage };

/** What a sensor's client writes: one kind, fields it leaves out take their proto3 defaults. */
export type SensorMessageOut =
  | { hello: Partial<Hello> }
  | { breaches: { items: Partial<BreachItem>[] } }
  | { devices: { devices: Partial<Device>[] } }
  | { health: Partial<Health> };

/** A decoded AggregatorMessage: one kind, named by `msg`. */
export type AggregatorMessageIn =
  | { msg: 'welcome'; welcome: Welcome }
  | { msg: 'ack'; ack: Ack }
  | { msg: 'command'; command: Command }
  | { msg: 'error'; error: ErrorMessage };

// ---- results of the checks ----

/** Why something a sensor sent was refused: the field, and a short reason an operator can read. */
export interface ProtocolError {
  field: string;
  reason: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const fail = (field: string, reason: string): { ok: false; error: ProtocolError } => ({ ok: false, error: { field, reason } });

/** "seq: must be …" — one line for logs and Error messages. */
export function describeError(e: ProtocolError): string {
  return `${e.field}: ${e.reason}`;
}

// ---- decoding ----

/** The serialized form of an aggregator message (what the server writes on the wire). */
export function encodeAggregatorMessage(m: AggregatorMessage): Buffer {
  return CONNECT.responseSerialize(m);
}

/**
 * Decode a SensorMessage from its bytes. Malformed protobuf is an error of
 * field `message`; a message with no kind this build knows (a newer
 * sensor's) is an error of field `msg`, which the server ignores.
 */
export function decodeSensorMessage(bytes: Uint8Array): Checked<SensorMessage> {
  let m: unknown;
  try {
    m = CONNECT.requestDeserialize(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    return fail('message', `not a valid SensorMessage (${String((e as Error)?.message ?? e).slice(0, 80)})`);
  }
  const kind = (m as { msg?: unknown } | null)?.msg;
  // field `msg`: well-formed protobuf, but no kind this build knows (one added by a newer sensor, or none)
  if (kind !== 'hello' && kind !== 'breaches' && kind !== 'devices' && kind !== 'health') return fail('msg', 'no message kind this aggregator knows');
  return ok(m as SensorMessage);
}

// ---- field checks ----

const SENSOR_ID = /^[A-Za-z0-9._:@-]{1,128}$/;
const VISIBLE = /^[\x21-\x7e]+$/;
const MAP_KEY = /^[A-Za-z0-9_.:/-]{1,64}$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
// C0 controls and DEL: kept out of names that end up in logs and terminals.
const CONTROL = /[\x00-\x1f\x7f]/;

/** A sensor id as the aggregator uses it in keys: 1–128 characters of [A-Za-z0-9._:@-]. */
export function isValidSensorId(s: unknown): s is string {
  return typeof s === 'string' && SENSOR_ID.test(s);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A non-empty run of visible ASCII of at most `max` characters. */
function visible(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= max && VISIBLE.test(v);
}

/**
 * An address in the sensor's own text form (10.0.0.1, 2001:db8::1), or
 * null: one device is one key however a sender spelled it.
 */
export function canonicalAddress(v: unknown): string | null {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_SHORT_CHARS) return null;
  const a = parseAddress(v);
  return a === null ? null : formatAddress(a.bytes, a.version);
}

/** Epoch ms of an RFC 3339 time, or NaN. */
function timeMs(v: unknown): number {
  if (typeof v !== 'string' || v.length > MAX_TIME_CHARS) return NaN;
  const s = parseRfc3339(v);
  return Number.isFinite(s) ? s * 1000 : NaN;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isRate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** A map<string, uint64>: ≤ 256 entries, keys of [A-Za-z0-9_.:/-]{1,64}, values safe integers ≥ 0. */
function countMap(v: unknown, field: string): Checked<Record<string, number>> {
  if (!isRecord(v)) return fail(field, 'must be a map');
  const out: Record<string, number> = {};
  let n = 0;
  for (const key in v) {
    if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
    if (++n > MAX_MAP_ENTRIES) return fail(field, `more than ${MAX_MAP_ENTRIES} entries`);
    if (!MAP_KEY.test(key)) return fail(field, `key ${JSON.stringify(key.slice(0, 70))} is not 1–64 characters of [A-Za-z0-9_.:/-]`);
    const value = v[key];
    if (!isCount(value)) return fail(`${field}.${key}`, 'must be an integer from 0 to 2^53 − 1');
    // defineProperty: a key such as "__proto__" stays a plain entry
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return ok(out);
}

// ---- Hello ----

export interface ValidHello {
  sensor_id: string;
  sensor_version: string;
  protocol_version: number;
  capabilities: string[];
  last_seq: number;
  state_id: string;
}

/**
 * Check a Hello's fields. The protocol version is only checked to be a
 * number here: whether this aggregator speaks it is the server's answer
 * (UNSUPPORTED_VERSION), not a malformed message.
 */
export function validateHello(x: unknown): Checked<ValidHello> {
  if (!isRecord(x)) return fail('hello', 'must be a message');
  const { sensor_id, sensor_version, protocol_version, capabilities, last_seq, state_id } = x;
  if (!isValidSensorId(sensor_id)) return fail('sensor_id', 'must be 1–128 characters of [A-Za-z0-9._:@-]');
  if (typeof sensor_version !== 'string' || sensor_version.length > MAX_SHORT_CHARS || CONTROL.test(sensor_version)) return fail('sensor_version', 'must be text of at most 64 characters');
  if (typeof protocol_version !== 'number' || !Number.isInteger(protocol_version) || protocol_version < 0 || protocol_version > 0xffffffff) return fail('protocol_version', 'must be an unsigned 32-bit integer');
  if (!Array.isArray(capabilities) || capabilities.length > MAX_CAPABILITIES) return fail('capabilities', `must be a list of at most ${MAX_CAPABILITIES}`);
  for (const c of capabilities) if (!visible(c, MAX_SHORT_CHARS)) return fail('capabilities', 'each must be 1–64 visible ASCII characters');
  if (!isCount(last_seq)) return fail('last_seq', 'must be an integer from 0 to 2^53 − 1');
  if (typeof state_id !== 'string' || (state_id !== '' && !(state_id.length <= MAX_SHORT_CHARS && SENSOR_ID.test(state_id)))) return fail('state_id', 'must be empty or 1–64 characters of [A-Za-z0-9._:@-]');
  return ok({ sensor_id, sensor_version, protocol_version, capabilities: [...capabilities] as string[], last_seq, state_id });
}

// ---- BreachItem ----

export interface ValidBreach {
  seq: number;
  id: string;
  /** RFC 3339, as sent */
  time: string;
  /** the time as epoch ms, for the time index */
  time_ms: number;
  model: string;
  score: number;
  /** breach.device.ip, in canonical form (canonicalAddress) */
  device_ip: string;
  /** the JSON text as sent (what the aggregator stores) */
  json: string;
  /** the JSON as parsed by the check: what the aggregator's consumers (correlation) read, without parsing it again */
  breach: Record<string, unknown>;
}

export interface BreachLimits {
  /** largest JSON text in UTF-8 bytes (default MAX_BREACH_JSON_BYTES) */
  maxJsonBytes?: number;
  /** deepest nesting (default MAX_JSON_DEPTH) */
  maxDepth?: number;
}

/**
 * Check one BreachItem: seq a positive safe integer; id, time, model, score
 * well formed; `json` one JSON object within the size and depth limits
 * whose id, time, model and score are exactly the typed fields and whose
 * device.ip is an address.
 */
export function validateBreachItem(x: unknown, limits: BreachLimits = {}): Checked<ValidBreach> {
  const maxBytes = limits.maxJsonBytes ?? MAX_BREACH_JSON_BYTES;
  const maxDepth = limits.maxDepth ?? MAX_JSON_DEPTH;
  if (!isRecord(x)) return fail('item', 'must be a message');
  const { seq, id, time, model, score, json } = x;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return fail('seq', 'must be an integer from 1 to 2^53 − 1');
  if (!visible(id, MAX_ID_CHARS)) return fail('id', 'must be 1–128 visible ASCII characters');
  const t = timeMs(time);
  if (!Number.isFinite(t)) return fail('time', 'must be an RFC 3339 time');
  if (!visible(model, MAX_ID_CHARS)) return fail('model', 'must be 1–128 visible ASCII characters');
  if (typeof score !== 'number' || !(score >= 0 && score <= 100)) return fail('score', 'must be a number from 0 to 100');
  if (typeof json !== 'string') return fail('json', 'must be text');
  // UTF-16 length bounds the UTF-8 size from below: cheap refusal of the huge first
  if (json.length > maxBytes || Buffer.byteLength(json, 'utf8') > maxBytes) return fail('json', `larger than ${maxBytes} bytes`);
  if (!shallowerThan(json, maxDepth)) return fail('json', `nested deeper than ${maxDepth}`);
  let b: unknown;
  try {
    b = JSON.parse(json);
  } catch {
    return fail('json', 'not valid JSON');
  }
  if (!isRecord(b)) return fail('json', 'must be one JSON object');
  if (b.id !== id) return fail('json.id', 'does not match the item\'s id');
  if (b.time !== time) return fail('json.time', 'does not match the item\'s time');
  if (b.model !== model) return fail('json.model', 'does not match the item\'s model');
  if (b.score !== score) return fail('json.score', 'does not match the item\'s score');
  const deviceIp = isRecord(b.device) ? canonicalAddress(b.device.ip) : null;
  if (deviceIp === null) return fail('json.device.ip', 'must be an IP address');
  return ok({ seq, id, time: time as string, time_ms: t, model, score, device_ip: deviceIp, json, breach: b });
}

/**
 * Whether JSON text nests arrays/objects at most `max` deep, by one pass
 * over the characters (strings skipped). Checked before parsing: the text
 * parses at any depth, but what is built from it (the stored record's
 * encoder, a consumer's recursive walk) would overflow the stack.
 */
function shallowerThan(text: string, max: number): boolean {
  // fewer openers than the limit cannot nest past it: a native search settles
  // a real breach (a dozen openers) at a tenth of the character walk's cost
  let openers = 0;
  for (const ch of ['{', '[']) {
    for (let at = text.indexOf(ch); at !== -1; at = text.indexOf(ch, at + 1)) if (++openers > max) break;
  }
  if (openers <= max) return true;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return false;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return true;
}

// ---- Device ----

/** A device row as the aggregator keeps it: the sensor's DeviceRow, empty fields left out, the address canonical. */
export type ValidDevice = DeviceRow;

export function validateDevice(x: unknown): Checked<ValidDevice> {
  if (!isRecord(x)) return fail('device', 'must be a message');
  const { ip, mac, first_seen, last_seen, name, tags, risk, breaches, peer_group } = x;
  const iface = x.interface;
  const addr = canonicalAddress(ip);
  if (addr === null) return fail('ip', 'must be an IP address');
  if (typeof mac !== 'string' || (mac !== '' && !MAC.test(mac))) return fail('mac', 'must be empty or six hex pairs separated by colons');
  if (!Number.isFinite(timeMs(first_seen))) return fail('first_seen', 'must be an RFC 3339 time');
  if (!Number.isFinite(timeMs(last_seen))) return fail('last_seen', 'must be an RFC 3339 time');
  if (typeof name !== 'string' || name.length > MAX_NAME_CHARS || CONTROL.test(name)) return fail('name', 'must be text of at most 256 characters without control characters');
  if (!Array.isArray(tags) || tags.length > MAX_TAGS) return fail('tags', `must be a list of at most ${MAX_TAGS}`);
  for (const t of tags) if (!visible(t, MAX_SHORT_CHARS)) return fail('tags', 'each must be 1–64 visible ASCII characters');
  if (typeof iface !== 'string' || iface.length > MAX_ID_CHARS || CONTROL.test(iface)) return fail('interface', 'must be text of at most 128 characters without control characters');
  if (!isRate(risk)) return fail('risk', 'must be a finite number ≥ 0');
  if (!isCount(breaches)) return fail('breaches', 'must be an integer from 0 to 2^53 − 1');
  // absent: a sensor of a build before peer groups were sent (0, "in none")
  const group = peer_group === undefined ? 0 : peer_group;
  if (!isCount(group) || group > 0xffffffff) return fail('peer_group', 'must be an unsigned 32-bit integer');
  return ok({
    ip: addr,
    ...(mac ? { mac: mac.toLowerCase() } : {}),
    ...(iface ? { interface: iface } : {}),
    ...(name ? { name } : {}),
    ...(tags.length ? { tags: [...tags] as string[] } : {}),
    first_seen: first_seen as string,
    last_seen: last_seen as string,
    risk,
    breaches,
    ...(group > 0 ? { peer_group: group - 1 } : {}),
  });
}

// ---- Health ----

export type ValidHealth = Health;

export function validateHealth(x: unknown): Checked<ValidHealth> {
  if (!isRecord(x)) return fail('health', 'must be a message');
  if (!Number.isFinite(timeMs(x.time))) return fail('time', 'must be an RFC 3339 time');
  for (const f of ['packets_per_s', 'records_per_s', 'flows_per_s', 'breaches_per_s', 'lag_s'] as const) {
    if (!isRate(x[f])) return fail(f, 'must be a finite number ≥ 0');
  }
  for (const f of ['drops', 'memory_bytes', 'outbox'] as const) {
    if (!isCount(x[f])) return fail(f, 'must be an integer from 0 to 2^53 − 1');
  }
  const evictions = countMap(x.evictions, 'evictions');
  if (!evictions.ok) return evictions;
  const counters = countMap(x.counters, 'counters');
  if (!counters.ok) return counters;
  const n = x as unknown as Health;
  return ok({
    time: n.time, packets_per_s: n.packets_per_s, records_per_s: n.records_per_s, flows_per_s: n.flows_per_s,
    breaches_per_s: n.breaches_per_s, drops: n.drops, lag_s: n.lag_s, memory_bytes: n.memory_bytes, outbox: n.outbox,
    evictions: evictions.value, counters: counters.value,
  });
}
