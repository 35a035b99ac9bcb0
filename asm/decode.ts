// Packet decoder: link layer → VLAN / MPLS / PPPoE → IPv4 / IPv6 →
// TCP / UDP / ICMP / SCTP, filling the packet.ts globals. Tunnels are in
// tunnels.ts, the fragment table in fragments.ts.
//
// Conventions (all functions below):
//  * `p` is the first byte of the header being parsed, `end` one past the
//    last *usable* byte: the captured end, further shortened to the IP
//    length once an IP header told us where the datagram ends (so Ethernet
//    padding is never parsed as transport data). Every load is preceded by
//    a check against `end`; nothing is trusted.
//  * Returning false means "not a flow": either counted as an input error
//    (err(), with the byte offset of the bad header) or as C_NON_IP.
//  * Lengths that go into the flow record (ip_len, payload_len) come from
//    the headers, not from the captured length, so snaplen-truncated
//    captures still account full sizes.
//  * VLAN ids are those of the INNERMOST Ethernet header: a decapsulated
//    Ethernet frame (VXLAN, GENEVE, GRE/ERSPAN, MPLS pseudowire) resets them,
//    because the outer frame of a cloud mirror or overlay is infrastructure,
//    while the inner tags belong to the monitored network. MAC addresses are
//    always the OUTERMOST Ethernet header's (packet.ts contract).
import {
  pkt_src, pkt_dst, pkt_src_mac, pkt_dst_mac, pkt_vlan,
  setIp, setPorts, setPayloadLen, setPayloadAt, setTcp, setVlan, setHasMac, setLaterFragment,
} from "./packet";
import {
  C_IPV4, C_IPV6, C_TCP, C_UDP, C_ICMP, C_OTHER_TRANSPORT, C_NON_IP, C_VLAN_TAGGED, C_MPLS, C_PPPOE,
  C_FRAGMENTS, C_NON_FIRST_FRAGMENTS, E_LINK_TRUNCATED, E_TOO_MANY_LAYERS, E_IPV4_TRUNCATED,
  E_IPV4_BAD_HEADER, E_IPV6_TRUNCATED, E_IPV6_BAD_EXT, E_BAD_IP_VERSION, E_TCP_TRUNCATED,
  E_UDP_TRUNCATED, E_ICMP_TRUNCATED, E_SCTP_TRUNCATED, E_UNKNOWN_LINKTYPE,
} from "./counters";
import { count, inputError } from "./stats";
import { be16, be32, le16, le32, u8at } from "./bytes";
import { fragInit, fragLater, fragFirst } from "./fragments";
import { tunnelReset, tunnelDepth, greTunnel, udpTunnel, teredoAnyPort, ipInIp, DECAP_OK, NOT_TUNNEL } from "./tunnels";

/** VLAN tags + LLC/SNAP + VN-Tag headers followed in one Ethernet header. */
const MAX_ETH_LAYERS: i32 = 8;
/** MPLS labels followed before giving up. */
const MAX_MPLS_LABELS: i32 = 8;
/** IPv6 extension headers followed. */
const MAX_IPV6_EXT: i32 = 8;
/** NFLOG TLVs looked at. */
const MAX_NFLOG_TLVS: i32 = 32;

// ---- per-packet state ----
/** Start of the packet data, and its offset inside the capture record (for error offsets). */
let base: usize = 0;
let baseDelta: i32 = 0;
/** Once-per-packet counters already counted (bits). */
let seen: u32 = 0;
const SEEN_VLAN: u32 = 1;
const SEEN_MPLS: u32 = 2;
const SEEN_PPPOE: u32 = 4;

// First fragments found while decoding this packet; recorded in the fragment
// table only once the whole packet decoded to a flow. Two slots: an outer and
// one inner datagram can both be first fragments; a third is not remembered.
let nFirst: i32 = 0;
let f0Src: usize = 0; let f0Dst: usize = 0; let f0V6: bool = false; let f0Id: u32 = 0; let f0Proto: u32 = 0; let f0Depth: i32 = 0;
let f1Src: usize = 0; let f1Dst: usize = 0; let f1V6: bool = false; let f1Id: u32 = 0; let f1Proto: u32 = 0; let f1Depth: i32 = 0;

