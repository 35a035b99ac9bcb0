// Flow-log reporter names follow the records to a worker thread (the flow
// writer, the detection thread). Records carry interned reporter ids
// (flowlogs/flow-event.ts ReporterIds); the names added since the last slot
// are posted on a MessagePort, one message, just before a slot is published
// with F_NAMES in its flags, so the worker takes that one message when it
// takes the slot.
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { ReporterIds } from '../flowlogs/flow-event.ts';

/** On the names port: [id, name] pairs of reporter ids first used by the next flagged slot. */
export type ReporterNames = [number, string][];

/** Packet-thread side. */
export class ReporterNamesOut {
  private sent = 0;
  constructor(private readonly reporters: ReporterIds | undefined, private readonly port: { postMessage(m: ReporterNames): void }) {}

  /** Post the names added since the last call, if any: true when posted (flag the slot about to be published). */
  postNew(): boolean {
    const r = this.reporters;
    if (!r || r.size <= this.sent) return false;
    this.port.postMessage(r.entriesFrom(this.sent));
    this.sent = r.size;
    return true;
  }
}

/**
 * Worker side, for a flagged slot: its names (posted before the slot was
 * published, so there; if not, fail loudly rather than go on without them).
 */
export function receiveReporterNames(port: MessagePort, slot: string): ReporterNames {
  const m = receiveMessageOnPort(port);
  if (!m) throw new Error(`${slot}: reporter names announced but not received`);
  return m.message as ReporterNames;
}
