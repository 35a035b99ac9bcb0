// `edge-sensor run`: the long-running sensor — packets, NetFlow/IPFIX/sFlow
// collectors and watched flow-log folders at once, until SIGINT/SIGTERM.
import { logger } from '../log/logger.ts';
import { parseUdpUrl } from '../netflow/collector.ts';
import { FLOW_FORMATS } from '../pipeline/flow-inputs.ts';
import { run, type WatchSpec } from '../pipeline/run.ts';
import type { FlowLogFormat } from '../flowlogs/sniff.ts';
import { numberFlag, parse, UsageError } from './args.ts';
import { FLOW_OPTIONS, applyBudget, flowFlags, withOutputTargets, writeSummary } from './flow-flags.ts';
import { DETECTION_HELP, DETECTION_OPTIONS, detectionFlags } from './detection-flags.ts';
import { BUILTIN_MODELS } from '../models/catalogue.ts';
import { UPLINK_HELP, UPLINK_OPTIONS, prepareUplink, uplinkFlags, uplinkSummary } from './uplink-flags.ts';
import type { Uplink } from '../uplink/uplink-client.ts';
import { homedir } from 'node:os';
import { join } from 'node:path';


/** At most this long, at a stop, for a connected uplink to deliver what is left (then it goes after the next start). */
const RUN_STOP_DRAIN_MS = 3000;
export const RUN_HELP = `Usage: edge-sensor run [options]

Run the sensor until stopped (SIGINT / SIGTERM): read packets from a live pipe
or a capture, collect NetFlow v5/v9, IPFIX and sFlow over UDP, and read
flow-log files as they appear in watched folders — all into one stream of
flow records. On stop, a summary is printed and, without state, every open
flow is written; with state (the default) open flows stay open in the last
snapshot and the restarted sensor carries on with them, its baselines,
breaches and watched files' progress intact.

Options:
  --packets FILE|-            a capture, or "-" for a live pipe
                              (tcpdump -i eth0 -U -w - | edge-sensor run --packets -)
  --netflow udp://HOST:PORT   collect NetFlow/IPFIX/sFlow there (repeatable;
                              port 0 picks one and logs it)
  --watch DIR[=FORMAT]        read flow-log files appearing below DIR (repeatable);
                              FORMAT aws-vpc, azure, gcp-vpc, zeek-conn or auto
                              (default). A file is read once it stopped changing
                              for one poll; Azure's hourly blobs are resumed as
                              they grow
  --poll S                    seconds between folder scans (default 5)
  --flows FILE|-              write flow records as JSON lines ("-" = stdout)
${DETECTION_HELP}  --summary FILE|-            where the summary goes at the end (default: stdout,
                              or stderr when --flows or --breaches is "-")
  --local-nets CIDR,…         networks counted as local (local_orig/local_resp)
  --lateness S, --flow-gap S, --aws-format '…', --max-flows N, --memory MiB,
  --tcp-timeout S, --udp-timeout S, --icmp-timeout S, --active-timeout S
                              as for "edge-sensor analyze"
  --state DIR                 where learned state, breaches and checkpoints live
                              (LMDB; default $XDG_DATA_HOME/edge-sensor/state,
                              i.e. ~/.local/share/edge-sensor/state);
                              read with edge-sensor status|breaches|devices
  --no-state                  keep nothing: every start learns from scratch
  --fresh-state               move the state aside (DIR.old-<time>) and start empty
  --snapshot-every S          wall seconds between snapshots (default 60; one more
                              at the stop)
${UPLINK_HELP}  --log-level LEVEL           pino level (default info)
  -h, --help                  this help

Live inputs have no end: quiet flows are timed out by wall time once a second,
while the data is live (its newest timestamp within a minute of now, or within
the lateness window for flow records). Replaying old files keeps their clock.
`;

const OPTIONS = {
  packets: { type: 'string' },
  netflow: { type: 'string', multiple: true },
  watch: { type: 'string', multiple: true },
  poll: { type: 'string' },
  state: { type: 'string' },
  'no-state': { type: 'boolean' },
  'fresh-state': { type: 'boolean' },
  'snapshot-every': { type: 'string' },
  ...DETECTION_OPTIONS,
  ...FLOW_OPTIONS,
  ...UPLINK_OPTIONS,
} as const;

