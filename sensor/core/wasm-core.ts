// The JS face of the Wasm core: instantiates build/core.wasm, owns the typed
// views on its memory and moves data across the boundary in batches only —
// capture bytes in through the input region, flow records out through the
// output region. Views are re-created after init(), the only call that may
// grow memory.
import { formatAddress, isV4Mapped } from '../flows/ip-address.ts';
import { OBS_SIZE } from '../learn/observation.ts';
import { instantiateWasm, moduleDigest } from './wasm-module.ts';
import { putImage, stateGlobals, takeImage, type CoreImage } from './core-image.ts';
import { INVENTORY_ROW } from '../state/inventory.ts';
import { createHash } from 'node:crypto';
import { COUNTERS, counterIndex } from './counters.ts';
import { REC_SIZE, decodeRawFlow, type RawFlow } from './flow-record.ts';

export interface Timeouts {
  /** Zeek tcp_inactivity_timeout */
  tcpInactivity: number;
  /** Zeek udp_inactivity_timeout */
  udpInactivity: number;
  /** Zeek icmp_inactivity_timeout */
  icmpInactivity: number;
  /** other IP protocols (Zeek unknown_ip_inactivity_timeout) */
  otherInactivity: number;
  /** Zeek tcp_close_delay: a closed TCP flow lingers this long for stray packets */
  tcpCloseDelay: number;
  /** long flows emit an interim record every this many seconds */
  activeTimeout: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  tcpInactivity: 300,
  udpInactivity: 60,
  icmpInactivity: 60,
  otherInactivity: 60,
  tcpCloseDelay: 5,
  activeTimeout: 1800,
};

export interface CoreOptions {
  /** flow table slots (power of two); the table never grows beyond this */
  flowCapacity?: number;
  /** IP fragment table slots */
  fragCapacity?: number;
  /** bytes read per chunk; the input region holds a chunk plus the largest record */
  chunkBytes?: number;
  /** flow records per output batch */
  outputRecords?: number;
  timeouts?: Partial<Timeouts>;
}

export interface EventOptions {
  /** flows pending in the event merger; when full the least recently updated is written early */
  capacity?: number;
  /** events per batch across the boundary */
  batch?: number;
  /** seconds a record may arrive after later ones and still be merged (cloud logs: minutes) */
  lateness?: number;
  /** records of one 5-tuple further apart than this are separate flows */
  gap?: number;
  /** interim records for flows spanning longer than this */
  activeTimeout?: number;
}

/**
 * The event input region: room for `capacity` records at byte `off` of the
 * core's memory, with views on that memory; `off` is 8-byte aligned, so f64
 * fields are f64[(off + field) / 8].
 */
export interface EventRegion { readonly u8: Uint8Array; readonly dv: DataView; readonly f64: Float64Array; readonly off: number; readonly capacity: number }

export const DEFAULT_EVENT_OPTIONS: Required<EventOptions> = { capacity: 1 << 16, batch: 1024, lateness: 600, gap: 120, activeTimeout: 1800 };

export const CAPTURE_FORMAT = { pcap: 1, pcapng: 2 } as const;
export type CaptureFormat = keyof typeof CAPTURE_FORMAT;

/** Largest capture record the core accepts (libpcap's MAXIMUM_SNAPLEN) plus headroom for a pcapng block. */
const MAX_RECORD = 1 << 20;

