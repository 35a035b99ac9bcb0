// Pattern of life: what every internal device does, learned from the
// connections it makes and answers, and the features that say how unusual
// each new connection and each finished flow is for it.
//
// Two kinds of events come in, both on the capture clock:
//   CONN  a connection starts: from the packet path at its first packet
//         (flows.ts calls learnStart), from flow-record sources when their
//         record is written (the record is the first we hear of it).
//   END   a flow record is written (final records only; interim records
//         carry running totals that the final record repeats).
// Each updates the tables and yields an observation (observation.ts) with
// its features; the models' compiled filters (gate.ts) decide whether the
// observation goes to JS at all.
//
// The device of a flow is its local end: the originator if it is local
// (direction outbound or internal), else the responder (inbound). Flows
// with no local end teach nothing about our devices and are only counted.
//
// Tables (table.ts, fixed capacity, least recently seen evicted):
//   devices    address → activity rates, failure ratio, server share, bytes out per connection
//   endpoints  address → how many devices contacted it within the retention (rarity)
//   pairs      device, peer → connection rate (and when the pair was last seen)
//   channels   device, peer, port, proto → first and last use (novelty, scans)
//   ports      device, port, proto → first use as a client (new service)
// Every `recountEvery` of capture time the endpoint counts and the number of
// active devices are recounted from the pairs and devices seen within the
// retention, so what was forgotten stops counting; between recounts a pair
// or device counts again once it was last seen before the horizon the
// latest recount used. Evictions are not subtracted until the next recount.

import { count, setCounter } from "../stats";
import {
  C_LEARN_CONNS, C_LEARN_ENDS, C_LEARN_NOT_LOCAL, C_LEARN_OBSERVATIONS, C_LEARN_OBS_DROPPED, C_LEARN_DEVICES,
  C_LEARN_DEVICE_EVICTIONS, C_LEARN_ENDPOINT_EVICTIONS, C_LEARN_PAIR_EVICTIONS, C_LEARN_CHANNEL_EVICTIONS, C_LEARN_PORT_EVICTIONS,
  C_LEARN_BEACON_EVICTIONS, C_LEARN_UNANSWERED,
} from "../counters";
import { copyWords, reserve, zeroWords } from "../bytes";
import { isLocal } from "../localnets";
import {
  CS_OTH, CS_REJ, CS_RSTOS0, CS_RSTRH, CS_S0, CS_SH, CS_SHR, R_CONN_STATE, R_FLAGS, R_LAST_TS, R_ORIG_H, R_ORIG_IP_BYTES, R_ORIG_P,
  R_ORIG_PKTS, R_PROTO, R_RESP_H, R_RESP_IP_BYTES, R_RESP_P, R_RESP_PKTS, R_SERIAL, R_SOURCE, R_TS, RF_INTERIM, REC_SIZE,
  R_ORIG_MAC, R_RESP_MAC, RF_HAS_MAC, R_REPORTER,
  SRC_PACKETS, SRC_SFLOW,
} from "../flowrecord";
import { COUNTER_BYTES, MOMENTS_BYTES, VOLUME_BYTES, counterAdd, counterValue, momentsAdd, momentsZ, volumeAdd, volumeRatio } from "./damped";
import { BEACON_PAYLOAD, beaconAge, beaconEvents, beaconObserve, beaconPeriod, beaconScore } from "./beacon";
import { gate, gateInit } from "./gate";
import {
  FT_BYTES_IN, FT_BYTES_OUT, FT_BYTES_OUT_Z, FT_CHANNEL_AGE_S, FT_CHANNEL_GAP_S, FT_CONN_STATE, FT_DEVICE_AGE_S, FT_DEVICE_CONN_RATE,
  FT_DEVICE_FAIL_RATIO, FT_DEVICE_SERVER, FT_DIRECTION, FT_DURATION, FT_FAILED, FT_ORIGINATOR, FT_PAIR_CONNS, FT_PAIR_GAP_S, FT_PEER_AGE_S,
  FT_PEER_DEVICES, FT_PEER_EXTERNAL, FT_PEER_RARITY, FT_PKTS_OUT, FT_PORT, FT_PORT_AGE_S, FT_PROTO, NEVER, O_DEVICE, FT_PAIR_FRESH, FT_PORT_FRESH,
  FT_BEACON_SCORE, FT_BEACON_PERIOD_S, FT_BEACON_EVENTS, FT_BEACON_AGE_S, FT_HOUR_SHARE, FT_INTERNAL_VOLUME, FT_INTERNAL_VOLUME_RATIO, FT_EXTERNAL_OUT_VOLUME, FT_EXTERNAL_OUT_RATIO,
  O_DEVICE_PORT, O_FEATURES, O_FLOW_TS, O_KIND, O_PEER, O_PEER_PORT, O_PROTO, O_SERIAL, O_TS, OBS_CONN, OBS_END, OBS_SIZE,
} from "./observation";
import { Table, tableCreated, tablesGrow } from "./table";

// Half-lives of the decayed statistics (seconds of capture time).
const MINUTE: f64 = 60;
const HOUR: f64 = 3600;
const DAY: f64 = 86400;

