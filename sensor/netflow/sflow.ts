// sFlow v5 (sflow.org/sflow_version_5.txt): XDR datagrams of samples.
//
// Flow samples (compact 0:1, expanded 0:3) carry a sampling rate, the
// input/output ifIndex and flow records. A raw packet header record (0:1) is
// handed out as a SampledFrame — the first bytes of one sampled frame, for
// the packet decoder; this module does not decode it. A sampled IPv4/IPv6
// record (0:3, 0:4) becomes a FlowEvent, but only when the sample has no raw
// header (else the same packet would be counted twice). Counter samples
// (compact 0:2, expanded 0:4) with generic interface counters (0:1) become
// SflowCounters. sFlow carries no wall clock: times are the receive time.
import { NO_VLAN } from '../core/flow-record.ts';
import { SOURCE, setV4, type FlowEvent } from '../flowlogs/flow-event.ts';
import { BoundedMap, linktypeOfHeaderProtocol, SequenceState, v4Text, v6Text, type DecodeContext, type SampledFrame } from './common.ts';

/** Generic interface counters (sFlow counter record 0:1) of one interface. */
export interface SflowCounters {
  agent: string;
  subAgent: number;
  /** receive time, seconds since the epoch */
  time: number;
  /** agent uptime, ms */
  uptime: number;
  sequence: number;
  sourceIdType: number;
  sourceIdIndex: number;
  ifIndex: number;
  ifType: number;
  ifSpeed: number;
  /** 0 unknown, 1 full duplex, 2 half, 3 in, 4 out */
  ifDirection: number;
  /** bit 0 admin up, bit 1 oper up */
  ifStatus: number;
  inOctets: number;
  inUcastPkts: number;
  inMulticastPkts: number;
  inBroadcastPkts: number;
  inDiscards: number;
  inErrors: number;
  inUnknownProtos: number;
  outOctets: number;
  outUcastPkts: number;
  outMulticastPkts: number;
  outBroadcastPkts: number;
  outDiscards: number;
  outErrors: number;
  promiscuous: number;
}

export interface SflowHandlers {
  onSample?: (f: SampledFrame) => void;
  onCounters?: (c: SflowCounters) => void;
}

/** Per-input state: sequence numbers per (agent, sub-agent). */
export class SflowState {
  readonly agents: BoundedMap<string, SequenceState>;
  constructor(maxAgents = 4096) {
    this.agents = new BoundedMap(maxAgents);
  }
}

const MAX_RAW_HEADERS = 8;
const rawOffs = new Int32Array(MAX_RAW_HEADERS);

/**
 * Decode one sFlow v5 datagram. Returns the number of flow events emitted.
 * Frames and counters go to the handlers (when given).
 */
export function decodeSflow(u8: Uint8Array, exporter: string, receivedAt: number, ctx: DecodeContext, state: SflowState, ev: FlowEvent, h: SflowHandlers): number {
  const len = u8.length;
  if (len < 28) {
    ctx.reject('truncated_datagram', exporter, `sFlow datagram of ${len} bytes is shorter than its header`, 0);
    return 0;
  }
  const dv = new DataView(u8.buffer, u8.byteOffset, len);
  const addrType = dv.getUint32(4);
  let p: number;
  let agent: string;
  if (addrType === 1) { agent = v4Text(u8, 8); p = 12; }
  else if (addrType === 2) {
    if (len < 40) { ctx.reject('truncated_datagram', exporter, `sFlow datagram of ${len} bytes is shorter than its IPv6 header`, 0); return 0; }
    agent = v6Text(u8, 8); p = 24;
  } else {
    ctx.reject('bad_header', exporter, `sFlow agent address type ${addrType}`, 4);
    return 0;
  }
  const subAgent = dv.getUint32(p);
  const seq = dv.getUint32(p + 4);
  const uptime = dv.getUint32(p + 8);
  const nSamples = dv.getUint32(p + 12);
  p += 16;

  const key = `${agent}/${subAgent}`;
  let seqState = state.agents.get(key);
  if (seqState === undefined) { seqState = new SequenceState(); state.agents.set(key, seqState); }
  seqState.check(seq, 1, ctx.stats, false);

  let emitted = 0;
  for (let s = 0; s < nSamples; s++) {
    if (len - p < 8) {
      ctx.reject('truncated_sample', exporter, `sFlow datagram ends after ${s} of ${nSamples} samples`, p);
      break;
    }
    const tag = dv.getUint32(p);
    const slen = dv.getUint32(p + 4);
    const body = p + 8;
    if (slen > len - body) {
      ctx.reject('truncated_sample', exporter, `sFlow sample ${tag >>> 12}:${tag & 0xfff} of ${slen} bytes overruns the datagram`, p);
      break;
    }
    const end = body + slen;
    if ((tag >>> 12) === 0) {
      const fmt = tag & 0xfff;
      if (fmt === 1 || fmt === 3) emitted += flowSample(u8, dv, body, end, fmt === 3, agent, subAgent, key, exporter, receivedAt, ctx, ev, h);
      else if (fmt === 2 || fmt === 4) counterSample(dv, body, end, fmt === 4, agent, subAgent, uptime, exporter, receivedAt, ctx, h);
    }
    p = end;
  }
  return emitted;
}

