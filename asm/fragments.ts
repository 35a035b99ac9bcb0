// IP fragment table: lets fragments after the first one be attributed to the
// flow of their datagram, without reassembling anything.
//
// Only the first fragment (offset 0) carries the transport header, so it is
// the only one whose ports are known. We remember, per datagram
// (src, dst, proto, IP id, IP version), the flow key that the first fragment
// decoded to — the *whole* key, not just ports, because the fragmented
// datagram may be an outer tunnel packet whose first fragment decapsulated to
// an inner flow (GTP-U over fragmented UDP is common). Later fragments then
// borrow that key.
//
// Out of order (Linux sends the last fragment first, and captures interleave)
// a later fragment can arrive before its first fragment: its counts are held
// in the entry and released with the first fragment via setExtra(). If the
// first fragment never arrives (lost, or outside the capture), the held
// fragments are counted as E_FRAG_ORPHAN and are NOT accounted to any flow —
// that is the documented trade-off of a bounded, reassembly-free table.
//
// Storage: a fixed ring of entries in creation order (so the oldest is always
// at `head`: expiry and eviction are O(1) and oldest-first) plus an
// open-addressing index (linear probing, backward-shift deletion, no
// tombstones) mapping the key hash to an entry. Everything is allocated once
// in fragInit().
import {
  pkt_src, pkt_dst, pkt_sport, pkt_dport, pkt_has_ports, pkt_proto, pkt_ip_version,
  pkt_tunnel_type, pkt_tunnel_id, pkt_vlan, pkt_inner_vlan, pkt_wire_len, pkt_ts,
  setIp, setPorts, setPayloadLen, clearPorts, setTunnel, setVlan, setLaterFragment, setExtra,
} from "./packet";
import { E_FRAG_TABLE_FULL, E_FRAG_ORPHAN, C_FRAGMENTS_HELD, C_NON_FIRST_FRAGMENTS } from "./counters";
import { count, countN, inputError } from "./stats";
import { reserve } from "./bytes";

/** Seconds of capture time after which an entry is dropped (Linux ipfrag_time is 30 s). */
const FRAG_TIMEOUT: f64 = 60;

// Entry layout (bytes).
const E_KSRC = 0;       // 16 key source address (IPv4: 4 bytes, rest 0)
const E_KDST = 16;      // 16 key destination address
const E_ID = 32;        // u32 IP identification (IPv4 16-bit, IPv6 32-bit)
const E_PROTO = 36;     // u8  IP protocol of the fragmented datagram
const E_VER = 37;       // u8  4 or 6
const E_FLAGS = 38;     // u8  F_* below
const E_TS = 40;        // f64 capture time the entry was created (expiry is from creation)
const E_HASH = 48;      // u32 key hash (for index deletion)
const E_PPKTS = 52;     // u32 held fragments (arrived before the first one)
const E_PIP = 56;       // u32 their IP bytes
const E_PWIRE = 60;     // u32 their wire bytes
const E_PPAY = 64;      // u32 their payload bytes
const E_SPORT = 68;     // u16 snapshot of the first fragment's flow key ...
const E_DPORT = 70;     // u16
const E_SPROTO = 72;    // u8
const E_SVER = 73;      // u8
const E_SHASPORTS = 74; // u8
const E_STUN = 75;      // u8
const E_STUNID = 76;    // u32
const E_SVLAN = 80;     // u16
const E_SIVLAN = 82;    // u16
const E_SSRC = 88;      // 16
const E_SDST = 104;     // 16
const ENTRY_SIZE: usize = 128;

const F_HAS_FIRST: u8 = 1;
/** The first fragment decapsulated a tunnel: the inner headers already counted the whole inner packet. */
const F_INNER: u8 = 2;

let entries: usize = 0;
let capacity: u32 = 0;
let head: u32 = 0;      // oldest entry
let used: u32 = 0;      // live entries
let index: usize = 0;   // u32[indexSize]: entry number + 1, 0 = empty
let indexMask: u32 = 0;

export function fragInit(cap: i32): bool {
  if (cap < 16) cap = 16;
  if (cap > 1 << 22) cap = 1 << 22;
  capacity = <u32>cap;
  let size: u32 = 1;
  while (size < capacity * 2) size <<= 1;
  indexMask = size - 1;
  entries = reserve(<usize>capacity * ENTRY_SIZE);
  if (entries == 0) return false;
  index = reserve(<usize>size << 2);
  if (index == 0) return false;
  head = 0; used = 0;
  return true;
}

@inline function entryAt(n: u32): usize { return entries + <usize>n * ENTRY_SIZE; }
@inline function slotAt(s: u32): usize { return index + (<usize>s << 2); }

/** Copy an address (4 or 16 bytes) into a 16-byte key slot, zero-padded. */
@inline function keyAddr(dst: usize, src: usize, v6: bool): void {
  if (v6) {
    store<u64>(dst, load<u64>(src)); store<u64>(dst, load<u64>(src, 8), 8);
  } else {
    store<u32>(dst, load<u32>(src)); store<u32>(dst, 0, 4); store<u64>(dst, 0, 8);
  }
}