interface CoreExports {
  memory: WebAssembly.Memory;
  /** module start (exportStart): sets up static data and the bump allocator */
  _start(): void;
  init(flowCapacity: number, fragCapacity: number, inputBytes: number, outputRecords: number): number;
  configure(tcp: number, udp: number, icmp: number, other: number, closeDelay: number, active: number): void;
  abiVersion(): number;
  inputPtr(): number;
  inputCapacity(): number;
  outputPtr(): number;
  outputCount(): number;
  outputCapacity(): number;
  outputClear(): void;
  countersPtr(): number;
  errorFirstPtr(): number;
  errorLastPtr(): number;
  numCounters(): number;
  beginCapture(format: number): void;
  feed(len: number, baseOffset: number, final: number): number;
  ingestSampledFrame(capLen: number, wireLen: number, linktype: number, ts: number, rate: number, source: number): number;
  initEvents(capacity: number, inputEvents: number): number;
  configureEvents(lateness: number, gap: number, activeTimeout: number): void;
  eventsPtr(): number;
  eventsCapacity(): number;
  ingestEvents(start: number, n: number): number;
  flushEvents(): number;
  eventFlowsPending(): number;
  advanceEventClock(now: number): number;
  eventClock(): number;
  advanceClock(now: number): number;
  status(): number;
  flushAll(): number;
  lastTs(): number;
  ingestFrame(capLen: number, wireLen: number, linktype: number, ts: number): number;
  awsScratch(): number;
  awsText(): number;
  awsTextCapacity(): number;
  awsSetFormat(n: number, nRep: number): number;
  awsAddReporter(n: number, id: number): number;
  awsParse(start: number, end: number, pending: number, maxLine: number): number;
  awsPos(): number;
  awsPending(): number;
  awsLines(): number;
  nfSetRegion(): number;
  nfSetCapacity(): number;
  nfOpKinds(): number;
  nfOpOffs(): number;
  nfOpLens(): number;
  nfSamplers(): number;
  nfMaxOps(): number;
  nfMaxSamplers(): number;
  nfSetProgram(n: number, length: number): number;
  nfSetContext(exportTime: number, uptime: number, sysInitMs: number, defaultRate: number, reporter: number, source: number, nSamp: number): void;
  nfDecode(start: number, end: number, pending: number): number;
  nfPos(): number;
  nfPending(): number;
  nfTaken(): number;
  learnInit(devices: number, endpoints: number, pairs: number, channels: number, ports: number, beacons: number, dnsNames: number, observations: number, logBytes: number): number;
  learnLogInit(bytes: number): number;
  learnLogPtr(): number;
  learnLogUsed(): number;
  learnLogCapacity(): number;
  learnLogClear(): void;
  learnLogLoaded(n: number): number;
  learnBatch(base: number, n: number): number;
  learnConfigure(retentionS: number, recountS: number, emitAll: number): void;
  learnScratch(): number;
  learnTables(): number;
  learnExportDevices(start: number, minConns: number): number;
  learnExportPorts(start: number, minConns: number): number;
  learnExportNext(): number;
  learnExportInventory(start: number): number;
  addLocalNet(): number;
  clearLocalNets(): void;
  gateModels(): number;
  gateClauses(): number;
  gateSets(): number;
  learnProgram(nModels: number, nClauses: number): number;
  gateMaxModels(): number;
  gateMaxClauses(): number;
  gateMaxSets(): number;
  learnFirstTs(): number;
  learnDeviceInfo(): number;
  learnOutput(): number;
  observationsPtr(): number;
  observationCount(): number;
  observationCapacity(): number;
  observationsClear(): void;
}

export const ABI_VERSION = 9;

/** Bytes of the learning log (asm/learn/learn-log.ts): a full one ends a feed early, like a full output region. */
export const LEARN_LOG_BYTES = 1 << 20;

/** Capacities of the learning tables (entries). */
export interface LearnCapacities { devices?: number; endpoints?: number; pairs?: number; channels?: number; ports?: number; beacons?: number; dnsNames?: number; observations?: number }
export const DEFAULT_LEARN_CAPACITIES: Required<LearnCapacities> = {
  devices: 1 << 14, endpoints: 1 << 17, pairs: 1 << 17, channels: 1 << 18, ports: 1 << 16, beacons: 1 << 15, dnsNames: 1 << 16, observations: 1 << 14,
};
/** The core's learning tables in learnTables() order, with their eviction counter. */
export const LEARN_TABLES = [
  ['devices', 'C_LEARN_DEVICE_EVICTIONS'], ['endpoints', 'C_LEARN_ENDPOINT_EVICTIONS'], ['pairs', 'C_LEARN_PAIR_EVICTIONS'],
  ['channels', 'C_LEARN_CHANNEL_EVICTIONS'], ['client_ports', 'C_LEARN_PORT_EVICTIONS'], ['beacons', 'C_LEARN_BEACON_EVICTIONS'],
  ['dns_names', 'C_LEARN_DNS_EVICTIONS'], ['dns_domains', 'C_LEARN_DNS_DOMAIN_EVICTIONS'], ['dns_askers', 'C_LEARN_DNS_ASKER_EVICTIONS'],
] as const;
/** One device as the core learned it (learnProfiles): client ports are port | proto << 16. */
export interface DeviceProfileRow { ip: string; served: number; conns: number; hours: Float64Array; clientPorts: Set<number> }
/** capacity: the most entries the table may hold; active: the slots it uses now (it doubles while more than half full); bytes: the memory those slots take (entries and their 4-byte tag words). */
export interface LearnTableStats { name: string; capacity: number; active: number; entry_bytes: number; used: number; bytes: number; evictions: number }
export interface LearnSettings {
  /** how long a device's contact keeps counting for an endpoint's rarity (s) */
  retentionS: number;
  /** how often rarity is recounted from what is still within the retention (s) */
  recountS: number;
  /** every observation to JS, not only those a model's filters pass (tests) */
  emitAll: boolean;
}
/** The gate's operators and room (asm/learn/gate.ts OP_*, MAX_*; test/detection.test.ts compares them). */
export const GATE_OPS = { '>=': 0, '>': 1, '<=': 2, '<': 3, '==': 4, '!=': 5, in: 6, 'not in': 7 } as const;
export const GATE_LIMITS = { models: 64, clauses: 1024, sets: 16 } as const;
const SET_BYTES = 8192;

