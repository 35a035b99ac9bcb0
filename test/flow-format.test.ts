// The edge formatting of flow records: Community ID against published
// vectors, address text, local networks, uids, magic sniffing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { communityId } from '../sensor/flows/community-id.ts';
import { formatAddress, parseAddress } from '../sensor/flows/ip-address.ts';
import { LocalNets, parseCidr } from '../sensor/flows/local-nets.ts';
import { flowUid } from '../sensor/flows/uid.ts';
import { sniffMagic } from '../sensor/sources/capture-format.ts';
import { flowRecordJson, toFlowRecord } from '../sensor/flows/zeek-record.ts';
import { RF_HAS_MAC, RF_INTERIM, type RawFlow } from '../sensor/core/flow-record.ts';

function raw(text: string): Uint8Array {
  const p = parseAddress(text);
  if (!p) throw new Error(`bad address ${text}`);
  return p.version === 4 ? p.bytes.slice(12) : p.bytes;
}

// Vectors: the Community ID spec's reference implementations (pycommunityid
// baselines, as republished by the communityid crate) and Tenzir's docs.
const VECTORS: [string, string, number, number, number, string][] = [
  ['1.2.3.4', '43.3.132.3', 6, 4584, 3483, '1:koNcqhFRD5kb254ZrLsdv630jCM='],
  ['fe80::200:86ff:fe05:80da', 'fe80::260:97ff:fe07:69ea', 58, 135, 0, '1:dGHyGvjMfljg6Bppwm3bg0LO8TY='],
  ['fe80::260:97ff:fe07:69ea', 'fe80::200:86ff:fe05:80da', 58, 136, 0, '1:dGHyGvjMfljg6Bppwm3bg0LO8TY='],
  ['fe80::260:97ff:fe07:69ea', 'fe80::200:86ff:fe05:80da', 58, 135, 0, '1:zavyT/cezQr1fmImYCwYnMXbgck='],
  ['3ffe:501:1800:2345::2', '3ffe:507:0:1:200:86ff:fe05:80da', 58, 3, 0, '1:2ObVBgIn28oZvibYZhZMBgh7WdQ='],
  ['3ffe:501:410:0:2c0:dfff:fe47:33e', '3ffe:507:0:1:200:86ff:fe05:80da', 58, 1, 4, '1:hLZd0XGWojozrvxqE0dWB1iM6R0='],
  ['3ffe:507:0:1:200:86ff:fe05:80da', '3ffe:501:0:1001::2', 58, 128, 0, '1:+TW+HtLHvV1xnGhV1lv7XoJrqQg='],
];

test('community id matches published vectors', () => {
  for (const [s, d, proto, sp, dp, want] of VECTORS) assert.is(communityId(raw(s), raw(d), proto, sp, dp), want, `${s} -> ${d} ${proto} ${sp}/${dp}`);
});

test('community id is direction-free for TCP and for ICMP echo pairs', () => {
  assert.is(communityId(raw('10.0.0.1'), raw('10.0.0.2'), 6, 1234, 80), communityId(raw('10.0.0.2'), raw('10.0.0.1'), 6, 80, 1234));
  assert.is(communityId(raw('10.0.0.1'), raw('10.0.0.2'), 1, 8, 0), communityId(raw('10.0.0.2'), raw('10.0.0.1'), 1, 0, 0));
  assert.is.not(communityId(raw('10.0.0.1'), raw('10.0.0.2'), 6, 1234, 80, 0), communityId(raw('10.0.0.1'), raw('10.0.0.2'), 6, 1234, 80, 1));
});

test('addresses round-trip and IPv6 is printed per RFC 5952', () => {
  const cases = ['0.0.0.0', '255.255.255.255', '192.168.1.10', '::', '::1', 'fe80::1', '2001:db8::1:0:0:1', '2001:db8:0:1:1:1:1:1', 'ff02::1:ff00:1'];
  for (const c of cases) {
    const p = parseAddress(c)!;
    assert.ok(p, c);
    assert.is(formatAddress(p.bytes, p.version), c);
  }
  assert.is(formatAddress(parseAddress('2001:0db8:0000:0000:0000:0000:0000:0001')!.bytes, 6), '2001:db8::1');
  assert.is(formatAddress(parseAddress('::ffff:1.2.3.4')!.bytes, 6), '::ffff:102:304');
  for (const bad of ['1.2.3', '1.2.3.256', '1::2::3', 'g::1', '1:2:3:4:5:6:7:8:9', '']) assert.is(parseAddress(bad), null, bad);
});

test('local networks: defaults, custom lists, bad input', () => {
  const nets = new LocalNets();
  for (const a of ['10.1.2.3', '172.31.255.255', '192.168.0.1', '100.64.0.1', '169.254.1.1', 'fd00::1', 'fe80::1']) assert.ok(nets.contains(parseAddress(a)!.bytes), a);
  for (const a of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '2001:db8::1', '11.0.0.1']) assert.not.ok(nets.contains(parseAddress(a)!.bytes), a);
  const custom = new LocalNets(['8.8.8.0/24', '2001:db8::/32']);
  assert.ok(custom.contains(parseAddress('8.8.8.8')!.bytes));
  assert.ok(custom.contains(parseAddress('2001:db8:1::5')!.bytes));
  assert.not.ok(custom.contains(parseAddress('10.0.0.1')!.bytes));
  assert.throws(() => parseCidr('10.0.0.0/33'));
  assert.throws(() => parseCidr('nonsense/8'));
});

