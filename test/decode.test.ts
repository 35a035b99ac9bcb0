// The packet decoders (asm/decode.ts, tunnels.ts, fragments.ts) on synthetic
// frames: every link type, encapsulation, tunnel, fragment case and broken
// header the core handles, checked on the flow record it produces (key,
// ports, VLANs, tunnel) and on the counters. Frames go in through
// WasmCore.ingestFrame, so the flow table is the real one.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WasmCore } from '../sensor/core/wasm-core.ts';
import type { RawFlow } from '../sensor/core/flow-record.ts';
import { flushCore, perFlow } from '../sensor/pipeline/capture-pump.ts';
import { formatAddress, formatMac } from '../sensor/flows/ip-address.ts';
import {
  type Bytes, MAC_A, MAC_B, be16, be32, le16, le32, zeros, mac, eth, tag, ipv4, ipv6, ext6, frag6, tcp, udp, icmp, bytes, v6,
} from './helpers/packet-bytes.ts';
import { pcapFile } from './helpers/capture-bytes.ts';
import { runCoreBytes } from './helpers/core-run.ts';

const OPTS = { flowCapacity: 256, fragCapacity: 64, outputRecords: 256, chunkBytes: 1 << 16 };
const NONE = 0xffff;
const T = { NONE: 0, VXLAN: 1, GENEVE: 2, GRE: 3, ERSPAN: 4, IPIP: 5, TEREDO: 6, GTP: 7 } as const;

interface Frame { data: Bytes; linktype?: number; wire?: number; ts?: number }
interface Result { flows: RawFlow[]; c: Record<string, number>; accepted: number[] }

/** Ingest frames into a fresh core, flush, return flows and counters. */
function run(...frames: Frame[]): Result {
  const core = new WasmCore(OPTS);
  const accepted = frames.map((f, i) => core.ingestFrame(bytes(f.data), f.wire ?? f.data.length, f.linktype ?? 1, f.ts ?? 1000 + i * 0.001));
  const flows: RawFlow[] = [];
  flushCore(core, perFlow((f) => flows.push(f)));
  return { flows, c: core.counters(true), accepted };
}

/** Exactly one flow; returns it. */
function one(...frames: Frame[]): { f: RawFlow; c: Record<string, number> } {
  const r = run(...frames);
  assert.is(r.flows.length, 1, `expected one flow, got ${r.flows.length} (counters ${JSON.stringify(nonZero(r.c))})`);
  return { f: r.flows[0]!, c: r.c };
}

/** No flow; returns the counters. */
function none(...frames: Frame[]): Record<string, number> {
  const r = run(...frames);
  assert.is(r.flows.length, 0, `expected no flow, got ${r.flows.map(key).join(', ')}`);
  return r.c;
}

function nonZero(c: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== 0));
}

function key(f: RawFlow): string {
  const a = formatAddress(f.origH, f.ipVersion), b = formatAddress(f.respH, f.ipVersion);
  return `${f.proto} ${a}:${f.origP} > ${b}:${f.respP}`;
}

// The flow every wrapper below carries, so one assertion checks the whole key.
const UDP4 = ipv4({ src: '10.1.1.1', dst: '10.2.2.2', proto: 17, payload: udp(40000, 53, zeros(10)) });
const UDP4_KEY = '17 10.1.1.1:40000 > 10.2.2.2:53';
const UDP6 = ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nh: 17, payload: udp(40000, 53, zeros(10)) });
const UDP6_KEY = '17 2001:db8::1:40000 > 2001:db8::2:53';
const SYN4 = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, payload: tcp({ sport: 40000, dport: 80, flags: 0x02, seq: 1000 }) });
const SYN4_KEY = '6 10.0.0.1:40000 > 10.0.0.2:80';

// ---------------------------------------------------------------- Ethernet and L2.5

const l2 = suite('ethernet');

l2('IPv4/TCP: key, flags, MACs of the Ethernet header, no VLAN', () => {
  const { f, c } = one({ data: eth(MAC_B, MAC_A, 0x0800, SYN4) });
  assert.is(key(f), SYN4_KEY);
  assert.is(f.ipVersion, 4);
  assert.is(f.origIpBytes, 40);
  assert.is(formatMac(f.origMac!), MAC_A);
  assert.is(formatMac(f.respMac!), MAC_B);
  assert.is(f.vlan, NONE);
  assert.is(f.innerVlan, NONE);
  assert.is(f.tunnelType, T.NONE);
  assert.is(c.ipv4, 1);
  assert.is(c.tcp, 1);
});

l2('IPv6/UDP', () => {
  const { f, c } = one({ data: eth(MAC_B, MAC_A, 0x86dd, UDP6) });
  assert.is(key(f), UDP6_KEY);
  assert.is(f.ipVersion, 6);
  assert.is(f.origIpBytes, 40 + 18);
  assert.is(f.origBytes, 10);
  assert.is(c.ipv6, 1);
  assert.is(c.udp, 1);
});

