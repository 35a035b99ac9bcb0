// The offline job: captures → Wasm core → flow records → sinks. Uses the
// capture's own clock throughout, so replaying days of traffic takes seconds
// and yields what a live run would have.
import { R, REC_SIZE, RF_INTERIM, decodeRawFlow } from '../core/flow-record.ts';
import { WasmCore, type CaptureFormat, type CoreOptions } from '../core/wasm-core.ts';
import { LocalNets } from '../flows/local-nets.ts';
import { toFlowRecord, type FlowRecord } from '../flows/zeek-record.ts';
import { InputErrorReporter } from '../log/input-errors.ts';
import { logger, type Log } from '../log/logger.ts';
import { InputError, openCaptureInput } from '../sources/capture-input.ts';
import { statSync } from 'node:fs';
import { ThreadedFlowSink } from '../sinks/threaded-flow-sink.ts';
import type { SinkCounters } from '../sinks/fd-write.ts';
import { flushCore, pumpCapture, type CapturePosition, type Drain } from './capture-pump.ts';
import { EventPump } from './event-pump.ts';
import type { DetectionOptions, DetectionSummary } from './detection-stage.ts';
import { detectInput, firstBytesHex, isFlowFormat, readFlowInput, type FlowFormat, type InputFormat } from './flow-inputs.ts';
import { ReporterIds } from '../flowlogs/flow-event.ts';
import { expandInput } from '../flowlogs/text-input.ts';
import type { EventOptions } from '../core/wasm-core.ts';
import type { NetflowStats } from '../netflow/common.ts';
import { InterfaceStats, type InterfaceSnapshot } from '../netflow/interface-stats.ts';
import { Progress } from './progress.ts';
import { openDetectionWithState, type StateOptions, type StateSummary } from './state-keeper.ts';

export interface AnalyzeOptions extends Omit<DetectionOptions, 'state'> {
  inputs: string[];
  /** auto: captures by magic number, flow logs by content (see flow-inputs.ts) */
  format?: InputFormat;
  /** the flow-event merger (flow-record sources): lateness window, idle gap, table size */
  events?: EventOptions;
  /** AWS VPC flow logs without a header line: their field order */
  awsFormat?: string;
  core?: CoreOptions;
  localNets?: string[];
  communityIdSeed?: number;
  /** flow records as JSON lines to this file ("-" = stdout), formatted and written by a writer thread */
  flowsTo?: string;
  /** flow records in this thread (tests, the demo); slower than flowsTo */
  onRecord?: (rec: FlowRecord) => void;
  log?: Log;
  progress?: boolean;
  /** durable state (--state DIR): resume from its snapshot, snapshot as input flows, breaches stored */
  state?: StateOptions;
  /** stop early (SIGINT/SIGTERM with --state): a capture stops at a batch boundary and its position is snapshotted */
  stop?: AbortSignal;
  /** told once the state is open (created, or moved aside with --fresh-state, and locked): the uplink opens it from then on */
  onStateReady?: (dir: string) => void;
}

/** Thrown out of a capture's batch when the run is asked to stop. */
class Interrupted extends Error {}

export interface InputSummary {
  name: string;
  format?: CaptureFormat | FlowFormat;
  /** flow-record inputs: events read and records rejected */
  events?: number;
  rejected?: number;
  /** export-packet captures: the decoder's counters (sequence losses, templates, …) */
  netflow?: Omit<NetflowStats, 'rejected'>;
  compressed?: boolean;
  /** --state: the input was read to its end in an earlier run (its checkpoint says so): skipped */
  already_in_state?: boolean;
  /** --state: a capture carried on from its checkpoint at this byte offset */
  resumed_at?: number;
  /** bytes of the input: a capture's as read, a flow input's file sizes (a folder: all its files) */
  bytes: number;
  ok: boolean;
  error?: string;
}

