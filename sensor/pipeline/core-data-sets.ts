// The core's NetFlow v9 / IPFIX record decoder (asm/nfdata.ts) as the
// decoder's DataSetAccelerator: a data set of a fixed-length flow template
// is copied into the core once, the template's actions are loaded when the
// template changes, and its records are decoded there straight into the
// event region, where the merger takes them as it takes events encoded by
// JavaScript. A record the core leaves (no address) goes back to the
// JavaScript decoder, which reports it.
import type { WasmCore } from '../core/wasm-core.ts';
import type { DataSetAccelerator, DomainState, SetContext, Template } from '../netflow/templates.ts';
import type { EventPump } from './event-pump.ts';

const BATCH_FULL = 1;

// Per core: the template whose actions the core holds (decoders of `run` —
// several collectors, capture inputs — take turns). The reporter id is not
// kept in the core: each set passes the pump's own.
const programOwner = new WeakMap<WasmCore, Template>();

export class CoreDataSets implements DataSetAccelerator {
  taken = 0;
  /** records the core decoded over this accelerator's life */
  totalTaken = 0;
  /** u8 offset of the set copied into the core's region */
  private base = 0;
  private length = 0;
  /** the set's domain and header values, handed to the core once its reporter has an id */
  constructor(private readonly core: WasmCore, private readonly pump: EventPump) {}

  begin(u8: Uint8Array, start: number, end: number, tpl: Template, dom: DomainState, sc: SetContext): boolean {
    if (!tpl.accelerable || dom.samplers.size > this.core.nfMaxSamplers()) return false;
    const region = this.core.nfSetRegion();
    if (end - start > region.length) return false;
    if (programOwner.get(this.core) !== tpl) {
      programOwner.delete(this.core);
      if (!this.core.nfSetProgram(tpl.kinds, tpl.offs, tpl.lens, tpl.recordLength)) return false;
      programOwner.set(this.core, tpl);
    }
    region.set(u8.subarray(start, end), 0);
    this.base = start;
    this.length = end - start;
    this.dom = dom;
    this.sc = sc;
    this.contextSet = false;
    return true;
  }

  private dom: DomainState | null = null;
  private sc: SetContext | null = null;
  private contextSet = false;

  /**
   * The set's values into the core, once its reporter has an id. A reporter
   * is interned when JavaScript emits its first record (the ids are part of
   * the output): until then, records go to JavaScript. False: not yet.
   */
  private setContext(): boolean {
    const dom = this.dom!, sc = this.sc!;
    const reporter = this.pump.reporters.lookup(dom.reporter);
    if (reporter < 0) return false;
    this.contextSet = this.core.nfSetContext(sc.exportTime, sc.uptime, dom.sysInitMs, dom.defaultRate, reporter, sc.source, dom.samplers);
    return this.contextSet;
  }

  decode(p: number): number {
    this.taken = 0;
    let at = p - this.base;
    if (at < 0 || at > this.length) return p;
    if (!this.contextSet && !this.setContext()) return p;
    for (;;) {
      const status = this.core.nfDecode(at, this.length, this.pump.pendingEvents);
      const n = this.core.nfTaken();
      this.taken += n;
      this.totalTaken += n;
      this.pump.directEvents(this.core.nfPending());
      at = this.core.nfPos();
      if (status !== BATCH_FULL) return this.base + at; // done, or the record at `at` is for JS
      // directEvents handed the full region to the merger: go on
    }
  }
}