l2('802.1Q tag: outer VLAN id, PCP ignored', () => {
  const { f, c } = one({ data: eth(MAC_B, MAC_A, 0x8100, tag(100, 0x0800, UDP4, 5)) });
  assert.is(key(f), UDP4_KEY);
  assert.is(f.vlan, 100);
  assert.is(f.innerVlan, NONE);
  assert.is(c.vlan_tagged, 1);
});

l2('802.1ad + 802.1Q (QinQ) and a third tag: outer and inner ids are the first two', () => {
  const q = one({ data: eth(MAC_B, MAC_A, 0x88a8, tag(100, 0x8100, tag(200, 0x0800, UDP4))) }).f;
  assert.equal([q.vlan, q.innerVlan], [100, 200]);
  const q3 = one({ data: eth(MAC_B, MAC_A, 0x9100, tag(30, 0x8100, tag(20, 0x8100, tag(10, 0x0800, UDP4)))) });
  assert.equal([q3.f.vlan, q3.f.innerVlan], [30, 20]);
  assert.is(q3.c.vlan_tagged, 1, 'counted once per frame');
});

l2('more than 8 stacked tags: E_TOO_MANY_LAYERS, not a flow', () => {
  let inner = UDP4, type = 0x0800;
  for (let i = 0; i < 9; i++) { inner = tag(i + 1, type, inner); type = 0x8100; }
  const c = none({ data: eth(MAC_B, MAC_A, 0x8100, inner) });
  assert.is(c.too_many_layers, 1);
});

l2('MPLS label stack then IPv4 (version nibble)', () => {
  const labels = [...be32((1000 << 12) | 64), ...be32((2000 << 12) | 0x100 | 64)];
  const { f, c } = one({ data: eth(MAC_B, MAC_A, 0x8847, [...labels, ...UDP4]) });
  assert.is(key(f), UDP4_KEY);
  assert.is(c.mpls, 1);
});

l2('MPLS pseudowire with control word: the inner Ethernet frame gives the VLAN', () => {
  const pw = [...be32((16 << 12) | 0x100 | 64), ...zeros(4), ...eth(MAC_A, MAC_B, 0x8100, tag(42, 0x0800, UDP4))];
  const { f } = one({ data: eth(MAC_B, MAC_A, 0x8100, tag(7, 0x8847, pw)) });
  assert.is(key(f), UDP4_KEY);
  assert.is(f.vlan, 42, 'innermost Ethernet VLAN');
  assert.is(formatMac(f.origMac!), MAC_A, 'MACs stay the outermost');
});

l2('PPPoE session: PPP IPv4 and IPv6; LCP is not IP', () => {
  const pppoe = (proto: number, p: Bytes) => [0x11, 0, ...be16(1), ...be16(p.length + 2), ...be16(proto), ...p];
  assert.is(key(one({ data: eth(MAC_B, MAC_A, 0x8864, pppoe(0x0021, UDP4)) }).f), UDP4_KEY);
  const r6 = one({ data: eth(MAC_B, MAC_A, 0x8864, pppoe(0x0057, UDP6)) });
  assert.is(key(r6.f), UDP6_KEY);
  assert.is(r6.c.pppoe, 1);
  assert.is(none({ data: eth(MAC_B, MAC_A, 0x8864, pppoe(0xc021, zeros(8))) }).non_ip, 1);
});

l2('VN-Tag, then a VLAN tag', () => {
  const { f } = one({ data: eth(MAC_B, MAC_A, 0x8926, [...be32(0x80010002), ...be16(0x8100), ...tag(12, 0x0800, UDP4)]) });
  assert.is(key(f), UDP4_KEY);
  assert.is(f.vlan, 12);
});

l2('802.3 length field with LLC/SNAP carrying IPv4', () => {
  const snap = [0xaa, 0xaa, 0x03, 0, 0, 0, ...be16(0x0800), ...UDP4];
  assert.is(key(one({ data: eth(MAC_B, MAC_A, snap.length, snap) }).f), UDP4_KEY);
});

l2('ARP, LLDP and STP are counted as non-IP', () => {
  const c = none(
    { data: eth(MAC_B, MAC_A, 0x0806, zeros(28)) },
    { data: eth(MAC_B, MAC_A, 0x88cc, zeros(30)) },
    { data: eth(MAC_B, MAC_A, 38, [0x42, 0x42, 0x03, ...zeros(35)]) },
  );
  assert.is(c.non_ip, 3);
});

l2('Ethernet padding is not payload: lengths come from the IP header', () => {
  const small = ipv4({ src: '10.1.1.1', dst: '10.2.2.2', proto: 17, payload: udp(40000, 53, [1, 2]) });
  const { f } = one({ data: eth(MAC_B, MAC_A, 0x0800, [...small, ...zeros(16)]) });
  assert.is(f.origIpBytes, 30);
  assert.is(f.origBytes, 2);
});

l2.run();

// ---------------------------------------------------------------- other link types

const lt = suite('link types');