/** The models' filters as the core runs them (asm/learn/gate.ts). */
export interface GateProgram {
  models: { kind: number; first: number; count: number }[];
  clauses: { feature: number; op: number; value: number }[];
  /** port sets: 8192-byte bitmaps */
  sets: Uint8Array[];
}
export const STATUS = { needInput: 0, outputFull: 1, unusable: 2 } as const;

export class WasmCore {
  readonly chunkBytes: number;
  private readonly x: CoreExports;
  private u8!: Uint8Array;
  private dv!: DataView;
  private counterView!: Float64Array;
  private errFirstView!: Float64Array;
  private errLastView!: Float64Array;
  private inputOff = 0;
  private inputCap = 0;

  constructor(opts: CoreOptions = {}) {
    this.x = instantiateWasm<CoreExports>('core.wasm', 'Wasm core', ABI_VERSION);
    this.chunkBytes = opts.chunkBytes ?? 1 << 20;
    const rc = this.x.init(
      opts.flowCapacity ?? 1 << 17,
      opts.fragCapacity ?? 1 << 13,
      this.chunkBytes + MAX_RECORD,
      opts.outputRecords ?? 4096,
    );
    if (rc !== 0) throw new Error('Wasm core could not allocate its tables (lower --max-flows)');
    this.layoutParts.push(['init', opts.flowCapacity ?? 1 << 17, opts.fragCapacity ?? 1 << 13, this.chunkBytes, opts.outputRecords ?? 4096]);
    const t = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.setting('timeouts', () => this.x.configure(t.tcpInactivity, t.udpInactivity, t.icmpInactivity, t.otherInactivity, t.tcpCloseDelay, t.activeTimeout));
    this.refreshViews();
  }

  // ---- snapshots (sensor/core/core-image.ts) ----

  /** What reserved the core's regions, in order: an image restores only into a core laid out the same way. */
  private readonly layoutParts: unknown[] = [];
  /** Settings that are not layout (timeouts, local networks, models): applied again after a restore, so this run's win. */
  private readonly settings = new Map<string, () => void>();
  private globalsCache: WebAssembly.Global[] | null = null;

  private setting(name: string, apply: () => void): void {
    apply();
    this.settings.set(name, apply);
  }

  /** The module build and the reservations so far, as one digest. */
  layout(): string {
    return createHash('sha256').update(moduleDigest('core.wasm')).update(JSON.stringify(this.layoutParts)).digest('hex');
  }

  private globals(): WebAssembly.Global[] {
    return (this.globalsCache ??= stateGlobals(this.x as unknown as Record<string, unknown>));
  }

  /** A copy of the core's whole state (memory chunks in use and globals), as of now; `spare`: chunk buffers to fill first (core-image.ts). */
  image(spare?: Uint8Array[]): CoreImage {
    return takeImage(this.x.memory, this.globals(), this.layout(), spare);
  }

  /**
   * Carry on from an image: the core must have been set up the same way
   * (same build, options and enable* calls, so the same layout; throws
   * ImageMismatchError otherwise). This run's settings (timeouts, local
   * networks, models) are applied again over the image's.
   */
  restore(image: CoreImage): void {
    putImage(this.x.memory, this.globals(), this.layout(), image);
    this.refreshViews();
    for (const apply of this.settings.values()) apply();
  }

  /** Memory may have grown: every view must be rebuilt over the new buffer. */
  private refreshViews(): void {
    const buf = this.x.memory.buffer;
    this.u8 = new Uint8Array(buf);
    this.dv = new DataView(buf);
    const n = this.x.numCounters();
    this.counterView = new Float64Array(buf, this.x.countersPtr(), n);
    this.errFirstView = new Float64Array(buf, this.x.errorFirstPtr(), n);
    this.errLastView = new Float64Array(buf, this.x.errorLastPtr(), n);
    this.inputOff = this.x.inputPtr();
    this.inputCap = this.x.inputCapacity();
    if (this.eventsOn) {
      this.evRegion = { u8: this.u8, dv: this.dv, f64: new Float64Array(buf), off: this.x.eventsPtr(), capacity: this.x.eventsCapacity() };
      // the NetFlow decoder's regions, used per data set: views made here, not per call
      const set = this.x.nfSetRegion();
      this.nf = {
        set: this.u8.subarray(set, set + this.x.nfSetCapacity()),
        samplers: new Float64Array(buf, this.x.nfSamplers(), 2 * this.x.nfMaxSamplers()),
        maxOps: this.x.nfMaxOps(),
      };
    }
  }

