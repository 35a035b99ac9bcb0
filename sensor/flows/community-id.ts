// Community ID v1 (corelight/community-id-spec): SHA-1 over
// seed ‖ saddr ‖ daddr ‖ proto ‖ 0 ‖ sport ‖ dport, endpoints ordered so the
// smaller (addr, port) comes first, ICMP type/code mapped to "ports" the way
// Zeek does. Lets an analyst pivot from our flows to Zeek/Suricata data.
//
// This is the readable reference (tests, the demo, analyze's onRecord); flow
// records written by the sensor get theirs from the Wasm formatter
// (asm/json/ids.ts), which test/flow-json.test.ts checks against this one.
// node:crypto's SHA-1 keeps the reference independent of that hand-written one.
import { sha1 } from './sha1.ts';

const ICMP4_COUNTERPART: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17 };
const ICMP6_COUNTERPART: Record<number, number> = {
  128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 139: 140, 140: 139, 144: 145, 145: 144,
};

function hasPorts(proto: number): boolean {
  return proto === 6 || proto === 17 || proto === 1 || proto === 58 || proto === 132;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * @param saddr/daddr 4 bytes (IPv4) or 16 bytes (IPv6), network order
 * @param sport/dport ports, or ICMP type/code; ignored for port-less protocols
 */
export function communityId(saddr: Uint8Array, daddr: Uint8Array, proto: number, sport: number, dport: number, seed = 0): string {
  const ports = hasPorts(proto);
  let oneWay = false;
  if (proto === 1 || proto === 58) {
    const counterpart = (proto === 1 ? ICMP4_COUNTERPART : ICMP6_COUNTERPART)[sport];
    if (counterpart === undefined) oneWay = true;
    else dport = counterpart;
  }
  const c = compareBytes(saddr, daddr);
  let a = saddr, b = daddr, pa = sport, pb = dport;
  if (!(oneWay || c < 0 || (c === 0 && (!ports || pa < pb)))) { a = daddr; b = saddr; pa = dport; pb = sport; }
  const n = a.length;
  const msg = new Uint8Array(2 + 2 * n + 2 + (ports ? 4 : 0));
  msg[0] = (seed >>> 8) & 0xff; msg[1] = seed & 0xff;
  msg.set(a, 2); msg.set(b, 2 + n);
  let o = 2 + 2 * n;
  msg[o++] = proto; msg[o++] = 0;
  if (ports) { msg[o++] = pa >>> 8; msg[o++] = pa & 0xff; msg[o++] = pb >>> 8; msg[o] = pb & 0xff; }
  return `1:${sha1(msg, 'base64')}`;
}