// Device payload (Table.payload).
const D_RATE_1M: usize = 0;                               // counter: connections, 1 min
const D_CONNS_1H: usize = D_RATE_1M + COUNTER_BYTES;      // counter: connections, 1 h
const D_FAILED_1H: usize = D_CONNS_1H + COUNTER_BYTES;    // counter: failed connections, 1 h
const D_SERVED_1D: usize = D_FAILED_1H + COUNTER_BYTES;   // counter: connections answered, 1 day
const D_ALL_1D: usize = D_SERVED_1D + COUNTER_BYTES;      // counter: all connections, 1 day
const D_BYTES_OUT: usize = D_ALL_1D + COUNTER_BYTES;      // moments: IP bytes sent per outbound connection, 1 day
const D_INTERNAL_VOL: usize = D_BYTES_OUT + MOMENTS_BYTES; // volume: bytes moved with internal peers (as the originator)
const D_EXTERNAL_OUT: usize = D_INTERNAL_VOL + VOLUME_BYTES; // volume: bytes sent to external peers
const D_LAST_CLIENT: usize = D_EXTERNAL_OUT + VOLUME_BYTES; // f64: when the device last made a connection
const D_WEEK_TOTAL: usize = D_LAST_CLIENT + 8;             // f64: connections made, counted in D_WEEK
const D_WEEK: usize = D_WEEK_TOTAL + 8;                     // u16 × 168: connections made per hour of the week (UTC, Monday 00:00 first)
const D_MAC: usize = D_WEEK + 2 * 168;                      // u64: the MAC its frames carried last (6 bytes), bit 63 set when known
const D_IFACE: usize = D_MAC + 8;                           // u32: the cloud interface (reporter id) its flow-log records came from last, 0 none
const DEVICE_PAYLOAD: usize = D_IFACE + 8;

/** Connections a device's week profile holds before it is halved (older weeks fade). */
const WEEK_HALVE_AT: f64 = 30000;
/** Connections a week profile needs before it judges (about two per hour of the week). */
const WEEK_MIN: f64 = 336;

/** Volumes below these are never unusual (a quiet device's first big file is not staging). */
const INTERNAL_VOLUME_FLOOR: f64 = 100e6;
const EXTERNAL_OUT_FLOOR: f64 = 20e6;

// Endpoint payload.
const EP_DEVICES: usize = 0; // f64 devices that contacted it within the retention
const ENDPOINT_PAYLOAD: usize = 8;

// Pair payload.
const P_CONNS_1H: usize = 0;                         // counter: connections, 1 h
const P_FRESH_1M: usize = COUNTER_BYTES;             // counter: fresh channels (ports newly tried), 1 min
const P_CLIENT_LAST: usize = 2 * COUNTER_BYTES;      // f64: when the device last contacted the peer as the client (0: never)
const PAIR_PAYLOAD: usize = 2 * COUNTER_BYTES + 8;

// Client port payload.
const PT_FRESH_1M: usize = 0;                        // counter: fresh channels (hosts newly tried on the port), 1 min
const PORT_PAYLOAD: usize = COUNTER_BYTES;

/** A channel unused for this long counts as fresh again (scans, rarity of use). */
const FRESH_AFTER: f64 = 3600;

let devices = new Table();
let endpoints = new Table();
let pairs = new Table();
let channels = new Table();
let ports = new Table();
let beacons = new Table();

let obsBase: usize = 0;
let obsCap: i32 = 0;
let obsCount: i32 = 0;
let learnedRecords: i32 = 0; // output records already learned (learnRecords resumes here)
let key: usize = 0;          // 64-byte scratch: table keys, JS's arguments
// Where the region is full an observation is built here and dropped (counted):
// learning goes on. logReplay and learnRecords keep room, so this is a net.
let obsScratch: usize = 0;

let ready = false;
let emitAll = false;
let retention: f64 = 7 * DAY;
let recountEvery: f64 = 6 * HOUR;
let nextRecount: f64 = 0;
/** The retention's horizon at the latest recount: what was last seen before it is not counted now. */
let countedHorizon: f64 = -Infinity;
let activeDevices: f64 = 0;
/** Capture time of the first connection learned (JS starts the learning period there). */
let firstTs: f64 = NaN;

// The connection being learned, oriented (orient()).
export let side: i32 = -1;   // 1: the device is the originator, 0: the responder
export let dev: usize = 0, peer: usize = 0;
export let devPort: u32 = 0, peerPort: u32 = 0;
export let peerLocal = false;

/** Tables and the observation region. Returns false when memory cannot grow that far. */
export function learnInit(deviceCap: i32, endpointCap: i32, pairCap: i32, channelCap: i32, portCap: i32, beaconCap: i32, observations: i32): bool {
  if (ready) return true;
  if (!gateInit()) return false;
  if (!devices.init(<u32>deviceCap, 16, DEVICE_PAYLOAD, C_LEARN_DEVICE_EVICTIONS)) return false;
  if (!endpoints.init(<u32>endpointCap, 16, ENDPOINT_PAYLOAD, C_LEARN_ENDPOINT_EVICTIONS)) return false;
  if (!pairs.init(<u32>pairCap, 32, PAIR_PAYLOAD, C_LEARN_PAIR_EVICTIONS)) return false;
  if (!channels.init(<u32>channelCap, 40, 0, C_LEARN_CHANNEL_EVICTIONS)) return false;
  if (!ports.init(<u32>portCap, 24, PORT_PAYLOAD, C_LEARN_PORT_EVICTIONS)) return false;
  if (!beacons.init(<u32>beaconCap, 32, BEACON_PAYLOAD, C_LEARN_BEACON_EVICTIONS)) return false;
  obsBase = reserve(<usize>observations * OBS_SIZE);
  key = reserve(64);
  obsScratch = reserve(OBS_SIZE);
  carry = reserve(<usize>CARRY_SLOTS * CARRY_BYTES);
  if (obsBase == 0 || key == 0 || obsScratch == 0 || carry == 0) return false;
  obsCap = observations;
  obsCount = 0;
  ready = true;
  return true;
}

