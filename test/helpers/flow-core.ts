// Test harness for the flow table (asm/flows.ts): loads build/core.test.wasm
// (asm/test-entry.ts = the release exports plus hooks that set the packet.ts
// globals directly), rebuilding it when any asm/*.ts is newer, and feeds it
// synthetic packets or whole capture files. Records are decoded with the JS
// mirror of the record layout (sensor/core/flow-record.ts), so these tests
// also check that the core writes what the mirror reads.
import { readFileSync, statSync, readdirSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { REC_SIZE, decodeRawFlow, type RawFlow } from '../../sensor/core/flow-record.ts';
import { counterIndex } from '../../sensor/core/counters.ts';
import { formatAddress, formatMac, parseAddress } from '../../sensor/flows/ip-address.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WASM = join(ROOT, 'build', 'core.test.wasm');

/** Build build/core.test.wasm from asm/test-entry.ts unless it is newer than every asm source. */
export function buildTestWasm(): void {
  const asmDir = join(ROOT, 'asm');
  const newest = Math.max(...readdirSync(asmDir).filter((f) => /\.(ts|json)$/.test(f)).map((f) => statSync(join(asmDir, f)).mtimeMs));
  if (existsSync(WASM) && statSync(WASM).mtimeMs >= newest) return;
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'assemblyscript', 'bin', 'asc.js'), 'asm/test-entry.ts',
      '--config', 'asm/asconfig.json', '--target', 'release', '--outFile', 'build/core.test.wasm', '--textFile', 'build/core.test.wat'],
    { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    throw new Error(`building build/core.test.wasm failed:\n${String((e as { stderr?: Buffer }).stderr ?? e)}`);
  }
}

/** A flow record with printable addresses and MACs. */
export interface FlowRec extends Omit<RawFlow, 'origH' | 'respH' | 'origMac' | 'respMac'> {
  origH: string;
  respH: string;
  origMac: string;
  respMac: string;
}

function toRec(f: RawFlow): FlowRec {
  return {
    ...f,
    origH: formatAddress(f.origH, f.ipVersion),
    respH: formatAddress(f.respH, f.ipVersion),
    origMac: f.origMac ? formatMac(f.origMac) : '',
    respMac: f.respMac ? formatMac(f.respMac) : '',
  };
}

export const TCP = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

export interface Pkt {
  ts: number;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  proto?: 'tcp' | 'udp' | 'icmp' | number;
  flags?: number;
  seq?: number;
  ack?: number;
  win?: number;
  /** transport payload bytes */
  len?: number;
  ipLen?: number;
  wire?: number;
  vlan?: number;
  innerVlan?: number;
  tunnel?: number;
  tunnelId?: number;
  srcMac?: string;
  dstMac?: string;
  iface?: number;
  laterFragment?: boolean;
  noPorts?: boolean;
  extra?: [number, number, number, number];
}

interface TestExports {
  memory: WebAssembly.Memory;
  /** present while asconfig.json has exportStart */
  _start?: () => void;
  init(flowCapacity: number, fragCapacity: number, inputBytes: number, outputRecords: number): number;
  configure(tcp: number, udp: number, icmp: number, other: number, closeDelay: number, active: number): void;
  inputPtr(): number;
  inputCapacity(): number;
  outputPtr(): number;
  outputCount(): number;
  outputClear(): void;
  countersPtr(): number;
  numCounters(): number;
  beginCapture(format: number): void;
  feed(len: number, baseOffset: number, final: number): number;
  status(): number;
  flushAll(): number;
  testSrcPtr(): number;
  testDstPtr(): number;
  testSrcMacPtr(): number;
  testDstMacPtr(): number;
  testBegin(ts: number, wireLen: number, iface: number, ipVersion: number, proto: number, ipLen: number): void;
  testPorts(sport: number, dport: number, payloadLen: number): void;
  testPayload(len: number): void;
  testTcp(flags: number, seq: number, ack: number, window: number): void;
  testVlan(outer: number, inner: number): void;
  testTunnel(kind: number, id: number): void;
  testMac(v: number): void;
  testLaterFragment(v: number): void;
  testExtra(pkts: number, ipBytes: number, wireBytes: number, payload: number): void;
  testCommit(): number;
  testAdvance(now: number): number;
  testActiveFlows(): number;
  testBench(n: number, flows: number, tcp: number, t0: number, dt: number): number;
  testFlipSynAck(v: number): void;
}