  private nf: { set: Uint8Array; samplers: Float64Array; maxOps: number } | null = null;
  private nfViews(): { set: Uint8Array; samplers: Float64Array; maxOps: number } {
    this.ensureViews();
    if (!this.nf) throw new Error('enableEvents() first');
    return this.nf;
  }

  private ensureViews(): void {
    if (this.u8.buffer !== this.x.memory.buffer) this.refreshViews();
  }

  /** The whole input region; write capture bytes here, then feed(). */
  input(): Uint8Array {
    this.ensureViews();
    return this.u8.subarray(this.inputOff, this.inputOff + this.inputCap);
  }

  private eventsOn = false;
  private evRegion: EventRegion | null = null;
  /** The merger's settings in force (the defaults until enableEvents). */
  eventOptions: Readonly<Required<EventOptions>> = DEFAULT_EVENT_OPTIONS;

  /** Set up the flow-event merger (flow-record sources). Once per core. Undefined options keep their defaults. */
  enableEvents(opts: EventOptions = {}): void {
    if (this.eventsOn) return;
    const o = { ...DEFAULT_EVENT_OPTIONS };
    for (const [k, v] of Object.entries(opts)) if (v !== undefined) (o as Record<string, number>)[k] = v as number;
    this.eventOptions = o;
    if (this.x.initEvents(o.capacity, o.batch) !== 0) throw new Error('Wasm core could not allocate its flow-event table (lower the capacity)');
    this.layoutParts.push(['events', o.capacity, o.batch]);
    this.setting('events', () => this.x.configureEvents(o.lateness, o.gap, o.activeTimeout));
    this.eventsOn = true;
    this.refreshViews();
  }

  // ---- AWS VPC flow-log lines parsed in the core (asm/awsvpc.ts; needs enableEvents) ----

  /** Column kinds and reporter columns of the lines to come; false if the core cannot take this format (JS parses its lines). */
  awsSetFormat(kinds: Uint8Array, reporterCols: readonly number[]): boolean {
    this.ensureViews();
    const at = this.x.awsScratch();
    this.u8.set(kinds, at);
    for (let i = 0; i < reporterCols.length; i++) this.u8[at + kinds.length + i] = reporterCols[i]! < 256 ? reporterCols[i]! : 255;
    return this.x.awsSetFormat(kinds.length, reporterCols.length) === 0;
  }

  /** The reporter field bytes `bytes` were interned as `id`; false if the core does not keep them. */
  awsAddReporter(bytes: Uint8Array, id: number): boolean {
    if (bytes.length > 1024) return false;
    this.ensureViews();
    this.u8.set(bytes, this.x.awsScratch());
    return this.x.awsAddReporter(bytes.length, id) === 0;
  }

  /** The region lines are copied into before awsParse. */
  awsTextRegion(): Uint8Array {
    this.ensureViews();
    const at = this.x.awsText();
    return this.u8.subarray(at, at + this.x.awsTextCapacity());
  }

  /**
   * Parse complete lines of the text region [start, end) into event slots
   * from `pending`: 0 = all taken, 1 = event region full (ingest, call again
   * from awsPos() with pending 0), 2 = the line at awsPos() is for JS.
   * awsPending() / awsLines() tell the slots filled and lines taken.
   */
  awsParse(start: number, end: number, pending: number, maxLine: number): number {
    return this.x.awsParse(start, end, pending, maxLine);
  }
  awsPos(): number { return this.x.awsPos(); }
  awsPending(): number { return this.x.awsPending(); }
  awsLines(): number { return this.x.awsLines(); }

  // ---- NetFlow v9 / IPFIX data records decoded in the core (asm/nfdata.ts; needs enableEvents) ----

  /**
   * A template's actions (kind, offset in the record, length per action) for
   * records of `recordLength` bytes; false when the core cannot run them
   * (JS then decodes the template's records).
   */
  nfSetProgram(kinds: Uint8Array, offs: Int32Array, lens: Int32Array, recordLength: number): boolean {
    const n = kinds.length;
    if (n > this.nfViews().maxOps || offs.length < n || lens.length < n) return false;
    this.u8.set(kinds, this.x.nfOpKinds());
    new Int32Array(this.u8.buffer, this.x.nfOpOffs(), n).set(offs.subarray(0, n));
    new Int32Array(this.u8.buffer, this.x.nfOpLens(), n).set(lens.subarray(0, n));
    return this.x.nfSetProgram(n, recordLength) === 0;
  }

