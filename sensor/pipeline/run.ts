// The long-running job: packets from a capture or a live pipe, NetFlow/IPFIX/
// sFlow from UDP collectors and flow logs from watched folders, all at once,
// into one Wasm core and one stream of flow records — until stopped.
//
// Everything runs on this thread's event loop: each step (a chunk of
// packets, a datagram, a flow-log file) works the core synchronously between
// awaits, so the sources interleave without locking. Live inputs have no
// "end", so quiet flows are timed out by wall time: once a second the packet
// and event clocks are moved to now — only while the data is live (its
// newest time within a minute / the lateness window of now), so replaying
// old files through `run` keeps the data's own clock.
import { statSync } from 'node:fs';
import { WasmCore, type CoreOptions, type EventOptions } from '../core/wasm-core.ts';
import { ReporterIds } from '../flowlogs/flow-event.ts';
import { expandInput } from '../flowlogs/text-input.ts';
import type { FlowLogFormat } from '../flowlogs/sniff.ts';
import { InputErrorReporter } from '../log/input-errors.ts';
import { logger, type Log } from '../log/logger.ts';
import { startNetflowCollector } from '../netflow/collector.ts';
import type { NetflowStats } from '../netflow/common.ts';
import { InterfaceStats, type InterfaceSnapshot } from '../netflow/interface-stats.ts';
import type { SinkCounters } from '../sinks/fd-write.ts';
import { ThreadedFlowSink } from '../sinks/threaded-flow-sink.ts';
import { openCaptureInput } from '../sources/capture-input.ts';
import { flushCore, pumpCapture, type Drain } from './capture-pump.ts';
import { CoreDataSets } from './core-data-sets.ts';
import { EventPump } from './event-pump.ts';
import type { DetectionOptions, DetectionSummary } from './detection-stage.ts';
import { detectInput, readFlowInput, sampledFrameIngest } from './flow-inputs.ts';
import type { ResumePoint } from '../flowlogs/azure-reader.ts';
import { openDetectionWithState, type StateOptions, type StateSummary } from './state-keeper.ts';
import type { CapturePosition } from './capture-pump.ts';

export interface WatchSpec { dir: string; format: FlowLogFormat | 'auto' }

export interface RunOptions extends Omit<DetectionOptions, 'state'> {
  /** a capture file or "-" (a live pipe from tcpdump -w -) */
  packets?: string;
  /** udp://host:port, one collector each */
  netflow?: string[];
  watch?: WatchSpec[];
  /** seconds between folder scans */
  pollSeconds?: number;
  flowsTo?: string;
  localNets?: string[];
  core?: CoreOptions;
  events?: EventOptions;
  awsFormat?: string;
  log?: Log;
  /** resolves when the run should stop (SIGINT/SIGTERM in the CLI) */
  stop: Promise<void>;
  /** told once everything listens (the collectors' bound ports) */
  onReady?: (info: { netflowPorts: number[] }) => void;
  /** durable state (--state DIR): carried on from at start, snapshotted every everyS seconds and at the stop */
  state?: StateOptions;
  /** told once the state is open (created, or moved aside with --fresh-state, and locked): the uplink opens it from then on */
  onStateReady?: (dir: string) => void;
}

export interface RunSummary {
  packets: number;
  flow_events: number;
  flow_records: number;
  files_read: number;
  datagrams: number;
  /** seconds from the first to the latest record the collectors delivered (their sustained rate = records / this) */
  netflow_busy_s: number;
  /** each collector's decoding counters (sequence losses, templates, rejections) */
  /** per collector: its decoder's counters, and the v9/IPFIX records the core decoded (recordsInCore) */
  collectors: ({ url: string; port: number; recordsInCore: number } & Omit<NetflowStats, 'rejected'>)[];
  /** sFlow interface counters: the latest per (agent, ifIndex) */
  interfaces: InterfaceSnapshot[];
  counters: Record<string, number>;
  errors: Record<string, number>;
  inputs: { packets?: { name: string; ok: boolean; error?: string } };
  /** the --flows writer: records received, sent, discarded; errors > 0 means flow records were lost */
  sink?: SinkCounters & { target: string; error?: string };
  /** detection (when --breaches or onBreach): what the engine saw and raised */
  detection?: DetectionSummary;
  /** --state: what was resumed, snapshots written and the pause they cost, breaches stored */
  state?: StateSummary;
}