function hashKey(src: usize, dst: usize, v6: bool, id: u32, proto: u32): u32 {
  let h: u32 = id * 0x9E3779B1 ^ (proto << 24) ^ (v6 ? 0x5bd1e995 : 0);
  h ^= load<u32>(src); h = rotl<u32>(h, 13) * 0x85EBCA6B;
  h ^= load<u32>(dst); h = rotl<u32>(h, 13) * 0x85EBCA6B;
  if (v6) {
    h ^= load<u32>(src, 4) ^ load<u32>(dst, 12); h = rotl<u32>(h, 13) * 0xC2B2AE35;
    h ^= load<u32>(src, 8) ^ load<u32>(dst, 8); h = rotl<u32>(h, 13) * 0x85EBCA6B;
    h ^= load<u32>(src, 12) ^ load<u32>(dst, 4); h = rotl<u32>(h, 13) * 0xC2B2AE35;
  }
  h ^= h >> 16; h *= 0x85EBCA6B; h ^= h >> 13; h *= 0xC2B2AE35; h ^= h >> 16;
  return h;
}

@inline function sameKey(e: usize, src: usize, dst: usize, v6: bool, id: u32, proto: u32): bool {
  if (load<u32>(e, E_ID) != id || <u32>load<u8>(e, E_PROTO) != proto) return false;
  if (v6) {
    return load<u8>(e, E_VER) == 6 &&
      load<u64>(e, E_KSRC) == load<u64>(src) && load<u64>(e, E_KSRC + 8) == load<u64>(src, 8) &&
      load<u64>(e, E_KDST) == load<u64>(dst) && load<u64>(e, E_KDST + 8) == load<u64>(dst, 8);
  }
  return load<u8>(e, E_VER) == 4 && load<u32>(e, E_KSRC) == load<u32>(src) && load<u32>(e, E_KDST) == load<u32>(dst);
}

/** Entry number for the key, or -1. */
function find(src: usize, dst: usize, v6: bool, id: u32, proto: u32, h: u32): i32 {
  let s = h & indexMask;
  while (true) {
    const v = load<u32>(slotAt(s));
    if (v == 0) return -1;
    const n = v - 1;
    const e = entryAt(n);
    if (load<u32>(e, E_HASH) == h && sameKey(e, src, dst, v6, id, proto)) return <i32>n;
    s = (s + 1) & indexMask;
  }
  return -1;
}

/** Remove the oldest entry from the ring and the index; count its held fragments as orphans. */
function dropHead(): void {
  const n = head;
  const e = entryAt(n);
  const held = load<u32>(e, E_PPKTS);
  if (held != 0 && (load<u8>(e, E_FLAGS) & F_HAS_FIRST) == 0) {
    inputError(E_FRAG_ORPHAN);
    if (held > 1) countN(E_FRAG_ORPHAN, <f64>(held - 1));
  }
  // Find the index slot that points at n, then backward-shift delete.
  let i = load<u32>(e, E_HASH) & indexMask;
  while (load<u32>(slotAt(i)) != n + 1) i = (i + 1) & indexMask;
  let j = i;
  while (true) {
    j = (j + 1) & indexMask;
    const v = load<u32>(slotAt(j));
    if (v == 0) break;
    const k = load<u32>(entryAt(v - 1), E_HASH) & indexMask;
    // Move j's item into the hole at i unless its home k lies cyclically in (i, j].
    const stays = i <= j ? (k > i && k <= j) : (k > i || k <= j);
    if (!stays) { store<u32>(slotAt(i), v); i = j; }
  }
  store<u32>(slotAt(i), 0);
  head = head + 1 == capacity ? 0 : head + 1;
  used--;
}

/** Drop entries older than FRAG_TIMEOUT (oldest first, so we stop at the first young one). */
@inline function expire(now: f64): void {
  while (used != 0 && load<f64>(entryAt(head), E_TS) + FRAG_TIMEOUT < now) dropHead();
}

/** Create an entry for the key (evicting the oldest when full). Returns its address. */
function insert(src: usize, dst: usize, v6: bool, id: u32, proto: u32, h: u32, now: f64): usize {
  if (used == capacity) { inputError(E_FRAG_TABLE_FULL); dropHead(); }
  let n = head + used; if (n >= capacity) n -= capacity;
  used++;
  const e = entryAt(n);
  memory.fill(e, 0, ENTRY_SIZE);
  keyAddr(e + E_KSRC, src, v6);
  keyAddr(e + E_KDST, dst, v6);
  store<u32>(e, id, E_ID);
  store<u8>(e, <u8>proto, E_PROTO);
  store<u8>(e, v6 ? 6 : 4, E_VER);
  store<f64>(e, now, E_TS);
  store<u32>(e, h, E_HASH);
  let s = h & indexMask;
  while (load<u32>(slotAt(s)) != 0) s = (s + 1) & indexMask;
  store<u32>(slotAt(s), n + 1);
  return e;
}

