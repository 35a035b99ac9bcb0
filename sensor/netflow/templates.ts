// Templates of NetFlow v9 and IPFIX, and the record decoder they drive.
//
// A template is compiled once into a flat list of (action, offset, length)
// for the fields the flow event needs; every other field is skipped by
// length. Data records are then decoded straight from a DataView into the one
// reused FlowEvent — no allocation per record. Templates with
// variable-length fields (IPFIX length 65535) keep the full field list and
// locate fields per record first.
//
// Template state is kept per exporter address and per (protocol, observation
// domain / source id), with caps per exporter and overall (oldest evicted
// and counted). Data that arrives before its template is held in a bounded
// per-exporter buffer and decoded when the template arrives, else dropped and
// counted. Options data records (v9 34/35/48/49/50, IPFIX 302/304/305/306/
// 309/310, 160 systemInitTimeMilliseconds) set the sampling rates and clock
// of their domain.
import { NO_VLAN } from '../core/flow-record.ts';
import { DIRECTION, ACTION, FlowEvent } from '../flowlogs/flow-event.ts';
import { copyOf, icmpFromDstPort, MAX_SAMPLING, readUint, SequenceState, wrapDiff32, type DecodeContext, type SampledFrame } from './common.ts';

// ------------------------------------------------------------ field actions ---

export const K = {
  SKIP: 0,
  SRC_V4: 1, DST_V4: 2, SRC_V6: 3, DST_V6: 4,
  SRC_PORT: 5, DST_PORT: 6, PROTO: 7, TCP_FLAGS: 8,
  BYTES: 9, PKTS: 10, BYTES_TOTAL: 11, PKTS_TOTAL: 12, OUT_BYTES: 13, OUT_PKTS: 14,
  INIT_BYTES: 15, RESP_BYTES: 16, INIT_PKTS: 17, RESP_PKTS: 18,
  REV_BYTES: 19, REV_PKTS: 20, REV_BYTES_TOTAL: 21, REV_PKTS_TOTAL: 22, REV_TCP_FLAGS: 23,
  FIRST_UPTIME: 24, LAST_UPTIME: 25,
  START_S: 26, END_S: 27, START_MS: 28, END_MS: 29, START_NTP: 30, END_NTP: 31,
  START_DELTA_US: 32, END_DELTA_US: 33, SYS_INIT_MS: 34, DURATION_MS: 35, DURATION_US: 36,
  ICMP_TC: 37, ICMP_TYPE: 38, ICMP_CODE: 39,
  DIRECTION: 40, VLAN: 41,
  SAMPLING_INTERVAL: 42, SAMPLER_RANDOM_INTERVAL: 43, SAMPLER_ID: 44, SELECTOR_ALGO: 45,
  PKT_INTERVAL: 46, PKT_SPACE: 47, SAMPLING_SIZE: 48, SAMPLING_POPULATION: 49,
  FWD_STATUS: 50, FW_EVENT: 51, IN_IF: 52, OUT_IF: 53,
  FRAME_SECTION: 54, IP_SECTION: 55, FRAME_SIZE: 56, SAMPLING_PROB: 57,
} as const;

/** RFC 5103 reverse-direction private enterprise number. */
export const REVERSE_PEN = 29305;
export const VARLEN = 65535;

/** The action for one field of a template (0 = skip by length). */
function kindOf(id: number, len: number, pen: number, ipfix: boolean, v9Scope: boolean): number {
  if (v9Scope) return K.SKIP; // v9 scope types (1 system, 2 interface, …) are not IEs
  const counter = len >= 1 && len <= 8;
  if (pen === REVERSE_PEN) {
    switch (id) {
      case 1: return counter ? K.REV_BYTES : K.SKIP;
      case 2: return counter ? K.REV_PKTS : K.SKIP;
      case 85: return counter ? K.REV_BYTES_TOTAL : K.SKIP;
      case 86: return counter ? K.REV_PKTS_TOTAL : K.SKIP;
      case 6: return counter ? K.REV_TCP_FLAGS : K.SKIP;
      default: return K.SKIP;
    }
  }
  if (pen !== 0) return K.SKIP;
  if (!ipfix && id >= 32768) return K.SKIP; // v9 vendor types
  switch (id) {
    case 8: return len === 4 ? K.SRC_V4 : K.SKIP;
    case 12: return len === 4 ? K.DST_V4 : K.SKIP;
    case 27: return len === 16 ? K.SRC_V6 : K.SKIP;
    case 28: return len === 16 ? K.DST_V6 : K.SKIP;
    case 7: case 180: case 182: return counter ? K.SRC_PORT : K.SKIP;
    case 11: case 181: case 183: return counter ? K.DST_PORT : K.SKIP;
    case 4: return counter ? K.PROTO : K.SKIP;
    case 6: return counter ? K.TCP_FLAGS : K.SKIP;
    case 1: return counter ? K.BYTES : K.SKIP;
    case 2: return counter ? K.PKTS : K.SKIP;
    case 85: return counter ? K.BYTES_TOTAL : K.SKIP;
    case 86: return counter ? K.PKTS_TOTAL : K.SKIP;
    case 23: return counter ? K.OUT_BYTES : K.SKIP;
    case 24: return counter ? K.OUT_PKTS : K.SKIP;
    case 231: return counter ? K.INIT_BYTES : K.SKIP;
    case 232: return counter ? K.RESP_BYTES : K.SKIP;
    case 298: return counter ? K.INIT_PKTS : K.SKIP;
    case 299: return counter ? K.RESP_PKTS : K.SKIP;
    case 21: return counter ? K.LAST_UPTIME : K.SKIP;
    case 22: return counter ? K.FIRST_UPTIME : K.SKIP;
    case 150: return counter ? K.START_S : K.SKIP;
    case 151: return counter ? K.END_S : K.SKIP;
    case 152: return counter ? K.START_MS : K.SKIP;
    case 153: return counter ? K.END_MS : K.SKIP;
    case 154: case 156: return len === 8 ? K.START_NTP : K.SKIP;
    case 155: case 157: return len === 8 ? K.END_NTP : K.SKIP;
    case 158: return counter ? K.START_DELTA_US : K.SKIP;
    case 159: return counter ? K.END_DELTA_US : K.SKIP;
    case 160: return counter ? K.SYS_INIT_MS : K.SKIP;
    case 161: return counter ? K.DURATION_MS : K.SKIP;
    case 162: return counter ? K.DURATION_US : K.SKIP;
    case 32: case 139: return len === 2 ? K.ICMP_TC : K.SKIP;
    case 176: case 178: return counter ? K.ICMP_TYPE : K.SKIP;
    case 177: case 179: return counter ? K.ICMP_CODE : K.SKIP;
    case 61: return counter ? K.DIRECTION : K.SKIP;
    case 58: case 243: return counter ? K.VLAN : K.SKIP;
    case 34: return counter ? K.SAMPLING_INTERVAL : K.SKIP;
    case 50: return counter ? K.SAMPLER_RANDOM_INTERVAL : K.SKIP;
    case 48: case 302: return counter ? K.SAMPLER_ID : K.SKIP;
    case 304: return counter ? K.SELECTOR_ALGO : K.SKIP;
    case 305: return counter ? K.PKT_INTERVAL : K.SKIP;
    case 306: return counter ? K.PKT_SPACE : K.SKIP;
    case 309: return counter ? K.SAMPLING_SIZE : K.SKIP;
    case 310: return counter ? K.SAMPLING_POPULATION : K.SKIP;
    case 311: return len === 8 || len === 4 ? K.SAMPLING_PROB : K.SKIP;
    case 89: return counter ? K.FWD_STATUS : K.SKIP;
    case 233: case 40005: return counter ? K.FW_EVENT : K.SKIP;
    case 10: return counter ? K.IN_IF : K.SKIP;
    case 14: return counter ? K.OUT_IF : K.SKIP;
    case 315: return ipfix ? K.FRAME_SECTION : K.SKIP;
    case 313: return ipfix ? K.IP_SECTION : K.SKIP;
    case 312: return counter ? K.FRAME_SIZE : K.SKIP;
    default: return K.SKIP;
  }
}