export interface AnalyzeSummary {
  inputs: InputSummary[];
  packets: number;
  /** records from flow-record sources (flow logs, NetFlow, Zeek) */
  flow_events: number;
  flow_records: number;
  interim_records: number;
  capture: { first_ts: number | null; last_ts: number | null; span_s: number };
  wall_s: number;
  packets_per_s: number;
  /** the process's peak resident memory so far (every thread), MiB */
  peak_rss_mib: number;
  counters: Record<string, number>;
  errors: Record<string, number>;
  sink?: SinkCounters & { target: string; error?: string };
  /** detection (when --breaches or onBreach): what the engine saw and raised */
  detection?: DetectionSummary;
  /** sFlow interface counters: the latest per (agent, ifIndex) */
  interfaces?: InterfaceSnapshot[];
  /** --state: what was resumed, snapshots written and the pause they cost, breaches stored */
  state?: StateSummary;
  /** the run was asked to stop before its inputs ended (opts.stop): run it again to carry on */
  interrupted?: boolean;
}

/**
 * Inputs that are all regular files (or folders) of under 32 MiB together:
 * their flow records likely fit one partial batch, so the writer thread is
 * started only if they do not (a ~50 ms start saved). Larger inputs start it
 * at once, so its start overlaps reading instead of holding the reader up
 * once the first batches wait for it (measured: 0.12 s on the 2 M-packet
 * benchmark when it started with the first full batch).
 */
function smallInputs(paths: string[]): boolean {
  let total = 0;
  for (const p of paths) {
    if (p === '-') return false;
    try {
      const st = statSync(p);
      if (!st.isFile() && !st.isDirectory()) return false; // a pipe or device: its size says nothing
    } catch { continue; /* unreadable: reported when read */ }
    total += filesBytes(p);
  }
  return total < 32 << 20;
}

