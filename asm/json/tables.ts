// What the formatter is told once by JS, before any record: the names of
// enumerations (conn_state, end_reason, source … and service by port) and
// the reporter names of flow-record sources as they appear. JS owns these
// lists (sensor/core/flow-record.ts, sensor/flowlogs/flow-event.ts,
// sensor/flows/services.ts); the Wasm side only stores bytes. The local
// networks are ../localnets.ts, shared with the core.
import { reserve } from "../bytes";

// Text families (loadTexts blob: u8 family, u16 code, u8 length, bytes).
export const F_CONN_STATE: u32 = 1;
export const F_END_REASON: u32 = 2;
export const F_SOURCE: u32 = 3;
export const F_ACTION: u32 = 4;
export const F_DIRECTION: u32 = 5;
export const F_TUNNEL: u32 = 6;
export const F_TCP_SERVICE: u32 = 7; // code = responder port
export const F_UDP_SERVICE: u32 = 8;
export const F_PROTO: u32 = 9;        // code = IP protocol number
const FAMILIES: u32 = 16;
const F_SERVICES: u32 = 15;           // where service names are stored, numbered as they come
const SLOT: usize = 32;               // byte 0: length + 1 (0 = undefined), then ≤ 31 bytes
const CODES: u32 = 256;

let texts: usize = 0;
let tcpServices: usize = 0; // u8 service slot + 1 per port (0 = none)
let udpServices: usize = 0;
let serviceCount: u32 = 0;

// Reporter names, already JSON-escaped by JS: offset/length per id into an arena.
export const MAX_REPORTERS: u32 = 65536;
let repOff: usize = 0;
let repLen: usize = 0;
let arena: usize = 0;
let arenaUsed: usize = 0;
let arenaSize: usize = 0;
const ARENA_CHUNK: usize = 256 << 10;

export function tablesInit(): bool {
  texts = reserve(<usize>(FAMILIES * CODES) * SLOT);
  tcpServices = reserve(65536);
  udpServices = reserve(65536);
  repOff = reserve(<usize>MAX_REPORTERS * 4);
  repLen = reserve(<usize>MAX_REPORTERS * 2);
  return texts != 0 && tcpServices != 0 && udpServices != 0 && repOff != 0 && repLen != 0;
}

@inline function slotAt(family: u32, code: u32): usize { return texts + <usize>(family * CODES + code) * SLOT; }

/** Read the text blob at src[0, len); returns 0, or -1 if it is malformed. */
export function loadTextBlob(src: usize, len: i32): i32 {
  let i = 0;
  while (i < len) {
    if (i + 4 > len) return -1;
    const family = <u32>load<u8>(src + <usize>i);
    const code = <u32>load<u16>(src + <usize>i + 1);
    const n = <i32>load<u8>(src + <usize>i + 3);
    i += 4;
    if (i + n > len || n >= <i32>SLOT || family == 0 || family >= F_SERVICES) return -1;
    let slot: usize;
    if (family == F_TCP_SERVICE || family == F_UDP_SERVICE) {
      if (serviceCount >= CODES) return -1;
      slot = slotAt(F_SERVICES, serviceCount);
      store<u8>((family == F_TCP_SERVICE ? tcpServices : udpServices) + <usize>code, <u8>(serviceCount + 1));
      serviceCount++;
    } else {
      if (code >= CODES) return -1;
      slot = slotAt(family, code);
    }
    store<u8>(slot, <u8>(n + 1));
    memory.copy(slot + 1, src + <usize>i, <usize>n);
    i += n;
  }
  return 0;
}

/** The text slot of (family, code), or 0 when JS defined none. */
export function text(family: u32, code: u32): usize {
  if (code >= CODES) return 0;
  const s = slotAt(family, code);
  return load<u8>(s) == 0 ? 0 : s;
}
@inline export function textLen(slot: usize): usize { return <usize>load<u8>(slot) - 1; }

/** Service name slot for (proto, responder port), or 0. */
export function service(proto: u32, port: u32): usize {
  let k: u32 = 0;
  if (proto == 6) k = load<u8>(tcpServices + <usize>port);
  else if (proto == 17) k = load<u8>(udpServices + <usize>port);
  return k == 0 ? 0 : slotAt(F_SERVICES, k - 1);
}

/**
 * Reporter `id`'s name (JSON-escaped bytes at src[0, len)). May grow memory:
 * JS re-creates its views after this call. Returns 0, or -1 when memory
 * cannot grow or the id is out of range.
 */
export function setReporterName(id: u32, src: usize, len: usize): i32 {
  if (id >= MAX_REPORTERS) return -1;
  if (arenaUsed + len > arenaSize) {
    const size = len > ARENA_CHUNK ? len : ARENA_CHUNK;
    const p = reserve(size);
    if (p == 0) return -1;
    arena = p; arenaUsed = 0; arenaSize = size;
  }
  // src is the scratch region, allocated before the arena: never overlapping
  memory.copy(arena + arenaUsed, src, len);
  store<u32>(repOff + <usize>id * 4, <u32>(arena + arenaUsed));
  store<u16>(repLen + <usize>id * 2, <u16>len);
  arenaUsed += len;
  return 0;
}

/** Where reporter `id`'s escaped name is, and its length (0: none). */
@inline export function reporterPtr(id: u32): usize { return id < MAX_REPORTERS ? <usize>load<u32>(repOff + <usize>id * 4) : 0; }
@inline export function reporterLen(id: u32): usize { return id < MAX_REPORTERS ? <usize>load<u16>(repLen + <usize>id * 2) : 0; }
