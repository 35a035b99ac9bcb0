// The core's AWS VPC line parser (asm/awsvpc.ts) as the reader's
// AwsLineAccelerator: runs of record lines are copied into the core's text
// region and parsed there straight into the event region; the merger takes
// them from there as it takes events encoded by JavaScript. Lines it leaves
// (anything but a plain, complete record with a reporter it knows) go back
// to the reader's JavaScript parser one at a time.
import type { WasmCore } from '../core/wasm-core.ts';
import type { AwsFormat } from '../flowlogs/aws-vpc.ts';
import type { AwsLineAccelerator } from '../flowlogs/aws-vpc-reader.ts';
import type { EventPump } from './event-pump.ts';
import { MAX_REPORTERS } from '../flowlogs/flow-event.ts';

const DONE = 0, BATCH_FULL = 1;

// Per core: which reader's format the core holds (readers of `run` take
// turns between awaits), and whose reporter ids its table maps to.
const formatOwner = new WeakMap<WasmCore, CoreAwsLines>();
const reporterOwner = new WeakMap<WasmCore, object>();

/** One per reader (per input): its own format; the reporter table is the core's. */
export class CoreAwsLines implements AwsLineAccelerator {
  taken = 0;
  /** lines the core took over the reader's whole run */
  totalTaken = 0;
  private format: AwsFormat | null = null;
  /** false while the format is one the core cannot take (more than 256 columns): every line goes to JS */
  private usable = false;
  /** the core's reporter table maps to another pump's ids: leave every line to JS */
  private readonly foreign: boolean;

  // what the core's text region holds: buf[pieceStart, pieceEnd)
  private pieceBuf: Uint8Array | null = null;
  private pieceStart = 0;
  private pieceEnd = 0;

  constructor(private readonly core: WasmCore, private readonly pump: EventPump) {
    const owner = reporterOwner.get(core);
    if (owner === undefined) reporterOwner.set(core, pump.reporters);
    this.foreign = owner !== undefined && owner !== pump.reporters;
  }

  setFormat(format: AwsFormat): void {
    this.format = format;
    formatOwner.delete(this.core);
  }

  learnReporter(buf: Uint8Array, s: number, e: number, name: string): void {
    if (this.foreign) return;
    // the id the pump's encoder gave this name (the last one looked up: cached)
    const id = this.pump.reporters.id(name);
    // Each id is offered to the core once: this runs for every line JavaScript
    // parses, and a name the core already holds, or will not take (too long,
    // its table full), needs no call into it.
    if (id < this.offered.length && this.offered[id] !== 0) return;
    if (id < this.offered.length) this.offered[id] = 1;
    this.core.awsAddReporter(buf.subarray(s, e), id);
  }

  /** reporter ids already offered to the core (ids are below ReporterIds' limit) */
  private readonly offered = new Uint8Array(MAX_REPORTERS);

  /** Copy the whole lines of buf[p, end) that fit into the text region. */
  private copyPiece(buf: Uint8Array, p: number, end: number): void {
    const text = this.core.awsTextRegion();
    let pieceEnd = end;
    if (end - p > text.length) {
      const nl = buf.lastIndexOf(10, p + text.length - 1);
      pieceEnd = nl < p ? p : nl + 1;
    }
    text.set(buf.subarray(p, pieceEnd), 0);
    this.pieceBuf = buf; this.pieceStart = p; this.pieceEnd = pieceEnd;
  }

  take(buf: Uint8Array, start: number, end: number, maxLine: number, fresh: boolean): number {
    this.taken = 0;
    if (this.foreign || !this.format) return start;
    if (formatOwner.get(this.core) !== this) {
      this.usable = this.core.awsSetFormat(this.format.kinds, this.format.reporterCols);
      formatOwner.set(this.core, this);
    }
    if (!this.usable) return start;
    let p = start;
    while (p < end) {
      // The piece of whole lines in the text region, copied once: after a
      // line left to JS the next call resumes inside it (copying the rest
      // of the piece again per such line would be quadratic).
      if (fresh || !(buf === this.pieceBuf && p >= this.pieceStart && p < this.pieceEnd)) this.copyPiece(buf, p, end);
      fresh = false;
      if (this.pieceEnd <= p) return p; // one line longer than the region: JS takes (and reports) it
      const len = this.pieceEnd - this.pieceStart;
      let at = p - this.pieceStart;
      for (;;) {
        const status = this.core.awsParse(at, len, this.pump.pendingEvents, maxLine);
        this.taken += this.core.awsLines();
        this.totalTaken += this.core.awsLines();
        this.pump.directEvents(this.core.awsPending());
        at = this.core.awsPos();
        if (status === BATCH_FULL) continue; // directEvents handed the full region to the merger
        if (status === DONE) break;
        return this.pieceStart + at; // NEEDS_JS
      }
      p = this.pieceEnd;
    }
    return end;
  }
}
