// Moves flow events from the flow-record sources into the Wasm core: the
// FlowEventSink every reader writes to. Events are encoded straight into the
// core's event region and handed over a batch at a time; the merged flow
// records come back through the same output region (and the same Drain) as
// the packet path's.
import { REC_SIZE } from '../core/flow-record.ts';
import type { EventRegion, WasmCore } from '../core/wasm-core.ts';
import { encodeFlowEvent, ReporterIds, type FlowEvent, type FlowEventSink, type FlowRejection } from '../flowlogs/flow-event.ts';
import type { Drain } from './capture-pump.ts';

export interface EventPumpCounters {
  /** events handed to the core */
  events: number;
  /** records the sources rejected, by kind */
  rejected: Record<string, number>;
}

export class EventPump implements FlowEventSink {
  readonly reporters: ReporterIds;
  readonly counters: EventPumpCounters = { events: 0, rejected: {} };
  private pending = 0;
  private region: EventRegion | null = null;

  /**
   * @param onReject  where rejections go besides being counted (the rate-limited reporter)
   * @param afterBatch  called after each batch reached the core (progress, error checks)
   */
  constructor(
    private readonly core: WasmCore,
    private readonly drain: Drain,
    private readonly onReject: (r: FlowRejection) => void = () => {},
    private readonly afterBatch: () => void = () => {},
    reporters?: ReporterIds,
  ) {
    this.reporters = reporters ?? new ReporterIds();
  }

  emit(ev: FlowEvent): void {
    const why = implausible(ev);
    if (why) { this.reject({ kind: 'implausible_record', input: ev.reporter || ev.source.toString(), message: why }); return; }
    // the region's views, fetched once per batch (memory never grows between pushes)
    const region = this.region ??= this.core.eventRegion();
    encodeFlowEvent(ev, this.reporters, region, region.off + this.pending * REC_SIZE);
    this.pending++;
    this.counters.events++;
    if (this.pending === region.capacity) this.push();
  }

  /** Events waiting in the core's event region (a writer in the core continues after them). */
  get pendingEvents(): number { return this.pending; }

  /**
   * The core itself filled event slots up to `pending` (the AWS line parser,
   * asm/awsvpc.ts): count them, and hand a full region to the merger.
   */
  directEvents(pending: number): void {
    this.counters.events += pending - this.pending;
    this.pending = pending;
    if (this.pending >= this.core.eventRegion().capacity) this.push();
  }

  reject(r: FlowRejection): void {
    this.counters.rejected[r.kind] = (this.counters.rejected[r.kind] ?? 0) + 1;
    this.onReject(r);
  }

  /** Events of the current input handed over so far, the skipped included (a flow input's checkpoint: beginInput resets it). */
  inputEvents = 0;
  /** Events still to drop before the core (skipInput). */
  private skipping = 0;

  /** A new input begins: its events are counted from 0. */
  beginInput(): void { this.inputEvents = 0; this.skipping = 0; }

  /**
   * Resuming an input read part-way before a restart: its first `n` events
   * were learned before the snapshot the core was restored from; they are
   * read again but dropped here, before the core (readers are deterministic:
   * the same file gives the same events in the same order).
   */
  skipInput(n: number): void { this.skipping = n; }

  /** Events a skipInput() still expects to drop (not 0 at the input's end: it was shorter than its checkpoint). */
  get stillToSkip(): number { return this.skipping; }

  /** Hand the pending batch to the core (sources call this at the end of each input or datagram burst). */
  push(): void {
    let start = 0;
    if (this.skipping > 0) {
      start = Math.min(this.skipping, this.pending);
      this.skipping -= start;
    }
    this.inputEvents += this.pending;
    for (let spins = 0; start < this.pending; spins++) {
      if (spins > 1_000_000) throw new Error('core stuck merging flow events');
      start += this.core.ingestEvents(start, this.pending - start);
      this.drain(this.core);
    }
    this.pending = 0;
    this.region = null;
    this.afterBatch();
  }

  /** End of all flow input: every pending flow leaves the core. */
  finish(): void {
    this.push();
    while (!this.core.flushEvents()) this.drain(this.core);
    this.drain(this.core);
  }
}

/** A count the record layout carries exactly (asm/flowrecord.ts MAX_COUNT: the JSON writers agree below 2^53). */
function countOk(v: number): boolean { return v >= 0 && v <= Number.MAX_SAFE_INTEGER; }

/** Sanity the core also checks (E_BAD_EVENT); checked here too so the message says which field. */
function implausible(ev: FlowEvent): string | null {
  if (ev.ipVersion !== 4 && ev.ipVersion !== 6) return `ip version ${ev.ipVersion}`;
  if (!Number.isFinite(ev.start) || !Number.isFinite(ev.end)) return 'time not a number';
  if (ev.end < ev.start) return `end ${ev.end} before start ${ev.start}`;
  if (!countOk(ev.pkts) || !countOk(ev.bytes) || !countOk(ev.revPkts) || !countOk(ev.revBytes)) return `count negative, not a number or beyond 2^53 (${ev.pkts} ${ev.bytes} ${ev.revPkts} ${ev.revBytes})`;
  if ((ev.payloadBytes !== -1 && !countOk(ev.payloadBytes)) || (ev.revPayloadBytes !== -1 && !countOk(ev.revPayloadBytes))) return `payload bytes ${ev.payloadBytes} ${ev.revPayloadBytes}`;
  if (!(ev.sampling >= 1) || ev.sampling > 0xffffffff) return `sampling ${ev.sampling}`;
  if (ev.proto < 0 || ev.proto > 255 || ev.srcPort < 0 || ev.srcPort > 65535 || ev.dstPort < 0 || ev.dstPort > 65535) return 'protocol or port out of range';
  return null;
}