  /**
   * What the records of the next set need from it and its domain; `samplers`
   * are the domain's sampler id → rate pairs. False when there are more
   * samplers than the core keeps (JS decodes the set).
   */
  nfSetContext(exportTime: number, uptime: number, sysInitMs: number, defaultRate: number, reporter: number, source: number, samplers: ReadonlyMap<number, number>): boolean {
    const n = samplers.size;
    if (n > 0) {
      const f = this.nfViews().samplers;
      if (2 * n > f.length) return false;
      let i = 0;
      for (const [id, rate] of samplers) { f[i++] = id; f[i++] = rate; }
    }
    this.x.nfSetContext(exportTime, uptime, sysInitMs, defaultRate, reporter, source, n);
    return true;
  }

  /** Sampler entries per domain the core keeps (a domain with more is decoded in JS). */
  nfMaxSamplers(): number { return this.nfViews().samplers.length / 2; }

  /** The region a data set is copied into before nfDecode (its bytes from offset 0). */
  nfSetRegion(): Uint8Array { return this.nfViews().set; }

  /**
   * Decode the whole records of the set region [start, end) into event slots
   * from `pending`: 0 = done, 1 = event region full (ingest, call again from
   * nfPos() with pending 0), 2 = the record at nfPos() is for JS.
   * nfPending() / nfTaken() tell the slots filled and records decoded.
   */
  nfDecode(start: number, end: number, pending: number): number { return this.x.nfDecode(start, end, pending); }
  nfPos(): number { return this.x.nfPos(); }
  nfPending(): number { return this.x.nfPending(); }
  nfTaken(): number { return this.x.nfTaken(); }

  /** The event input region: room for eventsCapacity() records, written by encodeFlowEvent. */
  eventRegion(): EventRegion {
    if (!this.evRegion) throw new Error('enableEvents() first');
    // the same object until memory grows (the pump holds it for a batch)
    this.ensureViews();
    return this.evRegion;
  }

  /** Merge events [start, start + n) of the event region; returns how many were taken (fewer: drain and call again). */
  ingestEvents(start: number, n: number): number {
    return this.x.ingestEvents(start, n);
  }

  /** Write every pending event flow; false when the output filled first (drain, call again). */
  flushEvents(): boolean {
    return !this.eventsOn || this.x.flushEvents() === 1;
  }

  eventFlowsPending(): number {
    return this.eventsOn ? this.x.eventFlowsPending() : 0;
  }

  /** Newest flow-record time the merger has seen (-Infinity before any). */
  eventClock(): number {
    return this.eventsOn ? this.x.eventClock() : -Infinity;
  }

  /**
   * Live operation on a quiet input: move the packet clock and the event
   * clock to wall time `now`, so flows time out without waiting for the next
   * packet or record. Drains as needed.
   */
  advanceClocks(now: number, drain: (core: WasmCore) => void, events = true, packets = true): void {
    for (let i = 0; packets && i < 1_000_000 && this.x.advanceClock(now) === 0; i++) drain(this);
    for (let i = 0; events && this.eventsOn && i < 1_000_000 && this.x.advanceEventClock(now) === 0; i++) drain(this);
    drain(this);
  }

  beginCapture(format: CaptureFormat): void {
    this.x.beginCapture(CAPTURE_FORMAT[format]);
  }

  /** Returns bytes consumed from input[0, len); see status(). */
  feed(len: number, baseOffset: number, final: boolean): number {
    return this.x.feed(len, baseOffset, final ? 1 : 0);
  }

  status(): number {
    return this.x.status();
  }

  /** Emit every open flow; call drain() after each call until it returns true. */
  flushAll(): boolean {
    return this.x.flushAll() === 1;
  }

  /** Hand every record in the output region to `onFlow`, then clear it. Returns the count. */
  drain(onFlow: (flow: RawFlow) => void): number {
    const n = this.x.outputCount();
    if (n === 0) return 0;
    this.ensureViews();
    const base = this.x.outputPtr();
    for (let i = 0; i < n; i++) onFlow(decodeRawFlow(this.dv, this.u8, base + i * REC_SIZE));
    this.x.outputClear();
    return n;
  }

  /**
   * Hand the output region's records, as raw bytes, to `onBatch` (which must
   * copy what it keeps: the view is reused), then clear it. The cheap path
   * for consumers that ship records elsewhere (a writer thread).
   */
  drainRaw(onBatch: (records: Uint8Array, count: number) => void): number {
    const n = this.x.outputCount();
    if (n === 0) return 0;
    this.ensureViews();
    const base = this.x.outputPtr();
    onBatch(this.u8.subarray(base, base + n * REC_SIZE), n);
    this.x.outputClear();
    return n;
  }

  // ---- pattern of life (asm/learn/; sensor/learn/ drives it) ----

  private learning = false;