// --------------------------------------------------------------- template ---

/** One compiled (options) template. */
export class Template {
  /** fixed record length, or -1 when a field has variable length */
  readonly recordLength: number;
  /** smallest possible record (fixed fields + 1 byte per variable-length field) */
  readonly minLength: number;
  /** actions with their offsets: relative to the record (fixed) or field indexes (variable) */
  readonly nOps: number;
  readonly kinds: Uint8Array;
  readonly offs: Int32Array;
  readonly lens: Int32Array;
  /** all field lengths (VARLEN for variable), used only by variable-length templates */
  readonly fieldLens: Int32Array;
  /** some action fills a rarely used per-record value (see Rec.reset) */
  readonly rare: boolean;
  /**
   * Its records may be decoded by a DataSetAccelerator: a fixed-length flow
   * template with an address field and without packet sections (those go to
   * the packet decoder).
   */
  readonly accelerable: boolean;
  constructor(
    readonly id: number,
    readonly options: boolean,
    /** the template record's bytes: redefinition is detected by comparing them */
    readonly spec: Uint8Array,
    fieldLens: Int32Array, kinds: Uint8Array, recordLength: number, minLength: number,
  ) {
    this.fieldLens = fieldLens;
    this.recordLength = recordLength;
    this.minLength = minLength;
    let n = 0;
    for (let i = 0; i < kinds.length; i++) if (kinds[i] !== K.SKIP) n++;
    this.nOps = n;
    this.kinds = new Uint8Array(n);
    this.offs = new Int32Array(n);
    this.lens = new Int32Array(n);
    let j = 0, off = 0, rare = false;
    for (let i = 0; i < kinds.length; i++) {
      if (!COMMON_KINDS.has(kinds[i]!)) rare = true;
      const len = fieldLens[i]!;
      if (kinds[i] !== K.SKIP) {
        this.kinds[j] = kinds[i]!;
        this.offs[j] = recordLength >= 0 ? off : i;
        this.lens[j] = len;
        j++;
      }
      off += len;
    }
    this.rare = rare;
    let framed = false, addressed = false;
    for (let i = 0; i < n; i++) {
      const k = this.kinds[i]!;
      if (k === K.FRAME_SECTION || k === K.IP_SECTION) framed = true;
      if (k === K.SRC_V4 || k === K.DST_V4 || k === K.SRC_V6 || k === K.DST_V6) addressed = true;
    }
    // Without an address field every record would go back to JavaScript (no_address) one by one.
    this.accelerable = recordLength >= 0 && !options && !framed && addressed;
  }
}

/**
 * Decodes the records of a data set somewhere faster — the Wasm core
 * (sensor/pipeline/core-data-sets.ts) — with exactly this file's semantics,
 * writing the events to the sink's destination itself. It may stop at any
 * record; decodeDataSet decodes that one and lets it go on.
 */
export interface DataSetAccelerator {
  /** Take the set u8[start, end) of `tpl` (an accelerable template); false: decode it all in JS. */
  begin(u8: Uint8Array, start: number, end: number, tpl: Template, dom: DomainState, sc: SetContext): boolean;
  /** Decode from record offset `p` (absolute in u8) on; returns where it stopped (end of the whole records, or a record for JS). */
  decode(p: number): number;
  /** records the last decode() emitted */
  readonly taken: number;
}

/** Actions whose per-record values Rec.reset always clears. */
const COMMON_KINDS = new Set<number>([
  K.SKIP, K.SRC_V4, K.DST_V4, K.SRC_V6, K.DST_V6, K.SRC_PORT, K.DST_PORT, K.PROTO, K.TCP_FLAGS, K.BYTES, K.PKTS,
  K.FIRST_UPTIME, K.LAST_UPTIME, K.START_S, K.END_S, K.START_MS, K.END_MS, K.START_NTP, K.END_NTP,
  K.DIRECTION, K.VLAN, K.SAMPLER_ID, K.FWD_STATUS, K.IN_IF, K.OUT_IF,
]);

/**
 * Compile a template from its field list. `ids/lens/pens` are the fields in
 * order (scope fields first for options templates). Returns the template or
 * an error message.
 */