function flowSample(
  u8: Uint8Array, dv: DataView, p: number, end: number, expanded: boolean, agent: string, subAgent: number, reporter: string,
  exporter: string, receivedAt: number, ctx: DecodeContext, ev: FlowEvent, h: SflowHandlers,
): number {
  const need = expanded ? 44 : 32;
  if (end - p < need) { ctx.reject('bad_sample', exporter, `sFlow flow sample of ${end - p} bytes (needs ${need})`, p); return 0; }
  ctx.stats.sflowFlowSamples++;
  let rate: number, pool: number, drops: number, inIf: number, outIf: number, nRecords: number;
  if (expanded) {
    rate = dv.getUint32(p + 12); pool = dv.getUint32(p + 16); drops = dv.getUint32(p + 20);
    inIf = dv.getUint32(p + 24) === 0 ? dv.getUint32(p + 28) : 0;
    outIf = dv.getUint32(p + 32) === 0 ? dv.getUint32(p + 36) : 0;
    nRecords = dv.getUint32(p + 40);
  } else {
    rate = dv.getUint32(p + 8); pool = dv.getUint32(p + 12); drops = dv.getUint32(p + 16);
    const i = dv.getUint32(p + 20), o = dv.getUint32(p + 24);
    inIf = (i >>> 30) === 0 ? i & 0x3fffffff : 0;
    outIf = (o >>> 30) === 0 ? o & 0x3fffffff : 0;
    nRecords = dv.getUint32(p + 28);
  }
  if (rate < 1) rate = 1;
  let q = p + need;
  let nRaw = 0, ipRec = 0, ipKind = 0;
  let srcVlan = -1, dstVlan = -1;
  for (let r = 0; r < nRecords; r++) {
    if (end - q < 8) { ctx.reject('truncated_sample', exporter, `sFlow flow sample ends after ${r} of ${nRecords} records`, q); break; }
    const tag = dv.getUint32(q), rlen = dv.getUint32(q + 4);
    const body = q + 8;
    if (rlen > end - body) { ctx.reject('truncated_sample', exporter, `sFlow flow record ${tag >>> 12}:${tag & 0xfff} overruns its sample`, q); break; }
    if ((tag >>> 12) === 0) {
      switch (tag & 0xfff) {
        case 1: // raw packet header
          if (rlen < 16 || dv.getUint32(body + 12) > rlen - 16) {
            ctx.reject('bad_sample', exporter, `sFlow raw packet header record: header length beyond the record`, q);
          } else if (nRaw < MAX_RAW_HEADERS) rawOffs[nRaw++] = body;
          break;
        case 3: if (rlen >= 32 && ipKind === 0) { ipKind = 4; ipRec = body; } break;
        case 4: if (rlen >= 56 && ipKind === 0) { ipKind = 6; ipRec = body; } break;
        case 1001: if (rlen >= 16) {
          const sv = dv.getUint32(body), dvl = dv.getUint32(body + 8);
          srcVlan = sv < 4095 ? sv : -1; dstVlan = dvl < 4095 ? dvl : -1;
        } break;
      }
    }
    q = body + rlen;
  }
  if (nRaw > 0) {
    if (h.onSample !== undefined) {
      for (let i = 0; i < nRaw; i++) {
        const b = rawOffs[i]!;
        const headerProtocol = dv.getUint32(b);
        const hlen = dv.getUint32(b + 12);
        const f: SampledFrame = {
          source: 'sflow', agent, subAgent, time: receivedAt,
          frame: u8.subarray(b + 16, b + 16 + hlen),
          frameLength: Math.max(dv.getUint32(b + 4), hlen),
          headerProtocol, linktype: linktypeOfHeaderProtocol(headerProtocol),
          samplingRate: rate, samplePool: pool, drops,
          inputIfIndex: inIf, outputIfIndex: outIf, stripped: dv.getUint32(b + 8),
          srcVlan, dstVlan,
        };
        ctx.stats.sampledFrames++;
        try { h.onSample(f); } catch { /* the consumer's failure is not the decoder's */ }
      }
    }
    return 0;
  }
  if (ipKind === 0) return 0;
  ev.reset(SOURCE.sflow);
  ev.reporter = reporter;
  const b = ipRec;
  const length = dv.getUint32(b);
  ev.proto = dv.getUint32(b + 4) & 0xff;
  let o: number;
  if (ipKind === 4) {
    setV4(ev.src, dv.getUint32(b + 8));
    setV4(ev.dst, dv.getUint32(b + 12));
    o = b + 16;
  } else {
    ev.ipVersion = 6;
    for (let i = 0; i < 16; i++) { ev.src[i] = u8[b + 8 + i]!; ev.dst[i] = u8[b + 24 + i]!; }
    o = b + 40;
  }
  ev.srcPort = dv.getUint32(o) & 0xffff;
  ev.dstPort = dv.getUint32(o + 4) & 0xffff;
  ev.tcpFlags = ev.proto === 6 ? dv.getUint32(o + 8) & 0xff : 0;
  ev.pkts = rate;
  ev.bytes = length * rate;
  ev.sampling = rate;
  ev.start = receivedAt;
  ev.end = receivedAt;
  if (srcVlan > 0 && srcVlan < 4095) ev.vlan = srcVlan; else ev.vlan = NO_VLAN;
  ctx.stats.records++;
  ctx.sink.emit(ev);
  return 1;
}