lt('NULL/BSD loopback: host byte order either way; IPv6 families 24, 28, 30', () => {
  assert.is(key(one({ data: [...le32(2), ...UDP4], linktype: 0 }).f), UDP4_KEY);
  assert.is(key(one({ data: [...be32(2), ...UDP4], linktype: 0 }).f), UDP4_KEY);
  for (const af of [24, 28, 30]) assert.is(key(one({ data: [...le32(af), ...UDP6], linktype: 0 }).f), UDP6_KEY);
  assert.is(none({ data: [...le32(7), ...zeros(20)], linktype: 0 }).non_ip, 1);
});

lt('OpenBSD LOOP (network order)', () => {
  assert.is(key(one({ data: [...be32(2), ...UDP4], linktype: 108 }).f), UDP4_KEY);
});

lt('raw IP: 101/12/14 by version nibble, 228 IPv4, 229 IPv6', () => {
  for (const l of [101, 12, 14]) {
    assert.is(key(one({ data: UDP4, linktype: l }).f), UDP4_KEY);
    assert.is(key(one({ data: UDP6, linktype: l }).f), UDP6_KEY);
  }
  assert.is(key(one({ data: UDP4, linktype: 228 }).f), UDP4_KEY);
  assert.is(key(one({ data: UDP6, linktype: 229 }).f), UDP6_KEY);
  assert.is(none({ data: [0x50, ...zeros(30)], linktype: 101 }).bad_ip_version, 1);
});

lt('Linux SLL (16-byte header) and SLL2 (20-byte header)', () => {
  const sll = [0, 0, 0, 1, 0, 6, ...mac(MAC_A), 0, 0, ...be16(0x0800)];
  assert.is(key(one({ data: [...sll, ...UDP4], linktype: 113 }).f), UDP4_KEY);
  const sll2 = [...be16(0x86dd), 0, 0, ...be32(3), ...be16(1), 0, 6, ...mac(MAC_A), 0, 0];
  assert.is(key(one({ data: [...sll2, ...UDP6], linktype: 276 }).f), UDP6_KEY);
  assert.is(none({ data: [...sll.slice(0, 14), ...be16(0x0806), ...zeros(28)], linktype: 113 }).non_ip, 1);
});

lt('NFLOG: TLVs in host byte order, packet in TLV 9', () => {
  const tlvLe = (type: number, v: Bytes) => { const b = [...le16(4 + v.length), ...le16(type), ...v]; while (b.length % 4) b.push(0); return b; };
  const tlvBe = (type: number, v: Bytes) => { const b = [...be16(4 + v.length), ...be16(type), ...v]; while (b.length % 4) b.push(0); return b; };
  const hdr = [2, 0, 0, 0];
  assert.is(key(one({ data: [...hdr, ...tlvLe(1, zeros(4)), ...tlvLe(10, [0x61, 0x62, 0]), ...tlvLe(9, UDP4)], linktype: 239 }).f), UDP4_KEY);
  assert.is(key(one({ data: [...hdr, ...tlvBe(1, zeros(4)), ...tlvBe(9, UDP4)], linktype: 239 }).f), UDP4_KEY);
  assert.is(none({ data: [...hdr, ...tlvLe(1, zeros(4))], linktype: 239 }).non_ip, 1);
});

lt('802.11 data frames (plain, QoS, 4-address) and radiotap; management and protected frames are not IP', () => {
  const snap = [0xaa, 0xaa, 0x03, 0, 0, 0, ...be16(0x0800), ...UDP4];
  const hdr = (fc0: number, fc1: number, extra: Bytes = []) => [fc0, fc1, 0, 0, ...zeros(18), 0, 0, ...extra];
  assert.is(key(one({ data: [...hdr(0x08, 0x01), ...snap], linktype: 105 }).f), UDP4_KEY);
  assert.is(key(one({ data: [...hdr(0x88, 0x02, [0, 0]), ...snap], linktype: 105 }).f), UDP4_KEY);
  assert.is(key(one({ data: [...hdr(0x88, 0x03, [...zeros(6), 0, 0]), ...snap], linktype: 105 }).f), UDP4_KEY);
  const radiotap = [0, 0, ...le16(12), ...le32(0x4), 0, 0, 0, 0];
  assert.is(key(one({ data: [...radiotap, ...hdr(0x08, 0x02), ...snap], linktype: 127 }).f), UDP4_KEY);
  const c = none({ data: [...hdr(0x80, 0), ...zeros(40)], linktype: 105 }, { data: [...hdr(0x08, 0x41), ...snap], linktype: 105 });
  assert.is(c.non_ip, 2);
});

lt('IPoIB (40-byte pseudo-header + type) and PPP', () => {
  assert.is(key(one({ data: [...zeros(40), ...be16(0x0800), 0, 0, ...UDP4], linktype: 242 }).f), UDP4_KEY);
  assert.is(key(one({ data: [0xff, 0x03, ...be16(0x0021), ...UDP4], linktype: 9 }).f), UDP4_KEY);
  assert.is(key(one({ data: [0x57, ...UDP6], linktype: 9 }).f), UDP6_KEY, 'protocol field compression');
});

