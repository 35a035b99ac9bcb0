// `edge-sensor analyze`: offline analysis of captures on their own clock.
import type { CoreOptions } from '../core/wasm-core.ts';
import { INPUT_FORMATS, type InputFormat } from '../pipeline/flow-inputs.ts';
import { parseCidr } from '../flows/local-nets.ts';
import { logger } from '../log/logger.ts';
import { analyze } from '../pipeline/analyze.ts';
import { writeFileSync } from 'node:fs';
import { writeFully } from '../sinks/fd-write.ts';
import { listFlag, numberFlag, parse, UsageError } from './args.ts';

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
  --summary FILE|-            where to write the run summary (default: stdout,
                              or stderr when --flows is "-")
  --local-nets CIDR,…         networks counted as local (local_orig/local_resp);
                              default RFC 1918, RFC 6598, link-local, ULA
  --max-flows N               flow table capacity (default 131072); when full,
                              the least recently active flow is evicted (counted)
  --tcp-timeout S             TCP inactivity timeout, seconds (default 300)
  --udp-timeout S             UDP inactivity timeout (default 60)
  --icmp-timeout S            ICMP inactivity timeout (default 60)
  --active-timeout S          interim record for flows open longer (default 1800)
  --log-level LEVEL           pino level: debug, info, warn, error (default info)
  -h, --help                  this help

Examples:
  edge-sensor analyze trace.pcap --flows flows.jsonl
  tcpdump -i eth0 -U -w - | edge-sensor analyze - --flows -
`;

const OPTIONS = {
  format: { type: 'string' },
  'aws-format': { type: 'string' },
  lateness: { type: 'string' },
  'flow-gap': { type: 'string' },
  flows: { type: 'string' },
  summary: { type: 'string' },
  'local-nets': { type: 'string' },
  'max-flows': { type: 'string' },
  'tcp-timeout': { type: 'string' },
  'udp-timeout': { type: 'string' },
  'icmp-timeout': { type: 'string' },
  'active-timeout': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

export async function analyzeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  if (values.help) { process.stdout.write(ANALYZE_HELP); return 0; }
  if (positionals.length === 0) throw new UsageError('analyze needs at least one input (a capture file or "-")');
  const format = (values.format ?? 'auto') as string;
  if (!(INPUT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${INPUT_FORMATS.join(', ')} (got "${format}")`);
  const localNets = listFlag(values['local-nets']);
  try { localNets?.forEach(parseCidr); } catch (e) { throw new UsageError(`--local-nets: ${(e as Error).message}`); }
  if (values['log-level']) logger().level = String(values['log-level']);

  const maxFlows = numberFlag(values['max-flows'], 'max-flows', { min: 16, integer: true });
  const core: CoreOptions = {
    flowCapacity: maxFlows,
    timeouts: {
      tcpInactivity: numberFlag(values['tcp-timeout'], 'tcp-timeout', { min: 1 }),
      udpInactivity: numberFlag(values['udp-timeout'], 'udp-timeout', { min: 1 }),
      icmpInactivity: numberFlag(values['icmp-timeout'], 'icmp-timeout', { min: 1 }),
      activeTimeout: numberFlag(values['active-timeout'], 'active-timeout', { min: 1 }),
    },
  };
  for (const k of Object.keys(core.timeouts!) as (keyof NonNullable<CoreOptions['timeouts']>)[]) if (core.timeouts![k] === undefined) delete core.timeouts![k];

  const flowsTarget = values.flows as string | undefined;
  const log = logger();
  let summary;
  try {
    summary = await analyze({
      inputs: positionals, format: format as InputFormat, core, localNets, flowsTo: flowsTarget,
      awsFormat: values['aws-format'] as string | undefined,
      events: {
        lateness: numberFlag(values.lateness, 'lateness', { min: 0 }),
        gap: numberFlag(values['flow-gap'], 'flow-gap', { min: 0 }),
        activeTimeout: core.timeouts?.activeTimeout,
      },
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (flowsTarget && err.syscall === 'open') throw new UsageError(`--flows ${flowsTarget}: ${err.message}`);
    throw e;
  }
  const out = summary;
  const summaryTarget = (values.summary as string | undefined) ?? (flowsTarget === '-' ? 'stderr' : '-');
  const text = JSON.stringify(out, null, 2) + '\n';
  if (summaryTarget === '-') writeFully(1, Buffer.from(text));
  else if (summaryTarget === 'stderr') writeFully(2, Buffer.from(text));
  else writeFileSync(summaryTarget, text);

  const failed = summary.inputs.filter((i) => !i.ok);
  for (const f of failed) log.error({ input: f.name, error: f.error }, 'input could not be analysed');
  // Flow records that could not be written (a full disk; not a closed pipe,
  // which is the reader's choice) are lost output: that is a failed run.
  const lostOutput = (summary.sink?.errors ?? 0) > 0;
  return failed.length > 0 || lostOutput ? 1 : 0;
}
