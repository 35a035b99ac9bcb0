// Community ID v1 (corelight/community-id-spec): SHA-1 over
// seed ‖ saddr ‖ daddr ‖ proto ‖ 0 ‖ sport ‖ dport, endpoints ordered so the
// smaller (addr, port) comes first, ICMP type/code mapped to "ports" the way
// Zeek does. Lets an analyst pivot from our flows to Zeek/Suricata data.
import * as crypto from 'node:crypto';

// One-shot crypto.hash (Node ≥ 20.12) avoids a Hash object per flow.
const sha1Base64: (b: Uint8Array) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (b) => (crypto as unknown as { hash(alg: string, d: Uint8Array, enc: string): string }).hash('sha1', b, 'base64')
    : (b) => crypto.createHash('sha1').update(b).digest('base64');

/** Reused hash input: the longest is 2 + 16 + 16 + 2 + 4 bytes. */
const scratch = Buffer.alloc(40);

const ICMP4_COUNTERPART: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17 };
const ICMP6_COUNTERPART: Record<number, number> = {
  128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 139: 140, 140: 139, 144: 145, 145: 144,
};
const PORT_PROTOS = new Set([1, 6, 17, 58, 132]);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * @param saddr/daddr 4 bytes (IPv4) or 16 bytes (IPv6), network order
 * @param sport/dport ports, or ICMP type/code; ignored for port-less protocols
 */
export function communityId(saddr: Uint8Array, daddr: Uint8Array, proto: number, sport: number, dport: number, seed = 0): string {
  const hasPorts = PORT_PROTOS.has(proto);
  let oneWay = false;
  if (proto === 1 || proto === 58) {
    const map = proto === 1 ? ICMP4_COUNTERPART : ICMP6_COUNTERPART;
    const counterpart = map[sport];
    if (counterpart === undefined) oneWay = true;
    else dport = counterpart;
  }
  let a = saddr, b = daddr, pa = sport, pb = dport;
  const c = compareBytes(a, b);
  const ordered = oneWay || c < 0 || (c === 0 && (!hasPorts || pa < pb));
  if (!ordered) { a = daddr; b = saddr; pa = dport; pb = sport; }
  const len = 2 + a.length + b.length + 2 + (hasPorts ? 4 : 0);
  const buf = scratch;
  buf.writeUInt16BE(seed & 0xffff, 0);
  buf.set(a, 2);
  buf.set(b, 2 + a.length);
  let o = 2 + a.length + b.length;
  buf[o++] = proto; buf[o++] = 0;
  if (hasPorts) { buf.writeUInt16BE(pa, o); buf.writeUInt16BE(pb, o + 2); }
  return '1:' + sha1Base64(buf.subarray(0, len));
}
