// Community ID v1 (corelight/community-id-spec): SHA-1 over
// seed ‖ saddr ‖ daddr ‖ proto ‖ 0 ‖ sport ‖ dport, endpoints ordered so the
// smaller (addr, port) comes first, ICMP type/code mapped to "ports" the way
// Zeek does. Lets an analyst pivot from our flows to Zeek/Suricata data.
import { sha1Short } from './sha1-block.ts';

/** Reused hash input: the longest is 2 + 16 + 16 + 2 + 4 bytes. */
const scratch = new Uint8Array(40);

const ICMP4_COUNTERPART: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17 };
const ICMP6_COUNTERPART: Record<number, number> = {
  128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 139: 140, 140: 139, 144: 145, 145: 144,
};

function hasPorts(proto: number): boolean {
  return proto === 6 || proto === 17 || proto === 1 || proto === 58 || proto === 132;
}

/** Compare a[ao, ao+n) with b[bo, bo+n). */
function compareBytes(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): number {
  for (let i = 0; i < n; i++) if (a[ao + i] !== b[bo + i]) return a[ao + i]! - b[bo + i]!;
  return 0;
}

/**
 * SHA-1 digest (20 bytes, reused) of the Community ID input for addresses
 * taken from `mem` at `so`/`do` (n = 4 or 16 bytes each).
 */
export function communityIdDigest(mem: Uint8Array, so: number, dOff: number, n: number, proto: number, sport: number, dport: number, seed = 0): Uint8Array {
  const ports = hasPorts(proto);
  let oneWay = false;
  if (proto === 1 || proto === 58) {
    const counterpart = (proto === 1 ? ICMP4_COUNTERPART : ICMP6_COUNTERPART)[sport];
    if (counterpart === undefined) oneWay = true;
    else dport = counterpart;
  }
  const c = compareBytes(mem, so, mem, dOff, n);
  let ao = so, bo = dOff, pa = sport, pb = dport;
  if (!(oneWay || c < 0 || (c === 0 && (!ports || pa < pb)))) { ao = dOff; bo = so; pa = dport; pb = sport; }
  const buf = scratch;
  buf[0] = (seed >>> 8) & 0xff; buf[1] = seed & 0xff;
  for (let i = 0; i < n; i++) { buf[2 + i] = mem[ao + i]!; buf[2 + n + i] = mem[bo + i]!; }
  let o = 2 + 2 * n;
  buf[o++] = proto; buf[o++] = 0;
  if (ports) { buf[o++] = pa >>> 8; buf[o++] = pa & 0xff; buf[o++] = pb >>> 8; buf[o++] = pb & 0xff; }
  return sha1Short(buf, o);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
export const B64_CODES = Uint8Array.from(B64, (ch) => ch.charCodeAt(0));

/** Write "1:" + base64(digest) (30 ASCII bytes) at out[pos]; returns the new position. */
export function writeCommunityId(out: Uint8Array, pos: number, d: Uint8Array): number {
  out[pos++] = 0x31; out[pos++] = 0x3a;
  for (let i = 0; i < 18; i += 3) {
    const v = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
    out[pos++] = B64_CODES[v >>> 18]!; out[pos++] = B64_CODES[(v >>> 12) & 63]!;
    out[pos++] = B64_CODES[(v >>> 6) & 63]!; out[pos++] = B64_CODES[v & 63]!;
  }
  const v = (d[18]! << 16) | (d[19]! << 8);
  out[pos++] = B64_CODES[v >>> 18]!; out[pos++] = B64_CODES[(v >>> 12) & 63]!; out[pos++] = B64_CODES[(v >>> 6) & 63]!;
  out[pos++] = 0x3d; // '='
  return pos;
}

const text = new Uint8Array(30);

/**
 * @param saddr/daddr 4 bytes (IPv4) or 16 bytes (IPv6), network order
 * @param sport/dport ports, or ICMP type/code; ignored for port-less protocols
 */
export function communityId(saddr: Uint8Array, daddr: Uint8Array, proto: number, sport: number, dport: number, seed = 0): string {
  const n = saddr.length;
  const both = new Uint8Array(2 * n);
  both.set(saddr, 0); both.set(daddr, n);
  writeCommunityId(text, 0, communityIdDigest(both, 0, n, n, proto, sport, dport, seed));
  return String.fromCharCode.apply(null, text as unknown as number[]);
}
