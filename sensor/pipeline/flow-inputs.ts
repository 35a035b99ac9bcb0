// Inputs that are not packet captures: flow logs (AWS, Azure, GCP, Zeek
// conn.log) and captures of NetFlow/IPFIX/sFlow export packets. Each goes
// through its reader into the EventPump (→ the core's flow-event merger);
// sFlow's sampled packet headers go through the packet decoder instead.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { constants, gunzipSync } from 'node:zlib';
import type { WasmCore } from '../core/wasm-core.ts';
import { readAwsVpc } from '../flowlogs/aws-vpc-reader.ts';
import { readAzureFlowFile, readAzureFlowLogs, type ResumePoint } from '../flowlogs/azure-reader.ts';
import { readGcpVpc } from '../flowlogs/gcp-vpc-reader.ts';
import { sniffFlowLog, type FlowLogFormat } from '../flowlogs/sniff.ts';
import { expandInput } from '../flowlogs/text-input.ts';
import { readZeekConn } from '../flowlogs/zeek-conn-reader.ts';
import { NetflowDecoder } from '../netflow/datagram.ts';
import { readNetflowCapture } from '../netflow/netflow-pcap.ts';
import type { NetflowStats, SampledFrame } from '../netflow/common.ts';
import type { InterfaceStats } from '../netflow/interface-stats.ts';
import { SOURCE } from '../flowlogs/flow-event.ts';
import { sniffMagic } from '../sources/capture-format.ts';
import type { Drain } from './capture-pump.ts';
import type { EventPump } from './event-pump.ts';
import { CoreAwsLines } from './aws-core-lines.ts';
import { CoreDataSets } from './core-data-sets.ts';

export const FLOW_FORMATS = ['aws-vpc', 'azure', 'gcp-vpc', 'zeek-conn', 'netflow-pcap'] as const;
export type FlowFormat = (typeof FLOW_FORMATS)[number];
export const INPUT_FORMATS = ['auto', 'pcap', 'pcapng', ...FLOW_FORMATS] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export function isFlowFormat(f: string): f is FlowFormat {
  return (FLOW_FORMATS as readonly string[]).includes(f);
}

/** The first bytes of a file, gunzipped if it is gzip (a partial stream is fine). */
function headOf(path: string, n = 64 << 10): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    const head = buf.subarray(0, got);
    if (sniffMagic(head).kind !== 'gzip') return head;
    try { return gunzipSync(head, { finishFlush: constants.Z_SYNC_FLUSH }); } catch { return Buffer.alloc(0); }
  } finally {
    closeSync(fd);
  }
}

/**
 * What an input holds, for --format auto: 'capture' (pcap/pcapng: the
 * packet path decides which), a flow-log format, or null (unknown). A
 * directory is judged by its first file; standard input is always treated
 * as a capture (flow logs on stdin need --format).
 */
export function detectInput(path: string): 'capture' | FlowLogFormat | null {
  if (path === '-') return 'capture';
  let first = path;
  try {
    if (statSync(path).isDirectory()) {
      const files = expandInput(path);
      if (files.length === 0) return null;
      first = files[0]!;
    }
    const head = headOf(first);
    if (sniffMagic(head).kind === 'capture') return 'capture';
    return sniffFlowLog(head);
  } catch {
    return 'capture'; // unreadable: let the capture path report it as usual
  }
}

/** The first bytes of a file as hex, for "what is this" messages. */
export function firstBytesHex(path: string, n = 8): string {
  try { return headOf(path, n).toString('hex') || 'empty'; } catch { return 'unreadable'; }
}

/**
 * Where sampled packet headers (sFlow, IPFIX packet sections) go: the packet
 * decoder, each credited as 1-in-N packets of its size. A full output region
 * answers 2: drain it and try again.
 */
export function sampledFrameIngest(core: WasmCore, drain: Drain): (f: SampledFrame) => void {
  return (f) => {
    if (f.linktype < 0) return;
    for (let i = 0; i < 3 && core.ingestSampledFrame(f.frame, f.frameLength, f.linktype, f.time, f.samplingRate, SOURCE[f.source]) === 2; i++) drain(core);
  };
}

