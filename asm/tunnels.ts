// Tunnel decapsulation: the flow is keyed on the innermost packet, and the
// outer tunnel packet is NOT a flow of its own (one packet = one flow).
// pkt_tunnel_type / pkt_tunnel_id describe the innermost tunnel.
//
// Each function returns DECAP_OK (inner packet decoded to a flow),
// DECAP_FAIL (inner packet malformed or non-IP: already counted, the packet
// is dropped) or NOT_TUNNEL (the bytes do not look like this tunnel after
// all — e.g. some other UDP service on port 3544 — and the caller accounts
// the outer packet as an ordinary flow).
//
// Header layouts: VXLAN RFC 7348; GENEVE RFC 8926; GRE RFC 2784/2890 and
// the PPTP variant RFC 2637; ERSPAN draft-foschiano-erspan-03 (type II
// 8-byte header, type III 12 bytes + optional 8-byte platform sub-header);
// Teredo RFC 4380 section 5.1.1; GTP-U 3GPP TS 29.281.
import { setTunnel, TUNNEL_VXLAN, TUNNEL_GENEVE, TUNNEL_GRE, TUNNEL_ERSPAN, TUNNEL_IPIP, TUNNEL_TEREDO, TUNNEL_GTP } from "./packet";
import { C_TUNNELLED, E_TUNNEL_TRUNCATED, E_TOO_MANY_LAYERS } from "./counters";
import { count } from "./stats";
import { be16, be32, u8at } from "./bytes";
import { err, nonIp, ether, ipv4, ipv6, mpls, ppp } from "./decode";

export const DECAP_FAIL: i32 = 0;
export const DECAP_OK: i32 = 1;
export const NOT_TUNNEL: i32 = 2;

/** Nested tunnels followed per packet (GRE in VXLAN in ... stops here). */
const MAX_TUNNEL_DEPTH: i32 = 4;

let depth: i32 = 0;

export function tunnelReset(): void { depth = 0; }
export function tunnelDepth(): i32 { return depth; }

/** Enter one more tunnel level; false (counted) when nested too deep. */
function enter(kind: u8, id: u32, p: usize): bool {
  if (depth >= MAX_TUNNEL_DEPTH) { err(E_TOO_MANY_LAYERS, p); return false; }
  if (depth == 0) count(C_TUNNELLED);
  depth++;
  setTunnel(kind, id);
  return true;
}

@inline function fail(p: usize): i32 { err(E_TUNNEL_TRUNCATED, p); return DECAP_FAIL; }
@inline function result(ok: bool): i32 { return ok ? DECAP_OK : DECAP_FAIL; }

/** IPv4 / IPv6 by the version nibble, anything else is not IP. */
function innerIp(p: usize, end: usize): bool {
  if (p >= end) return err(E_TUNNEL_TRUNCATED, p);
  const v = u8at(p) >> 4;
  if (v == 4) return ipv4(p, end);
  if (v == 6) return ipv6(p, end);
  return nonIp();
}

/**
 * IP protocol 4 (IPv4 inside) or 41 (IPv6 inside): 4in4, 6in4, 4in6, 6in6.
 * The inner version nibble is the only signature IP-in-IP has: when it is
 * wrong the payload is not an IP packet and the outer packet stays an
 * address-only flow (NOT_TUNNEL), like GRE with a payload we cannot open.
 */
export function ipInIp(proto: u32, p: usize, end: usize): i32 {
  if (p >= end) return fail(p);
  if ((u8at(p) >> 4) != (proto == 4 ? <u32>4 : <u32>6)) return NOT_TUNNEL;
  if (!enter(TUNNEL_IPIP, 0, p)) return DECAP_FAIL;
  return result(proto == 4 ? ipv4(p, end) : ipv6(p, end));
}

