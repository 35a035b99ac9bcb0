// A FlowEventSink for parser tests: keeps a plain copy of every event (the
// event object itself is reused by the parser) and every rejection.
import type { FlowEvent, FlowEventSink, FlowRejection } from '../../sensor/flowlogs/flow-event.ts';
import { formatAddress } from '../../sensor/flows/ip-address.ts';

/** A copy of what a sink is given, addresses as text. */
export interface Ev {
  reporter: string; src: string; dst: string; srcPort: number; dstPort: number; proto: number;
  pkts: number; bytes: number; start: number; end: number; action: number; direction: number; tcpFlags: number;
  ipVersion: number; source: number; bidir: boolean; sampling: number;
}

export function snap(ev: FlowEvent): Ev {
  return {
    reporter: ev.reporter, src: formatAddress(ev.src, ev.ipVersion), dst: formatAddress(ev.dst, ev.ipVersion),
    srcPort: ev.srcPort, dstPort: ev.dstPort, proto: ev.proto, pkts: ev.pkts, bytes: ev.bytes, start: ev.start, end: ev.end,
    action: ev.action, direction: ev.direction, tcpFlags: ev.tcpFlags, ipVersion: ev.ipVersion, source: ev.source,
    bidir: ev.bidir, sampling: ev.sampling,
  };
}

export class Collect implements FlowEventSink {
  events: Ev[] = [];
  rejects: FlowRejection[] = [];
  emit(ev: FlowEvent): void { this.events.push(snap(ev)); }
  reject(r: FlowRejection): void { this.rejects.push(r); }
  kinds(): string[] { return this.rejects.map((r) => r.kind); }
}