  /**
   * Set up the learning tables (once per core) for these local networks;
   * the capacities bound its memory (README, Limits). Throws when memory
   * cannot grow that far.
   */
  enableLearning(opts: LearnCapacities, nets: readonly { net: Uint8Array; mask: Uint8Array }[], settings: LearnSettings): void {
    if (this.logOnly) throw new Error('this core ships its learning log to another core (enableLearnLog): it cannot learn itself');
    if (!this.learning) {
      const c = { ...DEFAULT_LEARN_CAPACITIES, ...opts };
      // room for many records' observations (CONN + END each) between drains: logReplay and learnRecords stop when 2 would not fit
      const observations = Math.max(c.observations, 2 * this.x.outputCapacity() + 4096);
      if (this.x.learnInit(c.devices, c.endpoints, c.pairs, c.channels, c.ports, c.beacons, c.dnsNames, observations, LEARN_LOG_BYTES) !== 0) {
        throw new Error('Wasm core could not allocate its learning tables (lower the learning capacities)');
      }
      this.layoutParts.push(['learning', c.devices, c.endpoints, c.pairs, c.channels, c.ports, c.beacons, c.dnsNames, observations, LEARN_LOG_BYTES]);
      this.learning = true;
      this.refreshViews();
    }
    this.setting('learning', () => {
      this.ensureViews();
      this.x.clearLocalNets();
      const at = this.x.learnScratch();
      for (const { net, mask } of nets) {
        this.u8.set(net, at);
        this.u8.set(mask, at + 16);
        if (this.x.addLocalNet() !== 0) throw new Error('too many local networks (at most 256)');
      }
      this.x.learnConfigure(settings.retentionS, settings.recountS, settings.emitAll ? 1 : 0);
    });
  }

  get learningEnabled(): boolean { return this.learning; }

  /** Records the output region holds (a batch handed to another core is at most this). */
  get outputCapacity(): number { return this.x.outputCapacity(); }
  /** Bytes the learning log holds (0 before enableLearning / enableLearnLog). */
  get learnLogCapacity(): number { return this.x.learnLogCapacity(); }

  private logOnly = false;
  /**
   * The packet path writes its learning log, but learning runs elsewhere (a
   * detection thread's core): takeLearnBatch() hands the log over with the
   * output records. Not with enableLearning on the same core.
   */
  enableLearnLog(): void {
    if (this.learning) throw new Error('this core learns itself: its log is replayed by learnOutput');
    if (this.x.learnLogInit(LEARN_LOG_BYTES) !== 0) throw new Error('Wasm core could not allocate its learning log');
    this.layoutParts.push(['learnLog', LEARN_LOG_BYTES]);
    this.logOnly = true;
    this.refreshViews();
  }

  /**
   * What the learner of another core needs from this batch: the learning
   * log and the output records (views valid during the call, copied by
   * onBatch); the log is then empty. Call before draining the records.
   */
  takeLearnBatch(onBatch: (log: Uint8Array, records: Uint8Array, count: number) => void): void {
    if (!this.logOnly) return;
    this.ensureViews();
    const log = this.x.learnLogPtr(), n = this.x.outputCount(), out = this.x.outputPtr();
    onBatch(this.u8.subarray(log, log + this.x.learnLogUsed()), this.u8.subarray(out, out + n * REC_SIZE), n);
    this.x.learnLogClear();
  }

  /**
   * Learn a batch another core took (takeLearnBatch): its log and records are
   * copied into this core's log and output regions and learned exactly as
   * learnOutput learns this core's own, observations to onBatch as in
   * drainObservations. Throws on a batch this core cannot hold.
   */
  learnShipped(log: Uint8Array, records: Uint8Array, count: number, onBatch: (obs: Uint8Array, count: number) => void): void {
    if (!this.learning) throw new Error('enableLearning() first');
    if (count > this.x.outputCapacity() || records.length < count * REC_SIZE) throw new Error(`a batch of ${count} records does not fit this core's output region`);
    if (log.length > this.x.learnLogCapacity()) throw new Error(`a learning log of ${log.length} bytes does not fit this core's`);
    this.ensureViews();
    this.u8.set(log, this.x.learnLogPtr());
    if (this.x.learnLogLoaded(log.length) !== 0) throw new Error('a learning log that is not whole entries');
    const out = this.x.outputPtr();
    this.u8.set(records.subarray(0, count * REC_SIZE), out);
    this.learnLoop(() => this.x.learnBatch(out, count) === 1, onBatch);
    this.x.outputClear();
  }

  /**
   * What the core learned to name a device by, besides its address (16
   * bytes, IPv4 v4-mapped): the MAC its frames carried last (packets), the
   * reporter id of the cloud interface that logged it (flow logs). null when
   * the device is not in the table.
   */
  learnDeviceInfo(address: Uint8Array): { mac?: Uint8Array; reporter?: number } | null {
    if (!this.learning || address.length !== 16) return null;
    this.ensureViews();
    const at = this.x.learnScratch();
    this.u8.set(address, at);
    if (this.x.learnDeviceInfo() !== 1) return null;
    const out: { mac?: Uint8Array; reporter?: number } = {};
    if (this.u8[at + 23]! & 0x80) out.mac = this.u8.slice(at + 16, at + 22);
    const reporter = this.dv.getUint32(at + 24, true);
    if (reporter !== 0) out.reporter = reporter;
    return out;
  }