lt('unknown link type: E_UNKNOWN_LINKTYPE', () => {
  assert.is(none({ data: UDP4, linktype: 147 }).unknown_linktype, 1);
});

lt.run();

// ---------------------------------------------------------------- IP and transport

const ip = suite('ip and transport');

ip('IPv4 options are skipped; ip bytes = total length; TCP payload from the header lengths', () => {
  const p = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, hdrLen: 28, payload: tcp({ sport: 40000, dport: 80, flags: 0x02, hdrLen: 32, payload: zeros(100) }) });
  const { f } = one({ data: eth(MAC_B, MAC_A, 0x0800, p) });
  assert.is(key(f), SYN4_KEY);
  assert.is(f.origIpBytes, 28 + 32 + 100);
});

ip('IPv6 extension headers: hop-by-hop, routing, destination options, AH', () => {
  const inner = udp(40000, 53, zeros(10));
  const chain = ext6(43, ext6(60, ext6(51, [17, 2, 0, 0, ...zeros(12), ...inner]), 2));
  const { f } = one({ data: eth(MAC_B, MAC_A, 0x86dd, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nh: 0, payload: chain })) });
  assert.is(key(f), UDP6_KEY);
  assert.is(f.origBytes, 10);
});

ip('ESP and no-next-header end the chain: address-only flows', () => {
  const esp = one({ data: eth(MAC_B, MAC_A, 0x86dd, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nh: 0, payload: ext6(50, zeros(24)) })) });
  assert.is(key(esp.f), '50 2001:db8::1:0 > 2001:db8::2:0');
  assert.is(esp.c.other_transport, 1);
  assert.is(key(one({ data: eth(MAC_B, MAC_A, 0x86dd, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nh: 59, payload: [] })) }).f), '59 2001:db8::1:0 > 2001:db8::2:0');
});

ip('ICMP and ICMPv6: type and code in the port fields', () => {
  const e4 = one({ data: eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 1, payload: icmp(8, 0, zeros(60)) })) });
  assert.is(key(e4.f), '1 10.0.0.1:8 > 10.0.0.2:0');
  assert.is(e4.c.icmp, 1);
  const e6 = one({ data: eth(MAC_B, MAC_A, 0x86dd, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nh: 58, payload: icmp(128, 0, zeros(12)) })) });
  // The flow table reports the echo's counterpart type as Zeek does (128 -> 129); the decoder hands it the code.
  assert.is(key(e6.f), '58 2001:db8::1:128 > 2001:db8::2:129');
  const u6 = one({ data: eth(MAC_B, MAC_A, 0x86dd, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nh: 58, payload: icmp(1, 4, zeros(44)) })) });
  assert.is(key(u6.f), '58 2001:db8::1:1 > 2001:db8::2:4', 'no counterpart: type and code');
});

ip('ICMP router solicitation and advertisement pair into one flow, as in Zeek', () => {
  const sol = { data: eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 1, payload: icmp(10, 0) })) };
  const adv = { data: eth(MAC_A, MAC_B, 0x0800, ipv4({ src: '10.0.0.2', dst: '10.0.0.1', proto: 1, payload: icmp(9, 0, zeros(12)) })) };
  const r = one(sol, adv);
  assert.is(key(r.f), '1 10.0.0.1:10 > 10.0.0.2:9');
  assert.is(r.f.origPkts, 1);
  assert.is(r.f.respPkts, 1);
});

ip('IPv6 routing header with segments left: the flow is keyed on the final destination', () => {
  const route = (type: number, segleft: number, addrs: string[]) =>
    [17, addrs.length * 2, type, segleft, 0, 0, 0, 0, ...addrs.flatMap((a) => v6(a)), ...udp(40000, 53, zeros(10))];
  const via = (r: number[]) => ({ data: eth(MAC_B, MAC_A, 0x86dd, ipv6({ src: '2001:db8::1', dst: '2001:db8::99', nh: 43, payload: r })) });
  assert.is(key(one(via(route(0, 2, ['2001:db8::50', '2001:db8::2']))).f), '17 2001:db8::1:40000 > 2001:db8::2:53', 'type 0: last address');
  assert.is(key(one(via(route(2, 1, ['2001:db8::7']))).f), '17 2001:db8::1:40000 > 2001:db8::7:53', 'type 2: home address');
  assert.is(key(one(via(route(0, 0, ['2001:db8::50']))).f), '17 2001:db8::1:40000 > 2001:db8::99:53', 'no segments left: header destination');
});

ip('SCTP ports; other protocols are address-only', () => {
  const sctp = [...be16(40000), ...be16(38412), ...zeros(8), ...zeros(16)];
  assert.is(key(one({ data: eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 132, payload: sctp })) }).f), '132 10.0.0.1:40000 > 10.0.0.2:38412');
  assert.is(key(one({ data: eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 89, payload: zeros(40) })) }).f), '89 10.0.0.1:0 > 10.0.0.2:0');
});

