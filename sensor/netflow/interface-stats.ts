// The latest sFlow interface counters per (agent, sub-agent, ifIndex): what a
// switch says about its ports (octets, packets, errors, discards, speed,
// status). Kept for the run summary and, later, the sensor's status views.
// Bounded: at most `cap` interfaces, the least recently updated forgotten.
import type { SflowCounters } from './sflow.ts';

export interface InterfaceSnapshot {
  agent: string;
  sub_agent: number;
  if_index: number;
  if_speed: number;
  /** bit 0 admin up, bit 1 oper up */
  if_status: number;
  in_octets: number;
  out_octets: number;
  in_packets: number;
  out_packets: number;
  in_errors: number;
  out_errors: number;
  in_discards: number;
  out_discards: number;
  /** receive time of the latest counter sample, seconds */
  time: number;
}

export class InterfaceStats {
  private readonly byKey = new Map<string, InterfaceSnapshot>();
  samples = 0;
  constructor(private readonly cap = 4096) {}

  update(c: SflowCounters): void {
    this.samples++;
    const key = `${c.agent}/${c.subAgent}/${c.ifIndex}`;
    this.byKey.delete(key); // re-insert: Map order is then least recently updated first
    if (this.byKey.size >= this.cap) this.byKey.delete(this.byKey.keys().next().value!);
    this.byKey.set(key, {
      agent: c.agent, sub_agent: c.subAgent, if_index: c.ifIndex, if_speed: c.ifSpeed, if_status: c.ifStatus,
      in_octets: c.inOctets, out_octets: c.outOctets,
      in_packets: c.inUcastPkts + c.inMulticastPkts + c.inBroadcastPkts,
      out_packets: c.outUcastPkts + c.outMulticastPkts + c.outBroadcastPkts,
      in_errors: c.inErrors, out_errors: c.outErrors, in_discards: c.inDiscards, out_discards: c.outDiscards,
      time: c.time,
    });
  }

  get size(): number { return this.byKey.size; }

  snapshot(): InterfaceSnapshot[] {
    return [...this.byKey.values()].sort((a, b) => (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : a.if_index - b.if_index));
  }
}