  /** Capture time of the first connection the core learned (NaN before any). */
  learnFirstTs(): number { return this.learning ? this.x.learnFirstTs() : NaN; }

  /**
   * The learning tables: capacity, bytes per entry, entries in use and
   * evictions — what memory each tracked device, peer and channel costs.
   */
  learnTables(): LearnTableStats[] {
    if (!this.learning) return [];
    const at = this.x.learnTables();
    this.refreshViews();
    const dv = new DataView(this.u8.buffer, this.u8.byteOffset + at, 16 * LEARN_TABLES.length);
    return LEARN_TABLES.map(([name, counter], i) => {
      const capacity = dv.getUint32(i * 16, true), entryBytes = dv.getUint32(i * 16 + 4, true), active = dv.getUint32(i * 16 + 12, true);
      return { name, capacity, active, entry_bytes: entryBytes, used: dv.getUint32(i * 16 + 8, true), bytes: active * (entryBytes + 4), evictions: this.counter(counter) };
    });
  }

  /** The gate's room as the core has it (GATE_LIMITS mirrors it). */
  gateLimits(): { models: number; clauses: number; sets: number } {
    return { models: this.x.gateMaxModels(), clauses: this.x.gateMaxClauses(), sets: this.x.gateMaxSets() };
  }

  /** Load the models' compiled filters (sensor/models/compile.ts). */
  setGateProgram(p: GateProgram): void {
    this.setting('gate', () => this.loadGateProgram(p));
  }

  private loadGateProgram(p: GateProgram): void {
    // checked before anything is written: the regions after these are the learning tables
    if (p.models.length > this.x.gateMaxModels() || p.clauses.length > this.x.gateMaxClauses() || p.sets.length > this.x.gateMaxSets()) {
      throw new Error(`the core's gate takes at most ${this.x.gateMaxModels()} models, ${this.x.gateMaxClauses()} filters and ${this.x.gateMaxSets()} port lists`);
    }
    if (p.sets.some((b) => b.length !== SET_BYTES)) throw new Error(`a port set is a ${SET_BYTES}-byte bitmap`);
    this.ensureViews();
    const dv = this.dv;
    const m = this.x.gateModels(), c = this.x.gateClauses(), sets = this.x.gateSets();
    p.models.forEach((mod, i) => {
      dv.setUint32(m + i * 12, mod.kind, true);
      dv.setUint32(m + i * 12 + 4, mod.first, true);
      dv.setUint32(m + i * 12 + 8, mod.count, true);
    });
    p.clauses.forEach((cl, i) => {
      dv.setUint32(c + i * 16, cl.feature, true);
      dv.setUint32(c + i * 16 + 4, cl.op, true);
      dv.setFloat64(c + i * 16 + 8, cl.value, true);
    });
    p.sets.forEach((bits, i) => this.u8.set(bits, sets + i * SET_BYTES));
    if (this.x.learnProgram(p.models.length, p.clauses.length) !== 0) throw new Error('the core refused the models\' filter program');
  }

  /**
   * Learn the flow records in the output region and hand every observation
   * that passed a model's filters to onBatch (a view of the core's region,
   * valid during the call). Call before draining the records.
   */
  drainObservations(onBatch: (obs: Uint8Array, count: number) => void): void {
    if (!this.learning) return;
    this.learnLoop(() => this.x.learnOutput() === 1, onBatch);
  }

  /** Run `step` (true when done) until done, handing the observations to onBatch after each step. */
  private learnLoop(step: () => boolean, onBatch: (obs: Uint8Array, count: number) => void): void {
    for (let rounds = 0; ; rounds++) {
      const done = step();
      const n = this.x.observationCount();
      if (n > 0) {
        this.ensureViews();
        const base = this.x.observationsPtr();
        onBatch(this.u8.subarray(base, base + n * OBS_SIZE), n);
        this.x.observationsClear();
      }
      if (done) return;
      // each round empties the region, and learnOutput takes at least one record into an empty one
      if (rounds > 1_000_000) throw new Error('learner made no progress');
    }
  }