ip('IPv4 total length 0 (TCP segmentation offload): the captured length is used', () => {
  const p = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, totalLength: 0, payload: tcp({ sport: 40000, dport: 80, flags: 0x02, payload: zeros(60) }) });
  const { f } = one({ data: eth(MAC_B, MAC_A, 0x0800, p) });
  assert.is(f.origIpBytes, 100);
});

ip('snaplen-truncated packet: accounted with the lengths its headers give', () => {
  const p = ipv4({ src: '10.1.1.1', dst: '10.2.2.2', proto: 17, payload: udp(40000, 53, zeros(1000)) });
  const frame = eth(MAC_B, MAC_A, 0x0800, p);
  const { f } = one({ data: frame.slice(0, 64), wire: frame.length });
  assert.is(f.origIpBytes, 1028);
  assert.is(f.origBytes, 1000);
  assert.is(f.origWireBytes, frame.length);
});

ip.run();

// ---------------------------------------------------------------- malformed headers

const bad = suite('malformed headers');

bad('each broken header is counted under its own error and makes no flow', () => {
  const E = (p: Bytes) => ({ data: eth(MAC_B, MAC_A, 0x0800, p) });
  const E6 = (p: Bytes) => ({ data: eth(MAC_B, MAC_A, 0x86dd, p) });
  const cases: [string, Frame][] = [
    ['link_truncated', { data: [...mac(MAC_B), ...mac(MAC_A), 8] }],
    ['ipv4_truncated', E(UDP4.slice(0, 16))],
    ['ipv4_bad_header', E(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17, hdrLen: 16, payload: udp(1, 2, []) }))],
    ['ipv4_bad_header', E(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17, totalLength: 12, payload: udp(1, 2, []) }))],
    ['ipv4_truncated', E(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17, hdrLen: 60, payload: [] }).slice(0, 40))],
    ['bad_ip_version', E(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17, version: 5, payload: udp(1, 2, []) }))],
    ['ipv6_truncated', E6(UDP6.slice(0, 39))],
    ['ipv6_bad_ext', E6(ipv6({ src: '::1', dst: '::2', nh: 0, payload: [17, 200, ...zeros(6)] }))],
    ['ipv6_bad_ext', E6(ipv6({ src: '::1', dst: '::2', nh: 0, payload: [17, 0, 0, 0] }))],
    ['tcp_truncated', E(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: tcp({ sport: 1, dport: 2 }).slice(0, 12) }))],
    ['tcp_truncated', E(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: tcp({ sport: 1, dport: 2, hdrLen: 16 }) }))],
    ['tcp_truncated', E(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: [...tcp({ sport: 1, dport: 2 }).slice(0, 12), 0xf0, ...zeros(7)] }))],
    ['udp_truncated', E(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17, payload: [0, 1, 0, 2] }))],
    ['icmp_truncated', E(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 1, payload: [8] }))],
    ['sctp_truncated', E(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 132, payload: zeros(8) }))],
    ['tunnel_truncated', E(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17, payload: udp(5000, 4789, [0x08, 0, 0]) }))],
    ['tunnel_truncated', E(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 47, payload: [0x20, 0] }))],
  ];
  for (const [err, frame] of cases) {
    const r = run(frame);
    assert.is(r.flows.length, 0, `${err}: no flow`);
    assert.is(r.accepted[0], 0, `${err}: not accounted`);
    assert.is(r.c[err], 1, `${err}: counted (got ${JSON.stringify(nonZero(r.c))})`);
  }
});

bad('an error carries the byte offset of the broken header', () => {
  const core = new WasmCore(OPTS);
  core.ingestFrame(bytes(eth(MAC_B, MAC_A, 0x0800, UDP4.slice(0, 16))), 30, 1, 1);
  const idx = 55; // E_IPV4_TRUNCATED
  assert.is(core.errorOffsets(idx).first, 14, 'IPv4 header at byte 14 of the frame');
});

bad.run();

// ---------------------------------------------------------------- tunnels

const tun = suite('tunnels');

const innerEth = (p: Bytes, vlan?: number) =>
  vlan === undefined ? eth('02:00:00:00:01:02', '02:00:00:00:01:01', 0x0800, p) : eth('02:00:00:00:01:02', '02:00:00:00:01:01', 0x8100, tag(vlan, 0x0800, p));
const outer4 = (proto: number, payload: Bytes) => ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto, payload });
const onWire = (p: Bytes) => eth(MAC_B, MAC_A, 0x8100, tag(999, 0x0800, p));

tun('VXLAN: VNI, the inner flow, the inner VLAN; MACs of the outer frame', () => {
  const vx = [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0];
  const { f, c } = one({ data: onWire(outer4(17, udp(50000, 4789, [...vx, ...innerEth(SYN4, 7)]))) });
  assert.is(key(f), SYN4_KEY);
  assert.equal([f.tunnelType, f.tunnelId], [T.VXLAN, 0x123456]);
  assert.equal([f.vlan, f.innerVlan], [7, NONE], 'VLAN of the innermost Ethernet');
  assert.is(formatMac(f.origMac!), MAC_A);
  assert.is(c.tunnelled, 1);
  assert.is(c.ipv4, 1, 'only the innermost IP header is counted');
  assert.is(c.udp, 0, 'the outer UDP is not a flow');
});