function counterSample(
  dv: DataView, p: number, end: number, expanded: boolean, agent: string, subAgent: number, uptime: number,
  exporter: string, receivedAt: number, ctx: DecodeContext, h: SflowHandlers,
): void {
  const need = expanded ? 16 : 12;
  if (end - p < need) { ctx.reject('bad_sample', exporter, `sFlow counter sample of ${end - p} bytes (needs ${need})`, p); return; }
  ctx.stats.sflowCounterSamples++;
  const sequence = dv.getUint32(p);
  let idType: number, idIndex: number, nRecords: number;
  if (expanded) { idType = dv.getUint32(p + 4); idIndex = dv.getUint32(p + 8); nRecords = dv.getUint32(p + 12); }
  else { const id = dv.getUint32(p + 4); idType = id >>> 24; idIndex = id & 0xffffff; nRecords = dv.getUint32(p + 8); }
  let q = p + need;
  for (let r = 0; r < nRecords; r++) {
    if (end - q < 8) { ctx.reject('truncated_sample', exporter, `sFlow counter sample ends after ${r} of ${nRecords} records`, q); break; }
    const tag = dv.getUint32(q), rlen = dv.getUint32(q + 4);
    const b = q + 8;
    if (rlen > end - b) { ctx.reject('truncated_sample', exporter, `sFlow counter record ${tag >>> 12}:${tag & 0xfff} overruns its sample`, q); break; }
    if (tag === 1) {
      if (rlen < 88) ctx.reject('bad_sample', exporter, `sFlow generic interface counters of ${rlen} bytes (needs 88)`, q);
      else if (h.onCounters !== undefined) {
        const u64 = (o: number) => dv.getUint32(o) * 4294967296 + dv.getUint32(o + 4);
        const c: SflowCounters = {
          agent, subAgent, time: receivedAt, uptime, sequence, sourceIdType: idType, sourceIdIndex: idIndex,
          ifIndex: dv.getUint32(b), ifType: dv.getUint32(b + 4), ifSpeed: u64(b + 8),
          ifDirection: dv.getUint32(b + 16), ifStatus: dv.getUint32(b + 20),
          inOctets: u64(b + 24), inUcastPkts: dv.getUint32(b + 32), inMulticastPkts: dv.getUint32(b + 36),
          inBroadcastPkts: dv.getUint32(b + 40), inDiscards: dv.getUint32(b + 44), inErrors: dv.getUint32(b + 48),
          inUnknownProtos: dv.getUint32(b + 52),
          outOctets: u64(b + 56), outUcastPkts: dv.getUint32(b + 64), outMulticastPkts: dv.getUint32(b + 68),
          outBroadcastPkts: dv.getUint32(b + 72), outDiscards: dv.getUint32(b + 76), outErrors: dv.getUint32(b + 80),
          promiscuous: dv.getUint32(b + 84),
        };
        try { h.onCounters(c); } catch { /* the consumer's failure is not the decoder's */ }
      }
    }
    q = b + rlen;
  }
}