export function decodeInit(fragCapacity: i32): bool {
  return fragInit(fragCapacity);
}

/**
 * Offset of the packet data inside its capture record (16 for a pcap record,
 * 28 for a pcapng EPB...), so that decode errors point at the right byte.
 * Set by capture.ts before each decodePacket().
 */
export function setDecodeDelta(d: i32): void { baseDelta = d; }

/** Count an input error at `p` inside the packet; returns false for `return err(...)`. */
export function err(code: i32, p: usize): bool {
  inputError(code, baseDelta + <i32>(p - base));
  return false;
}

/** A frame that carries no IP: counted, not an error. */
export function nonIp(): bool {
  count(C_NON_IP);
  return false;
}

/**
 * Decode one frame of `linktype` at ptr[0, capLen). Returns true when the
 * packet.ts globals describe a flow packet (addresses set).
 */
export function decodePacket(ptr: usize, capLen: i32, linktype: i32): bool {
  base = ptr;
  seen = 0;
  nFirst = 0;
  tunnelReset();
  const end = ptr + <usize>capLen;
  let ok: bool;
  if (linktype == 1) ok = ether(ptr, end, true);
  else ok = otherLink(ptr, end, linktype);
  if (nFirst != 0 && ok) recordFirstFragments();
  return ok;
}

function otherLink(p: usize, end: usize, linktype: i32): bool {
  switch (linktype) {
    case 0: { // NULL / BSD loopback: address family in the capturing host's byte order
      if (p + 4 > end) return err(E_LINK_TRUNCATED, p);
      let af = le32(p);
      if (af > 0xFFFF) af = bswap<u32>(af); // written by a big-endian host
      return addressFamily(af, p + 4, end);
    }
    case 108: { // OpenBSD LOOP: the same, always network order
      if (p + 4 > end) return err(E_LINK_TRUNCATED, p);
      return addressFamily(be32(p), p + 4, end);
    }
    case 101: case 12: case 14: return rawIp(p, end); // RAW (12/14: DLT_RAW values of some platforms)
    case 228: return ipv4(p, end);
    case 229: return ipv6(p, end);
    case 113: { // Linux cooked v1: 16-byte header, protocol at 14
      if (p + 16 > end) return err(E_LINK_TRUNCATED, p);
      if (be16(p + 2) == 824) return nonIp(); // ARPHRD_NETLINK: protocol is a netlink family
      return ethertype(be16(p + 14), p + 16, end);
    }
    case 276: { // Linux cooked v2: 20-byte header, protocol at 0
      if (p + 20 > end) return err(E_LINK_TRUNCATED, p);
      if (be16(p + 8) == 824) return nonIp();
      return ethertype(be16(p), p + 20, end);
    }
    case 239: return nflog(p, end);
    case 105: return wifi(p, end);
    case 127: { // radiotap: little-endian length at 2, then 802.11
      if (p + 8 > end) return err(E_LINK_TRUNCATED, p);
      const len = le16(p + 2);
      if (len < 8) return err(E_LINK_TRUNCATED, p);
      return wifi(p + len, end);
    }
    case 242: { // IPoIB as written by libpcap: 40-byte GRH pseudo-header, then type + reserved
      if (p + 44 > end) return err(E_LINK_TRUNCATED, p);
      return ethertype(be16(p + 40), p + 44, end);
    }
    case 9: case 50: return ppp(p, end); // PPP, PPP in HDLC framing
  }
  return err(E_UNKNOWN_LINKTYPE, p);
}

function addressFamily(af: u32, p: usize, end: usize): bool {
  if (af == 2) return ipv4(p, end);
  if (af == 24 || af == 28 || af == 30) return ipv6(p, end); // BSD, FreeBSD, Darwin AF_INET6
  return nonIp();
}

/** IPv4 or IPv6, decided by the version nibble. */
export function rawIp(p: usize, end: usize): bool {
  if (p >= end) return err(E_LINK_TRUNCATED, p);
  const v = u8at(p) >> 4;
  if (v == 4) return ipv4(p, end);
  if (v == 6) return ipv6(p, end);
  return err(E_BAD_IP_VERSION, p);
}