test('uids: Zeek shape, deterministic, distinct', () => {
  const a = flowUid(1, 1700000000.123456);
  assert.match(a, /^C[0-9A-Za-z]{17}$/);
  assert.is(flowUid(1, 1700000000.123456), a);
  const seen = new Set<string>();
  for (let i = 1; i <= 20000; i++) seen.add(flowUid(i, 1700000000 + (i % 7)));
  assert.is(seen.size, 20000);
});

test('magic sniffing', () => {
  const b = (...x: number[]) => Uint8Array.from(x);
  assert.equal(sniffMagic(b(0xd4, 0xc3, 0xb2, 0xa1)), { kind: 'capture', format: 'pcap' });
  assert.equal(sniffMagic(b(0xa1, 0xb2, 0xc3, 0xd4)), { kind: 'capture', format: 'pcap' });
  assert.equal(sniffMagic(b(0x4d, 0x3c, 0xb2, 0xa1)), { kind: 'capture', format: 'pcap' });
  assert.equal(sniffMagic(b(0x0a, 0x0d, 0x0d, 0x0a)), { kind: 'capture', format: 'pcapng' });
  assert.equal(sniffMagic(b(0x1f, 0x8b, 8, 0)), { kind: 'gzip' });
  assert.equal(sniffMagic(b(0x7b, 0x22)), { kind: 'unknown' });
  assert.equal(sniffMagic(b()), { kind: 'unknown' });
});

function rawFlow(over: Partial<RawFlow>): RawFlow {
  return {
    ts: 1700000000.25, lastTs: 1700000003.5, serial: 7, ipVersion: 4,
    origH: parseAddress('10.0.0.1')!.bytes, respH: parseAddress('93.184.216.34')!.bytes, origP: 51000, respP: 443, proto: 6,
    origBytes: 100, respBytes: 2000, origIpBytes: 300, respIpBytes: 2300, origWireBytes: 342, respWireBytes: 2356,
    origPkts: 5, respPkts: 6, missedBytes: 0, connState: 'SF', history: 'ShADadFf', flags: 0, vlan: 0xffff, innerVlan: 0xffff,
    tunnelType: 0, tunnelId: 0, origMac: null, respMac: null, iface: 0, endReason: 'closed',
    source: 0, action: 0, direction: 0, reporter: 0, sampling: 0, origTcpFlags: 0, respTcpFlags: 0, sourceFlags: 0, records: 0, ...over,
  };
}

test('flow record JSON: round-trips, Zeek field order, optional fields only when set', () => {
  const ctx = { localNets: new LocalNets() };
  const variants: RawFlow[] = [
    rawFlow({}),
    rawFlow({ lastTs: 1700000000.25, origPkts: 1, respPkts: 0, connState: 'S0', history: 'S' }),
    rawFlow({ ipVersion: 6, origH: parseAddress('fd00::1')!.bytes, respH: parseAddress('2001:db8::2')!.bytes, proto: 58, origP: 128, respP: 129 }),
    rawFlow({ vlan: 100, innerVlan: 200, tunnelType: 1, tunnelId: 4242, flags: RF_HAS_MAC | RF_INTERIM,
      origMac: Uint8Array.from([0, 1, 2, 3, 4, 5]), respMac: Uint8Array.from([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]), endReason: 'active_timeout' }),
    rawFlow({ proto: 47, origP: 0, respP: 0, connState: 'OTH', history: '' }),
  ];
  for (const raw of variants) {
    const rec = toFlowRecord(raw, ctx);
    const line = flowRecordJson(rec);
    const back = JSON.parse(line);
    assert.equal(back, JSON.parse(JSON.stringify(rec)), line);
    const keys = Object.keys(back);
    assert.is(keys[0], 'ts');
    assert.is(keys.at(-1), 'end_reason');
    assert.ok(keys.indexOf('conn_state') < keys.indexOf('history') && keys.indexOf('history') < keys.indexOf('orig_pkts'));
  }
  const single = toFlowRecord(variants[1]!, ctx);
  assert.is(single.duration, undefined, 'single-packet flows have no duration (Zeek)');
  assert.is(single.orig_bytes, undefined);
  const tunnelled = toFlowRecord(variants[3]!, ctx);
  assert.is(tunnelled.tunnel_type, 'vxlan');
  assert.is(tunnelled.orig_l2_addr, '00:01:02:03:04:05');
  assert.is(tunnelled.interim, true);
  assert.is(toFlowRecord(variants[4]!, ctx).proto, 'unknown_transport');
  assert.is(toFlowRecord(variants[2]!, ctx).proto, 'icmp');
});

test.run();
