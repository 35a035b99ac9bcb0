// Frame builders: each writes one header into a caller-provided buffer at an
// offset and returns the offset just past it (or the header length, where
// noted). Nothing here allocates; the generator calls these millions of times.
//
// Byte order on the wire is big-endian; every multi-byte field is written
// with explicit shifts. IPv4 addresses are unsigned 32-bit numbers, IPv6
// addresses 16-byte arrays, MAC addresses 6-byte arrays.

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/** pcap / pcapng link types the builders can produce. */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;

/** Minimum Ethernet frame without FCS; shorter frames are zero-padded. */
export const ETH_MIN_FRAME = 60;

export const ETH_HEADER = 14;
export const VLAN_TAG = 4;
export const SLL_HEADER = 16;
export const IPV4_HEADER = 20;
export const IPV6_HEADER = 40;
export const UDP_HEADER = 8;
export const ICMP_ECHO_HEADER = 8;

/** TCP option layouts writeTcp() knows. The value is not the length: see tcpOptionBytes(). */
export const TCPOPT_NONE = 0;        // 20-byte header
export const TCPOPT_TS = 1;          // NOP NOP TS            → 32-byte header
export const TCPOPT_SYN_LINUX = 2;   // MSS SACKOK TS NOP WS  → 40-byte header
export const TCPOPT_SYN_WINDOWS = 3; // MSS NOP WS NOP NOP SACKOK → 32-byte header
export const TCPOPT_SYN_MSS = 4;     // MSS only              → 24-byte header

const TCPOPT_LEN = [0, 12, 20, 12, 4];

/** Bytes of options a TCPOPT_* layout adds to the 20-byte TCP header. */
export function tcpOptionBytes(layout: number): number {
  return TCPOPT_LEN[layout]!;
}

// ---------------------------------------------------------------- link layer

/**
 * Ethernet II header, with one 802.1Q tag when vlan >= 0.
 * Returns the offset of the L3 header.
 */
export function writeEthernet(buf: Uint8Array, off: number, dst: Uint8Array, src: Uint8Array, etherType: number, vlan = -1, pcp = 0): number {
  for (let i = 0; i < 6; i++) buf[off + i] = dst[i]!;
  for (let i = 0; i < 6; i++) buf[off + 6 + i] = src[i]!;
  off += 12;
  if (vlan >= 0) {
    buf[off] = ETHERTYPE_VLAN >>> 8;
    buf[off + 1] = ETHERTYPE_VLAN & 0xff;
    const tci = ((pcp & 7) << 13) | (vlan & 0x0fff);
    buf[off + 2] = tci >>> 8;
    buf[off + 3] = tci & 0xff;
    off += 4;
  }
  buf[off] = etherType >>> 8;
  buf[off + 1] = etherType & 0xff;
  return off + 2;
}

/**
 * Linux "cooked" capture header (LINKTYPE_LINUX_SLL, 16 bytes).
 * packetType: 0 to us, 1 broadcast, 3 to someone else, 4 outgoing.
 * Returns the offset of the L3 header.
 */
export function writeSll(buf: Uint8Array, off: number, packetType: number, src: Uint8Array, etherType: number): number {
  buf[off] = 0;
  buf[off + 1] = packetType;
  buf[off + 2] = 0; // ARPHRD_ETHER = 1
  buf[off + 3] = 1;
  buf[off + 4] = 0; // address length 6
  buf[off + 5] = 6;
  for (let i = 0; i < 6; i++) buf[off + 6 + i] = src[i]!;
  buf[off + 12] = 0;
  buf[off + 13] = 0;
  buf[off + 14] = etherType >>> 8;
  buf[off + 15] = etherType & 0xff;
  return off + 16;
}

/** Zero-pad an Ethernet frame [start, end) to 60 bytes. Returns the new end. */
export function padEthernet(buf: Uint8Array, start: number, end: number): number {
  const min = start + ETH_MIN_FRAME;
  while (end < min) buf[end++] = 0;
  return end;
}