/** PPP: optional address/control FF 03, then a 1- or 2-byte protocol (field compression). */
export function ppp(p: usize, end: usize): bool {
  if (p + 2 > end) return err(E_LINK_TRUNCATED, p);
  if (u8at(p) == 0xFF && u8at(p + 1) == 0x03) p += 2;
  if (p + 1 > end) return err(E_LINK_TRUNCATED, p);
  let proto: u32;
  if (u8at(p) & 1) { proto = u8at(p); p += 1; } // compressed: odd first byte is the whole protocol
  else { if (p + 2 > end) return err(E_LINK_TRUNCATED, p); proto = be16(p); p += 2; }
  if (proto == 0x21) return ipv4(p, end);
  if (proto == 0x57) return ipv6(p, end);
  return nonIp();
}

/**
 * Ethernet II / 802.3. `outer` = the first Ethernet header of the packet
 * (its MACs are recorded); an inner one resets the VLAN ids (see top).
 */
export function ether(p: usize, end: usize, outer: bool): bool {
  if (p + 14 > end) return err(E_LINK_TRUNCATED, p);
  if (outer) {
    // dst MAC = bytes 0..5, src MAC = 6..11; 8-byte slots, so copy 4+2 each.
    store<u32>(pkt_dst_mac, load<u32>(p)); store<u16>(pkt_dst_mac, load<u16>(p, 4), 4);
    store<u32>(pkt_src_mac, load<u32>(p, 6)); store<u16>(pkt_src_mac, load<u16>(p, 10), 4);
    setHasMac(true);
  } else {
    setVlan(0xFFFF, 0xFFFF);
  }
  return ethertype(be16(p + 12), p + 14, end);
}

/** Dispatch on an EtherType (also used by SLL, SLL2, IPoIB, 802.11 SNAP). */
export function ethertype(et: u32, p: usize, end: usize): bool {
  let layers = 0;
  let tags = 0;
  while (true) {
    // The common cases first.
    if (et == 0x0800) return ipv4(p, end);
    if (et == 0x86DD) return ipv6(p, end);
    if (++layers > MAX_ETH_LAYERS) return err(E_TOO_MANY_LAYERS, p);
    if (et == 0x8100 || et == 0x88A8 || et == 0x9100 || et == 0x9200) {
      // 802.1Q / 802.1ad / legacy QinQ: TCI (PCP, DEI, 12-bit id), next type.
      if (p + 4 > end) return err(E_LINK_TRUNCATED, p);
      const vid = <u16>(be16(p) & 0xFFF);
      if (tags == 0) {
        if ((seen & SEEN_VLAN) == 0) { seen |= SEEN_VLAN; count(C_VLAN_TAGGED); }
        setVlan(vid, 0xFFFF);
      } else if (tags == 1) {
        setVlan(pkt_vlan, vid);
      }
      tags++;
      et = be16(p + 2);
      p += 4;
      continue;
    }
    if (et == 0x8847 || et == 0x8848) return mpls(p, end);
    if (et == 0x8864) { // PPPoE session: ver/type, code, session id, length, then PPP protocol
      if (p + 8 > end) return err(E_LINK_TRUNCATED, p);
      if ((seen & SEEN_PPPOE) == 0) { seen |= SEEN_PPPOE; count(C_PPPOE); }
      const proto = be16(p + 6);
      if (proto == 0x0021) return ipv4(p + 8, end);
      if (proto == 0x0057) return ipv6(p + 8, end);
      return nonIp();
    }
    if (et == 0x8926) { // VN-Tag: 4-byte tag, next type
      if (p + 6 > end) return err(E_LINK_TRUNCATED, p);
      et = be16(p + 4);
      p += 6;
      continue;
    }
    if (et == 0x893F) { // 802.1BR E-Tag: 6-byte tag, next type
      if (p + 8 > end) return err(E_LINK_TRUNCATED, p);
      et = be16(p + 6);
      p += 8;
      continue;
    }
    if (et <= 1500) { // 802.3 length field: LLC, maybe SNAP carrying an EtherType
      if (p + 3 > end) return err(E_LINK_TRUNCATED, p);
      if (u8at(p) == 0xAA && u8at(p + 1) == 0xAA && u8at(p + 2) == 0x03) {
        if (p + 8 > end) return err(E_LINK_TRUNCATED, p);
        et = be16(p + 6);
        p += 8;
        continue;
      }
      return nonIp(); // STP, CDP without SNAP, NetBIOS ...
    }
    return nonIp(); // ARP, LLDP, 802.1X, MACsec, PPPoE discovery ...
  }
  return false;
}