export function compileTemplate(
  id: number, options: boolean, ipfix: boolean, scopeCount: number,
  ids: ArrayLike<number>, lens: ArrayLike<number>, pens: ArrayLike<number>, spec: Uint8Array,
): Template | string {
  const n = ids.length;
  const fieldLens = new Int32Array(n);
  const kinds = new Uint8Array(n);
  let fixed = 0, nVar = 0;
  const seen = new Uint8Array(64);
  for (let i = 0; i < n; i++) {
    const len = lens[i]!;
    const isVar = ipfix && len === VARLEN;
    fieldLens[i] = isVar ? VARLEN : len;
    if (isVar) nVar++; else fixed += len;
    let k = kindOf(ids[i]!, len, pens[i]!, ipfix, !ipfix && options && i < scopeCount);
    if (isVar && k !== K.FRAME_SECTION && k !== K.IP_SECTION) k = K.SKIP;
    if (!isVar && (k === K.FRAME_SECTION || k === K.IP_SECTION)) k = len > 0 ? k : K.SKIP;
    // One field per action: the first wins. (A template may carry both
    // address families; the record decides which one is filled in.)
    if (k !== K.SKIP) {
      if (seen[k]) k = K.SKIP; else seen[k] = 1;
    }
    kinds[i] = k;
  }
  const minLength = fixed + nVar;
  if (minLength === 0) return `template ${id}: records of length 0`;
  if (fixed > 65535) return `template ${id}: record length ${fixed} exceeds any datagram`;
  return new Template(id, options, spec, fieldLens, kinds, nVar > 0 ? -1 : fixed, minLength);
}

// ------------------------------------------------------------------ state ---

/** Template state of one (exporter, protocol, observation domain / source id). */
export class DomainState {
  readonly templates = new Map<number, Template>();
  /** sampler / selector id → 1-in-N rate, from options data */
  readonly samplers = new Map<number, number>();
  /** rate from options data that names no sampler (0 = none) */
  defaultRate = 0;
  /** IPFIX systemInitTimeMilliseconds from options data (-1 unknown) */
  sysInitMs = -1;
  readonly seq = new SequenceState();
  constructor(
    readonly exporter: ExporterState,
    readonly key: number,
    readonly version: number,
    readonly domainId: number,
    /** FlowEvent.reporter of its records: "exporter/domain" */
    readonly reporter: string,
  ) {}
}

interface PendingSet {
  dom: DomainState;
  templateId: number;
  data: Uint8Array;
  exportTime: number;
  uptime: number;
  receivedAt: number;
}

export class ExporterState {
  readonly domains = new Map<number, DomainState>();
  /** insertion/refresh order of this exporter's templates: domKey·65536 + templateId → domain */
  readonly order = new Map<number, DomainState>();
  templateCount = 0;
  pending: PendingSet[] = [];
  pendingBytes = 0;
  constructor(readonly address: string) {}
}

/** Header values a data set is decoded with (kept with a held set). */
export class SetContext {
  source = 0;
  ipfix = false;
  /** export time, seconds since the epoch */
  exportTime = 0;
  /** v9 sysUptime (ms) at export; -1 for IPFIX */
  uptime = -1;
  receivedAt = 0;
}

/** Records and options records a data set yielded (for IPFIX sequence accounting). */
export interface SetResult { records: number; complete: boolean }

/**
 * Templates, options-derived state and held data of every exporter of one
 * input. Bounded by DecodeContext.limits; every eviction is counted.
 */
export class TemplateStore {
  readonly exporters = new Map<string, ExporterState>();
  totalTemplates = 0;
  totalPendingBytes = 0;
  constructor(private readonly ctx: DecodeContext) {}

  /** The domain state for a datagram, created on first sight; marks exporter and domain as recently seen. */
  domain(exporter: string, version: number, domainId: number): DomainState {
    let ex = this.exporters.get(exporter);
    if (ex === undefined) {
      ex = new ExporterState(exporter);
      this.exporters.set(exporter, ex);
      while (this.exporters.size > this.ctx.limits.exporters) this.dropExporter(this.exporters.keys().next().value as string);
    } else if (this.exporters.size > 1) {
      this.exporters.delete(exporter);
      this.exporters.set(exporter, ex);
    }
    const key = version * 4294967296 + domainId;
    let dom = ex.domains.get(key);
    if (dom === undefined) {
      dom = new DomainState(ex, key, version, domainId, `${exporter}/${domainId}`);
      ex.domains.set(key, dom);
      while (ex.domains.size > this.ctx.limits.domainsPerExporter) {
        this.dropDomain(ex, ex.domains.values().next().value as DomainState);
      }
    } else if (ex.domains.size > 1) {
      ex.domains.delete(key);
      ex.domains.set(key, dom);
    }
    return dom;
  }

  /** Templates cached now (all exporters). */
  templateCount(): number { return this.totalTemplates; }

  private dropExporter(address: string): void {
    const ex = this.exporters.get(address);
    if (ex === undefined) return;
    this.exporters.delete(address);
    this.totalTemplates -= ex.templateCount;
    this.ctx.stats.templatesEvicted += ex.templateCount;
    if (ex.templateCount > 0) {
      this.ctx.reject('template_limit', address, `exporter limit (${this.ctx.limits.exporters}) reached: ${ex.templateCount} templates of the least recently seen exporter dropped`);
    }
    for (const p of ex.pending) this.dropPending(p, 'its exporter was evicted');
    this.totalPendingBytes -= ex.pendingBytes;
    ex.pending = []; ex.pendingBytes = 0;
  }

  private dropDomain(ex: ExporterState, dom: DomainState): void {
    ex.domains.delete(dom.key);
    const n = dom.templates.size;
    if (n > 0) {
      for (const id of dom.templates.keys()) ex.order.delete(dom.key * 65536 + id);
      ex.templateCount -= n;
      this.totalTemplates -= n;
      this.ctx.stats.templatesEvicted += n;
      this.ctx.reject('template_limit', ex.address, `domain limit (${this.ctx.limits.domainsPerExporter}) reached: ${n} templates of domain ${dom.domainId} dropped`);
    }
    const keep: PendingSet[] = [];
    for (const p of ex.pending) {
      if (p.dom === dom) { ex.pendingBytes -= p.data.length; this.totalPendingBytes -= p.data.length; this.dropPending(p, 'its domain was evicted'); }
      else keep.push(p);
    }
    ex.pending = keep;
  }

  private removeTemplate(dom: DomainState, id: number): boolean {
    if (!dom.templates.delete(id)) return false;
    const ex = dom.exporter;
    ex.order.delete(dom.key * 65536 + id);
    ex.templateCount--;
    this.totalTemplates--;
    return true;
  }

  private evictOldestOf(ex: ExporterState, why: string): boolean {
    const first = ex.order.entries().next();
    if (first.done) return false;
    const [okey, dom] = first.value;
    const id = okey - dom.key * 65536;
    this.removeTemplate(dom, id);
    this.ctx.stats.templatesEvicted++;
    this.ctx.reject('template_limit', ex.address, `${why}: template ${id} of domain ${dom.domainId} evicted`);
    return true;
  }