/** ARP request (op 1) or reply (op 2) for IPv4 over Ethernet (28 bytes). Returns the end offset. */
export function writeArp(buf: Uint8Array, off: number, op: number, senderMac: Uint8Array, senderIp: number, targetMac: Uint8Array, targetIp: number): number {
  buf[off] = 0; buf[off + 1] = 1;          // htype Ethernet
  buf[off + 2] = 0x08; buf[off + 3] = 0;   // ptype IPv4
  buf[off + 4] = 6; buf[off + 5] = 4;
  buf[off + 6] = 0; buf[off + 7] = op;
  for (let i = 0; i < 6; i++) buf[off + 8 + i] = senderMac[i]!;
  put32(buf, off + 14, senderIp);
  for (let i = 0; i < 6; i++) buf[off + 18 + i] = targetMac[i]!;
  put32(buf, off + 24, targetIp);
  return off + 28;
}

// ---------------------------------------------------------------- IP

/**
 * IPv4 header (20 bytes, no options) with its checksum.
 * payloadLen is the L4 length; total length = 20 + payloadLen.
 * Returns the offset of the L4 header.
 */
export function writeIPv4(buf: Uint8Array, off: number, src: number, dst: number, proto: number, payloadLen: number, ttl = 64, id = 0, dontFragment = true, tos = 0): number {
  const total = IPV4_HEADER + payloadLen;
  buf[off] = 0x45;
  buf[off + 1] = tos;
  buf[off + 2] = total >>> 8;
  buf[off + 3] = total & 0xff;
  buf[off + 4] = (id >>> 8) & 0xff;
  buf[off + 5] = id & 0xff;
  buf[off + 6] = dontFragment ? 0x40 : 0;
  buf[off + 7] = 0;
  buf[off + 8] = ttl;
  buf[off + 9] = proto;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  put32(buf, off + 12, src);
  put32(buf, off + 16, dst);
  // Header checksum: ten 16-bit words.
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (buf[off + i]! << 8) | buf[off + i + 1]!;
  const c = ~fold(sum) & 0xffff;
  buf[off + 10] = c >>> 8;
  buf[off + 11] = c & 0xff;
  return off + IPV4_HEADER;
}

/**
 * IPv6 header (40 bytes, no extension headers). payloadLen is the L4 length.
 * Returns the offset of the L4 header.
 */
export function writeIPv6(buf: Uint8Array, off: number, src: Uint8Array, dst: Uint8Array, nextHeader: number, payloadLen: number, hopLimit = 64, flowLabel = 0, trafficClass = 0): number {
  buf[off] = 0x60 | (trafficClass >>> 4);
  buf[off + 1] = ((trafficClass & 0x0f) << 4) | ((flowLabel >>> 16) & 0x0f);
  buf[off + 2] = (flowLabel >>> 8) & 0xff;
  buf[off + 3] = flowLabel & 0xff;
  buf[off + 4] = payloadLen >>> 8;
  buf[off + 5] = payloadLen & 0xff;
  buf[off + 6] = nextHeader;
  buf[off + 7] = hopLimit;
  for (let i = 0; i < 16; i++) buf[off + 8 + i] = src[i]!;
  for (let i = 0; i < 16; i++) buf[off + 24 + i] = dst[i]!;
  return off + IPV6_HEADER;
}

// ---------------------------------------------------------------- L4

/**
 * TCP header with one of the TCPOPT_* option layouts. The checksum field is
 * left zero: call finishChecksum() once the payload is in place.
 * tsval/tsecr are used by layouts with timestamps, mss/wscale by SYN layouts.
 * Returns the header length (20 + options).
 */