/** Retention of rarity (seconds), how often it is recounted, and whether every observation goes to JS (tests). */
export function learnConfigure(retentionS: f64, recountS: f64, all: bool): void {
  if (retentionS > 0) retention = retentionS;
  if (recountS > 0) recountEvery = recountS;
  emitAll = all;
}

export function learnReady(): bool { return ready; }
// ---------------------------------------------------------------- export (peer groups)

/**
 * Device rows for JS (peer groups), written into the observation region —
 * free once JS has drained it (returns -1 otherwise). From slot `start`, at
 * most as many rows as fit; learnExportNext() is where to go on (-1: done).
 * Row (DEVICE_ROW bytes): address, f64 share of connections answered (1 day),
 * f64 connections made in the week profile, f32 × 24 connections per hour
 * of the day (the week profile folded).
 */
export const DEVICE_ROW: usize = 128;
/** Client-port rows: device address, u16 port, u8 proto (24 bytes). */
export const PORT_ROW: usize = 24;
let exportNext: i32 = -1;
export function learnExportNext(): i32 { return exportNext; }

/**
 * Rows of `rowBytes` into the observation region for the devices from table
 * slot `start`, as many as fit: `write(entry, row)` fills one and says
 * whether it counts (false: the device is left out). learnExportNext() is
 * where to go on (-1: done). -1 when the region is not drained.
 */
function exportDevices(start: i32, rowBytes: usize, write: (d: usize, row: usize) => bool): i32 {
  if (!ready || obsCount != 0) return -1;
  const room = <i32>((<usize>obsCap * OBS_SIZE) / rowBytes);
  let n = 0;
  let i = <u32>(start > 0 ? start : 0);
  for (; i <= devices.mask && n < room; i++) {
    if (!devices.occupied(i)) continue;
    if (write(devices.at(i), obsBase + <usize>n * rowBytes)) n++;
  }
  exportNext = i > devices.mask ? -1 : <i32>i;
  return n;
}

/** learnExportDevices' threshold (a module variable: the row writer is a function without captures). */
let exportMinConns: f64 = 0;

function profileRow(d: usize, row: usize): bool {
  const dp = devices.payload(d);
  if (load<f64>(dp + D_WEEK_TOTAL) < exportMinConns) return false;
  copyWords(row, d, 16);
  const all = load<f64>(dp + D_ALL_1D);
  store<f64>(row + 16, all > 0 ? load<f64>(dp + D_SERVED_1D) / all : 0);
  store<f64>(row + 24, load<f64>(dp + D_WEEK_TOTAL));
  for (let h: usize = 0; h < 24; h++) {
    let c: u32 = 0;
    for (let day: usize = 0; day < 7; day++) c += <u32>load<u16>(dp + D_WEEK + ((day * 24 + h) << 1));
    store<f32>(row + 32 + (h << 2), <f32>c);
  }
  return true;
}

export function learnExportDevices(start: i32, minConns: f64): i32 {
  exportMinConns = minConns;
  return exportDevices(start, DEVICE_ROW, profileRow);
}

export function learnExportPorts(start: i32, minConns: f64): i32 {
  if (!ready || obsCount != 0) return -1;
  const room = <i32>((<usize>obsCap * OBS_SIZE) / PORT_ROW);
  let n = 0;
  let i = <u32>(start > 0 ? start : 0);
  for (; i <= ports.mask && n < room; i++) {
    if (!ports.occupied(i)) continue;
    if (minConns > 0) {
      const d = devices.find(ports.at(i));
      if (d == 0 || load<f64>(devices.payload(d) + D_WEEK_TOTAL) < minConns) continue;
    }
    copyWords(obsBase + <usize>n * PORT_ROW, ports.at(i), 24);
    n++;
  }
  exportNext = i > ports.mask ? -1 : <i32>i;
  return n;
}

/**
 * The device inventory for JS (the state's devices): rows of INVENTORY_ROW
 * bytes into the observation region (drained: -1 otherwise), from table
 * slot `start`, learnExportNext() to go on. Row: address, f64 first seen,
 * f64 last seen, u64 MAC (bit 63 when known), u32 interface (reporter id),
 * u32 0, f64 connections made in the week profile.
 */
export const INVENTORY_ROW: usize = 56;

function inventoryRow(d: usize, row: usize): bool {
  const dp = devices.payload(d);
  copyWords(row, d, 16);
  store<f64>(row + 16, devices.first(d));
  store<f64>(row + 24, devices.last(d));
  store<u64>(row + 32, load<u64>(dp + D_MAC));
  store<u32>(row + 40, load<u32>(dp + D_IFACE));
  store<u32>(row + 44, 0);
  store<f64>(row + 48, load<f64>(dp + D_WEEK_TOTAL));
  return true;
}

export function learnExportInventory(start: i32): i32 {
  return exportDevices(start, INVENTORY_ROW, inventoryRow);
}