  /**
   * What every device does, for peer groups: its address, share of
   * connections answered, connections in its week profile and per hour of
   * the day, and the ports it uses as a client. Call with the observation
   * region drained (right after drainObservations): the rows pass through it.
   * Only devices with at least `minConns` connections in their week profile
   * (the core skips the rest: most devices of a large network say too
   * little to group).
   */
  learnProfiles(minConns = 0): DeviceProfileRow[] {
    if (!this.learning) return [];
    const rows = new Map<string, DeviceProfileRow>();
    for (let start = 0; start >= 0;) {
      const n = this.x.learnExportDevices(start, minConns);
      if (n < 0) throw new Error('learnProfiles: the observation region is not drained');
      this.ensureViews();
      const base = this.x.observationsPtr();
      const dv = new DataView(this.u8.buffer, this.u8.byteOffset + base, n * 128);
      for (let i = 0; i < n; i++) {
        const at = i * 128;
        const addr = this.u8.subarray(base + at, base + at + 16);
        const ip = formatAddress(addr, isV4Mapped(addr) ? 4 : 6);
        const hours = new Float64Array(24);
        for (let h = 0; h < 24; h++) hours[h] = dv.getFloat32(at + 32 + 4 * h, true);
        rows.set(ip, { ip, served: dv.getFloat64(at + 16, true), conns: dv.getFloat64(at + 24, true), hours, clientPorts: new Set() });
      }
      start = this.x.learnExportNext();
    }
    for (let start = 0; start >= 0;) {
      const n = this.x.learnExportPorts(start, minConns);
      if (n < 0) throw new Error('learnProfiles: the observation region is not drained');
      this.ensureViews();
      const base = this.x.observationsPtr();
      for (let i = 0; i < n; i++) {
        const at = base + i * 24;
        const addr = this.u8.subarray(at, at + 16);
        const row = rows.get(formatAddress(addr, isV4Mapped(addr) ? 4 : 6));
        if (row) row.clientPorts.add(this.u8[at + 16]! | (this.u8[at + 17]! << 8) | (this.u8[at + 18]! << 16));
      }
      start = this.x.learnExportNext();
    }
    return [...rows.values()];
  }

  /**
   * Every device the learner holds: address, first and last seen (capture
   * seconds), the MAC its frames carried last and its cloud interface (a
   * reporter id), its connections in the week profile. Call with the
   * observation region drained (the rows pass through it). Raw rows of
   * INVENTORY_ROW bytes (sensor/state/inventory.ts), copied out in one piece
   * for another thread to format.
   */
  learnInventoryRaw(): { rows: Uint8Array; count: number } {
    if (!this.learning) return { rows: new Uint8Array(0), count: 0 };
    const parts: Uint8Array[] = [];
    let count = 0;
    for (let start = 0; start >= 0;) {
      const n = this.x.learnExportInventory(start);
      if (n < 0) throw new Error('learnInventory: the observation region is not drained');
      this.ensureViews();
      const base = this.x.observationsPtr();
      parts.push(this.u8.slice(base, base + n * INVENTORY_ROW));
      count += n;
      start = this.x.learnExportNext();
    }
    const rows = new Uint8Array(count * INVENTORY_ROW);
    let at = 0;
    for (const p of parts) { rows.set(p, at); at += p.length; }
    return { rows, count };
  }



  /** Decode and account one frame outside a capture file (tests, sFlow samples). 1 accounted, 0 not, 2 output full. */
  ingestFrame(frame: Uint8Array, wireLen: number, linktype: number, ts: number): number {
    this.input().set(frame, 0);
    return this.x.ingestFrame(frame.length, wireLen, linktype, ts);
  }

  /**
   * ingestFrame for a frame sampled 1-in-`rate` (sFlow): its flow is credited
   * with `rate` packets of its size, and its records say `source` (a SOURCE
   * code of flowlogs/flow-event.ts) and the sampling.
   */
  ingestSampledFrame(frame: Uint8Array, wireLen: number, linktype: number, ts: number, rate: number, source: number): number {
    this.input().set(frame, 0);
    return this.x.ingestSampledFrame(frame.length, wireLen, linktype, ts, rate, source);
  }

  lastTs(): number {
    return this.x.lastTs();
  }

  /** Size of the core's linear memory: fixed after init, whatever the input. */
  memoryBytes(): number {
    return this.x.memory.buffer.byteLength;
  }

  counter(constName: string): number {
    this.ensureViews();
    return this.counterView[counterIndex(constName)]!;
  }

  /** All counters by snake_case name (non-zero ones only unless `all`). */
  counters(all = false): Record<string, number> {
    this.ensureViews();
    const out: Record<string, number> = {};
    for (const c of COUNTERS) {
      const v = this.counterView[c.index]!;
      if (all || v !== 0) out[c.name] = v;
    }
    return out;
  }

  /** Byte offsets of the first and latest occurrence of an error counter (-1 if none). */
  errorOffsets(index: number): { first: number; last: number } {
    this.ensureViews();
    return { first: this.errFirstView[index]!, last: this.errLastView[index]! };
  }

  counterAt(index: number): number {
    this.ensureViews();
    return this.counterView[index]!;
  }
}
