// Test-only entry point: the release exports (index.ts) plus hooks to feed
// synthetic packets straight into the flow table, bypassing the decoders.
// Built to build/core.test.wasm by test/flows.test.ts; never part of the
// release build (asm/asconfig.json builds asm/index.ts).
export * from "./index";
import {
  resetPacket, setPacketTime, setIp, setPorts, setPayloadLen, setTcp, setVlan, setTunnel, setHasMac,
  setLaterFragment, setExtra, pkt_src, pkt_dst, pkt_src_mac, pkt_dst_mac, pkt_ts,
} from "./packet";
import { flowsReady, accountPacket, flowsActive, setFlipSynAck } from "./flows";

/** Where JS writes the 16-byte addresses and 6-byte MACs of the next test packet. */
export function testSrcPtr(): usize { return pkt_src; }
export function testDstPtr(): usize { return pkt_dst; }
export function testSrcMacPtr(): usize { return pkt_src_mac; }
export function testDstMacPtr(): usize { return pkt_dst_mac; }

/** Start describing a packet (addresses are taken from the slots above). */
export function testBegin(ts: f64, wireLen: u32, iface: u32, ipVersion: u8, proto: u8, ipLen: u32): void {
  resetPacket();
  setPacketTime(ts, wireLen, iface);
  setIp(ipVersion, proto, ipLen);
}
export function testPorts(sport: u16, dport: u16, payloadLen: u32): void { setPorts(sport, dport, payloadLen); }
export function testPayload(len: u32): void { setPayloadLen(len); }
export function testTcp(flags: u8, seq: u32, ack: u32, window: u16): void { setTcp(flags, seq, ack, window); }
export function testVlan(outer: u16, inner: u16): void { setVlan(outer, inner); }
export function testTunnel(kind: u8, id: u32): void { setTunnel(kind, id); }
export function testMac(v: bool): void { setHasMac(v); }
export function testLaterFragment(v: bool): void { setLaterFragment(v); }
export function testExtra(pkts: u32, ipBytes: u32, wireBytes: u32, payload: u32): void { setExtra(pkts, ipBytes, wireBytes, payload); }

/**
 * Finish the packet: advance the clock, sweep, account. Returns 1 when
 * accounted, 0 when the output is low (drain, then call testCommit again).
 */
export function testCommit(): i32 {
  if (!flowsReady(pkt_ts)) return 0;
  accountPacket();
  return 1;
}

/** Advance the capture clock without a packet (sweeps). Same return as flowsReady. */
export function testAdvance(now: f64): i32 { return flowsReady(now) ? 1 : 0; }
export function testActiveFlows(): i32 { return flowsActive(); }

/**
 * Micro-benchmark of the flow table alone: n packets spread over `flows`
 * flows (pseudo-random order), TCP data segments or UDP datagrams, fed
 * through flowsReady + accountPacket exactly like capture.ts does. Output
 * records are discarded. Returns the number of records written.
 */
export function testBench(n: i32, flows: i32, tcp: bool, t0: f64, dt: f64): f64 {
  let written: f64 = 0;
  const proto: u8 = tcp ? 6 : 17;
  for (let i = 0; i < n; i++) {
    const f = <u32>((<u64>i * 2654435761) % <u64>flows);
    resetPacket();
    const ts = t0 + <f64>i * dt;
    setPacketTime(ts, 100, 0);
    setIp(4, proto, 86);
    store<u64>(pkt_src, 0);
    store<u64>(pkt_src + 8, (<u64>(0x0A000000 | (f >> 8)) << 32) | 0xFFFF0000);
    store<u64>(pkt_dst, 0);
    store<u64>(pkt_dst + 8, (<u64>0xC0A80001 << 32) | 0xFFFF0000);
    setPorts(<u16>(1024 + (f & 0xFF) * 200 + (f >> 16)), 443, 34);
    if (tcp) setTcp(0x18, <u32>i * 34, 1, 1000);
    if (!flowsReady(ts)) { written += <f64>outputCountT(); outputClearT(); flowsReady(ts); }
    accountPacket();
    if (outputCountT() > outputCapacityT() - 8) { written += <f64>outputCountT(); outputClearT(); }
  }
  return written + <f64>outputCountT();
}
import { outputCount as outputCountT, outputClear as outputClearT, outputCapacity as outputCapacityT } from "./flows";

export function testFlipSynAck(v: bool): void { setFlipSynAck(v); }

// ---- DNS message parser (dns.ts) ----
import { dnsParse, dnsResult } from "./dns";
import { reserve } from "./bytes";
/** Room for test messages: `size` bytes once (memory may grow: re-create views). */
export function testDnsReserve(size: u32): usize { return reserve(<usize>size); }
/** dnsParse on bytes JS wrote at ptr. */
export function testDnsParse(ptr: usize, len: u32, tcp: bool): i32 { return dnsParse(ptr, len, tcp); }
/** The result record (layout R_* in dns.ts). */
export function testDnsResult(): usize { return dnsResult(); }
/**
 * Timing loop: `rounds` passes over n messages described at `table` as
 * (u32 ptr, u32 len) pairs. Returns the sum of the statuses (so nothing is
 * optimised away).
 */
export function testDnsBench(table: usize, n: u32, rounds: u32, tcp: bool): i32 {
  let sum: i32 = 0;
  for (let k: u32 = 0; k < rounds; k++) {
    for (let i: u32 = 0; i < n; i++) {
      const e = table + (<usize>i << 3);
      sum += dnsParse(<usize>load<u32>(e), load<u32>(e, 4), tcp);
    }
  }
  return sum;
}