/** A file in a watched folder: read once it stopped changing; Azure blobs grow and are resumed. */
interface FileState { size: number; mtimeMs: number; stableSince: number; done: boolean; azureResume?: ResumePoint | null }

export async function run(opts: RunOptions): Promise<RunSummary> {
  const log = opts.log ?? logger();
  const core = new WasmCore(opts.core);
  const reporter = new InputErrorReporter(log);
  const reporters = new ReporterIds();
  // Exporters' datagrams cannot wait: with a collector listening, a detection
  // thread that falls behind sheds learning rather than hold up the socket.
  // Files (a watched folder, a capture file) and pipes wait for it instead:
  // what they hold is still there, so their breaches stay exact.
  const shedWhenBehind = (opts.netflow?.length ?? 0) > 0;
  // before the flow sink (detection-stage.ts says why)
  const { keeper, detector } = await openDetectionWithState(core, { shedWhenBehind, ...opts, state: undefined, reporters, log }, opts.state, opts.events, log);
  if (keeper && opts.state) opts.onStateReady?.(opts.state.dir);
  const sink = opts.flowsTo ? new ThreadedFlowSink(opts.flowsTo, { localNets: opts.localNets, reporters }) : null;
  let flowRecords = 0;
  // learned from first (the detector), then shipped to the writer thread
  const drain: Drain = (c) => { detector?.pull(c); c.drainRaw((bytes, n) => { flowRecords += n; sink?.writeBatch(bytes, n); }); };
  const wantsEvents = (opts.netflow?.length ?? 0) > 0 || (opts.watch?.length ?? 0) > 0 || keeper !== null;
  if (wantsEvents) core.enableEvents(opts.events);
  const events = core.eventOptions;
  const pump = wantsEvents
    ? new EventPump(core, drain, (r) => reporter.edgeError(r.kind, r.input, { message: r.message, offset: r.offset, line: r.line }), () => {
      reporter.checkCore(core, 'flow events');
      sink?.flushIfStale();
    }, reporters)
    : null;
  const summary: RunSummary = { packets: 0, flow_events: 0, flow_records: 0, files_read: 0, datagrams: 0, netflow_busy_s: 0, collectors: [], interfaces: [], counters: {}, errors: {}, inputs: {} };
  let stopping = false;
  void opts.stop.then(() => { stopping = true; });

  // ---- NetFlow / IPFIX / sFlow collectors
  const onSflow = sampledFrameIngest(core, drain);
  const collectors: { url: string; c: Awaited<ReturnType<typeof startNetflowCollector>>; inCore: CoreDataSets }[] = [];
  const interfaces = new InterfaceStats();
  // from the first to the last datagram that yielded records: the sustained rate
  let firstAt = 0, lastAt = 0;
  const onDatagram = (records: number) => {
    if (records === 0) return;
    lastAt = performance.now();
    if (firstAt === 0) firstAt = lastAt;
  };
  try {
    for (const url of opts.netflow ?? []) {
      // a large receive buffer rides out bursts (the kernel caps it at net.core.rmem_max)
      const inCore = new CoreDataSets(core, pump!);
      const c = await startNetflowCollector({
        url, sink: pump!, onSflow, onCounters: (x) => interfaces.update(x), receiveBufferSize: 32 << 20, dataSets: inCore, onDatagram,
      });
      log.info({ url, port: c.port }, 'listening for NetFlow/IPFIX/sFlow');
      collectors.push({ url, c, inCore });
    }
  } catch (e) {
    // e.g. the port is taken: stop what was started (the writer thread and
    // open sockets would otherwise keep the process alive after the error)
    for (const { c } of collectors) await c.close();
    await sink?.close();
    throw e;
  }
  opts.onReady?.({ netflowPorts: collectors.map((x) => x.c.port) });

  // ---- watched folders
  const files = new Map<string, FileState>();
  // with state: the files read before the restart are not read again (unless they changed since)
  for (const w of keeper?.watched ?? []) files.set(w.path, { size: w.size, mtimeMs: w.mtimeMs, stableSince: 0, done: w.done, azureResume: w.azureResume ?? null });
  let readingWatched = false;
  keeper?.trackWatched(() => [...files].filter(([, f]) => f.done).map(([path, f]) => ({ path, size: f.size, mtimeMs: f.mtimeMs, done: true, azureResume: f.azureResume ?? null })));
  let scanning = false;
  const scan = async () => {
    if (scanning || stopping) return;
    scanning = true;
    try {
      for (const w of opts.watch ?? []) {
        let list: string[];
        try { list = expandInput(w.dir); } catch (e) { reporter.edgeError('unreadable_input', w.dir, { error: (e as Error).message }); continue; }
        for (const path of list) {
          if (stopping) return;
          let st;
          try { st = statSync(path); } catch { continue; }
          const now = Date.now();
          const prev = files.get(path);
          if (!prev) { files.set(path, { size: st.size, mtimeMs: st.mtimeMs, stableSince: now, done: false }); continue; }
          if (prev.size !== st.size || prev.mtimeMs !== st.mtimeMs) {
            const grew = prev.done && st.size > prev.size;
            Object.assign(prev, { size: st.size, mtimeMs: st.mtimeMs, stableSince: now });
            if (grew && prev.azureResume) prev.done = false; // an hourly blob being appended: go on reading it
            else if (grew) log.warn({ file: path }, 'flow-log file grew after it was read; the new part is not read (only Azure blobs are appended to)');
            continue;
          }
          if (prev.done) continue;
          await readWatched(path, w.format, prev);
        }
      }
    } finally {
      scanning = false;
    }
  };
  const readWatched = async (path: string, format: FlowLogFormat | 'auto', st: FileState) => {
    const fmt = format === 'auto' ? sniffHead(path) : format;
    st.done = true;
    if (!fmt) { reporter.edgeError('unknown_format', path, { error: 'not a flow log this sensor recognises' }); return; }
    // no snapshot while a file is part-way read: its checkpoint is whole files
    readingWatched = true;
    try {
      // Azure appends to the hour's blob: remember where its complete records end
      const res = await readFlowInput(path, fmt, pump!, core, drain, {
        awsFormat: opts.awsFormat, interfaces, azureGrowing: fmt === 'azure' ? { resume: st.azureResume ?? undefined } : undefined,
      });
      if (res.azureResume !== undefined) st.azureResume = res.azureResume;
      summary.files_read++;
      log.info({ file: path, format: fmt }, 'flow-log file read');
    } catch (e) {
      reporter.edgeError('unreadable_input', path, { error: (e as Error).message });
    } finally {
      pump?.push();
      readingWatched = false;
    }
  };
  const poll = opts.watch?.length ? setInterval(() => { void scan(); }, Math.max(0.2, opts.pollSeconds ?? 5) * 1000) : null;
  if (opts.watch?.length) void scan();

  // ---- the live clocks and the batch push
  const tick = setInterval(() => {
    pump?.push();
    const now = Date.now() / 1000;
    const packetLive = summary.packets > 0 && Math.abs(now - core.lastTs()) < 60;
    const eventLive = pump !== null && Math.abs(now - core.eventClock()) < events.lateness + events.gap;
    if (packetLive || eventLive) core.advanceClocks(now, drain, eventLive, packetLive);
    reporter.checkCore(core, 'run');
    sink?.flushIfStale();
    // between steps the core, the detection and the checkpoints agree: a snapshot may be taken
    if (keeper?.due && !readingWatched && !stopping) {
      if (packetPos && opts.packets) keeper.checkpointPosition(opts.packets, packetPos);
      keeper.snapshotNow(core, detector, latestTs());
    }
  }, 1000);
  const latestTs = (): number | null => {
    const t = Math.max(core.counter('C_RECORDS') > 0 ? core.lastTs() : -Infinity, core.eventClock() || -Infinity);
    return Number.isFinite(t) ? t : null;
  };
  const status = setInterval(() => log.info({ packets: core.counter('C_RECORDS'), flow_events: core.counter('C_EVENTS_IN'), flow_records: flowRecords, pending_event_flows: core.eventFlowsPending() }, 'status'), 60_000);
  status.unref();

  // ---- packets (the run's main loop when given; otherwise wait for stop)
  let packetPos = null as CapturePosition | null;
  const packetsDone = (async () => {
    if (!opts.packets) return;
    const name = opts.packets === '-' ? '<stdin>' : opts.packets;
    summary.inputs.packets = { name, ok: false };
    try {
      const input = await openCaptureInput(opts.packets, 'auto', (err) => reporter.edgeError('stream_error', name, { error: err.message }));
      // stopping ends the read (a live pipe never ends by itself)
      void opts.stop.then(() => input.source.close());
      // a capture file carries on from its checkpoint; a live pipe starts where it is (the flows it had open go on)
      const cp = keeper && opts.packets !== '-' ? keeper.checkpoint(opts.packets) : null;
      if (cp?.done) { summary.inputs.packets.ok = true; log.info({ input: name }, 'already read to its end in this state: skipped'); return; }
      const res = await pumpCapture(core, input, drain, (pos) => {
        reporter.checkCore(core, name);
        sink?.flushIfStale();
        summary.packets = core.counter('C_RECORDS');
        packetPos = pos;
      }, cp?.position, keeper ? 50 : 0);
      if (keeper && opts.packets !== '-' && res.usable && !stopping) keeper.inputDone(opts.packets, core, detector, latestTs());
      input.source.close();
      summary.inputs.packets.ok = res.usable;
      if (!res.usable) summary.inputs.packets.error = `${name}: not a readable capture`;
      log.info({ input: name }, 'packet input ended');
    } catch (e) {
      if (!stopping) {
        summary.inputs.packets.error = (e as Error).message;
        reporter.edgeError('unreadable_input', name, { error: (e as Error).message });
      }
    }
  })();

  await opts.stop;
  stopping = true;
  if (poll) clearInterval(poll);
  clearInterval(tick);
  clearInterval(status);
  for (const { c } of collectors) await c.close();
  await Promise.race([packetsDone, new Promise((r) => setTimeout(r, 2000))]);
  let stateSummary: StateSummary | undefined;
  if (keeper) {
    // open flows stay open in the last snapshot: the restarted sensor carries on with them
    pump?.push();
    if (packetPos && opts.packets && opts.packets !== '-') keeper.checkpointPosition(opts.packets, packetPos);
    stateSummary = await keeper.finish(core, detector, latestTs(), true);
  } else {
    pump?.finish();
    flushCore(core, drain);
  }
  reporter.checkCore(core, 'end of run');
  const sinkCounters = sink ? { target: sink.target, ...(await sink.close()) } : undefined;
  if (sinkCounters?.error) log.error({ target: sinkCounters.target, error: sinkCounters.error }, 'cannot write flow records');
  summary.packets = core.counter('C_RECORDS');
  summary.flow_events = core.counter('C_EVENTS_IN');
  summary.flow_records = flowRecords;
  summary.datagrams = collectors.reduce((a, x) => a + x.c.stats.datagrams, 0);
  summary.collectors = collectors.map((x) => ({ url: x.url, port: x.c.port, ...x.c.stats, recordsInCore: x.inCore.totalTaken }));
  summary.interfaces = interfaces.snapshot();
  summary.netflow_busy_s = (lastAt - firstAt) / 1000;
  summary.counters = core.counters();
  summary.errors = reporter.totals(core);
  if (sinkCounters) summary.sink = sinkCounters;
  if (detector) {
    summary.detection = await detector.finish(Math.max(summary.packets > 0 ? core.lastTs() : 0, core.eventClock() || 0), log);
    detector.mergeCounters(summary.counters);
  }
  if (stateSummary) summary.state = stateSummary;
  return summary;
}

/** A watched file's format by content (gzip looked into); captures are not flow logs. */
function sniffHead(path: string): FlowLogFormat | null {
  const kind = detectInput(path);
  return kind === 'capture' ? null : kind;
}