/** MPLS label stack, then IPv4 / IPv6 / Ethernet pseudowire. */
export function mpls(p: usize, end: usize): bool {
  if ((seen & SEEN_MPLS) == 0) { seen |= SEEN_MPLS; count(C_MPLS); }
  let labels = 0;
  while (true) {
    if (p + 4 > end) return err(E_LINK_TRUNCATED, p);
    const bottom = u8at(p + 2) & 1;
    p += 4;
    if (bottom) break;
    if (++labels >= MAX_MPLS_LABELS) return err(E_TOO_MANY_LAYERS, p);
  }
  if (p >= end) return err(E_LINK_TRUNCATED, p);
  // MPLS does not say what it carries; the first nibble is the usual guess
  // (what routers and Wireshark do): 4/6 = IP, 0 = pseudowire control word
  // before an Ethernet frame, 1 = associated channel (OAM), else Ethernet
  // without control word.
  const nib = u8at(p) >> 4;
  if (nib == 4) return ipv4(p, end);
  if (nib == 6) return ipv6(p, end);
  if (nib == 0) return ether(p + 4, end, false);
  if (nib == 1) return nonIp();
  return ether(p, end, false);
}

/** Write an IPv4 address as v4-mapped (::ffff:a.b.c.d) into a 16-byte slot. */
@inline function mapV4(slot: usize, addr: usize): void {
  store<u64>(slot, 0);
  store<u32>(slot, 0xFFFF0000, 8); // bytes 00 00 ff ff (little-endian store)
  store<u32>(slot, load<u32>(addr), 12);
}

export function ipv4(p: usize, end: usize): bool {
  if (p + 20 > end) return err(E_IPV4_TRUNCATED, p);
  const b0 = u8at(p);
  if ((b0 >> 4) != 4) return err(E_BAD_IP_VERSION, p);
  const ihl = (b0 & 15) << 2;
  if (ihl < 20) return err(E_IPV4_BAD_HEADER, p);
  let total = be16(p + 2);
  if (total < ihl) {
    // Total length 0 is what TCP segmentation offload leaves in captures of
    // outgoing super-packets (Wireshark presumes TSO too): use what we have.
    if (total != 0) return err(E_IPV4_BAD_HEADER, p);
    total = <u32>(end - p);
    if (total > 65535) total = 65535;
    if (total < ihl) return err(E_IPV4_TRUNCATED, p);
  }
  if (p + ihl > end) return err(E_IPV4_TRUNCATED, p);
  mapV4(pkt_src, p + 12);
  mapV4(pkt_dst, p + 16);
  const proto = u8at(p + 9);
  const ipPayload = total - ihl;
  let l4end = p + total;
  if (l4end > end) l4end = end;
  setIp(4, <u8>proto, total);
  const frag = be16(p + 6);
  if (frag & 0x3FFF) { // more-fragments flag or a fragment offset
    count(C_FRAGMENTS);
    if (frag & 0x1FFF) return laterFragment(p + 12, p + 16, false, be16(p + 4), proto, total, ipPayload);
    noteFirstFragment(p + 12, p + 16, false, be16(p + 4), proto);
    return transport(proto, p + ihl, l4end, ipPayload, false, true);
  }
  return transport(proto, p + ihl, l4end, ipPayload, false, false);
}