/** Statistics of the six tables (devices, endpoints, pairs, channels, client ports, beacons), 16 bytes each at out. */
export function learnTableStats(out: usize): void {
  devices.stats(out); endpoints.stats(out + 16); pairs.stats(out + 32);
  channels.stats(out + 48); ports.stats(out + 64); beacons.stats(out + 80);
}
export function learnFirstTs(): f64 { return firstTs; }
export function observationsPtr(): usize { return obsBase; }
export function observationCount(): i32 { return obsCount; }
export function observationCapacity(): i32 { return obsCap; }
export function observationsClear(): void { obsCount = 0; }
/** 64 bytes JS writes arguments into (a local network: address then mask). */
export function learnScratch(): usize { return key; }
/** Room for at least n more observations (the packet path checks before each record). */
export function observationRoom(n: i32): bool { return !ready || obsCap - obsCount >= n; }
/** The output region was cleared: the next learnRecords starts at record 0. */
export function learnOutputCleared(): void { learnedRecords = 0; }

// ---------------------------------------------------------------- events

/** A connection starts (packet path): orig/resp addresses at o/r. */
export function learnStart(ts: f64, o: usize, r: usize, oPort: u32, rPort: u32, proto: u32, serial: f64): void {
  if (!ready) return;
  tablesGrow();
  conn(ts, o, r, oPort, rPort, proto, serial, ts);
}

/**
 * Learn the output records written since the last call (records at base,
 * `n` of them). Returns true when done, false when the observation region
 * filled first: JS drains it and calls again.
 */
export function learnRecords(base: usize, n: i32): bool {
  if (!ready) return true;
  while (learnedRecords < n) {
    if (obsCap - obsCount < 2) return false;
    const rec = base + <usize>learnedRecords * <usize>REC_SIZE;
    learnedRecords++;
    if ((load<u8>(rec + R_FLAGS) & RF_INTERIM) != 0) continue;
    tablesGrow();
    const serial = load<f64>(rec + R_SERIAL);
    const ts = load<f64>(rec + R_TS);
    const src = load<u8>(rec + R_SOURCE);
    // Flows of the packet path (sFlow samples included) were learned at
    // their first packet; for flow-record sources the record is the first news.
    let reuse = false;
    if (src != SRC_PACKETS && src != SRC_SFLOW) {
      conn(ts, rec + R_ORIG_H, rec + R_RESP_H, <u32>load<u16>(rec + R_ORIG_P), <u32>load<u16>(rec + R_RESP_P), <u32>load<u8>(rec + R_PROTO), serial, ts);
      reuse = connLearned;
    }
    end(rec, serial, ts, reuse);
  }
  return true;
}

// ---------------------------------------------------------------- internals

/**
 * Orient a connection on its local end (the globals above): the originator
 * if it is local, else the responder. False when neither end is local.
 */
export function orient(o: usize, r: usize, oPort: u32, rPort: u32): bool {
  if (isLocal(o)) {
    side = 1; dev = o; peer = r; devPort = oPort; peerPort = rPort;
    peerLocal = isLocal(r);
    return true;
  }
  if (isLocal(r)) {
    side = 0; dev = r; peer = o; devPort = rPort; peerPort = oPort;
    peerLocal = false;
    return true;
  }
  return false;
}

/** Seconds from t to now, never negative (flow-record sources arrive up to the lateness window out of order). */
@inline export function since(now: f64, t: f64): f64 { return now > t ? now - t : 0; }

/** The next observation slot (or the scratch one when the region is full), headed for the oriented connection. */
export function takeObservation(kind: u32, ts: f64, serial: f64, flowTs: f64, proto: u32): usize {
  const o = obsCount < obsCap ? obsBase + <usize>obsCount * OBS_SIZE : obsScratch;
  zeroWords(o, OBS_SIZE);
  store<u32>(o + O_KIND, kind);
  store<f64>(o + O_TS, ts);
  store<f64>(o + O_SERIAL, serial);
  store<f64>(o + O_FLOW_TS, flowTs);
  copyWords(o + O_DEVICE, dev, 16);
  copyWords(o + O_PEER, peer, 16);
  store<u16>(o + O_DEVICE_PORT, <u16>devPort);
  store<u16>(o + O_PEER_PORT, <u16>peerPort);
  store<u8>(o + O_PROTO, <u8>proto);
  return o;
}

/** The features every observation carries: who is who, and which service. */
export function orientation(obs: usize, proto: u32): void {
  setF(obs, FT_DIRECTION, side == 0 ? 3 : peerLocal ? 2 : 1);
  setF(obs, FT_PEER_EXTERNAL, peerLocal ? 0 : 1);
  setF(obs, FT_PORT, <f64>(side == 1 ? peerPort : devPort));
  setF(obs, FT_PROTO, <f64>proto);
  setF(obs, FT_ORIGINATOR, side == 1 ? 1 : 0);
}

/** Keep the observation if any model's filters passed (or every one is wanted). */
export function commit(o: usize): void {
  if (!gate(o) && !emitAll) return;
  if (o == obsScratch) { count(C_LEARN_OBS_DROPPED); return; }
  obsCount++;
  count(C_LEARN_OBSERVATIONS);
}

@inline export function setF(o: usize, f: i32, v: f64): void { store<f64>(o + O_FEATURES + (<usize>f << 3), v); }

/** The device entry for the address at a (created if new). */
function device(a: usize, now: f64): usize {
  const d = devices.upsert(a, now);
  if (tableCreated) setCounter(C_LEARN_DEVICES, <f64>devices.used);
  return d;
}

/** Hour of the week of capture time ts (UTC): 0 = Monday 00:00–01:00 (1970-01-01 was a Thursday). */
@inline function hourOfWeek(ts: f64): usize { return <usize>((<u64>(ts / 3600) + 72) % 168); }

