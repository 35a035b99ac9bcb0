// `edge-sensor analyze`: offline analysis of captures on their own clock.
import { INPUT_FORMATS, type InputFormat } from '../pipeline/flow-inputs.ts';
import { logger } from '../log/logger.ts';
import { analyze } from '../pipeline/analyze.ts';
import { BUILTIN_MODELS } from '../models/catalogue.ts';
import { numberFlag, parse, UsageError } from './args.ts';
import { DETECTION_HELP, DETECTION_OPTIONS, detectionFlags } from './detection-flags.ts';
import { FLOW_OPTIONS, applyBudget, flowFlags, withOutputTargets, writeSummary } from './flow-flags.ts';
import { UPLINK_HELP, UPLINK_OPTIONS, UPLINK_TIMEOUT_HELP, UPLINK_TIMEOUT_OPTION, prepareUplink, uplinkFlags, uplinkSummary } from './uplink-flags.ts';
import type { Uplink } from '../uplink/uplink-client.ts';

export const ANALYZE_HELP = `Usage: edge-sensor analyze <input…> [options]

Read packet captures (pcap or pcapng, optionally gzip-compressed; "-" reads
standard input) or flow records (cloud flow logs, Zeek conn.log, captures of
NetFlow/IPFIX/sFlow exports) through the Wasm core and write Zeek-style flow
records. Time is the input's own clock: timeouts and interim records follow
packet or record timestamps, so a replay gives what the live run gave.

Options:
  --format F                  auto (default), pcap, pcapng, aws-vpc, azure,
                              gcp-vpc, zeek-conn, netflow-pcap. auto: captures
                              by magic number, flow logs by their content;
                              a directory is read whole (sorted); flow logs
                              on standard input and NetFlow captures need F
  --aws-format '\${version} \${srcaddr} …'
                              AWS VPC field order for files without a header
  --lateness S                flow records arriving up to S seconds behind the
                              newest are still merged into their flow (600)
  --flow-gap S                records of one 5-tuple further apart are
                              separate flows (120)
  --flows FILE|-              write flow records as JSON lines ("-" = stdout)
${DETECTION_HELP}  --summary FILE|-            where to write the run summary (default: stdout,
                              or stderr when --flows or --breaches is "-")
  --local-nets CIDR,…         networks counted as local (local_orig/local_resp);
                              default RFC 1918, RFC 6598, link-local, ULA
  --memory MiB                budget for every table that grows with the
                              network (flows, flow-record merger, learning
                              tables, model windows): all scaled together by
                              a power of two from the defaults (~690 MiB with
                              detection at most, 61 MiB without) to fit;
                              full tables forget their least recently seen
                              entries, counted (see status)
  --max-flows N               flow table capacity (default 131072); when full,
                              the least recently active flow is evicted (counted)
  --tcp-timeout S             TCP inactivity timeout, seconds (default 300)
  --udp-timeout S             UDP inactivity timeout (default 60)
  --icmp-timeout S            ICMP inactivity timeout (default 60)
  --active-timeout S          interim record for flows open longer (default 1800)
  --state DIR                 keep learned state, breaches and each input's
                              checkpoint in LMDB under DIR: a run interrupted
                              (even killed) and run again carries on where its
                              last snapshot was taken; inputs read to their
                              end are skipped. Breaches are stored there
                              (edge-sensor breaches --state DIR)
  --fresh-state               move DIR's state aside (DIR.old-<time>) and start empty
  --snapshot-every S          wall seconds between snapshots while input
                              flows (default 60; one more at each input's end)
${UPLINK_HELP}${UPLINK_TIMEOUT_HELP}  --log-level LEVEL           pino level: debug, info, warn, error (default info)
  -h, --help                  this help

Examples:
  edge-sensor analyze trace.pcap --flows flows.jsonl
  edge-sensor analyze week.pcap --breaches breaches.jsonl
  edge-sensor analyze incident.pcap --learning 0 --breaches -
  edge-sensor analyze day1.pcap day2.pcap --state ./state --breaches b.jsonl
  edge-sensor analyze day.pcap --state ./state --breaches b.jsonl \
    --aggregator agg.example.net:7443 --tls-ca ca.crt --tls-cert sensor.crt --tls-key sensor.key
  tcpdump -i eth0 -U -w - | edge-sensor analyze - --flows -
`;

const OPTIONS = {
  format: { type: 'string' },
  state: { type: 'string' },
  'fresh-state': { type: 'boolean' },
  'snapshot-every': { type: 'string' },
  ...DETECTION_OPTIONS,
  ...FLOW_OPTIONS,
  ...UPLINK_OPTIONS,
  ...UPLINK_TIMEOUT_OPTION,
} as const;