function addr(text: string): Uint8Array {
  const a = parseAddress(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a.bytes;
}

function mac(text: string): number[] {
  return text.split(':').map((h) => parseInt(h, 16));
}

export class TestCore {
  readonly x: TestExports;
  readonly records: FlowRec[] = [];

  /** timeouts: tcp, udp, icmp, other, close delay, active (0 = default) */
  constructor(flowCapacity = 1024, outputRecords = 64, timeouts: number[] = [0, 0, 0, 0, 0, 0], inputBytes = 1 << 20) {
    buildTestWasm();
    const mod = new WebAssembly.Module(readFileSync(WASM));
    const inst = new WebAssembly.Instance(mod, { env: { abort: () => { throw new Error('wasm abort'); } } });
    this.x = inst.exports as unknown as TestExports;
    this.x._start?.(); // with asconfig exportStart, globals (and the allocator) are only set up by this call
    if (this.x.init(flowCapacity, 256, inputBytes, outputRecords) !== 0) throw new Error('init failed');
    const t = [0, 1, 2, 3, 4, 5].map((i) => timeouts[i] ?? 0);
    this.x.configure(t[0]!, t[1]!, t[2]!, t[3]!, t[4]!, t[5]!);
  }

  get mem(): ArrayBuffer { return this.x.memory.buffer; }

  /** Move the output region into `records`. */
  drain(): void {
    const n = this.x.outputCount(), p = this.x.outputPtr();
    const dv = new DataView(this.mem), u8 = new Uint8Array(this.mem);
    for (let i = 0; i < n; i++) this.records.push(toRec(decodeRawFlow(dv, u8, p + i * REC_SIZE)));
    this.x.outputClear();
  }

  counter(constName: string): number {
    return new Float64Array(this.mem, this.x.countersPtr(), this.x.numCounters())[counterIndex(constName)]!;
  }

  /** Account one synthetic packet (advancing the clock and sweeping first, like capture.ts). */
  packet(p: Pkt): void {
    const x = this.x;
    const proto = p.proto === undefined || p.proto === 'tcp' ? 6 : p.proto === 'udp' ? 17 : p.proto === 'icmp' ? (p.src.includes(':') ? 58 : 1) : p.proto;
    const v6 = p.src.includes(':');
    const len = p.len ?? 0;
    const l4 = proto === 6 ? 20 : proto === 17 || proto === 1 || proto === 58 ? 8 : 0;
    const ipLen = p.ipLen ?? (v6 ? 40 : 20) + l4 + len;
    x.testBegin(p.ts, p.wire ?? ipLen + 14, p.iface ?? 0, v6 ? 6 : 4, proto, ipLen);
    new Uint8Array(this.mem, x.testSrcPtr(), 16).set(addr(p.src));
    new Uint8Array(this.mem, x.testDstPtr(), 16).set(addr(p.dst));
    if (p.noPorts) x.testPayload(len);
    else x.testPorts(p.sport ?? 0, p.dport ?? 0, len);
    if (proto === 6) x.testTcp(p.flags ?? TCP.ACK, (p.seq ?? 0) >>> 0, (p.ack ?? 0) >>> 0, p.win ?? 8192);
    if (p.vlan !== undefined || p.innerVlan !== undefined) x.testVlan(p.vlan ?? 0xffff, p.innerVlan ?? 0xffff);
    if (p.tunnel !== undefined) x.testTunnel(p.tunnel, p.tunnelId ?? 0);
    if (p.srcMac) {
      x.testMac(1);
      new Uint8Array(this.mem, x.testSrcMacPtr(), 6).set(mac(p.srcMac));
      new Uint8Array(this.mem, x.testDstMacPtr(), 6).set(mac(p.dstMac ?? '00:00:00:00:00:00'));
    }
    if (p.laterFragment) x.testLaterFragment(1);
    if (p.extra) x.testExtra(...p.extra);
    while (x.testCommit() === 0) this.drain();
    this.drain();
  }

  /** Advance the capture clock without a packet; drains until the sweep is done. */
  advance(now: number): void {
    while (this.x.testAdvance(now) === 0) this.drain();
    this.drain();
  }

  /** End of input: every open flow, then all records so far. */
  flush(): FlowRec[] {
    while (this.x.flushAll() === 0) this.drain();
    this.drain();
    return this.records;
  }
}