/**
 * How usual this hour of the week is for the device: 168 × its share of
 * the device's connections in this hour (1 = an average hour, 0 = never
 * active then); 1 until the profile holds WEEK_MIN connections.
 */
function hourShare(dp: usize, ts: f64, self: f64): f64 {
  const total = load<f64>(dp + D_WEEK_TOTAL) - self;
  if (total < WEEK_MIN) return 1;
  const n = <f64>load<u16>(dp + D_WEEK + (hourOfWeek(ts) << 1)) - self;
  return n > 0 ? 168.0 * n / total : 0;
}

/** Count a connection the device made in its week profile (halved when full: recent weeks weigh most). */
function weekAdd(dp: usize, ts: f64): void {
  let total = load<f64>(dp + D_WEEK_TOTAL);
  if (total >= WEEK_HALVE_AT) {
    total = 0;
    for (let i: usize = 0; i < 168; i++) {
      const v = load<u16>(dp + D_WEEK + (i << 1)) >> 1;
      store<u16>(dp + D_WEEK + (i << 1), v);
      total += <f64>v;
    }
  }
  const at = dp + D_WEEK + (hourOfWeek(ts) << 1);
  const c = load<u16>(at);
  if (c < 0xFFFF) { store<u16>(at, c + 1); total += 1; }
  store<f64>(dp + D_WEEK_TOTAL, total);
}

/**
 * The device made a connection: it counts in the population rarity is
 * measured against (devices that could have contacted an endpoint) if it
 * had not since the counted horizon. Only clients count: the hosts a scan
 * probes, or a server that only answers, would make every endpoint look rare.
 */
function client(dp: usize, now: f64): void {
  const last = load<f64>(dp + D_LAST_CLIENT);
  if (last == 0 || last < countedHorizon) activeDevices += 1;
  if (now > last) store<f64>(dp + D_LAST_CLIENT, now);
}

function recount(now: f64): void {
  nextRecount = now + recountEvery;
  countedHorizon = now - retention;
  let active: f64 = 0;
  for (let i: u32 = 0; i <= devices.mask; i++) {
    if (!devices.occupied(i)) continue;
    const d = devices.at(i);
    const last = load<f64>(devices.payload(d) + D_LAST_CLIENT);
    if (last != 0 && last >= countedHorizon) active += 1;
  }
  activeDevices = active;
  // (the slots' tag words say which are in use: untouched pages of the entries stay unmapped)
  for (let i: u32 = 0; i <= endpoints.mask; i++) {
    if (endpoints.occupied(i)) store<f64>(endpoints.payload(endpoints.at(i)) + EP_DEVICES, 0);
  }
  for (let i: u32 = 0; i <= pairs.mask; i++) {
    if (!pairs.occupied(i)) continue;
    const p = pairs.at(i);
    const clientLast = load<f64>(pairs.payload(p) + P_CLIENT_LAST);
    if (clientLast == 0 || clientLast < countedHorizon) continue;
    const e = endpoints.find(p + 16);
    if (e != 0) {
      const c = endpoints.payload(e) + EP_DEVICES;
      store<f64>(c, load<f64>(c) + 1);
    }
  }
}

/**
 * Rarity of the peer from the other devices that contacted it within the
 * retention, against the active devices other than this one: 100 = no
 * other device did.
 */
function setRarity(obs: usize, others: f64): void {
  if (others < 0) others = 0;
  const population = activeDevices - (side == 1 ? 1 : 0); // other clients
  let rarity = population > 0 ? 100.0 * (1.0 - others / population) : 100.0;
  if (rarity < 0) rarity = 0;
  setF(obs, FT_PEER_RARITY, rarity);
  setF(obs, FT_PEER_DEVICES, others);
}

/**
 * The device entry the latest conn() learned, when it learned it all: a
 * flow record's end follows its start at once (flow-record sources), and
 * takes it from here (no table grows within a record). Its pair, endpoint
 * and channel come through the carry, as a packet flow's do.
 */
let connLearned = false;
let connDevice: usize = 0;

// The carry: what a connection's start learned of its pair, endpoint and
// channel, kept for its end by flow serial (packet sources: the end comes
// seconds to minutes later, by when those three entries have left the
// cache, and reading them again cost ~0.2 s of the ~1.45 s detection spends
// on the generated 2-day capture's 985 k flows; flow-record sources: the
// end follows at once and finds the slot just written). Slots are taken in
// serial order, so writing and reading them goes through memory in order;
// a flow still open CARRY_SLOTS flows later, or whose end does not match its
// start (a flipped originator), reads the tables as before. The end is
// thereby judged by the standing its connection had when it began (rarity,
// the pair's connections in the past hour, decayed to the end).
const CARRY_SLOTS: u32 = 1 << 15;
const CARRY_BYTES: usize = 96;
const K_SERIAL: usize = 0;      // f64 the flow's serial (0: empty)
const K_FLOW_TS: usize = 8;     // f64 its first packet's time
const K_DEV: usize = 16;        // u64 the device address's last 8 bytes
const K_PEER: usize = 24;       // u64 the peer's
const K_CHANNEL: usize = 32;    // u32 the channel's port | proto << 16 | side << 24
const K_PAIR_CONNS: usize = 40; // counter (16 bytes): the pair's connections, 1 h, after this one
const K_PAIR_FIRST: usize = 56; // f64
const K_CLIENT_LAST: usize = 64; // f64
const K_EP_DEVICES: usize = 72; // f64
const K_EP_FIRST: usize = 80;   // f64
const K_CH_FIRST: usize = 88;   // f64
let carry: usize = 0;