  /**
   * A template record identical to the cached one arrived again: mark it as
   * recently refreshed without recompiling. False when it differs or is unknown.
   */
  refreshIfSame(dom: DomainState, id: number, u8: Uint8Array, start: number, end: number): boolean {
    const old = dom.templates.get(id);
    if (old === undefined) return false;
    const spec = old.spec;
    if (spec.length !== end - start) return false;
    for (let i = 0; i < spec.length; i++) if (spec[i] !== u8[start + i]) return false;
    const okey = dom.key * 65536 + id;
    dom.exporter.order.delete(okey);
    dom.exporter.order.set(okey, dom);
    this.ctx.stats.templatesRefreshed++;
    return true;
  }

  /**
   * Add or refresh a template. Returns true when it is new or changed (held
   * data for it should then be decoded).
   */
  addTemplate(dom: DomainState, tpl: Template): boolean {
    const ex = dom.exporter;
    const okey = dom.key * 65536 + tpl.id;
    const old = dom.templates.get(tpl.id);
    if (old !== undefined) {
      ex.order.delete(okey);
      ex.order.set(okey, dom);
      if (sameBytes(old.spec, tpl.spec)) { this.ctx.stats.templatesRefreshed++; return false; }
      dom.templates.set(tpl.id, tpl);
      this.ctx.stats.templatesRedefined++;
      return true;
    }
    const lim = this.ctx.limits;
    while (ex.templateCount >= lim.templatesPerExporter) {
      if (!this.evictOldestOf(ex, `per-exporter template limit (${lim.templatesPerExporter})`)) break;
    }
    while (this.totalTemplates >= lim.templatesTotal) {
      let victim: ExporterState | undefined;
      for (const e of this.exporters.values()) if (e.templateCount > 0) { victim = e; break; }
      if (victim === undefined || !this.evictOldestOf(victim, `global template limit (${lim.templatesTotal})`)) break;
    }
    dom.templates.set(tpl.id, tpl);
    ex.order.set(okey, dom);
    ex.templateCount++;
    this.totalTemplates++;
    this.ctx.stats.templatesAdded++;
    return true;
  }

  /** IPFIX withdrawal of one template; `all` withdraws every data (options) template of the domain. */
  withdraw(dom: DomainState, id: number, allOf: 'data' | 'options' | null): void {
    if (allOf === null) {
      if (this.removeTemplate(dom, id)) this.ctx.stats.templatesWithdrawn++;
      return;
    }
    for (const [tid, t] of [...dom.templates]) {
      if (t.options === (allOf === 'options') && this.removeTemplate(dom, tid)) this.ctx.stats.templatesWithdrawn++;
    }
  }

  // ------------------------------------------------------- held data ---

  /** Hold a data set (copied) until its template arrives. */
  hold(dom: DomainState, templateId: number, u8: Uint8Array, start: number, end: number, sc: SetContext): void {
    const ex = dom.exporter;
    const lim = this.ctx.limits;
    const size = end - start;
    // expired first
    if (ex.pending.length > 0 && sc.receivedAt - ex.pending[0]!.receivedAt > lim.pendingMaxAge) {
      const keep: PendingSet[] = [];
      for (const p of ex.pending) {
        if (sc.receivedAt - p.receivedAt > lim.pendingMaxAge) { this.unaccount(ex, p); this.dropPending(p, `no template within ${lim.pendingMaxAge} s`); }
        else keep.push(p);
      }
      ex.pending = keep;
    }
    if (size > lim.pendingBytesPerExporter || size > lim.pendingBytesTotal) {
      this.ctx.stats.pendingDropped++;
      this.ctx.reject('no_template', ex.address, `data set for unknown template ${templateId} (domain ${dom.domainId}) too large to hold (${size} bytes)`);
      return;
    }
    // Other exporters' held data fills the shared buffer: refuse this set
    // rather than evict this exporter's own held sets for no room.
    if (this.totalPendingBytes - ex.pendingBytes + size > lim.pendingBytesTotal) {
      this.ctx.stats.pendingDropped++;
      this.ctx.reject('no_template', ex.address, `data set for unknown template ${templateId} (domain ${dom.domainId}) dropped: held-data buffer full`);
      return;
    }
    while (ex.pending.length > 0 && (ex.pending.length >= lim.pendingSetsPerExporter || ex.pendingBytes + size > lim.pendingBytesPerExporter || this.totalPendingBytes + size > lim.pendingBytesTotal)) {
      const p = ex.pending.shift()!;
      this.unaccount(ex, p);
      this.dropPending(p, 'held-data buffer full');
    }
    ex.pending.push({ dom, templateId, data: copyOf(u8, start, end), exportTime: sc.exportTime, uptime: sc.uptime, receivedAt: sc.receivedAt });
    ex.pendingBytes += size;
    this.totalPendingBytes += size;
    this.ctx.stats.pendingHeld++;
  }

  private unaccount(ex: ExporterState, p: PendingSet): void {
    ex.pendingBytes -= p.data.length;
    this.totalPendingBytes -= p.data.length;
  }

  private dropPending(p: PendingSet, why: string): void {
    this.ctx.stats.pendingDropped++;
    this.ctx.reject('no_template', p.dom.exporter.address, `data set for template ${p.templateId} (domain ${p.dom.domainId}, ${p.data.length} bytes) dropped: ${why}`);
  }

  /** Decode held sets of `dom` waiting for template `id` (just added). */
  releaseHeld(dom: DomainState, id: number, sc: SetContext, ev: FlowEvent): void {
    const ex = dom.exporter;
    if (ex.pending.length === 0) return;
    const tpl = dom.templates.get(id);
    if (tpl === undefined) return;
    const ready: PendingSet[] = [];
    const keep: PendingSet[] = [];
    for (const p of ex.pending) (p.dom === dom && p.templateId === id ? ready : keep).push(p);
    if (ready.length === 0) return;
    ex.pending = keep;
    const saved = { e: sc.exportTime, u: sc.uptime, r: sc.receivedAt };
    for (const p of ready) {
      this.unaccount(ex, p);
      sc.exportTime = p.exportTime; sc.uptime = p.uptime; sc.receivedAt = p.receivedAt;
      decodeDataSet(p.data, new DataView(p.data.buffer, p.data.byteOffset, p.data.length), 0, p.data.length, tpl, dom, sc, this.ctx, ev);
      this.ctx.stats.pendingDecoded++;
    }
    sc.exportTime = saved.e; sc.uptime = saved.u; sc.receivedAt = saved.r;
  }