export function writeTcp(buf: Uint8Array, off: number, sport: number, dport: number, seq: number, ack: number, flags: number, window: number, layout = TCPOPT_NONE, tsval = 0, tsecr = 0, mss = 1460, wscale = 7): number {
  const hlen = 20 + TCPOPT_LEN[layout]!;
  buf[off] = sport >>> 8;
  buf[off + 1] = sport & 0xff;
  buf[off + 2] = dport >>> 8;
  buf[off + 3] = dport & 0xff;
  put32(buf, off + 4, seq);
  put32(buf, off + 8, ack);
  buf[off + 12] = (hlen >>> 2) << 4;
  buf[off + 13] = flags;
  buf[off + 14] = (window >>> 8) & 0xff;
  buf[off + 15] = window & 0xff;
  buf[off + 16] = 0; // checksum
  buf[off + 17] = 0;
  buf[off + 18] = 0; // urgent pointer
  buf[off + 19] = 0;
  let o = off + 20;
  switch (layout) {
    case TCPOPT_TS:
      buf[o] = 1; buf[o + 1] = 1;
      buf[o + 2] = 8; buf[o + 3] = 10;
      put32(buf, o + 4, tsval);
      put32(buf, o + 8, tsecr);
      break;
    case TCPOPT_SYN_LINUX:
      buf[o] = 2; buf[o + 1] = 4; buf[o + 2] = mss >>> 8; buf[o + 3] = mss & 0xff;
      buf[o + 4] = 4; buf[o + 5] = 2;                       // SACK permitted
      buf[o + 6] = 8; buf[o + 7] = 10;                      // timestamps
      put32(buf, o + 8, tsval);
      put32(buf, o + 12, tsecr);
      buf[o + 16] = 1;                                      // NOP
      buf[o + 17] = 3; buf[o + 18] = 3; buf[o + 19] = wscale;
      break;
    case TCPOPT_SYN_WINDOWS:
      buf[o] = 2; buf[o + 1] = 4; buf[o + 2] = mss >>> 8; buf[o + 3] = mss & 0xff;
      buf[o + 4] = 1;
      buf[o + 5] = 3; buf[o + 6] = 3; buf[o + 7] = wscale;
      buf[o + 8] = 1; buf[o + 9] = 1;
      buf[o + 10] = 4; buf[o + 11] = 2;
      break;
    case TCPOPT_SYN_MSS:
      buf[o] = 2; buf[o + 1] = 4; buf[o + 2] = mss >>> 8; buf[o + 3] = mss & 0xff;
      break;
  }
  return hlen;
}

/** UDP header; checksum left zero (finishChecksum() fills it). Returns 8. */
export function writeUdp(buf: Uint8Array, off: number, sport: number, dport: number, payloadLen: number): number {
  const len = UDP_HEADER + payloadLen;
  buf[off] = sport >>> 8;
  buf[off + 1] = sport & 0xff;
  buf[off + 2] = dport >>> 8;
  buf[off + 3] = dport & 0xff;
  buf[off + 4] = len >>> 8;
  buf[off + 5] = len & 0xff;
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  return UDP_HEADER;
}

/** ICMP / ICMPv6 echo header (type, code, id, seq); checksum left zero. Returns 8. */
export function writeIcmpEcho(buf: Uint8Array, off: number, type: number, code: number, ident: number, seq: number): number {
  buf[off] = type;
  buf[off + 1] = code;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = ident >>> 8;
  buf[off + 5] = ident & 0xff;
  buf[off + 6] = (seq >>> 8) & 0xff;
  buf[off + 7] = seq & 0xff;
  return ICMP_ECHO_HEADER;
}

// ---------------------------------------------------------------- checksums

/** Fold a sum of 16-bit words (any size below 2^53) to 16 bits, with end-around carry. */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * Add the big-endian 16-bit words of buf[start, end) to sum. start must be
 * the even-aligned position relative to the checksummed region; an odd
 * trailing byte is padded with zero.
 */
