// Mirror of asm/flowrecord.ts: the byte layout of a flow record in the
// core's output region, and the decoder that turns one into a RawFlow.
// RawFlow is still numeric and cheap; the Zeek-style record with strings
// (addresses, uid, community id, service) is made by flows/zeek-record.ts.

export const REC_SIZE = 224;
export const R = {
  TS: 0, LAST_TS: 8, ORIG_BYTES: 16, RESP_BYTES: 24, ORIG_IP_BYTES: 32, RESP_IP_BYTES: 40,
  ORIG_WIRE_BYTES: 48, RESP_WIRE_BYTES: 56, ORIG_PKTS: 64, RESP_PKTS: 72, SERIAL: 80, MISSED_BYTES: 88,
  ORIG_H: 96, RESP_H: 112, ORIG_P: 128, RESP_P: 130, PROTO: 132, IP_VERSION: 133, CONN_STATE: 134,
  FLAGS: 135, VLAN: 136, INNER_VLAN: 138, TUNNEL_ID: 140, TUNNEL_TYPE: 144, HISTORY_LEN: 145,
  ORIG_MAC: 146, RESP_MAC: 152, HISTORY: 160, INTERFACE: 184, END_REASON: 188,
  SOURCE: 189, ACTION: 190, DIRECTION: 191, REPORTER: 192, SAMPLING: 196, ORIG_TCP_FLAGS: 200, RESP_TCP_FLAGS: 201,
  SOURCE_FLAGS: 202, RECORDS: 204, REPORTER_2: 208,
} as const;
export const HISTORY_MAX = 24;

export const CONN_STATES = ['S0', 'S1', 'SF', 'REJ', 'S2', 'S3', 'RSTO', 'RSTR', 'RSTOS0', 'RSTRH', 'SH', 'SHR', 'OTH'] as const;
export type ConnState = (typeof CONN_STATES)[number];

export const RF_INTERIM = 1;
export const RF_HAS_MAC = 2;
export const RF_FLIPPED = 4;

export const END_REASONS = ['inactive', 'closed', 'evicted', 'flushed', 'active_timeout', 'reused'] as const;
export type EndReason = (typeof END_REASONS)[number];

export const TUNNEL_TYPES = ['', 'vxlan', 'geneve', 'gre', 'erspan', 'ip-in-ip', 'teredo', 'gtp'] as const;

export const NO_VLAN = 0xffff;

/** One flow as the core reports it: numbers and byte arrays only. */
export interface RawFlow {
  ts: number;
  lastTs: number;
  serial: number;
  ipVersion: 4 | 6;
  /** 16 bytes; IPv4 is v4-mapped */
  origH: Uint8Array;
  respH: Uint8Array;
  origP: number;
  respP: number;
  proto: number;
  origBytes: number;
  respBytes: number;
  origIpBytes: number;
  respIpBytes: number;
  origWireBytes: number;
  respWireBytes: number;
  origPkts: number;
  respPkts: number;
  missedBytes: number;
  connState: ConnState;
  history: string;
  flags: number;
  vlan: number;
  innerVlan: number;
  tunnelType: number;
  tunnelId: number;
  origMac: Uint8Array | null;
  respMac: Uint8Array | null;
  iface: number;
  endReason: EndReason;
  /** flow-record sources (0 = the packet path): see sensor/flowlogs/flow-event.ts */
  source: number;
  action: number;
  direction: number;
  reporter: number;
  sampling: number;
  origTcpFlags: number;
  respTcpFlags: number;
  sourceFlags: number;
  records: number;
}

/** Decode the record at byte `off` of `mem` (little-endian, as Wasm stores it). */
export function decodeRawFlow(dv: DataView, u8: Uint8Array, off: number): RawFlow {
  // One copy of the record; addresses and MACs are views into it
  // (one allocation per flow instead of four).
  const rec = u8.slice(off, off + REC_SIZE);
  const flags = u8[off + R.FLAGS]!;
  const hasMac = (flags & RF_HAS_MAC) !== 0;
  const histLen = Math.min(u8[off + R.HISTORY_LEN]!, HISTORY_MAX);
  let history = '';
  for (let i = 0; i < histLen; i++) history += String.fromCharCode(u8[off + R.HISTORY + i]!);
  const cs = u8[off + R.CONN_STATE]!;
  const er = u8[off + R.END_REASON]!;
  return {
    ts: dv.getFloat64(off + R.TS, true),
    lastTs: dv.getFloat64(off + R.LAST_TS, true),
    serial: dv.getFloat64(off + R.SERIAL, true),
    ipVersion: u8[off + R.IP_VERSION] === 6 ? 6 : 4,
    origH: rec.subarray(R.ORIG_H, R.ORIG_H + 16),
    respH: rec.subarray(R.RESP_H, R.RESP_H + 16),
    origP: dv.getUint16(off + R.ORIG_P, true),
    respP: dv.getUint16(off + R.RESP_P, true),
    proto: u8[off + R.PROTO]!,
    origBytes: dv.getFloat64(off + R.ORIG_BYTES, true),
    respBytes: dv.getFloat64(off + R.RESP_BYTES, true),
    origIpBytes: dv.getFloat64(off + R.ORIG_IP_BYTES, true),
    respIpBytes: dv.getFloat64(off + R.RESP_IP_BYTES, true),
    origWireBytes: dv.getFloat64(off + R.ORIG_WIRE_BYTES, true),
    respWireBytes: dv.getFloat64(off + R.RESP_WIRE_BYTES, true),
    origPkts: dv.getFloat64(off + R.ORIG_PKTS, true),
    respPkts: dv.getFloat64(off + R.RESP_PKTS, true),
    missedBytes: dv.getFloat64(off + R.MISSED_BYTES, true),
    connState: CONN_STATES[cs] ?? 'OTH',
    history,
    flags,
    vlan: dv.getUint16(off + R.VLAN, true),
    innerVlan: dv.getUint16(off + R.INNER_VLAN, true),
    tunnelType: u8[off + R.TUNNEL_TYPE]!,
    tunnelId: dv.getUint32(off + R.TUNNEL_ID, true),
    origMac: hasMac ? rec.subarray(R.ORIG_MAC, R.ORIG_MAC + 6) : null,
    respMac: hasMac ? rec.subarray(R.RESP_MAC, R.RESP_MAC + 6) : null,
    iface: dv.getUint32(off + R.INTERFACE, true),
    endReason: END_REASONS[er] ?? 'flushed',
    source: u8[off + R.SOURCE]!,
    action: u8[off + R.ACTION]!,
    direction: u8[off + R.DIRECTION]!,
    reporter: dv.getUint32(off + R.REPORTER, true),
    sampling: dv.getUint32(off + R.SAMPLING, true),
    origTcpFlags: u8[off + R.ORIG_TCP_FLAGS]!,
    respTcpFlags: u8[off + R.RESP_TCP_FLAGS]!,
    sourceFlags: u8[off + R.SOURCE_FLAGS]!,
    records: dv.getUint32(off + R.RECORDS, true),
  };
}