export async function analyze(opts: AnalyzeOptions): Promise<AnalyzeSummary> {
  const log = opts.log ?? logger();
  const core = new WasmCore(opts.core);
  const reporter = new InputErrorReporter(log);
  const progress = new Progress(opts.progress);
  const inputs: InputSummary[] = [];
  let flowRecords = 0, interim = 0, firstTs = Infinity, lastRecordTs = -Infinity;
  const reporters = new ReporterIds();
  const ctx = { localNets: new LocalNets(opts.localNets), communityIdSeed: opts.communityIdSeed, reporterName: (id: number) => reporters.name(id) };
  // before the flow sink (detection-stage.ts says why)
  const { keeper, detector } = await openDetectionWithState(core, { ...opts, state: undefined, reporters }, opts.state, opts.events, log);
  if (keeper && opts.state) opts.onStateReady?.(opts.state.dir);
  const sink = opts.flowsTo
    ? new ThreadedFlowSink(opts.flowsTo, { localNets: opts.localNets, communityIdSeed: opts.communityIdSeed, reporters, lazy: smallInputs(opts.inputs) })
    : null;

  // Records leave the core as raw bytes: learned from first (the detector),
  // counted here, shipped to the writer thread as one copy per batch,
  // decoded in this thread only for onRecord.
  const drain: Drain = (c) => { detector?.pull(c); c.drainRaw((bytes, n) => {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0, off = 0; i < n; i++, off += REC_SIZE) {
      const ts = dv.getFloat64(off + R.TS, true);
      if (ts < firstTs) firstTs = ts;
      const last = dv.getFloat64(off + R.LAST_TS, true);
      if (last > lastRecordTs) lastRecordTs = last;
      if (bytes[off + R.FLAGS]! & RF_INTERIM) interim++;
    }
    flowRecords += n;
    sink?.writeBatch(bytes, n);
    if (opts.onRecord) for (let i = 0; i < n; i++) opts.onRecord(toFlowRecord(decodeRawFlow(dv, bytes, i * REC_SIZE), ctx));
  }); };

  /** the newest capture time so far (a snapshot's capture_ts) */
  const lastSeenTs = (): number | null => {
    const t = Math.max(core.counter('C_RECORDS') > 0 ? core.lastTs() : -Infinity, lastRecordTs);
    return Number.isFinite(t) ? t : null;
  };
  const interfaces = new InterfaceStats();
  // The flow-event side is set up on the first flow-record input.
  let pump = null as EventPump | null; // (the assertion keeps TS from narrowing it to null: it is set inside eventPump())
  const eventPump = (): EventPump => {
    if (!pump) {
      core.enableEvents(opts.events);
      pump = new EventPump(core, drain, (r) => reporter.edgeError(r.kind, r.input, { message: r.message, offset: r.offset, line: r.line }), () => {
        reporter.checkCore(core, 'flow events');
        sink?.flushIfStale();
        if (keeper && flowInput && !opts.stop?.aborted) keeper.afterEvents(flowInput, pump!.inputEvents, core, detector, lastSeenTs());
        crashPoint();
        progress.update(core.counter('C_RECORDS'), core.counter('C_CAPTURE_BYTES'), flowRecords, core.counter('C_EVENTS_IN'));
      }, reporters);
    }
    return pump;
  };

  // Fault injection for the crash tests (test/state-resume.test.ts): after
  // this many batches the process signals itself (SIGKILL by default: it
  // dies there, nothing flushed; SIGINT: a clean stop).
  const killAt = Number(process.env.EDGE_SENSOR_TEST_KILL_AT_BATCH ?? 0);
  const killWith = (process.env.EDGE_SENSOR_TEST_KILL_SIGNAL ?? 'SIGKILL') as NodeJS.Signals;
  let batches = 0;
  const crashPoint = killAt > 0 ? () => { if (++batches === killAt) process.kill(process.pid, killWith); } : () => {};

  const started = process.hrtime.bigint();
  /** where the capture being read stood when the run was asked to stop */
  let stoppedAt = null as { path: string; pos: CapturePosition } | null;
  /** the flow-record input being read (its batches may be snapshotted) */
  let flowInput = null as string | null;
  let interrupted = false;
  for (const path of opts.inputs) {
    if (opts.stop?.aborted) { interrupted = true; break; }
    const summary: InputSummary = { name: path === '-' ? '<stdin>' : path, bytes: 0, ok: false };
    inputs.push(summary);
    const requested = opts.format ?? 'auto';
    const kind = requested === 'auto' ? detectInput(path) : isFlowFormat(requested) ? requested : 'capture';
    const cp = keeper?.checkpoint(path) ?? null;
    if (cp?.done) {
      summary.ok = true;
      summary.already_in_state = true;
      log.info({ input: summary.name }, 'already read to its end in this state: skipped');
      continue;
    }
    if (kind !== null && kind !== 'capture') {
      summary.format = kind;
      const p = eventPump();
      p.push(); // what came before this input is not counted as its events
      p.beginInput();
      if (cp?.events) { p.skipInput(cp.events); summary.resumed_at = cp.events; }
      flowInput = path;
      try {
        const res = await readFlowInput(path, kind, eventPump(), core, drain, { awsFormat: opts.awsFormat, interfaces });
        summary.events = res.events;
        summary.rejected = res.rejected;
        if (path !== '-') summary.bytes = filesBytes(path); // standard input: not counted
        if (res.netflow) summary.netflow = { ...res.netflow };
        summary.ok = true;
        // the merger's pending flows are in the core's memory (its image): only the reader's last events are handed over
        if (keeper) {
          pump?.push();
          if (pump!.stillToSkip > 0) throw new Error(`${summary.name} has fewer flow records than its checkpoint (${cp?.events}): not the input the state was saved from`);
          keeper.inputDone(path, core, detector, lastSeenTs());
        }
      } catch (e) {
        const err = e as Error & { kind?: string };
        summary.ok = false;
        summary.error = `${summary.name}: ${err.message}`;
        reporter.edgeError(err.kind ?? 'unreadable_input', summary.name, { error: err.message });
      } finally {
        flowInput = null;
      }
      continue;
    }
    if (kind === null) {
      summary.error = `${summary.name}: neither a capture nor a flow log this sensor recognises (starts with ${firstBytesHex(path)}); name its format with --format`;
      reporter.edgeError('unknown_format', summary.name, { error: summary.error });
      continue;
    }
    let input;
    try {
      input = await openCaptureInput(path, requested === 'pcap' || requested === 'pcapng' ? requested : 'auto', (err) =>
        reporter.edgeError('stream_error', summary.name, { error: err.message }),
      );
    } catch (e) {
      const kind = e instanceof InputError ? e.kind : 'unreadable_input';
      summary.error = (e as Error).message;
      reporter.edgeError(kind, summary.name, { error: summary.error });
      continue;
    }
    summary.format = input.format;
    summary.compressed = input.compressed;
    try {
      if (cp?.position) summary.resumed_at = cp.position.base + cp.position.carry;
      const res = await pumpCapture(core, input, drain, (pos) => {
        reporter.checkCore(core, summary.name);
        sink?.flushIfStale();
        progress.update(core.counter('C_RECORDS'), core.counter('C_CAPTURE_BYTES'), flowRecords, core.counter('C_EVENTS_IN'));
        if (opts.stop?.aborted) { stoppedAt = { path, pos }; throw new Interrupted(); }
        keeper?.afterBatch(path, pos, core, detector, lastSeenTs());
        crashPoint();
      }, cp?.position, opts.stop ? 50 : 0);
      summary.bytes = res.bytes;
      summary.ok = res.usable;
      if (keeper && res.usable) keeper.inputDone(path, core, detector, lastSeenTs());
      if (!res.usable) summary.error = `${summary.name}: not a readable ${input.format} capture (bad file header)`;
    } catch (e) {
      if (!(e instanceof Interrupted)) throw e;
      summary.ok = true;
      interrupted = true;
      break;
    } finally {
      input.source.close();
    }
  }
  if (interrupted) log.warn({ at: stoppedAt ? { input: stoppedAt.path, offset: stoppedAt.pos.base + stoppedAt.pos.carry } : null }, 'stopped before the end of the input: run again with the same --state to carry on');
  let stateSummary: StateSummary | undefined;
  if (!interrupted) {
    pump?.finish();
    flushCore(core, drain);
    reporter.checkCore(core, 'end of input');
    stateSummary = keeper ? await keeper.finish(core, detector, lastSeenTs(), true) : undefined;
  } else if (keeper) {
    // open flows stay open in the snapshot: the next run carries on with them. A flow input stopped part-way has no position: the state stays at its start
    const at = stoppedAt;
    if (at) keeper.checkpointPosition(at.path, at.pos);
    stateSummary = await keeper.finish(core, detector, lastSeenTs(), at !== null);
  }
  const coreDone = process.hrtime.bigint();
  const sinkCounters = sink ? { target: sink.target, ...(await sink.close()) } : undefined;
  log.debug({ core_loop_s: Number(coreDone - started) / 1e9, writer_tail_s: Number(process.hrtime.bigint() - coreDone) / 1e9 }, 'timing');
  if (sinkCounters?.error) log.error({ target: sinkCounters.target, error: sinkCounters.error }, 'cannot write flow records');
  progress.done();
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const packets = core.counter('C_RECORDS');
  const lastSeen = Math.max(packets > 0 ? core.lastTs() : -Infinity, lastRecordTs);
  const lastTs = Number.isFinite(lastSeen) ? lastSeen : null;
  const first = Number.isFinite(firstTs) ? firstTs : null;
  const detection = await detector?.finish(lastTs ?? 0, log);
  const counters = core.counters();
  detector?.mergeCounters(counters);
  return {
    inputs,
    packets,
    flow_events: core.counter('C_EVENTS_IN'),
    flow_records: flowRecords,
    interim_records: interim,
    capture: { first_ts: first, last_ts: lastTs, span_s: first !== null && lastTs !== null ? Math.max(0, lastTs - first) : 0 },
    wall_s: wall,
    packets_per_s: wall > 0 ? packets / wall : 0,
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024 * 10) / 10,
    counters,
    errors: reporter.totals(core),
    sink: sinkCounters,
    ...(detection ? { detection } : {}),
    ...(interfaces.size ? { interfaces: interfaces.snapshot() } : {}),
    ...(stateSummary ? { state: stateSummary } : {}),
    ...(interrupted ? { interrupted: true } : {}),
  };
}

/** Convenience for tests and tools: every flow record in memory. */
export async function analyzeToArray(inputs: string[], opts: Omit<AnalyzeOptions, 'inputs' | 'onRecord'> = {}): Promise<{ flows: FlowRecord[]; summary: AnalyzeSummary }> {
  const flows: FlowRecord[] = [];
  const summary = await analyze({ ...opts, inputs, onRecord: (r) => flows.push(r), progress: false });
  return { flows, summary };
}

/** Size of a flow input: the file, or every file of a folder tree (as the readers take them). */
function filesBytes(path: string): number {
  let n = 0;
  try { for (const f of expandInput(path)) n += statSync(f).size; } catch { /* reported by the reader */ }
  return n;
}