export function ipv6(p: usize, end: usize): bool {
  if (p + 40 > end) return err(E_IPV6_TRUNCATED, p);
  if ((u8at(p) >> 4) != 6) return err(E_BAD_IP_VERSION, p);
  let plen = be16(p + 4);
  // Payload length 0 = jumbogram or offloaded super-packet: use what we have.
  if (plen == 0) { const avail = end - p - 40; plen = avail > 0xFFFFF ? 0xFFFFF : <u32>avail; }
  store<u64>(pkt_src, load<u64>(p, 8)); store<u64>(pkt_src, load<u64>(p, 16), 8);
  store<u64>(pkt_dst, load<u64>(p, 24)); store<u64>(pkt_dst, load<u64>(p, 32), 8);
  const ipLen = 40 + plen;
  const l3end = p + ipLen;           // where the datagram ends by its header
  const cend = l3end < end ? l3end : end; // ... and what of it was captured
  let nh = u8at(p + 6);
  let q = p + 40;
  let n = 0;
  let first = false;
  while (true) {
    if (nh == 0 || nh == 43 || nh == 60 || nh == 135 || nh == 139 || nh == 140) {
      // hop-by-hop, routing, destination options, mobility, HIP, shim6: (next, len in 8-byte units - 1)
      if (q + 8 > cend) return err(E_IPV6_BAD_EXT, q);
      const hl = (u8at(q + 1) + 1) << 3;
      if (nh == 43) routingFinalDst(q, cend);
      nh = u8at(q);
      q += hl;
    } else if (nh == 44) { // fragment header: next, reserved, offset|M, 32-bit id
      if (q + 8 > cend) return err(E_IPV6_BAD_EXT, q);
      const om = be16(q + 2);
      const id = be32(q + 4);
      nh = u8at(q);
      q += 8;
      if ((om & 0xFFF9) != 0) { // offset or M set; offset 0 with M 0 is an "atomic fragment" (RFC 6946): not fragmented
        count(C_FRAGMENTS);
        if (om & 0xFFF8) {
          if (q > l3end) return err(E_IPV6_BAD_EXT, q);
          setIp(6, <u8>nh, ipLen);
          return laterFragment(p + 8, p + 24, true, id, nh, ipLen, <u32>(l3end - q));
        }
        noteFirstFragment(p + 8, p + 24, true, id, nh);
        first = true;
      }
    } else if (nh == 51) { // AH: payload length in 4-byte units - 2
      if (q + 8 > cend) return err(E_IPV6_BAD_EXT, q);
      const hl = (u8at(q + 1) + 2) << 2;
      nh = u8at(q);
      q += hl;
    } else {
      break; // upper layer, ESP (50) or no next header (59): the chain ends
    }
    if (q > l3end) return err(E_IPV6_BAD_EXT, q);
    if (++n > MAX_IPV6_EXT) return err(E_IPV6_BAD_EXT, q);
  }
  setIp(6, <u8>nh, ipLen);
  return transport(nh, q, cend, <u32>(l3end - q), true, first);
}

/**
 * A routing header with segments left names the packet's real destination
 * (Zeek's FinalDst, and what tshark shows): the last address of a type 0
 * header, or the home address of a type 2 header. The flow is keyed on it;
 * the fragment table keeps using the header's own destination.
 */
function routingFinalDst(q: usize, cend: usize): void {
  const len = <u32>u8at(q + 1);
  const type = u8at(q + 2);
  if (u8at(q + 3) == 0) return; // no segments left: the header's destination is final
  let a: usize = 0;
  if (type == 0 && len >= 2 && (len & 1) == 0) a = q + 8 + <usize>((len >> 1) - 1) * 16;
  else if (type == 2 && len == 2) a = q + 8;
  if (a == 0 || a + 16 > cend) return;
  store<u64>(pkt_dst, load<u64>(a)); store<u64>(pkt_dst, load<u64>(a, 8), 8);
}

@inline function countIp(v6: bool): void { count(v6 ? C_IPV6 : C_IPV4); }

/**
 * Transport header at `p` (captured bytes up to `end`); `ipPayload` is the
 * header-level number of bytes after the IP header(s). `firstFrag` = this is
 * the first fragment of a fragmented datagram.
 */