  /** Drop (and report) every held set: end of a capture. */
  flushHeld(): void {
    for (const ex of this.exporters.values()) {
      for (const p of ex.pending) this.dropPending(p, 'end of input before its template');
      this.totalPendingBytes -= ex.pendingBytes;
      ex.pending = []; ex.pendingBytes = 0;
    }
  }

  /** Held sets right now (all exporters). */
  heldSets(): number {
    let n = 0;
    for (const ex of this.exporters.values()) n += ex.pending.length;
    return n;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// -------------------------------------------------------- record decoding ---

/** Per-record values that are not FlowEvent fields (reset per record). */
class Rec {
  bytes = -1; pkts = -1; bytesT = -1; pktsT = -1; outBytes = -1; outPkts = -1;
  initBytes = -1; initPkts = -1; respBytes = -1; respPkts = -1;
  revBytes = -1; revPkts = -1; revBytesT = -1; revPktsT = -1; rev = false;
  firstUp = -1; lastUp = -1;
  startAbs = -1; endAbs = -1; startDelta = -1; endDelta = -1; sysInit = -1; durMs = -1;
  icmpTC = -1; icmpType = -1; icmpCode = -1;
  samplingInterval = 0; rndInterval = 0; samplerId = -1; selAlgo = 0;
  pktInterval = 0; pktSpace = -1; sampSize = 0; sampPop = 0; sampProb = 0;
  fwd = -1; fwEvent = -1; inIf = 0; outIf = 0;
  /** IPv4 addresses seen (as numbers), IPv6 ones (copied to v6src/v6dst); family of the first address field */
  src4 = -1; dst4 = -1; v6 = 0; fam = 0;
  readonly v6src = new Uint8Array(16);
  readonly v6dst = new Uint8Array(16);
  frameKind = 0; frameOff = 0; frameLen = 0; frameSize = -1;

  /** a template with rarely used fields filled some of the rare fields below */
  rare = true;

  /** Before each record: the common fields always, the rare ones only when a template may have set them. */
  reset(): void {
    this.bytes = -1; this.pkts = -1; this.firstUp = -1; this.lastUp = -1; this.startAbs = -1; this.endAbs = -1;
    this.samplerId = -1; this.fwd = -1; this.inIf = 0; this.outIf = 0;
    this.src4 = -1; this.dst4 = -1; this.v6 = 0; this.fam = 0;
    if (this.rare) {
      this.rare = false;
      this.bytesT = -1; this.pktsT = -1; this.outBytes = -1; this.outPkts = -1;
      this.initBytes = -1; this.initPkts = -1; this.respBytes = -1; this.respPkts = -1;
      this.revBytes = -1; this.revPkts = -1; this.revBytesT = -1; this.revPktsT = -1; this.rev = false;
      this.startDelta = -1; this.endDelta = -1; this.sysInit = -1; this.durMs = -1;
      this.icmpTC = -1; this.icmpType = -1; this.icmpCode = -1;
      this.samplingInterval = 0; this.rndInterval = 0; this.selAlgo = 0;
      this.pktInterval = 0; this.pktSpace = -1; this.sampSize = 0; this.sampPop = 0; this.sampProb = 0;
      this.fwEvent = -1; this.frameKind = 0; this.frameOff = 0; this.frameLen = 0; this.frameSize = -1;
    }
  }

  /** 1-in-N stated by this record (0 = none). */
  statedRate(): number {
    if (this.samplingInterval > 0) return this.samplingInterval;
    if (this.rndInterval > 0) return this.rndInterval;
    if (this.sampPop > 0 && this.sampSize > 0 && this.selAlgo !== 1) return this.sampPop / this.sampSize;
    if (this.pktInterval > 0 && this.pktSpace >= 0) return (this.pktInterval + this.pktSpace) / this.pktInterval;
    if (this.pktInterval > 1) return this.pktInterval;
    if (this.sampProb > 0 && this.sampProb <= 1) return 1 / this.sampProb;
    return 0;
  }
}

const R = new Rec();
const NTP_EPOCH = 2208988800;

/** readUint with the common lengths first (small enough for V8 to inline). */
function rd(dv: DataView, o: number, len: number): number {
  return len === 4 ? dv.getUint32(o) : len === 8 ? dv.getUint32(o) * 4294967296 + dv.getUint32(o + 4)
    : len === 2 ? dv.getUint16(o) : len === 1 ? dv.getUint8(o) : readUint(dv, o, len);
}

/** IPv4 into a 16-byte address already zeroed (FlowEvent.reset): the v4-mapped prefix and 4 bytes. */
function putV4(a: Uint8Array, addr: number): void {
  a[10] = 0xff; a[11] = 0xff;
  a[12] = addr >>> 24; a[13] = (addr >>> 16) & 0xff; a[14] = (addr >>> 8) & 0xff; a[15] = addr & 0xff;
}

function copy16(dst: Uint8Array, u8: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) dst[i] = u8[off + i]!;
}

/** Apply a template's actions to one record. `offs` are absolute when base is 0. */
function applyOps(u8: Uint8Array, dv: DataView, base: number, n: number, kinds: Uint8Array, offs: Int32Array, lens: Int32Array | Int32Array, r: Rec, ev: FlowEvent): void {
  for (let i = 0; i < n; i++) {
    const o = base + offs[i]!;
    const len = lens[i]!;
    switch (kinds[i]) {
      case K.SRC_V4: r.src4 = dv.getUint32(o); if (r.fam === 0) r.fam = 4; break;
      case K.DST_V4: r.dst4 = dv.getUint32(o); if (r.fam === 0) r.fam = 4; break;
      case K.SRC_V6: copy16(r.v6src, u8, o); r.v6 |= 1; if (r.fam === 0) r.fam = 6; break;
      case K.DST_V6: copy16(r.v6dst, u8, o); r.v6 |= 2; if (r.fam === 0) r.fam = 6; break;
      case K.SRC_PORT: ev.srcPort = rd(dv, o, len) & 0xffff; break;
      case K.DST_PORT: ev.dstPort = rd(dv, o, len) & 0xffff; break;
      case K.PROTO: ev.proto = rd(dv, o, len) & 0xff; break;
      case K.TCP_FLAGS: ev.tcpFlags = rd(dv, o, len) & 0xff; break;
      case K.BYTES: r.bytes = rd(dv, o, len); break;
      case K.PKTS: r.pkts = rd(dv, o, len); break;
      case K.BYTES_TOTAL: r.bytesT = rd(dv, o, len); break;
      case K.PKTS_TOTAL: r.pktsT = rd(dv, o, len); break;
      case K.OUT_BYTES: r.outBytes = rd(dv, o, len); break;
      case K.OUT_PKTS: r.outPkts = rd(dv, o, len); break;
      case K.INIT_BYTES: r.initBytes = rd(dv, o, len); break;
      case K.INIT_PKTS: r.initPkts = rd(dv, o, len); break;
      case K.RESP_BYTES: r.respBytes = rd(dv, o, len); r.rev = true; break;
      case K.RESP_PKTS: r.respPkts = rd(dv, o, len); r.rev = true; break;
      case K.REV_BYTES: r.revBytes = rd(dv, o, len); r.rev = true; break;
      case K.REV_PKTS: r.revPkts = rd(dv, o, len); r.rev = true; break;
      case K.REV_BYTES_TOTAL: r.revBytesT = rd(dv, o, len); r.rev = true; break;
      case K.REV_PKTS_TOTAL: r.revPktsT = rd(dv, o, len); r.rev = true; break;
      case K.REV_TCP_FLAGS: ev.revTcpFlags = rd(dv, o, len) & 0xff; break;
      case K.FIRST_UPTIME: r.firstUp = rd(dv, o, len); break;
      case K.LAST_UPTIME: r.lastUp = rd(dv, o, len); break;
      case K.START_S: r.startAbs = rd(dv, o, len); break;
      case K.END_S: r.endAbs = rd(dv, o, len); break;
      case K.START_MS: r.startAbs = rd(dv, o, len) / 1000; break;
      case K.END_MS: r.endAbs = rd(dv, o, len) / 1000; break;
      case K.START_NTP: r.startAbs = dv.getUint32(o) - NTP_EPOCH + dv.getUint32(o + 4) / 4294967296; break;
      case K.END_NTP: r.endAbs = dv.getUint32(o) - NTP_EPOCH + dv.getUint32(o + 4) / 4294967296; break;
      case K.START_DELTA_US: r.startDelta = rd(dv, o, len); break;
      case K.END_DELTA_US: r.endDelta = rd(dv, o, len); break;
      case K.SYS_INIT_MS: r.sysInit = rd(dv, o, len); break;
      case K.DURATION_MS: r.durMs = rd(dv, o, len); break;
      case K.DURATION_US: r.durMs = rd(dv, o, len) / 1000; break;
      case K.ICMP_TC: r.icmpTC = dv.getUint16(o); break;
      case K.ICMP_TYPE: r.icmpType = rd(dv, o, len) & 0xff; break;
      case K.ICMP_CODE: r.icmpCode = rd(dv, o, len) & 0xff; break;
      case K.DIRECTION: {
        const d = rd(dv, o, len);
        ev.direction = d === 0 ? DIRECTION.ingress : d === 1 ? DIRECTION.egress : DIRECTION.unknown;
        break;
      }
      case K.VLAN: {
        const v = rd(dv, o, len) & 0xffff;
        if (v > 0 && v < 4095 && ev.vlan === NO_VLAN) ev.vlan = v;
        break;
      }
      case K.SAMPLING_INTERVAL: r.samplingInterval = rd(dv, o, len); break;
      case K.SAMPLER_RANDOM_INTERVAL: r.rndInterval = rd(dv, o, len); break;
      case K.SAMPLER_ID: r.samplerId = rd(dv, o, len); break;
      case K.SELECTOR_ALGO: r.selAlgo = rd(dv, o, len); break;
      case K.PKT_INTERVAL: r.pktInterval = rd(dv, o, len); break;
      case K.PKT_SPACE: r.pktSpace = rd(dv, o, len); break;
      case K.SAMPLING_SIZE: r.sampSize = rd(dv, o, len); break;
      case K.SAMPLING_POPULATION: r.sampPop = rd(dv, o, len); break;
      case K.SAMPLING_PROB: r.sampProb = len === 8 ? dv.getFloat64(o) : dv.getFloat32(o); break;
      case K.FWD_STATUS: r.fwd = rd(dv, o, len) & 0xff; break;
      case K.FW_EVENT: r.fwEvent = rd(dv, o, len); break;
      case K.IN_IF: r.inIf = rd(dv, o, len); break;
      case K.OUT_IF: r.outIf = rd(dv, o, len); break;
      case K.FRAME_SECTION: case K.IP_SECTION:
        if (r.frameKind === 0 && len > 0) { r.frameKind = kinds[i]!; r.frameOff = o; r.frameLen = len; }
        break;
      case K.FRAME_SIZE: r.frameSize = rd(dv, o, len); break;
    }
  }
}

// scratch for variable-length templates: absolute offsets and lengths per field
let varOffs = new Int32Array(1024);
let varLens = new Int32Array(1024);
let opOffs = new Int32Array(1024);
let opLens = new Int32Array(1024);

/**
 * Locate every field of one variable-length record starting at `p`; fills
 * opOffs/opLens for the template's actions. Returns the record end, or -1
 * when the record overruns `end`.
 */
function locateVar(u8: Uint8Array, p: number, end: number, tpl: Template): number {
  const fl = tpl.fieldLens;
  const nf = fl.length;
  if (varOffs.length < nf) { varOffs = new Int32Array(nf); varLens = new Int32Array(nf); }
  for (let f = 0; f < nf; f++) {
    let len = fl[f]!;
    if (len === VARLEN) {
      if (p >= end) return -1;
      len = u8[p++]!;
      if (len === 255) {
        if (p + 2 > end) return -1;
        len = (u8[p]! << 8) | u8[p + 1]!;
        p += 2;
      }
    }
    if (p + len > end) return -1;
    varOffs[f] = p; varLens[f] = len;
    p += len;
  }
  const n = tpl.nOps;
  if (opOffs.length < n) { opOffs = new Int32Array(n); opLens = new Int32Array(n); }
  for (let i = 0; i < n; i++) {
    const f = tpl.offs[i]!;
    opOffs[i] = varOffs[f]!;
    opLens[i] = varLens[f]!;
  }
  return p;
}

/**
 * Decode the records of one data set [start, end) with `tpl`. Flow records
 * go to the sink, options records update `dom`. Returns the records seen.
 */
export function decodeDataSet(u8: Uint8Array, dv: DataView, start: number, end: number, tpl: Template, dom: DomainState, sc: SetContext, ctx: DecodeContext, ev: FlowEvent): number {
  const recLen = tpl.recordLength;
  let count = 0, noAddr = 0, firstNoAddr = 0;
  if (recLen >= 0) {
    const n = tpl.nOps, kinds = tpl.kinds, offs = tpl.offs, lens = tpl.lens, rare = tpl.rare;
    const accel = tpl.accelerable && ctx.dataSets !== undefined && ctx.dataSets.begin(u8, start, end, tpl, dom, sc) ? ctx.dataSets : null;
    for (let p = start; p + recLen <= end; p += recLen) {
      if (accel !== null) {
        // the accelerator's records, up to one it leaves to the code below
        p = accel.decode(p);
        count += accel.taken;
        ctx.stats.records += accel.taken;
        if (p + recLen > end) break;
      }
      R.reset();
      ev.reset(sc.source);
      applyOps(u8, dv, p, n, kinds, offs, lens, R, ev);
      R.rare = rare;
      if (tpl.options) applyOptions(dom, ctx); else if (!finishRecord(u8, dom, sc, ctx, ev)) { if (noAddr++ === 0) firstNoAddr = p; }
      count++;
    }
    if (noAddr > 0) reportNoAddress(ctx, dom, tpl, noAddr, firstNoAddr);
    return count;
  }
  const min = tpl.minLength;
  let p = start;
  while (end - p >= min) {
    const next = locateVar(u8, p, end, tpl);
    if (next < 0) {
      // All-zero tail = padding; anything else is a record that overruns its set.
      let zero = true;
      for (let i = p; i < end; i++) if (u8[i] !== 0) { zero = false; break; }
      if (!zero) ctx.reject('bad_record', dom.exporter.address, `template ${tpl.id}: record overruns its set (variable-length field)`, p);
      break;
    }
    R.reset();
    ev.reset(sc.source);
    applyOps(u8, dv, 0, tpl.nOps, tpl.kinds, opOffs, opLens, R, ev);
    R.rare = tpl.rare;
    if (tpl.options) applyOptions(dom, ctx); else if (!finishRecord(u8, dom, sc, ctx, ev)) { if (noAddr++ === 0) firstNoAddr = p; }
    count++;
    p = next;
  }
  if (noAddr > 0) reportNoAddress(ctx, dom, tpl, noAddr, firstNoAddr);
  return count;
}

function reportNoAddress(ctx: DecodeContext, dom: DomainState, tpl: Template, n: number, at: number): void {
  ctx.stats.noAddressRecords += n;
  ctx.reject('no_address', dom.exporter.address, `template ${tpl.id}: ${n} record(s) without an IPv4/IPv6 address (or a packet section with a frame consumer)`, at);
}

function applyOptions(dom: DomainState, ctx: DecodeContext): void {
  ctx.stats.optionsRecords++;
  const rate = R.statedRate();
  if (rate > 0) {
    if (R.samplerId >= 0) {
      if (dom.samplers.has(R.samplerId) || dom.samplers.size < ctx.limits.samplersPerDomain) dom.samplers.set(R.samplerId, rate);
    } else {
      dom.defaultRate = rate;
    }
  }
  if (R.sysInit > 0) dom.sysInitMs = R.sysInit;
}

function isZero16(a: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}

/**
 * Fill ev.src/dst from the record's address fields. With both families in
 * one template, the one actually filled in (non-zero) wins; when both are,
 * the family of the template's first address field. False: no address.
 */
function pickAddresses(r: Rec, ev: FlowEvent): boolean {
  if (r.fam === 0) return false;
  const has4 = r.src4 >= 0 || r.dst4 >= 0;
  const has6 = r.v6 !== 0;
  let use6 = has6;
  if (has4 && has6) {
    const nz4 = r.src4 > 0 || r.dst4 > 0;
    const nz6 = ((r.v6 & 1) !== 0 && !isZero16(r.v6src)) || ((r.v6 & 2) !== 0 && !isZero16(r.v6dst));
    use6 = nz4 === nz6 ? r.fam === 6 : nz6;
  }
  if (use6) {
    ev.ipVersion = 6; // ev.src/dst are zero after reset
    if ((r.v6 & 1) !== 0) ev.src.set(r.v6src);
    if ((r.v6 & 2) !== 0) ev.dst.set(r.v6dst);
  } else {
    putV4(ev.src, r.src4 >= 0 ? r.src4 : 0);
    putV4(ev.dst, r.dst4 >= 0 ? r.dst4 : 0);
  }
  return true;
}

/** Complete and emit one flow record; false when it has no address (counted by the caller, reported once per set). */
function finishRecord(u8: Uint8Array, dom: DomainState, sc: SetContext, ctx: DecodeContext, ev: FlowEvent): boolean {
  const r = R;
  // sampling: stated by the record, else its sampler's, else the domain's
  let rate = r.statedRate();
  if (rate === 0 && r.samplerId >= 0) rate = dom.samplers.get(r.samplerId) ?? 0;
  if (rate === 0) rate = dom.defaultRate;
  rate = rate >= 1 ? Math.min(Math.round(rate), MAX_SAMPLING) : 1;

  if (!pickAddresses(r, ev)) {
    if (r.frameKind !== 0 && ctx.onFrame !== undefined) { emitFrame(u8, dom, sc, ctx, rate); return true; }
    return false;
  }

  ev.reporter = dom.reporter;
  ev.sampling = rate;
  const pkts = r.pkts >= 0 ? r.pkts : r.pktsT >= 0 ? r.pktsT : r.initPkts >= 0 ? r.initPkts : r.outPkts >= 0 ? r.outPkts : 0;
  const bytes = r.bytes >= 0 ? r.bytes : r.bytesT >= 0 ? r.bytesT : r.initBytes >= 0 ? r.initBytes : r.outBytes >= 0 ? r.outBytes : 0;
  ev.pkts = pkts * rate;
  ev.bytes = bytes * rate;
  if (r.rev) {
    ev.bidir = true;
    const rp = r.revPkts >= 0 ? r.revPkts : r.revPktsT >= 0 ? r.revPktsT : r.respPkts >= 0 ? r.respPkts : 0;
    const rb = r.revBytes >= 0 ? r.revBytes : r.revBytesT >= 0 ? r.revBytesT : r.respBytes >= 0 ? r.respBytes : 0;
    ev.revPkts = rp * rate;
    ev.revBytes = rb * rate;
  }

  const proto = ev.proto;
  if (proto === 1 || proto === 58) {
    if (r.icmpTC >= 0 && r.icmpTC !== 0) { ev.srcPort = r.icmpTC >>> 8; ev.dstPort = r.icmpTC & 0xff; }
    else if (r.icmpType >= 0) { ev.srcPort = r.icmpType; ev.dstPort = r.icmpCode >= 0 ? r.icmpCode : 0; }
    else if (icmpFromDstPort(proto, ev.srcPort, ev.dstPort)) { ev.srcPort = ev.dstPort >>> 8; ev.dstPort &= 0xff; }
  }
  if (proto !== 6) { ev.tcpFlags = 0; ev.revTcpFlags = 0; }

  if (r.fwEvent === 3) ev.action = ACTION.reject;
  else if (r.fwd >= 0) {
    const st = r.fwd >>> 6;
    ev.action = st === 2 ? ACTION.reject : st === 1 || st === 3 ? ACTION.accept : ACTION.none;
  }

  // times: absolute, else relative to export, else uptime-relative, else the export time
  const exportTime = sc.exportTime;
  let start = r.startAbs >= 0 ? r.startAbs : r.startDelta >= 0 ? exportTime - r.startDelta / 1e6 : NaN;
  let end = r.endAbs >= 0 ? r.endAbs : r.endDelta >= 0 ? exportTime - r.endDelta / 1e6 : NaN;
  if (start !== start || end !== end) {
    if (sc.uptime >= 0) {
      if (start !== start && r.firstUp >= 0) start = exportTime - wrapDiff32(sc.uptime, r.firstUp) / 1000;
      if (end !== end && r.lastUp >= 0) end = exportTime - wrapDiff32(sc.uptime, r.lastUp) / 1000;
    } else {
      const init = r.sysInit > 0 ? r.sysInit : dom.sysInitMs;
      if (init > 0) {
        if (start !== start && r.firstUp >= 0) start = (init + r.firstUp) / 1000;
        if (end !== end && r.lastUp >= 0) end = (init + r.lastUp) / 1000;
      }
    }
  }
  if (r.durMs >= 0) {
    if (start === start && end !== end) end = start + r.durMs / 1000;
    else if (end === end && start !== start) start = end - r.durMs / 1000;
  }
  if (start !== start) start = end === end ? end : exportTime;
  if (end !== end) end = start;
  if (end < start) { const t = start; start = end; end = t; }
  ev.start = start;
  ev.end = end;
  ctx.stats.records++;
  ctx.sink.emit(ev);
  return true;
}

function emitFrame(u8: Uint8Array, dom: DomainState, sc: SetContext, ctx: DecodeContext, rate: number): void {
  const r = R;
  const frame = u8.subarray(r.frameOff, r.frameOff + r.frameLen);
  let headerProtocol = 1, linktype = 1;
  if (r.frameKind === K.IP_SECTION) {
    const v = r.frameLen > 0 ? frame[0]! >>> 4 : 0;
    headerProtocol = v === 6 ? 12 : 11;
    linktype = v === 6 ? 229 : v === 4 ? 228 : 101;
  }
  const onePacket = r.pkts === 1 || r.pktsT === 1;
  const frameLength = r.frameSize > 0 ? r.frameSize : onePacket && r.bytes > 0 ? r.bytes : r.frameLen;
  const f: SampledFrame = {
    source: 'ipfix', agent: dom.exporter.address, subAgent: dom.domainId, time: sc.exportTime,
    frame, frameLength: Math.max(frameLength, r.frameLen), headerProtocol, linktype, samplingRate: rate,
    samplePool: 0, drops: 0, inputIfIndex: r.inIf, outputIfIndex: r.outIf, stripped: 0, srcVlan: -1, dstVlan: -1,
  };
  ctx.stats.sampledFrames++;
  try { ctx.onFrame!(f); } catch { /* the consumer's failure is not the decoder's */ }
}

// ------------------------------------------------------ template parsing ---

/** Scratch field list of the template being parsed. */
export class FieldList {
  ids: Uint16Array;
  lens: Uint16Array;
  pens: Uint32Array;
  n = 0;
  constructor(max: number) {
    this.ids = new Uint16Array(max);
    this.lens = new Uint16Array(max);
    this.pens = new Uint32Array(max);
  }
  ensure(max: number): void {
    if (this.ids.length < max) {
      this.ids = new Uint16Array(max);
      this.lens = new Uint16Array(max);
      this.pens = new Uint32Array(max);
    }
  }
}

/**
 * Read `count` field specifiers at `p` (IPFIX: enterprise bit → a 4-byte PEN
 * follows). Returns the end offset, or -1 when they overrun `end`.
 */
export function readFieldList(dv: DataView, p: number, end: number, count: number, ipfix: boolean, out: FieldList): number {
  out.ensure(count);
  out.n = count;
  for (let i = 0; i < count; i++) {
    if (p + 4 > end) return -1;
    let id = dv.getUint16(p);
    const len = dv.getUint16(p + 2);
    p += 4;
    let pen = 0;
    if (ipfix && (id & 0x8000) !== 0) {
      if (p + 4 > end) return -1;
      pen = dv.getUint32(p);
      p += 4;
      id &= 0x7fff;
    }
    out.ids[i] = id; out.lens[i] = len; out.pens[i] = pen;
  }
  return p;
}

/**
 * Compile the parsed field list into a template and store it; decode held
 * data waiting for it. Reports malformed templates as bad_template.
 */
export function installTemplate(
  store: TemplateStore, dom: DomainState, id: number, options: boolean, ipfix: boolean, scopeCount: number,
  fields: FieldList, u8: Uint8Array, recStart: number, recEnd: number, sc: SetContext, ctx: DecodeContext, ev: FlowEvent,
): void {
  if (store.refreshIfSame(dom, id, u8, recStart, recEnd)) return;
  const n = fields.n;
  const tpl = compileTemplate(id, options, ipfix, scopeCount, fields.ids.subarray(0, n), fields.lens.subarray(0, n), fields.pens.subarray(0, n), copyOf(u8, recStart, recEnd));
  if (typeof tpl === 'string') {
    ctx.reject('bad_template', dom.exporter.address, `domain ${dom.domainId}: ${tpl}`, recStart);
    store.withdraw(dom, id, null); // an earlier definition no longer describes the data
    return;
  }
  if (store.addTemplate(dom, tpl)) store.releaseHeld(dom, id, sc, ev);
}
