// `edge-sensor breaches`: the breach history a sensor stored in its state,
// read after the fact or while it runs — the same breaches `--breaches`
// wrote as they were raised, now searchable by time, score, model and
// device. With --api instead: the breaches every sensor delivered to an
// aggregator, from its HTTP API, with the same filters and analysts'
// acknowledgements.
import { numberFlag, parse, UsageError } from './args.ts';
import { apiUrl, getListing } from './api-flags.ts';
import { STATE_EXIT_HELP, STATE_READ_HELP, STATE_READ_OPTIONS, StdoutText, columns, stateDirFlag, withReadOnlyState } from './state-flags.ts';
import type { Annotation } from '../aggregator/annotation-store.ts';
import type { Breach } from '../models/breach.ts';
import type { BreachFilter } from '../state/breach-store.ts';
import { parseRfc3339 } from '../flowlogs/gcp-vpc.ts';

export const BREACHES_HELP = `Usage: edge-sensor breaches --state DIR [options]
       edge-sensor breaches --api URL [--sensor ID] [options]

List the model breaches a sensor stored in its state DIR, oldest first:
a table (time, score, model, device, peer, summary), or with --json one
JSON object per line, exactly as "edge-sensor analyze --breaches" and
"run --breaches" write them. History is kept for 30 days; breaches not yet
delivered to an aggregator are kept however old.

With --api URL instead of --state: the breaches sensors delivered to an
aggregator ("edge-sensor aggregator"), read from its HTTP API, oldest
first; the table adds the sensor and "ack" when an analyst acknowledged
the breach, and --json prints each as the API returns it (the breach with
its sensor, epoch, seq, received_at and annotation).

Options:
  --since T                   breaches at or after T: RFC 3339
                              (2024-05-01T00:00:00Z, 2024-05-01T02:00:00+02:00)
                              or epoch seconds (1714521600)
  --until T                   breaches at or before T (same forms)
  --min-score N               breaches scoring at least N
  --model ID                  breaches of this model (its id)
  --device IP                 breaches on this device (its address)
  --limit N                   at most N breaches (the oldest N that match;
                              with --api default 1000, at most 10000)
${STATE_READ_HELP}  --api URL                   an aggregator's HTTP API (http://127.0.0.1:8080),
                              instead of --state
  --sensor ID                 with --api: breaches of this sensor only

${STATE_EXIT_HELP}With --api: 0 listed (maybe none), 1 the aggregator could not be asked or
answered an error, 2 usage error.

Examples:
  edge-sensor breaches --state /var/lib/edge-sensor --since 2024-05-01T00:00:00Z
  edge-sensor breaches --state /var/lib/edge-sensor --min-score 80 --json | jq .summary
  edge-sensor breaches --api http://127.0.0.1:8080 --sensor lab-1 --min-score 80
`;

const OPTIONS = {
  ...STATE_READ_OPTIONS,
  since: { type: 'string' },
  until: { type: 'string' },
  'min-score': { type: 'string' },
  model: { type: 'string' },
  device: { type: 'string' },
  limit: { type: 'string' },
  api: { type: 'string' },
  sensor: { type: 'string' },
} as const;

/** --since/--until: RFC 3339 with a zone (parseRfc3339, as GCP's flow logs are read: no 31 February, leap seconds kept) or epoch seconds, to epoch ms. */
export function timeFlag(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const text = String(v).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const s = parseRfc3339(text);
  if (!Number.isFinite(s)) throw new UsageError(`--${name} must be an RFC 3339 time (2024-05-01T00:00:00Z) or epoch seconds (got "${text}")`);
  return s * 1000;
}