tun('VXLAN without the I flag is ordinary UDP', () => {
  const { f } = one({ data: onWire(outer4(17, udp(50000, 4789, zeros(16)))) });
  assert.is(key(f), '17 192.0.2.1:50000 > 192.0.2.2:4789');
  assert.is(f.vlan, 999);
});

tun('GENEVE: options skipped, VNI, Ethernet or IP payload', () => {
  const gen = (proto: number, p: Bytes) => [2, 0, ...be16(proto), 0xab, 0xcd, 0xef, 0, ...zeros(8), ...p];
  const a = one({ data: onWire(outer4(17, udp(50000, 6081, gen(0x0800, UDP4)))) }).f;
  assert.is(key(a), UDP4_KEY);
  assert.equal([a.tunnelType, a.tunnelId, a.vlan], [T.GENEVE, 0xabcdef, 999], 'no inner Ethernet: the outer VLAN stays');
  const b = one({ data: onWire(outer4(17, udp(50000, 6081, gen(0x6558, innerEth(UDP4))))) }).f;
  assert.equal([key(b), b.vlan], [UDP4_KEY, NONE]);
});

tun('GRE: key as tunnel id; checksum, sequence, IPv4/IPv6/Ethernet/MPLS payloads', () => {
  const k = one({ data: onWire(outer4(47, [0x20, 0, ...be16(0x0800), ...be32(0xcafe), ...UDP4])) }).f;
  assert.equal([key(k), k.tunnelType, k.tunnelId], [UDP4_KEY, T.GRE, 0xcafe]);
  const cs = one({ data: onWire(outer4(47, [0x90, 0, ...be16(0x86dd), ...zeros(4), ...be32(9), ...UDP6])) }).f;
  assert.equal([key(cs), cs.tunnelId], [UDP6_KEY, 0]);
  const te = one({ data: onWire(outer4(47, [0, 0, ...be16(0x6558), ...innerEth(UDP4, 55)])) }).f;
  assert.equal([key(te), te.vlan], [UDP4_KEY, 55]);
  const mp = one({ data: onWire(outer4(47, [0, 0, ...be16(0x8847), ...be32((77 << 12) | 0x100 | 1), ...UDP4])) }).f;
  assert.equal([key(mp), mp.tunnelType], [UDP4_KEY, T.GRE]);
});

tun('GRE with a payload we cannot open stays an address-only GRE flow', () => {
  const { f } = one({ data: onWire(outer4(47, [0, 0, ...be16(0x883e), ...zeros(20)])) });
  assert.is(key(f), '47 192.0.2.1:0 > 192.0.2.2:0');
  assert.is(f.tunnelType, T.NONE);
});

tun('ERSPAN type II, III (with platform sub-header) and I: session id, mirrored frame', () => {
  const ii = [0x10, 0, ...be16(0x88be), ...be32(1), ...be16(0x1000 | 23), ...be16(0x0400 | 100), ...be32(0)];
  const a = one({ data: onWire(outer4(47, [...ii, ...innerEth(SYN4, 23)])) }).f;
  assert.equal([key(a), a.tunnelType, a.tunnelId, a.vlan], [SYN4_KEY, T.ERSPAN, 100, 23]);
  const iii = [0x10, 0, ...be16(0x22eb), ...be32(1), ...be16(0x2000), ...be16(321), ...be32(5208), ...be16(0), ...be16(0x8001), ...zeros(8)];
  const b = one({ data: onWire(outer4(47, [...iii, ...innerEth(SYN4)])) }).f;
  assert.equal([key(b), b.tunnelType, b.tunnelId], [SYN4_KEY, T.ERSPAN, 321]);
  const i = one({ data: onWire(outer4(47, [0, 0, ...be16(0x88be), ...innerEth(SYN4)])) }).f;
  assert.equal([key(i), i.tunnelType, i.tunnelId], [SYN4_KEY, T.ERSPAN, 0]);
});

tun('IP-in-IP: 4in4, 6in4, 4in6', () => {
  assert.is(key(one({ data: onWire(outer4(4, UDP4)) }).f), UDP4_KEY);
  const b = one({ data: onWire(outer4(41, UDP6)) }).f;
  assert.equal([key(b), b.tunnelType], [UDP6_KEY, T.IPIP]);
  const c = one({ data: eth(MAC_B, MAC_A, 0x86dd, ipv6({ src: '2001:db8::a', dst: '2001:db8::b', nh: 4, payload: UDP4 })) }).f;
  assert.is(key(c), UDP4_KEY);
});