export function sumWords(buf: Uint8Array, start: number, end: number, sum = 0): number {
  let i = start;
  const even = end - ((end - start) & 1);
  for (; i < even; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** Sum of the words of an IPv4 address. */
export function addrSumV4(a: number): number {
  return (a >>> 16) + (a & 0xffff);
}

/** Sum of the words of an IPv6 address. */
export function addrSumV6(a: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < 16; i += 2) s += (a[i]! << 8) | a[i + 1]!;
  return s;
}

/** Pseudo-header sum for TCP/UDP over IPv4 (addresses given as their addrSum*). */
export function pseudoSumV4(srcSum: number, dstSum: number, proto: number, l4Len: number): number {
  return srcSum + dstSum + proto + l4Len;
}

/** Pseudo-header sum for TCP/UDP/ICMPv6 over IPv6 (addresses given as their addrSum*). */
export function pseudoSumV6(srcSum: number, dstSum: number, nextHeader: number, l4Len: number): number {
  return srcSum + dstSum + (l4Len >>> 16) + (l4Len & 0xffff) + nextHeader;
}

/**
 * Compute and store an L4 checksum. The header [l4off, l4off+hdrLen) is
 * summed here; the payload is either summed here too (payloadSum < 0) or
 * its word sum is given (PayloadPool.copy() returns it). csumAt is the
 * checksum field's offset from l4off (TCP 16, UDP 6, ICMP 2). pseudo is 0
 * for ICMPv4. UDP's zero result is sent as 0xffff.
 */
export function finishChecksum(buf: Uint8Array, l4off: number, hdrLen: number, payloadLen: number, pseudo: number, csumAt: number, payloadSum = -1, isUdp = false): void {
  let sum = pseudo + sumWords(buf, l4off, l4off + hdrLen);
  sum += payloadSum >= 0 ? payloadSum : sumWords(buf, l4off + hdrLen, l4off + hdrLen + payloadLen);
  let c = ~fold(sum) & 0xffff;
  if (c === 0 && isUdp) c = 0xffff;
  buf[l4off + csumAt] = c >>> 8;
  buf[l4off + csumAt + 1] = c & 0xff;
}

// ---------------------------------------------------------------- payload

/**
 * A block of seeded random bytes that TCP payloads are cut from, with
 * prefix sums of its 16-bit words so a slice's checksum contribution costs
 * O(1). Slices always start at an even offset.
 */
export class PayloadPool {
  readonly bytes: Uint8Array;
  private readonly prefix: Float64Array;
  private cursor = 0;

  /** size: bytes (even); fill(i) gives byte i (e.g. from a seeded Rng). */
  constructor(size: number, fill: (i: number) => number) {
    size &= ~1;
    this.bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) this.bytes[i] = fill(i) & 0xff;
    this.prefix = new Float64Array(size / 2 + 1);
    let s = 0;
    for (let w = 0; w < size / 2; w++) {
      s += (this.bytes[2 * w]! << 8) | this.bytes[2 * w + 1]!;
      this.prefix[w + 1] = s;
    }
  }

  /**
   * Copy the next len bytes of the pool to buf[off...] and return their word
   * sum (the payload must start at an even offset from the L4 header, which
   * holds for TCP and UDP). len must not exceed the pool size.
   */
  copy(buf: Uint8Array, off: number, len: number): number {
    if (len <= 0) return 0;
    let o = this.cursor;
    if (o + len > this.bytes.length) o = 0;
    buf.set(this.bytes.subarray(o, o + len), off);
    const w = o >>> 1;
    const words = len >>> 1;
    let sum = this.prefix[w + words]! - this.prefix[w]!;
    if (len & 1) sum += this.bytes[o + len - 1]! << 8;
    this.cursor = (o + len + 1) & ~1;
    return sum;
  }
}

// ---------------------------------------------------------------- helpers

/** Store a 32-bit big-endian value. */
export function put32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 24) & 0xff;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

/** Store a 16-bit big-endian value. */
export function put16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 8) & 0xff;
  buf[off + 1] = v & 0xff;
}

/** Dotted-quad text of an IPv4 address number. */
export function ipv4ToString(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** Parse a dotted quad to an address number. */
export function parseIPv4(s: string): number {
  const p = s.split(".");
  if (p.length !== 4) throw new Error(`bad IPv4 address: ${s}`);
  return ((+p[0]! << 24) | (+p[1]! << 16) | (+p[2]! << 8) | +p[3]!) >>> 0;
}