/**
 * A fragment with offset > 0. If its datagram's first fragment was seen,
 * set the packet up as part of that flow (payload = this fragment's IP
 * payload) and return true; otherwise hold its counts and return false.
 * `src`/`dst` point at the addresses inside the packet.
 */
export function fragLater(src: usize, dst: usize, v6: bool, id: u32, proto: u32, ipLen: u32, ipPayload: u32): bool {
  const now = pkt_ts;
  expire(now);
  const h = hashKey(src, dst, v6, id, proto);
  const n = find(src, dst, v6, id, proto, h);
  let e: usize;
  if (n >= 0) {
    e = entryAt(<u32>n);
    const flags = load<u8>(e, E_FLAGS);
    if (flags & F_HAS_FIRST) {
      // Borrow the first fragment's flow key.
      store<u64>(pkt_src, load<u64>(e, E_SSRC)); store<u64>(pkt_src, load<u64>(e, E_SSRC + 8), 8);
      store<u64>(pkt_dst, load<u64>(e, E_SDST)); store<u64>(pkt_dst, load<u64>(e, E_SDST + 8), 8);
      // Through a tunnel, the inner headers of the first fragment already
      // counted the whole inner packet: this fragment adds only wire bytes.
      const inner = (flags & F_INNER) != 0;
      setIp(load<u8>(e, E_SVER), load<u8>(e, E_SPROTO), inner ? 0 : ipLen);
      const pay = inner ? 0 : ipPayload;
      if (load<u8>(e, E_SHASPORTS)) setPorts(load<u16>(e, E_SPORT), load<u16>(e, E_DPORT), pay);
      else { clearPorts(); setPayloadLen(pay); }
      setTunnel(load<u8>(e, E_STUN), load<u32>(e, E_STUNID));
      setVlan(load<u16>(e, E_SVLAN), load<u16>(e, E_SIVLAN));
      setLaterFragment(true);
      count(C_NON_FIRST_FRAGMENTS);
      return true;
    }
  } else {
    e = insert(src, dst, v6, id, proto, h, now);
  }
  // First fragment not seen yet: hold this one's counts until it comes.
  store<u32>(e, load<u32>(e, E_PPKTS) + 1, E_PPKTS);
  store<u32>(e, load<u32>(e, E_PIP) + ipLen, E_PIP);
  store<u32>(e, load<u32>(e, E_PWIRE) + pkt_wire_len, E_PWIRE);
  store<u32>(e, load<u32>(e, E_PPAY) + ipPayload, E_PPAY);
  count(C_FRAGMENTS_HELD);
  return false;
}

/**
 * The first fragment (offset 0, more-fragments set) decoded successfully to
 * the flow now held in the packet.ts globals: remember that key for the later
 * fragments and release any that arrived early (setExtra). `inner` = the key
 * came from decapsulating this datagram (tunnel inside the fragment).
 */
export function fragFirst(src: usize, dst: usize, v6: bool, id: u32, proto: u32, inner: bool): void {
  const now = pkt_ts;
  expire(now);
  const h = hashKey(src, dst, v6, id, proto);
  const n = find(src, dst, v6, id, proto, h);
  const e = n >= 0 ? entryAt(<u32>n) : insert(src, dst, v6, id, proto, h, now);
  store<u64>(e, load<u64>(pkt_src), E_SSRC); store<u64>(e, load<u64>(pkt_src, 8), E_SSRC + 8);
  store<u64>(e, load<u64>(pkt_dst), E_SDST); store<u64>(e, load<u64>(pkt_dst, 8), E_SDST + 8);
  store<u16>(e, pkt_sport, E_SPORT);
  store<u16>(e, pkt_dport, E_DPORT);
  store<u8>(e, pkt_proto, E_SPROTO);
  store<u8>(e, pkt_ip_version, E_SVER);
  store<u8>(e, pkt_has_ports ? 1 : 0, E_SHASPORTS);
  store<u8>(e, pkt_tunnel_type, E_STUN);
  store<u32>(e, pkt_tunnel_id, E_STUNID);
  store<u16>(e, pkt_vlan, E_SVLAN);
  store<u16>(e, pkt_inner_vlan, E_SIVLAN);
  store<u8>(e, F_HAS_FIRST | (inner ? F_INNER : 0), E_FLAGS);
  const held = load<u32>(e, E_PPKTS);
  if (held != 0) {
    if (inner) setExtra(held, 0, load<u32>(e, E_PWIRE), 0);
    else setExtra(held, load<u32>(e, E_PIP), load<u32>(e, E_PWIRE), load<u32>(e, E_PPAY));
    store<u32>(e, 0, E_PPKTS); store<u32>(e, 0, E_PIP); store<u32>(e, 0, E_PWIRE); store<u32>(e, 0, E_PPAY);
  }
}

/** End of input: drop every entry, counting fragments still held as orphans. */
export function fragFlush(): void {
  while (used != 0) dropHead();
}