function transport(proto: u32, p: usize, end: usize, ipPayload: u32, v6: bool, firstFrag: bool): bool {
  if (proto == 6) {
    // Only the fixed 20 bytes are read; options may be cut by the snaplen,
    // but a data offset beyond the IP payload is a broken header.
    if (p + 20 <= end) {
      const doff = <u32>(u8at(p + 12) >> 4) << 2;
      if (doff >= 20 && doff <= ipPayload) {
        setPorts(<u16>be16(p), <u16>be16(p + 2), ipPayload - doff);
        setPayloadAt(p + doff, end, ipPayload - doff);
        setTcp(<u8>u8at(p + 13), be32(p + 4), be32(p + 8), <u16>be16(p + 14));
        count(C_TCP);
        countIp(v6);
        return true;
      }
    }
    // A first fragment cut inside the TCP header (tiny-fragment evasion, or
    // a header with many options) still names its flow: keep the ports (and
    // flags if present) rather than orphaning every later fragment.
    if (firstFrag && p + 4 <= end) return tinyFirstFragment(proto, p, end, v6);
    return err(E_TCP_TRUNCATED, p);
  }
  if (proto == 17) {
    if (p + 8 > end) return err(E_UDP_TRUNCATED, p);
    const sp = be16(p);
    const dp = be16(p + 2);
    // Tunnel ports: one combined test keeps ordinary UDP on the fast path.
    if (dp == 4789 || dp == 6081 || dp == 2152 || sp == 2152 || dp == 3544 || sp == 3544) {
      const r = udpTunnel(sp, dp, p + 8, end, ipPayload - 8);
      if (r != NOT_TUNNEL) return r == DECAP_OK;
    } else if (ipPayload >= 48 && p + 9 <= end && (u8at(p + 8) >> 4 == 6 || u8at(p + 8) == 0)) {
      // Teredo relays talk to clients on arbitrary ports (Zeek and Wireshark's
      // heuristic find it there too): a cheap first-byte test here, the
      // strict shape test in tunnels.ts.
      const r = teredoAnyPort(p + 8, end, ipPayload - 8);
      if (r != NOT_TUNNEL) return r == DECAP_OK;
    }
    setPorts(<u16>sp, <u16>dp, ipPayload - 8);
    setPayloadAt(p + 8, end, ipPayload - 8);
    count(C_UDP);
    countIp(v6);
    return true;
  }
  if (proto == 1 || proto == 58) {
    // type, code, checksum; the rest of the 8-byte header may be cut by the snaplen.
    if (p + 4 > end) return err(E_ICMP_TRUNCATED, p);
    setPorts(<u16>u8at(p), <u16>u8at(p + 1), ipPayload > 8 ? ipPayload - 8 : 0);
    count(C_ICMP);
    countIp(v6);
    return true;
  }
  if (proto == 132) {
    if (p + 12 > end) {
      if (firstFrag && p + 4 <= end) return tinyFirstFragment(proto, p, end, v6);
      return err(E_SCTP_TRUNCATED, p);
    }
    setPorts(<u16>be16(p), <u16>be16(p + 2), ipPayload - 12);
    count(C_OTHER_TRANSPORT);
    countIp(v6);
    return true;
  }
  if (proto == 47) {
    const r = greTunnel(p, end);
    if (r != NOT_TUNNEL) return r == DECAP_OK;
  } else if (proto == 4 || proto == 41) {
    const r = ipInIp(proto, p, end);
    if (r != NOT_TUNNEL) return r == DECAP_OK;
  }
  // Any other protocol (ESP, AH, OSPF, PIM, GRE we cannot open, ...): an address-only flow.
  setPayloadLen(ipPayload);
  count(C_OTHER_TRANSPORT);
  countIp(v6);
  return true;
}

/** First fragment too short for the whole TCP/SCTP header: ports (+ TCP fields that are there), no payload. */
function tinyFirstFragment(proto: u32, p: usize, end: usize, v6: bool): bool {
  setPorts(<u16>be16(p), <u16>be16(p + 2), 0);
  if (proto == 6) {
    if (p + 14 <= end) setTcp(<u8>u8at(p + 13), be32(p + 4), be32(p + 8), p + 16 <= end ? <u16>be16(p + 14) : 0);
    count(C_TCP);
  } else count(C_OTHER_TRANSPORT);
  countIp(v6);
  return true;
}

/** Protocols whose later fragments need the first fragment to know their flow. */
@inline function needsFirstFragment(proto: u32): bool {
  return proto == 6 || proto == 17 || proto == 1 || proto == 58 || proto == 132 ||
    proto == 47 || proto == 4 || proto == 41;
}

/**
 * A fragment with a non-zero offset: no transport header. Address-only
 * protocols are their own flow already; the others borrow the key recorded
 * from their first fragment (or are held until it comes).
 */