tun('IP-in-IP whose payload is not the IP version it names stays an address-only outer flow', () => {
  const { f, c } = one({ data: onWire(outer4(41, UDP4)) });
  assert.is(key(f), '41 192.0.2.1:0 > 192.0.2.2:0');
  assert.equal([f.tunnelType, c.tunnelled], [T.NONE, 0]);
});

tun('Teredo: origin and authentication indications; non-IPv6 payload is plain UDP', () => {
  const origin = [0, 0, ...be16(0xffff), ...be32(0xffffffff)];
  const auth = [0, 1, 2, 1, 0xaa, 0xbb, 0xcc, ...zeros(8), 0];
  const a = one({ data: onWire(outer4(17, udp(3544, 50000, [...auth, ...origin, ...UDP6]))) }).f;
  assert.equal([key(a), a.tunnelType], [UDP6_KEY, T.TEREDO]);
  const b = one({ data: onWire(outer4(17, udp(50000, 3544, zeros(60)))) }).f;
  assert.equal([key(b), b.tunnelType], ['17 192.0.2.1:50000 > 192.0.2.2:3544', T.NONE]);
  // A bubble (IPv6 without payload) is an innermost packet like any other: no outer flow exists.
  const bubble = one({ data: onWire(outer4(17, udp(50000, 3544, ipv6({ src: 'fe80::1', dst: '2001:0:1::2', nh: 59, payload: [] })))) }).f;
  assert.equal([key(bubble), bubble.tunnelType], ['59 fe80::1:0 > 2001:0:1::2:0', T.TEREDO]);
});

tun('Teredo relay traffic on other ports: only an exact IPv6 shape with a Teredo address', () => {
  const teredo6 = ipv6({ src: '2001:0:4137:9e50::1', dst: '2001:db8::2', nh: 17, payload: udp(40000, 53, zeros(10)) });
  const a = one({ data: onWire(outer4(17, udp(32900, 3797, teredo6))) }).f;
  assert.equal([key(a), a.tunnelType], ['17 2001:0:4137:9e50::1:40000 > 2001:db8::2:53', T.TEREDO]);
  // Same bytes without a Teredo address, or one byte too long: ordinary UDP.
  const plain = one({ data: onWire(outer4(17, udp(32900, 3797, UDP6))) }).f;
  assert.equal([plain.proto, plain.tunnelType], [17, T.NONE]);
  const longer = one({ data: onWire(outer4(17, udp(32900, 3797, [...teredo6, 0]))) }).f;
  assert.equal([longer.origP, longer.tunnelType], [32900, T.NONE]);
});

tun('GTP-U: TEID, optional fields and extension headers; echo is plain UDP', () => {
  const gtp = [0x34, 255, ...be16(4 + 8 + UDP4.length), ...be32(0x01020304), 0, 0, 0, 0x85, 1, 0x09, 0x01, 0, ...UDP4];
  const a = one({ data: onWire(outer4(17, udp(2152, 2152, gtp))) }).f;
  assert.equal([key(a), a.tunnelType, a.tunnelId], [UDP4_KEY, T.GTP, 0x01020304]);
  const echo = one({ data: onWire(outer4(17, udp(40000, 2152, [0x32, 1, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0]))) }).f;
  assert.is(echo.tunnelType, T.NONE);
});

tun('nested tunnels: the innermost one is recorded; too deep is an error', () => {
  const vx = [0x08, 0, 0, 0, 0, 0, 9, 0];
  const inner = innerEth(ipv4({ src: '172.16.0.1', dst: '172.16.0.2', proto: 17, payload: udp(50001, 4789, [...vx, ...innerEth(UDP4)]) }));
  const { f, c } = one({ data: onWire(outer4(47, [0x20, 0, ...be16(0x6558), ...be32(5), ...inner])) });
  assert.equal([key(f), f.tunnelType, f.tunnelId], [UDP4_KEY, T.VXLAN, 9]);
  assert.is(c.tunnelled, 1, 'one packet, one count');
  let deep = UDP4;
  for (let i = 0; i < 5; i++) deep = outer4(4, deep);
  assert.is(none({ data: onWire(deep) }).too_many_layers, 1);
});

tun('non-IP inside a tunnel is not a flow', () => {
  const vx = [0x08, 0, 0, 0, 0, 0, 1, 0];
  const c = none({ data: onWire(outer4(17, udp(50000, 4789, [...vx, ...eth(MAC_A, MAC_B, 0x0806, zeros(28))]))) });
  assert.is(c.non_ip, 1);
});

tun.run();

// ---------------------------------------------------------------- fragments

const fr = suite('fragments');

// One UDP datagram (40000 -> 53, 100 payload bytes) in two IPv4 fragments.
const DGRAM = udp(40000, 53, Array.from({ length: 100 }, (_, i) => i));
const FRAG1 = eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.1.1.1', dst: '10.2.2.2', proto: 17, id: 77, mf: true, payload: DGRAM.slice(0, 80) }));
const FRAG2 = eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.1.1.1', dst: '10.2.2.2', proto: 17, id: 77, fragOffset: 80, payload: DGRAM.slice(80) }));