export interface FlowInputOptions {
  /** AWS: field order for files without a header line */
  awsFormat?: string;
  /**
   * Azure, for `run`'s watched folders: the blob may still be appended to
   * (an unterminated end is not an error); go on from `resume`, what a
   * previous read of it returned as azureResume.
   */
  azureGrowing?: { resume?: ResumePoint };
  /** sFlow interface counters go here */
  interfaces?: InterfaceStats;
  /** AWS VPC lines through the core's line parser (default); false: every line through the JavaScript parser (tests compare the two) */
  awsInCore?: boolean;
  /** NetFlow v9 / IPFIX data records through the core's decoder (default); false: all through the JavaScript decoder (tests compare the two) */
  netflowInCore?: boolean;
}

export interface FlowInputResult {
  /** events the reader handed over */
  events: number;
  /** records the reader rejected */
  rejected: number;
  /** sFlow / IPFIX packet samples sent through the packet decoder */
  sampledFrames?: number;
  /** NetFlow/IPFIX/sFlow decoding: datagrams, templates, sequence losses, … */
  netflow?: NetflowStats;
  /** AWS VPC: lines the core's line parser took (the rest went through the JavaScript parser) */
  awsLinesInCore?: number;
  /** NetFlow v9 / IPFIX: data records the core decoded (the rest went through the JavaScript decoder) */
  netflowRecordsInCore?: number;
  /** Azure: where to go on when the blob grows (pass back as azureGrowing.resume); null: never (a bad blob) */
  azureResume?: ResumePoint | null;
}

/**
 * Read one flow input into the pump (and sampled frames into the core).
 * Throws only for an input that cannot be opened at all.
 */
export async function readFlowInput(
  path: string,
  format: FlowFormat,
  pump: EventPump,
  core: WasmCore,
  drain: Drain,
  opts: FlowInputOptions = {},
): Promise<FlowInputResult> {
  if (path !== '-') expandInput(path); // a missing input fails here, loudly, not as a rejection
  const before = { events: pump.counters.events, rejected: totalRejected(pump) };
  const done = (extra: Partial<FlowInputResult> = {}): FlowInputResult => {
    pump.push();
    return { events: pump.counters.events - before.events, rejected: totalRejected(pump) - before.rejected, ...extra };
  };
  switch (format) {
    case 'aws-vpc': {
      const lines = opts.awsInCore === false ? undefined : new CoreAwsLines(core, pump);
      await readAwsVpc(path, pump, { format: opts.awsFormat, lines });
      return done({ awsLinesInCore: lines?.totalTaken ?? 0 });
    }
    case 'azure': {
      if (opts.azureGrowing) {
        // read to its last complete record and say where that was
        const res = await readAzureFlowFile(path, pump, { tail: true, resume: opts.azureGrowing.resume });
        return done({ azureResume: res.resumable ? { offset: res.resumeOffset, inRecords: res.inRecords } : null });
      }
      await readAzureFlowLogs(path, pump);
      return done();
    }
    case 'gcp-vpc': await readGcpVpc(path, pump); return done();
    case 'zeek-conn': await readZeekConn(path, pump); return done();
    case 'netflow-pcap': {
      let frames = 0;
      const ingest = sampledFrameIngest(core, drain);
      const onSflow = (f: SampledFrame) => { if (f.linktype >= 0) frames++; ingest(f); };
      const dataSets = opts.netflowInCore === false ? undefined : new CoreDataSets(core, pump);
      const decoder = new NetflowDecoder({ sink: pump, onSflow, onCounters: (c) => opts.interfaces?.update(c), dataSets });
      for (const file of expandInput(path)) await readNetflowCapture(file, decoder);
      return done({ sampledFrames: frames, netflow: decoder.stats, netflowRecordsInCore: dataSets?.totalTaken ?? 0 });
    }
  }
}

function totalRejected(p: EventPump): number {
  let n = 0;
  for (const v of Object.values(p.counters.rejected)) n += v;
  return n;
}
