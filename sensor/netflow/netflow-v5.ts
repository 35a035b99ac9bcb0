// NetFlow v5: a 24-byte header and up to 30 fixed 48-byte records, IPv4 only,
// unidirectional. Record times are the exporter's uptime (ms) at the first
// and last packet; the header gives uptime and wall clock at export, so
// absolute time = export time − (uptime − first)/1000, computed on 32-bit
// counters so that an uptime that wrapped (~49.7 days) still works.
import { FlowEvent, SOURCE, setV4 } from '../flowlogs/flow-event.ts';
import { BoundedMap, SequenceState, icmpFromDstPort, wrapDiff32, type DecodeContext } from './common.ts';

export const V5_HEADER = 24;
export const V5_RECORD = 48;
export const V5_MAX_COUNT = 30;

interface V5Stream {
  reporter: string;
  seq: SequenceState;
}

/** Per-input state of the v5 decoder: sequence numbers and reporter strings per (exporter, engine). */
export class NetflowV5State {
  readonly streams: BoundedMap<string, V5Stream>;
  constructor(maxStreams = 4096) {
    this.streams = new BoundedMap(maxStreams);
  }
}

/**
 * Decode one NetFlow v5 datagram (`u8` starts at the version field).
 * Emits one event per record through `ctx.sink`; returns the number emitted.
 */
export function decodeNetflowV5(u8: Uint8Array, exporter: string, ctx: DecodeContext, state: NetflowV5State, ev: FlowEvent): number {
  const len = u8.length;
  if (len < V5_HEADER) {
    ctx.reject('truncated_datagram', exporter, `NetFlow v5 datagram of ${len} bytes is shorter than its 24-byte header`, 0);
    return 0;
  }
  const dv = new DataView(u8.buffer, u8.byteOffset, len);
  const count = dv.getUint16(2);
  if (count === 0 || count > V5_MAX_COUNT) {
    ctx.reject('bad_header', exporter, `NetFlow v5 count ${count} (1-30 allowed)`, 2);
    return 0;
  }
  let n = count;
  if (V5_HEADER + count * V5_RECORD > len) {
    n = Math.floor((len - V5_HEADER) / V5_RECORD);
    ctx.reject('truncated_datagram', exporter, `NetFlow v5 count ${count} needs ${V5_HEADER + count * V5_RECORD} bytes, datagram has ${len}`, V5_HEADER + n * V5_RECORD);
  }
  const uptime = dv.getUint32(4);
  const exportTime = dv.getUint32(8) + dv.getUint32(12) / 1e9;
  const seq = dv.getUint32(16);
  const engineType = u8[20]!, engineId = u8[21]!;
  const interval = dv.getUint16(22) & 0x3fff;
  const rate = interval > 1 ? interval : 1;

  const key = `${exporter}/${engineType}.${engineId}`;
  let stream = state.streams.get(key);
  if (stream === undefined) {
    stream = { reporter: key, seq: new SequenceState() };
    state.streams.set(key, stream);
  }
  // flow_sequence counts flows: the next header should say seq + count.
  stream.seq.check(seq, count, ctx.stats, true);

  const sink = ctx.sink;
  const src = SOURCE.netflow_v5;
  for (let i = 0, p = V5_HEADER; i < n; i++, p += V5_RECORD) {
    ev.reset(src);
    ev.reporter = stream.reporter;
    setV4(ev.src, dv.getUint32(p));
    setV4(ev.dst, dv.getUint32(p + 4));
    const pkts = dv.getUint32(p + 16);
    const bytes = dv.getUint32(p + 20);
    const first = dv.getUint32(p + 24);
    const last = dv.getUint32(p + 28);
    let sport = dv.getUint16(p + 32), dport = dv.getUint16(p + 34);
    const proto = u8[p + 38]!;
    if (icmpFromDstPort(proto, sport, dport)) { sport = dport >>> 8; dport &= 0xff; }
    ev.srcPort = sport;
    ev.dstPort = dport;
    ev.tcpFlags = proto === 6 ? u8[p + 37]! : 0;
    ev.proto = proto;
    ev.pkts = pkts * rate;
    ev.bytes = bytes * rate;
    ev.sampling = rate;
    let start = exportTime - wrapDiff32(uptime, first) / 1000;
    let end = exportTime - wrapDiff32(uptime, last) / 1000;
    if (end < start) { const t = start; start = end; end = t; }
    ev.start = start;
    ev.end = end;
    sink.emit(ev);
  }
  ctx.stats.records += n;
  return n;
}