fr('in order: the later fragment joins the first one\'s flow', () => {
  const r = run({ data: FRAG1 }, { data: FRAG2 });
  assert.equal(r.accepted, [1, 1]);
  assert.is(r.flows.length, 1);
  const f = r.flows[0]!;
  assert.is(key(f), UDP4_KEY);
  assert.is(f.origPkts, 2);
  assert.is(f.origIpBytes, 100 + 48);
  assert.is(f.origBytes, 100, 'payload = IP payload of each fragment, minus the UDP header once');
  assert.is(r.c.fragments, 2);
  assert.is(r.c.non_first_fragments, 1);
});

fr('out of order: the later fragment is held, then released with the first', () => {
  const r = run({ data: FRAG2 }, { data: FRAG1 });
  assert.equal(r.accepted, [0, 1]);
  assert.is(r.c.fragments_held, 1);
  assert.is(r.flows.length, 1);
  const f = r.flows[0]!;
  assert.is(key(f), UDP4_KEY);
  assert.is(f.origPkts, 2);
  assert.is(f.origIpBytes, 148);
  assert.is(f.origWireBytes, FRAG1.length + FRAG2.length);
  assert.is(f.origBytes, 100);
});

fr('a later fragment whose first never comes is an orphan at end of input', () => {
  const r = runCoreBytes(pcapFile([{ sec: 100, frac: 0, data: FRAG2 }]), 'pcap', OPTS);
  assert.is(r.flows.length, 0);
  assert.is(r.counters.frag_orphan, 1);
});

fr('entries expire after 60 s of capture time', () => {
  const r = runCoreBytes(pcapFile([{ sec: 100, frac: 0, data: FRAG1 }, { sec: 161, frac: 1, data: FRAG2 }]), 'pcap', OPTS);
  assert.is(r.flows.length, 1);
  assert.is(r.flows[0]!.origPkts, 1);
  assert.is(r.counters.frag_orphan, 1);
});

fr('a full table evicts the oldest entry', () => {
  const frames: Frame[] = [];
  for (let i = 0; i < 65; i++) frames.push({ data: eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.1.1.1', dst: '10.2.2.2', proto: 17, id: i, fragOffset: 80, payload: zeros(8) })) });
  const r = run(...frames);
  assert.is(r.c.frag_table_full, 1);
  assert.is(r.c.frag_orphan, 1);
});

fr('IPv6 fragment header (32-bit id), in and out of order', () => {
  const d = udp(40000, 53, zeros(100));
  const f1 = eth(MAC_B, MAC_A, 0x86dd, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nh: 44, payload: frag6(17, 0, true, 0x12345678, d.slice(0, 80)) }));
  const f2 = eth(MAC_B, MAC_A, 0x86dd, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nh: 44, payload: frag6(17, 80, false, 0x12345678, d.slice(80)) }));
  for (const order of [[f1, f2], [f2, f1]]) {
    const r = run(...order.map((data) => ({ data })));
    assert.is(r.flows.length, 1);
    assert.is(key(r.flows[0]!), UDP6_KEY);
    assert.is(r.flows[0]!.origPkts, 2);
    assert.is(r.flows[0]!.origBytes, 100);
  }
});

fr('a first fragment cut inside the TCP header still keys its flow', () => {
  const seg = tcp({ sport: 40000, dport: 80, flags: 0x02, hdrLen: 40 });
  const a = eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, id: 5, mf: true, payload: seg.slice(0, 16) }));
  const b = eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, id: 5, fragOffset: 16, payload: seg.slice(16) }));
  const r = run({ data: a }, { data: b });
  assert.is(r.flows.length, 1);
  assert.is(key(r.flows[0]!), SYN4_KEY);
  assert.is(r.flows[0]!.origPkts, 2);
});

fr('later fragments of protocols without ports need no table', () => {
  const { f, c } = one({ data: eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 50, id: 9, fragOffset: 1480, payload: zeros(40) })) });
  assert.is(key(f), '50 10.0.0.1:0 > 10.0.0.2:0');
  assert.is(c.non_first_fragments, 1);
});

fr('fragmented tunnel packet: later fragments go to the inner flow', () => {
  const gtp = [0x30, 255, ...be16(SYN4.length + 60), ...be32(7), ...SYN4, ...zeros(60)];
  const d = udp(2152, 2152, gtp);
  const a = eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto: 17, id: 3, mf: true, payload: d.slice(0, 64) }));
  const b = eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto: 17, id: 3, fragOffset: 64, payload: d.slice(64) }));
  const r = run({ data: a }, { data: b });
  assert.is(r.flows.length, 1);
  const f = r.flows[0]!;
  assert.equal([key(f), f.tunnelType, f.tunnelId], [SYN4_KEY, T.GTP, 7]);
  assert.is(f.origPkts, 2);
  assert.is(f.origIpBytes, 40, 'the inner header already counted the whole inner packet');
});

fr.run();
