// Raw flow records (the core's 224-byte layout) → Zeek-style JSON lines,
// formatted by a small Wasm module of their own (asm/json/ →
// build/flowjson.wasm). This is the writer thread's per-flow path. It writes
// exactly what flowRecordJson(toFlowRecord(decodeRawFlow(…))) writes
// (test/flow-json.test.ts compares them over real captures and synthetic
// records) at a fraction of the cost. Measured per record: ~6 µs through
// objects, ~2.3 µs byte by byte in JavaScript, see README for the Wasm figure.
//
// JS owns the names (conn states, end reasons, sources, services…) and hands
// them to the module once, so there is one list of each.
import { instantiateWasm } from '../core/wasm-module.ts';
import { CONN_STATES, END_REASONS, REC_SIZE, TUNNEL_TYPES } from '../core/flow-record.ts';
import { ACTIONS, DIRECTIONS, SOURCES } from '../flowlogs/flow-event.ts';
import { LocalNets } from './local-nets.ts';
import { serviceEntries } from './services.ts';
import { PROTO_NAME, reporterJson } from './zeek-record.ts';

interface FormatterExports {
  memory: WebAssembly.Memory;
  _start(): void;
  abiVersion(): number;
  init(recordCapacity: number, outBytes: number): number;
  recordsPtr(): number;
  recordCapacity(): number;
  scratchPtr(): number;
  scratchBytes(): number;
  outPtr(): number;
  outLength(): number;
  configure(seed: number): void;
  loadTexts(len: number): number;
  addLocalNet(): number;
  setReporter(id: number, len: number): number;
  format(start: number, n: number): number;
}

// Text families of the module's name tables (asm/json/tables.ts F_*).
const F = { connState: 1, endReason: 2, source: 3, action: 4, direction: 5, tunnel: 6, tcpService: 7, udpService: 8, proto: 9 } as const;

/** asm/json/index.ts ABI_VERSION: bump both when the exports or the record layout they read change. */
const FORMATTER_ABI = 1;

/** The name tables as the module's blob: u8 family, u16 code (LE), u8 length, ASCII bytes. */
function textBlob(): Uint8Array {
  const entries: [number, number, string][] = [];
  const list = (family: number, names: readonly string[]) => names.forEach((n, code) => { if (n !== '') entries.push([family, code, n]); });
  list(F.connState, CONN_STATES);
  list(F.endReason, END_REASONS);
  list(F.source, SOURCES);
  list(F.action, ACTIONS);
  list(F.direction, DIRECTIONS);
  list(F.tunnel, TUNNEL_TYPES);
  for (const [proto, name] of Object.entries(PROTO_NAME)) entries.push([F.proto, Number(proto), name]);
  for (const [proto, port, name] of serviceEntries()) entries.push([proto === 6 ? F.tcpService : F.udpService, port, name]);
  const out: number[] = [];
  for (const [family, code, name] of entries) {
    if (name.length > 31 || !/^[\x20-\x7e]*$/.test(name) || /["\\]/.test(name)) throw new Error(`formatter name "${name}" is not short plain ASCII`);
    out.push(family, code & 0xff, code >> 8, name.length, ...Array.from(name, (c) => c.charCodeAt(0)));
  }
  return Uint8Array.from(out);
}

export interface WasmFlowJsonOptions {
  localNets?: LocalNets;
  communityIdSeed?: number;
  /** records per format call (the record region's size) */
  batchRecords?: number;
  /** output region bytes */
  outBytes?: number;
}

export class WasmFlowJson {
  private readonly x: FormatterExports;
  private u8!: Uint8Array;
  readonly batchRecords: number;

  constructor(opts: WasmFlowJsonOptions = {}) {
    this.x = instantiateWasm<FormatterExports>('flowjson.wasm', 'flow formatter', FORMATTER_ABI);
    this.batchRecords = opts.batchRecords ?? 4096;
    if (this.x.init(this.batchRecords, opts.outBytes ?? 1 << 20) !== 0) throw new Error('flow formatter: cannot allocate its memory');
    this.views();
    const blob = textBlob();
    this.u8.set(blob, this.x.scratchPtr());
    if (this.x.loadTexts(blob.length) !== 0) throw new Error('flow formatter rejected the name tables');
    for (const { net, mask } of (opts.localNets ?? new LocalNets()).networks) {
      this.u8.set(net, this.x.scratchPtr()); this.u8.set(mask, this.x.scratchPtr() + 16);
      if (this.x.addLocalNet() !== 0) throw new Error('flow formatter: too many local networks (at most 256)');
    }
    this.x.configure(opts.communityIdSeed ?? 0);
  }

  /** Memory grew (init, setReporter): views over the old buffer are detached. */
  private views(): void {
    this.u8 = new Uint8Array(this.x.memory.buffer);
  }

  /** Name of reporter `id` on records of flow-record sources (escaped as the readable path escapes it). */
  setReporter(id: number, name: string): void {
    const text = reporterJson(name).slice(1, -1); // the JSON string's content, as the readable path writes it
    const at = this.x.scratchPtr();
    for (let i = 0; i < text.length; i++) this.u8[at + i] = text.charCodeAt(i);
    const ok = this.x.setReporter(id, text.length) === 0;
    this.views();
    if (!ok) throw new Error(`flow formatter: cannot store reporter ${id}`);
  }

  /**
   * Format `count` records from recs[off…] and hand the text to `write`
   * (a view of the module's output region, valid only during the call).
   */
  format(recs: Uint8Array, count: number, write: (text: Uint8Array) => void): void {
    const cap = this.batchRecords;
    const recAt = this.x.recordsPtr(), outAt = this.x.outPtr();
    for (let done = 0; done < count;) {
      const take = Math.min(cap, count - done);
      this.u8.set(recs.subarray(done * REC_SIZE, (done + take) * REC_SIZE), recAt);
      for (let i = 0; i < take;) {
        const n = this.x.format(i, take - i);
        if (n === 0) throw new Error('flow formatter made no progress');
        write(this.u8.subarray(outAt, outAt + this.x.outLength()));
        i += n;
      }
      done += take;
    }
  }
}