/** GRE (IP protocol 47). */
export function greTunnel(p: usize, end: usize): i32 {
  if (p + 4 > end) return fail(p);
  const flags = be16(p);
  const proto = be16(p + 2);
  const ver = flags & 7;
  let q = p + 4;
  if (ver == 1) return pptpGre(flags, proto, p, end);
  if (ver != 0) return NOT_TUNNEL;
  if (flags & 0xC000) q += 4; // checksum (+ offset, present if either C or R)
  let key: u32 = 0;
  if (flags & 0x2000) {
    if (q + 4 > end) return fail(p);
    key = be32(q);
    q += 4;
  }
  const hasSeq = (flags & 0x1000) != 0;
  if (hasSeq) q += 4;
  if (flags & 0x4000) {
    // RFC 1701 source routing entries: (family, offset, length, data) until a null entry.
    let i = 0;
    while (true) {
      if (q + 4 > end || ++i > 16) return fail(p);
      const af = be16(q);
      const len = u8at(q + 3);
      q += 4 + len;
      if (af == 0 && len == 0) break;
    }
  }
  if (q > end) return fail(p);
  if (proto == 0x0800) { if (!enter(TUNNEL_GRE, key, p)) return DECAP_FAIL; return result(ipv4(q, end)); }
  if (proto == 0x86DD) { if (!enter(TUNNEL_GRE, key, p)) return DECAP_FAIL; return result(ipv6(q, end)); }
  if (proto == 0x6558) { if (!enter(TUNNEL_GRE, key, p)) return DECAP_FAIL; return result(ether(q, end, false)); }
  if (proto == 0x8847 || proto == 0x8848) { if (!enter(TUNNEL_GRE, key, p)) return DECAP_FAIL; return result(mpls(q, end)); }
  if (proto == 0x88BE) {
    if (hasSeq) {
      // ERSPAN type II: ver(4) vlan(12) | cos(3) en(2) t(1) session(10) | reserved(12) index(20)
      if (q + 8 > end) return fail(q);
      if (!enter(TUNNEL_ERSPAN, be16(q + 2) & 0x3FF, p)) return DECAP_FAIL;
      return result(ether(q + 8, end, false));
    }
    // ERSPAN type I: no sequence number and no ERSPAN header, the frame follows GRE.
    if (!enter(TUNNEL_ERSPAN, 0, p)) return DECAP_FAIL;
    return result(ether(q, end, false));
  }
  if (proto == 0x22EB) {
    // ERSPAN type III: ver(4) vlan(12) | cos(3) bso(2) t(1) session(10) | timestamp(32) |
    // sgt(16) | p(1) ft(5) hw(6) d(1) gra(2) o(1)  [+ 8-byte platform sub-header if o]
    if (q + 12 > end) return fail(q);
    const w = be16(q + 10);
    const ft = (w >> 10) & 0x1F;
    const hl: usize = (w & 1) ? 20 : 12;
    if (q + hl > end) return fail(q);
    if (!enter(TUNNEL_ERSPAN, be16(q + 2) & 0x3FF, p)) return DECAP_FAIL;
    if (ft == 0) return result(ether(q + hl, end, false));
    if (ft == 2) return result(innerIp(q + hl, end)); // frame type 2: an IP packet
    nonIp();
    return DECAP_FAIL;
  }
  return NOT_TUNNEL; // keepalive, WCCP, NHRP ...: an address-only GRE flow
}

/**
 * PPTP's enhanced GRE (version 1): key = payload length (16) | call id (16),
 * optional sequence and acknowledgement numbers, PPP inside. PPP payloads
 * that are not IP (LCP, MPPE-encrypted data) leave the outer GRE flow.
 */
function pptpGre(flags: u32, proto: u32, p: usize, end: usize): i32 {
  if (proto != 0x880B || (flags & 0x2000) == 0) return NOT_TUNNEL;
  let q = p + 8;
  if (q > end) return fail(p);
  const payloadLen = be16(p + 4);
  const callId = be16(p + 6);
  if (flags & 0x1000) q += 4;
  if (flags & 0x0080) q += 4;
  if (payloadLen == 0 || q + 2 > end) return NOT_TUNNEL; // acknowledgement only
  // PPP protocol after optional FF 03: only IP is decapsulated.
  let r = q;
  if (u8at(r) == 0xFF && u8at(r + 1) == 0x03) r += 2;
  if (r + 1 > end) return NOT_TUNNEL;
  let pp: u32;
  if (u8at(r) & 1) pp = u8at(r);
  else { if (r + 2 > end) return NOT_TUNNEL; pp = be16(r); }
  if (pp != 0x21 && pp != 0x57) return NOT_TUNNEL;
  if (!enter(TUNNEL_GRE, callId, p)) return DECAP_FAIL;
  return result(ppp(q, end));
}

/**
 * UDP-port tunnels. `p` = UDP payload, `end` = its captured end,
 * `udpPayload` = its length by the headers.
 */
export function udpTunnel(sp: u32, dp: u32, p: usize, end: usize, udpPayload: u32): i32 {
  if (dp == 4789) return vxlan(p, end);
  if (dp == 6081) return geneve(p, end);
  if (dp == 2152 || sp == 2152) return gtpU(p, end);
  return teredo(p, end, udpPayload);
}

function vxlan(p: usize, end: usize): i32 {
  // flags(8, I = 0x08) reserved(24) | VNI(24) reserved(8)
  if (p + 8 > end) return fail(p);
  if ((u8at(p) & 0x08) == 0) return NOT_TUNNEL; // no valid VNI: not VXLAN
  if (!enter(TUNNEL_VXLAN, be32(p + 4) >> 8, p)) return DECAP_FAIL;
  return result(ether(p + 8, end, false));
}