@inline function carrySlot(serial: f64): usize { return carry + <usize>(<u32>(<u64>serial) & (CARRY_SLOTS - 1)) * CARRY_BYTES; }
@inline function channelWord(proto: u32): u32 { return (side == 1 ? peerPort : devPort) | (proto << 16) | (<u32>side << 24); }

/** The carry of the connection being ended (oriented), or 0. */
function carried(serial: f64, flowTs: f64, proto: u32): usize {
  const c = carrySlot(serial);
  if (load<f64>(c + K_SERIAL) != serial || serial == 0 || load<f64>(c + K_FLOW_TS) != flowTs) return 0;
  if (load<u64>(c + K_DEV) != load<u64>(dev + 8) || load<u64>(c + K_PEER) != load<u64>(peer + 8)) return 0;
  return load<u32>(c + K_CHANNEL) == channelWord(proto) ? c : 0;
}

function conn(ts: f64, o: usize, r: usize, oPort: u32, rPort: u32, proto: u32, serial: f64, flowTs: f64): void {
  connLearned = false;
  if (!orient(o, r, oPort, rPort)) { count(C_LEARN_NOT_LOCAL); return; }
  count(C_LEARN_CONNS);
  if (isNaN(firstTs)) firstTs = ts;
  if (ts >= nextRecount) recount(ts);
  // An outside host reaching a local address that never answered anything
  // (a scan of our ranges from the internet) is not learned: the address
  // would become a device with an age, and a /16 of them would flush the
  // tables. It is learned once the address answers (end()).
  if (side == 0 && devices.find(dev) == 0) { count(C_LEARN_UNANSWERED); return; }
  const obs = takeObservation(OBS_CONN, ts, serial, flowTs, proto);

  // device
  const d = device(dev, ts);
  const dp = devices.payload(d);
  setF(obs, FT_DEVICE_AGE_S, since(ts, devices.first(d)));
  const rate = counterAdd(dp + D_RATE_1M, ts, MINUTE, 1);
  const conns1h = counterAdd(dp + D_CONNS_1H, ts, HOUR, 1);
  const served = counterAdd(dp + D_SERVED_1D, ts, DAY, side == 0 ? 1 : 0);
  const all = counterAdd(dp + D_ALL_1D, ts, DAY, 1);
  setF(obs, FT_DEVICE_CONN_RATE, rate);
  setF(obs, FT_DEVICE_FAIL_RATIO, conns1h > 0 ? counterValue(dp + D_FAILED_1H, ts, HOUR) / conns1h : 0);
  setF(obs, FT_DEVICE_SERVER, all > 0 ? served / all : 0);
  setF(obs, FT_HOUR_SHARE, hourShare(dp, ts, 0));
  if (side == 1) { client(dp, ts); weekAdd(dp, ts); }
  devices.touch(d, ts);

  // the peer as an endpoint of the network, and the pair
  const ep = endpoints.upsert(peer, ts);
  const epNew = tableCreated;
  const epDevices = endpoints.payload(ep) + EP_DEVICES;
  setF(obs, FT_PEER_AGE_S, since(ts, endpoints.first(ep)));
  endpoints.touch(ep, ts);

  copyWords(key, dev, 16);
  copyWords(key + 16, peer, 16);
  const pr = pairs.upsert(key, ts);
  const pairNew = tableCreated;
  const pairLast = pairs.last(pr);
  // Rarity counts the devices that contacted the endpoint (as clients: an
  // outside host that probed 50 of ours is not thereby common). This device
  // already counts: it was the client since the counted horizon, and the
  // endpoint was not forgotten (and re-created at 0) meanwhile.
  const clientLast = load<f64>(pairs.payload(pr) + P_CLIENT_LAST);
  const counted = !pairNew && !epNew && clientLast != 0 && clientLast >= countedHorizon;
  setF(obs, FT_PAIR_GAP_S, pairNew ? NEVER : since(ts, pairLast));
  setF(obs, FT_PAIR_CONNS, counterAdd(pairs.payload(pr) + P_CONNS_1H, ts, HOUR, 1));
  setRarity(obs, load<f64>(epDevices) - (counted ? 1 : 0));
  if (side == 1) {
    if (!counted) store<f64>(epDevices, load<f64>(epDevices) + 1);
    if (ts > clientLast) store<f64>(pairs.payload(pr) + P_CLIENT_LAST, ts);
  }
  pairs.touch(pr, ts);

  // channel: (device, peer, responder port, proto, role)
  const svcPort = side == 1 ? peerPort : devPort;
  store<u32>(key + 32, channelWord(proto));
  store<u32>(key + 36, 0);
  const ch = channels.upsert(key, ts);
  const chGap = tableCreated ? NEVER : since(ts, channels.last(ch));
  const fresh: f64 = chGap > FRESH_AFTER ? 1 : 0;
  setF(obs, FT_CHANNEL_AGE_S, since(ts, channels.first(ch)));
  setF(obs, FT_CHANNEL_GAP_S, chGap);
  setF(obs, FT_PAIR_FRESH, counterAdd(pairs.payload(pr) + P_FRESH_1M, ts, MINUTE, fresh));
  channels.touch(ch, ts);

  // the service port, as a client: new for this device?
  if (side == 1) {
    store<u64>(key + 16, <u64>(svcPort | (proto << 16))); // key: device, port|proto
    const pt = ports.upsert(key, ts);
    setF(obs, FT_PORT_AGE_S, since(ts, ports.first(pt)));
    setF(obs, FT_PORT_FRESH, counterAdd(ports.payload(pt) + PT_FRESH_1M, ts, MINUTE, fresh));
    ports.touch(pt, ts);
  } else {
    setF(obs, FT_PORT_AGE_S, NEVER); // not a client connection: no novelty to judge
  }

  orientation(obs, proto);
  commit(obs);
  connDevice = d;
  connLearned = true;

  if (serial != 0) {
    const c = carrySlot(serial);
    store<f64>(c + K_SERIAL, serial);
    store<f64>(c + K_FLOW_TS, flowTs);
    store<u64>(c + K_DEV, load<u64>(dev + 8));
    store<u64>(c + K_PEER, load<u64>(peer + 8));
    store<u32>(c + K_CHANNEL, channelWord(proto));
    copyWords(c + K_PAIR_CONNS, pairs.payload(pr) + P_CONNS_1H, COUNTER_BYTES);
    store<f64>(c + K_PAIR_FIRST, pairs.first(pr));
    store<f64>(c + K_CLIENT_LAST, load<f64>(pairs.payload(pr) + P_CLIENT_LAST));
    store<f64>(c + K_EP_DEVICES, load<f64>(epDevices));
    store<f64>(c + K_EP_FIRST, endpoints.first(ep));
    store<f64>(c + K_CH_FIRST, channels.first(ch));
  }
}