function laterFragment(src: usize, dst: usize, v6: bool, id: u32, proto: u32, ipLen: u32, ipPayload: u32): bool {
  countIp(v6);
  if (!needsFirstFragment(proto)) {
    setPayloadLen(ipPayload);
    setLaterFragment(true);
    count(C_NON_FIRST_FRAGMENTS);
    return true;
  }
  return fragLater(src, dst, v6, id, proto, ipLen, ipPayload);
}

function noteFirstFragment(src: usize, dst: usize, v6: bool, id: u32, proto: u32): void {
  if (!needsFirstFragment(proto)) return;
  if (nFirst == 0) { f0Src = src; f0Dst = dst; f0V6 = v6; f0Id = id; f0Proto = proto; f0Depth = tunnelDepth(); }
  else if (nFirst == 1) { f1Src = src; f1Dst = dst; f1V6 = v6; f1Id = id; f1Proto = proto; f1Depth = tunnelDepth(); }
  else return;
  nFirst++;
}

/** The packet decoded to a flow: remember it for the later fragments of its datagram(s). */
function recordFirstFragments(): void {
  const d = tunnelDepth();
  fragFirst(f0Src, f0Dst, f0V6, f0Id, f0Proto, d > f0Depth);
  if (nFirst > 1) fragFirst(f1Src, f1Dst, f1V6, f1Id, f1Proto, d > f1Depth);
}

// ---- less common link layers ----

/**
 * NFLOG (Linux netfilter log): 4-byte header (family, version, resource id)
 * then TLVs whose length/type are in the capturing host's byte order. The
 * packet is the payload TLV (type 9). Types are small numbers, so a type
 * that only fits when byte-swapped tells us the host was big-endian.
 */
function nflog(p: usize, end: usize): bool {
  if (p + 8 > end) return err(E_LINK_TRUNCATED, p);
  let q = p + 4;
  const swap = le16(q + 2) > 0xFF;
  for (let i = 0; i < MAX_NFLOG_TLVS; i++) {
    if (q >= end) break; // no payload TLV: a log entry without the packet
    if (q + 4 > end) return err(E_LINK_TRUNCATED, q);
    let len = le16(q);
    let type = le16(q + 2);
    if (swap) { len = <u32>bswap<u16>(<u16>len); type = <u32>bswap<u16>(<u16>type); }
    type &= 0x7FFF; // NLA_F_NESTED / byte-order flag bits
    if (len < 4) return err(E_LINK_TRUNCATED, q);
    if (type == 9) {
      let pend = q + len;
      if (pend > end) pend = end;
      return rawIp(q + 4, pend);
    }
    q += (len + 3) & ~3;
  }
  return nonIp();
}

/**
 * IEEE 802.11 data frames: 24-byte header (+6 with both DS bits for the
 * fourth address, +2 QoS control, +4 HT control when QoS and the order bit),
 * then LLC/SNAP. Management/control frames, null data, protected
 * (encrypted) frames and A-MSDUs carry no IP we can read.
 */
function wifi(p: usize, end: usize): bool {
  if (p + 24 > end) return err(E_LINK_TRUNCATED, p);
  const fc0 = u8at(p);
  const fc1 = u8at(p + 1);
  if (((fc0 >> 2) & 3) != 2) return nonIp(); // not a data frame
  const subtype = fc0 >> 4;
  if (subtype & 4) return nonIp();            // null function / no data
  if (fc1 & 0x40) return nonIp();             // protected: encrypted payload
  let hl: usize = 24;
  if ((fc1 & 3) == 3) hl += 6;
  if (subtype & 8) {
    if (p + hl + 2 > end) return err(E_LINK_TRUNCATED, p);
    if (u8at(p + hl) & 0x80) return nonIp();   // A-MSDU aggregate
    hl += 2;
    if (fc1 & 0x80) hl += 4;
  }
  const q = p + hl;
  if (q + 8 > end) return err(E_LINK_TRUNCATED, q);
  if (u8at(q) != 0xAA || u8at(q + 1) != 0xAA || u8at(q + 2) != 0x03) return nonIp();
  return ethertype(be16(q + 6), q + 8, end);
}