function geneve(p: usize, end: usize): i32 {
  // ver(2) optlen(6, 4-byte units) | O C rsvd(6) | protocol(16) | VNI(24) rsvd(8) | options
  if (p + 8 > end) return fail(p);
  const b0 = u8at(p);
  if ((b0 >> 6) != 0) return NOT_TUNNEL;
  const q = p + 8 + ((<usize>b0 & 0x3F) << 2);
  if (q > end) return fail(p);
  const proto = be16(p + 2);
  if (!enter(TUNNEL_GENEVE, be32(p + 4) >> 8, p)) return DECAP_FAIL;
  if (proto == 0x6558) return result(ether(q, end, false));
  if (proto == 0x0800) return result(ipv4(q, end));
  if (proto == 0x86DD) return result(ipv6(q, end));
  nonIp();
  return DECAP_FAIL;
}

function gtpU(p: usize, end: usize): i32 {
  // flags: version(3)=1, PT=0x10, E=0x04, S=0x02, PN=0x01 | type | length(16) | TEID(32)
  if (p + 8 > end) return NOT_TUNNEL;
  const flags = u8at(p);
  if ((flags >> 5) != 1 || (flags & 0x10) == 0) return NOT_TUNNEL; // GTP' or not GTP
  if (u8at(p + 1) != 255) return NOT_TUNNEL; // echo, error indication, end marker: signalling, not user data
  const teid = be32(p + 4);
  let q = p + 8;
  if (flags & 0x07) {
    // sequence(16) N-PDU(8) next-extension-type(8), present if any of E, S, PN
    if (q + 4 > end) return fail(p);
    let next = (flags & 0x04) ? u8at(q + 3) : 0;
    q += 4;
    let i = 0;
    while (next != 0) {
      // extension: length in 4-byte units (incl. length and next-type bytes), content, next type
      if (q + 1 > end || ++i > 8) return fail(q);
      const len = <usize>u8at(q) << 2;
      if (len == 0 || q + len > end) return fail(q);
      next = u8at(q + len - 1);
      q += len;
    }
  }
  if (!enter(TUNNEL_GTP, teid, p)) return DECAP_FAIL;
  return result(innerIp(q, end));
}

/** Teredo on port 3544 (server traffic): the inner IPv6 packet must fit the UDP payload. */
function teredo(p: usize, end: usize, udpPayload: u32): i32 {
  const q = teredoInner(p, end);
  if (q == 0) return NOT_TUNNEL;
  if (q + 40 + <usize>be16(q + 4) > p + <usize>udpPayload) return NOT_TUNNEL;
  if (!enter(TUNNEL_TEREDO, 0, p)) return DECAP_FAIL;
  return result(ipv6(q, end));
}

/**
 * Teredo on any other UDP port (relay <-> client traffic). Without the port
 * as evidence the shape must be exact: an IPv6 header whose payload length
 * fills the UDP payload to the byte, with one end a Teredo (2001:0::/32) or
 * link-local (fe80::/10, bubbles) address. Random UDP payloads (QUIC short
 * headers start with nibble 4-7 too) practically never pass all three.
 */
export function teredoAnyPort(p: usize, end: usize, udpPayload: u32): i32 {
  const q = teredoInner(p, end);
  if (q == 0) return NOT_TUNNEL;
  if (q + 40 + <usize>be16(q + 4) != p + <usize>udpPayload) return NOT_TUNNEL;
  if (!isTeredoAddr(q + 8) && !isTeredoAddr(q + 24)) return NOT_TUNNEL;
  if (!enter(TUNNEL_TEREDO, 0, p)) return DECAP_FAIL;
  return result(ipv6(q, end));
}

@inline function isTeredoAddr(a: usize): bool {
  return be32(a) == 0x20010000 || (be16(a) & 0xFFC0) == 0xFE80;
}

/**
 * Skip Teredo's optional indications and return the inner IPv6 header if one
 * starts there (captured in full), else 0.
 */
function teredoInner(p: usize, end: usize): usize {
  let q = p;
  // Authentication indicator: 00 01, id-len, au-len, client id, auth value, nonce(8), confirmation(1)
  if (q + 4 <= end && be16(q) == 0x0001) q += 4 + <usize>u8at(q + 2) + <usize>u8at(q + 3) + 9;
  // Origin indication: 00 00, port(16), address(32)
  if (q + 2 <= end && be16(q) == 0x0000) q += 8;
  if (q + 40 > end) return 0;
  if ((u8at(q) >> 4) != 6) return 0;
  return q;
}