/**
 * What else names the device, from its flow record: the MAC its frames
 * carried (packets; behind a router that is the router's), and for flow
 * logs the cloud interface that logged it — the reporter, when it must be
 * the device's: the peer is outside, so only our side has an interface.
 * (Between two of our devices either interface may have logged the record.)
 */
function identify(dp: usize, rec: usize): void {
  if ((load<u8>(rec + R_FLAGS) & RF_HAS_MAC) != 0) {
    const m = rec + (side == 1 ? R_ORIG_MAC : R_RESP_MAC);
    const mac = <u64>load<u32>(m) | (<u64>load<u16>(m + 4) << 32);
    if (mac != 0) store<u64>(dp + D_MAC, mac | (<u64>1 << 63));
  }
  const reporter = load<u32>(rec + R_REPORTER);
  if (reporter != 0 && !peerLocal) store<u32>(dp + D_IFACE, reporter);
}

/** The device at the address in the scratch (16 bytes): its MAC (u64, bit 63 when known) at scratch + 16, interface id (u32) at + 24. False when not in the table. */
export function learnDeviceInfo(): bool {
  if (!ready) return false;
  const d = devices.find(key);
  if (d == 0) return false;
  const dp = devices.payload(d);
  store<u64>(key + 16, load<u64>(dp + D_MAC));
  store<u32>(key + 24, load<u32>(dp + D_IFACE));
  return true;
}

/** Did the connection fail: no answer, rejected, or reset before any data? */
@inline function failed(cs: u8, proto: u32, respPkts: f64): bool {
  if (proto == 6) return cs == CS_S0 || cs == CS_REJ || cs == CS_RSTOS0 || cs == CS_RSTRH || cs == CS_SH || cs == CS_SHR;
  if (proto == 17) return respPkts == 0 && cs != CS_OTH;
  return false;
}