export async function analyzeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  if (values.help) { process.stdout.write(ANALYZE_HELP); return 0; }
  if (positionals.length === 0) throw new UsageError('analyze needs at least one input (a capture file or "-")');
  const format = (values.format ?? 'auto') as string;
  if (!(INPUT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${INPUT_FORMATS.join(', ')} (got "${format}")`);
  const f = flowFlags(values);
  const log = logger();
  const { breachesTo, learningS, config: detection, similar, inlineDetection } = detectionFlags(values, f.flowsTo);
  const budget = applyBudget(f, { detection: breachesTo ? (inlineDetection ? 'inline' : 'thread') : 'off', models: (detection?.models ?? BUILTIN_MODELS).filter((m) => m.enabled).length });
  if (budget.budget) log.info(budget.budget, 'tables sized for --memory');
  const stateDir = values.state as string | undefined;
  if (!stateDir && (values['fresh-state'] || values['snapshot-every'] !== undefined)) throw new UsageError('--fresh-state and --snapshot-every need --state DIR');
  const state = stateDir ? { dir: stateDir, fresh: values['fresh-state'] === true, everyS: numberFlag(values['snapshot-every'], 'snapshot-every', { min: 0.01 }) } : undefined;
  const uplinkConfig = uplinkFlags(values, state !== undefined, '--state DIR');
  const startUplink = uplinkConfig ? await prepareUplink(uplinkConfig, log) : null;
  let uplink: Uplink | null = null;
  // the uplink opens the state once the run has (created it, moved an old one aside): it delivers while the input is read
  const onStateReady = startUplink ? (dir: string) => {
    try { uplink = startUplink(dir); } catch (e) {
      log.error({ aggregator: uplinkConfig!.address, err: (e as Error).message }, 'uplink: cannot start: breaches stay in the outbox for the next run');
    }
  } : undefined;
  // With state, SIGINT/SIGTERM stop at the next batch with a snapshot there (a second signal stops at once)
  const stop = state ? new AbortController() : null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop!.signal.aborted) process.exit(130);
    log.warn({ signal: sig }, 'stopping: snapshot at the next batch (again to stop at once)');
    stop!.abort();
  };
  if (stop) { process.on('SIGINT', onSignal); process.on('SIGTERM', onSignal); }
  let summary;
  try {
    summary = await withOutputTargets({ flows: f.flowsTo, breaches: breachesTo }, () => analyze({
      inputs: positionals, format: format as InputFormat, core: f.core, localNets: f.localNets, flowsTo: f.flowsTo,
      awsFormat: f.awsFormat, events: f.events, breachesTo, models: detection?.models, metas: detection?.metas, tags: detection?.tags, learningS, similar, inlineDetection, state, stop: stop?.signal, capacities: budget.capacities, maxKeys: budget.maxKeys,
      onStateReady,
    }));
  } catch (e) {
    await (uplink as Uplink | null)?.stop();
    throw e;
  } finally {
    if (stop) { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); }
  }
  // (set by onStateReady: the cast undoes TypeScript's narrowing of it to null)
  const started = uplink as Uplink | null;
  const delivered = started ? await finishUplink(started, uplinkConfig!.address, summary.interrupted ? 0 : uplinkConfig!.timeoutS, log) : undefined;
  writeSummary(delivered ? { ...summary, uplink: delivered } : summary, f, f.flowsTo === '-' || breachesTo === '-');

  const failed = summary.inputs.filter((i) => !i.ok);
  for (const inp of failed) log.error({ input: inp.name, error: inp.error }, 'input could not be analysed');
  // Flow records that could not be written (a full disk; not a closed pipe,
  // which is the reader's choice) are lost output: that is a failed run.
  const lostOutput = (summary.sink?.errors ?? 0) > 0 || (summary.detection?.sink?.errors ?? 0) > 0 || summary.state?.error !== undefined;
  if (failed.length > 0 || lostOutput) return 1;
  return summary.interrupted ? 130 : 0;
}

/**
 * The end of the run: every breach is in the outbox now; wait up to
 * `timeoutS` for the aggregator to acknowledge them, then stop. What is left
 * waits in the outbox for the next run — safe there, so not a failure.
 */
async function finishUplink(uplink: Uplink, address: string, timeoutS: number, log: ReturnType<typeof logger>): Promise<Record<string, unknown>> {
  const drained = await uplink.drained(timeoutS * 1000);
  const left = drained ? 0 : uplink.outboxSize();
  const stats = uplink.stats();
  await uplink.stop();
  if (left > 0) log.warn({ aggregator: address, outbox_left: left, timeout_s: timeoutS, state: stats.state }, `uplink: ${left} breaches not acknowledged in time: they stay in the outbox for the next run`);
  else log.info({ aggregator: address, sent: stats.sent, acked: stats.acked }, 'uplink: every breach acknowledged');
  return uplinkSummary(stats, left);
}