export async function breachesCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, OPTIONS);
  if (values.help) { process.stdout.write(BREACHES_HELP); return 0; }
  if (values.api !== undefined && values.state !== undefined) throw new UsageError('--state DIR and --api URL exclude each other: read a sensor\'s state or an aggregator, not both');
  if (values.api !== undefined) return fromAggregator(values);
  if (values.sensor !== undefined) throw new UsageError('--sensor ID needs --api URL (a sensor\'s state holds its own breaches only)');
  if (values.state === undefined) throw new UsageError('--state DIR is required (the state directory of a sensor), or --api URL (an aggregator\'s HTTP API)');
  const dir = stateDirFlag(values);
  const filter: BreachFilter = {
    since: timeFlag(values.since, 'since'),
    until: timeFlag(values.until, 'until'),
    minScore: numberFlag(values['min-score'], 'min-score'),
    model: values.model as string | undefined,
    device: values.device as string | undefined,
    limit: numberFlag(values.limit, 'limit', { min: 1, integer: true }),
  };
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) throw new UsageError('--since is after --until');
  const json = values.json === true;
  const out = new StdoutText();
  await withReadOnlyState(dir, async (db) => {
    const { BreachStore } = await import('../state/breach-store.ts');
    const history = new BreachStore(db).history(filter);
    if (json) {
      for (const b of history) {
        out.write(`${JSON.stringify(b)}\n`);
        if (!out.open) break;
      }
      return;
    }
    // A table needs its column widths: rows are kept as their short text only.
    const rows: string[][] = [['time', 'score', 'model', 'device', 'peer', 'summary']];
    for (const b of history) rows.push(tableRow(b));
    out.write(rows.length > 1 ? columns(rows) : 'no breaches stored match\n');
  });
  out.flush();
  return 0;
}

function tableRow(b: Breach): string[] {
  return [b.time.replace(/\.\d+Z$/, 'Z'), String(b.score), b.model, b.device.ip, peerText(b), b.summary];
}

const peerText = (b: Breach): string => (b.peer ? (b.peer.ip.includes(':') ? `[${b.peer.ip}]:${b.peer.port}` : `${b.peer.ip}:${b.peer.port}`) : '-');

/** A breach as the aggregator's API lists it: the sensor's JSON with what the aggregator adds. */
type ApiBreach = Breach & { sensor: string; epoch: number; seq: number; received_at: string; annotation: Annotation | null };

/** --api: GET /api/v1/breaches (times in epoch seconds, its parameter names: http-params.ts's breachQuery). */
async function fromAggregator(values: Record<string, unknown>): Promise<number> {
  const api = apiUrl(values.api as string);
  const since = timeFlag(values.since, 'since');
  const until = timeFlag(values.until, 'until');
  if (since !== undefined && until !== undefined && since > until) throw new UsageError('--since is after --until');
  const minScore = numberFlag(values['min-score'], 'min-score');
  if (minScore !== undefined && minScore > 100) throw new UsageError(`--min-score must be at most 100 (got ${minScore})`);
  const limit = numberFlag(values.limit, 'limit', { min: 1, integer: true });
  const seconds = (ms: number | undefined) => (ms === undefined ? undefined : String(Math.round(ms) / 1000));
  const got = await getListing<ApiBreach>('breaches', api, 'api/v1/breaches', 'breaches', {
    since: seconds(since),
    until: seconds(until),
    min_score: minScore,
    model: values.model as string | undefined,
    device: values.device as string | undefined,
    sensor: values.sensor as string | undefined,
    limit: limit !== undefined ? Math.min(limit, 10_000) : undefined,
  });
  if (!got) return 1;
  const out = new StdoutText();
  // the API stops at its limit: say so, on stderr with --json (stdout is the breaches' lines only)
  const more = got.truncated && (limit === undefined || limit > got.items.length) ? '(more breaches match: raise --limit or narrow --since/--until)\n' : '';
  if (values.json) {
    for (const b of got.items) {
      out.write(`${JSON.stringify(b)}\n`);
      if (!out.open) break;
    }
    if (more) process.stderr.write(`edge-sensor breaches: ${more}`);
  } else {
    const rows: string[][] = [['time', 'score', 'sensor', 'model', 'device', 'peer', 'ack', 'summary']];
    for (const b of got.items) {
      rows.push([b.time.replace(/\.\d+Z$/, 'Z'), String(b.score), b.sensor, b.model, b.device.ip, peerText(b), b.annotation?.acknowledged ? 'ack' : '-', b.summary]);
    }
    out.write(rows.length > 1 ? columns(rows) + more : 'no breaches match\n');
  }
  out.flush();
  return 0;
}