function end(rec: usize, serial: f64, flowTs: f64, reuse: bool): void {
  const proto = <u32>load<u8>(rec + R_PROTO);
  if (!orient(rec + R_ORIG_H, rec + R_RESP_H, <u32>load<u16>(rec + R_ORIG_P), <u32>load<u16>(rec + R_RESP_P))) return; // counted at its start
  const ts = load<f64>(rec + R_LAST_TS);
  const oBytes = load<f64>(rec + R_ORIG_IP_BYTES), rBytes = load<f64>(rec + R_RESP_IP_BYTES);
  const rPkts = load<f64>(rec + R_RESP_PKTS);
  const out = side == 1 ? oBytes : rBytes, inn = side == 1 ? rBytes : oBytes;
  const cs = load<u8>(rec + R_CONN_STATE);
  const fail = failed(cs, proto, rPkts);
  // an outside probe of an address that never answered: not a device (as at its start)
  if (side == 0 && fail && devices.find(dev) == 0) { count(C_LEARN_UNANSWERED); return; }
  count(C_LEARN_ENDS);
  const obs = takeObservation(OBS_END, ts, serial, flowTs, proto);

  const d = reuse ? connDevice : device(dev, ts);
  const dp = devices.payload(d);
  setF(obs, FT_DEVICE_AGE_S, since(ts, devices.first(d)));
  if (fail) counterAdd(dp + D_FAILED_1H, ts, HOUR, 1);
  const conns1h = counterValue(dp + D_CONNS_1H, ts, HOUR);
  setF(obs, FT_DEVICE_FAIL_RATIO, conns1h > 0 ? counterValue(dp + D_FAILED_1H, ts, HOUR) / conns1h : 0);
  setF(obs, FT_DEVICE_CONN_RATE, counterValue(dp + D_RATE_1M, ts, MINUTE));
  const all = counterValue(dp + D_ALL_1D, ts, DAY);
  setF(obs, FT_DEVICE_SERVER, all > 0 ? counterValue(dp + D_SERVED_1D, ts, DAY) / all : 0);
  // the hour the connection started, not counting itself (its start counted it when the device made it)
  setF(obs, FT_HOUR_SHARE, hourShare(dp, load<f64>(rec + R_TS), side == 1 ? 1 : 0));
  if (side == 1 && !fail) {
    // judged against what came before, then learned
    setF(obs, FT_BYTES_OUT_Z, momentsZ(dp + D_BYTES_OUT, out, 20));
    momentsAdd(dp + D_BYTES_OUT, ts, DAY, out);
  }
  identify(dp, rec);
  devices.touch(d, ts); // (before another device's upsert: a stale minute could make d the one evicted)
  if (side == 1 && peerLocal && !fail) {
    // an internal server answered: its own share of connections answered. At
    // the flow's end, not its start: the hosts a scan probes and that never
    // answer do not become devices (their age would count from the probe).
    const sv = device(peer, ts);
    const sp = devices.payload(sv);
    counterAdd(sp + D_SERVED_1D, ts, DAY, 1);
    counterAdd(sp + D_ALL_1D, ts, DAY, 1);
    devices.touch(sv, ts);
  }
  if (side == 1) {
    if (peerLocal) {
      const v = volumeAdd(dp + D_INTERNAL_VOL, ts, out + inn);
      setF(obs, FT_INTERNAL_VOLUME, v);
      setF(obs, FT_INTERNAL_VOLUME_RATIO, volumeRatio(dp + D_INTERNAL_VOL, ts, v, INTERNAL_VOLUME_FLOOR));
    } else {
      const v = volumeAdd(dp + D_EXTERNAL_OUT, ts, out);
      setF(obs, FT_EXTERNAL_OUT_VOLUME, v);
      setF(obs, FT_EXTERNAL_OUT_RATIO, volumeRatio(dp + D_EXTERNAL_OUT, ts, v, EXTERNAL_OUT_FLOOR));
    }
  }

  // the pair's and the peer's standing, without counting this connection
  // again: as its start left it (the carry), or from the tables
  copyWords(key, dev, 16);
  copyWords(key + 16, peer, 16);
  const c = carried(serial, flowTs, proto);
  let hasPair = false, hasEp = false;
  let pairFirst: f64 = 0, clientLast: f64 = 0, pairConns: f64 = 0, epDevices: f64 = 0, epFirst: f64 = 0, chFirst: f64 = 0;
  let hasChannel = false;
  if (c != 0) {
    hasPair = true; hasEp = true; hasChannel = true;
    pairFirst = load<f64>(c + K_PAIR_FIRST);
    clientLast = load<f64>(c + K_CLIENT_LAST);
    pairConns = counterValue(c + K_PAIR_CONNS, ts, HOUR);
    epDevices = load<f64>(c + K_EP_DEVICES);
    epFirst = load<f64>(c + K_EP_FIRST);
    chFirst = load<f64>(c + K_CH_FIRST);
  } else {
    const pr = pairs.find(key);
    if (pr != 0) {
      hasPair = true;
      pairFirst = pairs.first(pr);
      clientLast = load<f64>(pairs.payload(pr) + P_CLIENT_LAST);
      pairConns = counterValue(pairs.payload(pr) + P_CONNS_1H, ts, HOUR);
    }
    const ep = endpoints.find(peer);
    if (ep != 0) { hasEp = true; epDevices = load<f64>(endpoints.payload(ep) + EP_DEVICES); epFirst = endpoints.first(ep); }
    // how long the device has used this service of the peer (the channel, as at its start)
    store<u32>(key + 32, channelWord(proto));
    store<u32>(key + 36, 0);
    const ch = channels.find(key);
    if (ch != 0) { hasChannel = true; chFirst = channels.first(ch); }
  }
  if (side == 1 && !peerLocal) {
    // periodicity of the device's connections to this outside peer (key: device, peer);
    // the pair's first connection makes no ring, the second seeds it with the first (one lookup either way)
    const start = load<f64>(rec + R_TS);
    beaconObserve(beacons, key, start, out, ts, hasPair ? pairFirst : start);
    setF(obs, FT_BEACON_SCORE, beaconScore);
    setF(obs, FT_BEACON_PERIOD_S, beaconPeriod);
    setF(obs, FT_BEACON_EVENTS, beaconEvents);
    setF(obs, FT_BEACON_AGE_S, beaconAge);
  }
  if (hasPair) setF(obs, FT_PAIR_CONNS, pairConns);
  if (hasEp) {
    // this device counts for the endpoint only while its pair is known and within the counted horizon
    const self: f64 = clientLast != 0 && clientLast >= countedHorizon ? 1 : 0;
    setRarity(obs, epDevices - self);
    setF(obs, FT_PEER_AGE_S, since(ts, epFirst));
  } else {
    setF(obs, FT_PEER_RARITY, 100);
  }
  setF(obs, FT_CHANNEL_AGE_S, hasChannel ? since(ts, chFirst) : 0);

  orientation(obs, proto);
  setF(obs, FT_FAILED, fail ? 1 : 0);
  setF(obs, FT_BYTES_OUT, out);
  setF(obs, FT_BYTES_IN, inn);
  setF(obs, FT_DURATION, since(ts, load<f64>(rec + R_TS)));
  setF(obs, FT_PKTS_OUT, side == 1 ? load<f64>(rec + R_ORIG_PKTS) : rPkts);
  setF(obs, FT_CONN_STATE, <f64>cs);
  setF(obs, FT_CHANNEL_GAP_S, 0);
  setF(obs, FT_PAIR_GAP_S, 0);
  setF(obs, FT_PORT_AGE_S, NEVER);
  commit(obs);
}
