// One export datagram in, flow events out: sniffs the protocol of each UDP
// payload (NetFlow v5 "00 05", v9 "00 09", IPFIX "00 0a", sFlow v5
// "00 00 00 05" — detected by structure, whatever the port) and runs the
// matching decoder with state shared by the whole input (templates, sequence
// numbers, sampling). The UDP collector and the capture reader both feed it.
import { FlowEvent, type FlowEventSink } from '../flowlogs/flow-event.ts';
import { DecodeContext, normalizeExporter, type NetflowLimits, type NetflowStats, type SampledFrame } from './common.ts';
import { decodeIpfix } from './ipfix.ts';
import { decodeNetflowV5, NetflowV5State } from './netflow-v5.ts';
import { decodeNetflowV9 } from './netflow-v9.ts';
import { decodeSflow, SflowState, type SflowCounters } from './sflow.ts';
import { TemplateStore, type DataSetAccelerator } from './templates.ts';

export interface NetflowDecoderOptions {
  sink: FlowEventSink;
  /** sampled frames: sFlow raw packet headers and IPFIX packet sections (313/315), for the packet decoder */
  onSflow?: (f: SampledFrame) => void;
  /** sFlow generic interface counters */
  onCounters?: (c: SflowCounters) => void;
  limits?: Partial<NetflowLimits>;
  /** decodes v9/IPFIX data records in the Wasm core (sensor/pipeline/core-data-sets.ts); they reach the sink's destination directly */
  dataSets?: DataSetAccelerator;
}

/** Protocol of a datagram by its first bytes (null: none of ours). */
export function sniffVersion(u8: Uint8Array): 'netflow_v5' | 'netflow_v9' | 'ipfix' | 'sflow' | null {
  if (u8.length < 4 || u8[0] !== 0) return null;
  const v = u8[1]!;
  if (v === 5) return 'netflow_v5';
  if (v === 9) return 'netflow_v9';
  if (v === 10) return 'ipfix';
  if (v === 0 && u8[2] === 0 && u8[3] === 5) return 'sflow';
  return null;
}

export class NetflowDecoder {
  readonly ctx: DecodeContext;
  readonly templates: TemplateStore;
  private readonly v5: NetflowV5State;
  private readonly sflowState: SflowState;
  private readonly ev = new FlowEvent();
  private readonly sflowHandlers: { onSample?: (f: SampledFrame) => void; onCounters?: (c: SflowCounters) => void };

  constructor(opts: NetflowDecoderOptions) {
    this.ctx = new DecodeContext(opts.sink, opts.limits, opts.onSflow, opts.dataSets);
    this.templates = new TemplateStore(this.ctx);
    this.v5 = new NetflowV5State(this.ctx.limits.exporters);
    this.sflowState = new SflowState(this.ctx.limits.sflowAgents);
    this.sflowHandlers = {};
    if (opts.onSflow !== undefined) this.sflowHandlers.onSample = opts.onSflow;
    if (opts.onCounters !== undefined) this.sflowHandlers.onCounters = opts.onCounters;
  }

  get stats(): NetflowStats { return this.ctx.stats; }

  /**
   * Decode one datagram from `exporter` (its source address as text)
   * received at `receivedAt` (seconds since the epoch). Never throws on
   * input; returns the number of flow events emitted.
   */
  decode(u8: Uint8Array, exporter: string, receivedAt: number): number {
    const ctx = this.ctx;
    const st = ctx.stats;
    st.datagrams++;
    st.bytes += u8.length;
    const from = normalizeExporter(exporter);
    const before = st.records;
    try {
      switch (sniffVersion(u8)) {
        case 'netflow_v5': st.netflowV5++; decodeNetflowV5(u8, from, ctx, this.v5, this.ev); break;
        case 'netflow_v9': st.netflowV9++; decodeNetflowV9(u8, from, receivedAt, ctx, this.templates, this.ev); break;
        case 'ipfix': st.ipfix++; decodeIpfix(u8, from, receivedAt, ctx, this.templates, this.ev); break;
        case 'sflow': st.sflow++; decodeSflow(u8, from, receivedAt, ctx, this.sflowState, this.ev, this.sflowHandlers); break;
        default: {
          const head = u8.length >= 4 ? ((u8[0]! << 24) | (u8[1]! << 16) | (u8[2]! << 8) | u8[3]!) >>> 0 : -1;
          ctx.reject(u8.length < 4 ? 'truncated_datagram' : 'unknown_version', from,
            u8.length < 4 ? `datagram of ${u8.length} bytes` : `first word 0x${head.toString(16).padStart(8, '0')} is not NetFlow v5/v9, IPFIX or sFlow v5`, 0);
        }
      }
    } catch (e) {
      // A decoder bug must not take the collector down: counted, reported.
      ctx.reject('decoder_error', from, `decoder error: ${(e as Error).stack ?? e}`, 0);
    }
    return st.records - before;
  }

  /** End of input: report data still waiting for a template as dropped. */
  finish(): void {
    this.templates.flushHeld();
  }

  /** Memory gauges: cached templates, tracked exporters, held sets and bytes. */
  gauges(): { templates: number; exporters: number; heldSets: number; heldBytes: number } {
    return {
      templates: this.templates.totalTemplates,
      exporters: this.templates.exporters.size,
      heldSets: this.templates.heldSets(),
      heldBytes: this.templates.totalPendingBytes,
    };
  }
}