function watchSpec(text: string): WatchSpec {
  const eq = text.lastIndexOf('=');
  const dir = eq > 0 ? text.slice(0, eq) : text;
  const format = eq > 0 ? text.slice(eq + 1) : 'auto';
  const allowed = ['auto', ...FLOW_FORMATS.filter((f) => f !== 'netflow-pcap')];
  if (!allowed.includes(format)) throw new UsageError(`--watch ${text}: format must be one of ${allowed.join(', ')}`);
  return { dir, format: format as FlowLogFormat | 'auto' };
}

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  if (values.help) { process.stdout.write(RUN_HELP); return 0; }
  if (positionals.length) throw new UsageError(`run takes no inputs as arguments (got "${positionals[0]}"): use --packets, --netflow, --watch`);
  const netflow = (values.netflow as string[] | undefined) ?? [];
  for (const u of netflow) {
    try { parseUdpUrl(u); } catch (e) { throw new UsageError(`--netflow: ${(e as Error).message}`); }
  }
  const watch = ((values.watch as string[] | undefined) ?? []).map(watchSpec);
  const packets = values.packets as string | undefined;
  if (!packets && netflow.length === 0 && watch.length === 0) throw new UsageError('run needs at least one of --packets, --netflow, --watch');
  const f = flowFlags(values);
  const d = detectionFlags(values, f.flowsTo);
  const budget = applyBudget(f, { detection: d.breachesTo ? (d.inlineDetection ? 'inline' : 'thread') : 'off', models: (d.config?.models ?? BUILTIN_MODELS).filter((m) => m.enabled).length });

  if (values['no-state'] && (values.state !== undefined || values['fresh-state'])) throw new UsageError('--no-state with --state or --fresh-state: choose one');
  const state = values['no-state'] ? undefined : {
    dir: (values.state as string | undefined) ?? defaultStateDir(),
    fresh: values['fresh-state'] === true,
    everyS: numberFlag(values['snapshot-every'], 'snapshot-every', { min: 0.01 }),
  };

  const log = logger();
  const uplinkConfig = uplinkFlags(values, state !== undefined, 'state (--state DIR or the default, not --no-state)');
  const startUplink = uplinkConfig ? await prepareUplink(uplinkConfig, log) : null;
  let uplink: Uplink | null = null;
  let uplinkReport: Record<string, unknown> | null = null;
  // for the run's lifetime, from when the run has opened the state
  const onStateReady = startUplink ? (dir: string) => {
    try { uplink = startUplink(dir); } catch (e) {
      log.error({ aggregator: uplinkConfig!.address, err: (e as Error).message }, 'uplink: cannot start: breaches stay in the outbox for the next run');
    }
  } : undefined;
  let stopNow: () => void = () => {};
  const stop = new Promise<void>((r) => { stopNow = r; });
  const onSignal = (sig: string) => { log.info({ signal: sig }, state ? 'stopping: open flows stay open in the last snapshot' : 'stopping: writing open flows'); stopNow(); };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));

  const pollSeconds = numberFlag(values.poll, 'poll', { min: 0.2 });
  let summary;
  try {
    summary = await withOutputTargets({ flows: f.flowsTo, breaches: d.breachesTo }, () => run({
      packets, netflow, watch, stop, pollSeconds,
      flowsTo: f.flowsTo, localNets: f.localNets, awsFormat: f.awsFormat, core: f.core, events: f.events,
      breachesTo: d.breachesTo, models: d.config?.models, metas: d.config?.metas, tags: d.config?.tags, learningS: d.learningS, similar: d.similar, inlineDetection: d.inlineDetection, capacities: budget.capacities, maxKeys: budget.maxKeys,
      log, state, onStateReady,
    }));
  } finally {
    // Stopped with the run. An uplink that is connected gets a few seconds
    // for the last breaches (those raised just before the stop); what is
    // still not acknowledged then stays in the outbox for the next start.
    const u = uplink as Uplink | null;
    if (u) {
      if (u.stats().state === 'connected') await u.drained(RUN_STOP_DRAIN_MS);
      const left = u.outboxSize();
      const stats = u.stats();
      await u.stop();
      if (left > 0) log.info({ aggregator: uplinkConfig!.address, outbox_left: left }, 'uplink: stopped; unacknowledged breaches stay in the outbox for the next start');
      uplinkReport = uplinkSummary(stats, left);
    }
  }
  writeSummary(uplinkReport ? { ...summary, uplink: uplinkReport } : summary, f, f.flowsTo === '-' || d.breachesTo === '-');
  // Flow records that could not be written (a full disk; not a closed pipe,
  // which is the reader's choice) are lost output: a failed run, as for analyze.
  const lostOutput = (summary.sink?.errors ?? 0) > 0 || (summary.detection?.sink?.errors ?? 0) > 0 || summary.state?.error !== undefined;
  return summary.inputs.packets?.error || lostOutput ? 1 : 0;
}

/** Where `run` keeps its state unless told: the user's data directory (XDG). */
export function defaultStateDir(): string {
  const base = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'edge-sensor', 'state');
}
