// `edge-sensor incidents`: the incidents an aggregator has correlated from
// its sensors' breaches, read from its HTTP API — highest score first, each
// with its phases, devices, sensors and the plain summary an analyst starts
// from.
import { numberFlag, parse, UsageError } from './args.ts';
import { StdoutText } from './state-flags.ts';
import type { Incident } from '../aggregator/incidents.ts';

export const INCIDENTS_HELP = `Usage: edge-sensor incidents [--api URL] [--min-score N] [--limit N] [--json]

List the incidents an aggregator ("edge-sensor aggregator") holds: related
breaches grouped across devices, sensors and time, highest score first.
Each shows its score, title (the attack phases, MITRE ATT&CK tactics),
span, devices, sensors and a summary built from the breaches' own.

Options:
  --api URL        the aggregator's HTTP API (default http://127.0.0.1:8080)
  --min-score N    only incidents scoring at least N (0–100)
  --limit N        at most N incidents (default 100, at most 10000)
  --json           one incident per line as the API returns it (with its timeline)

Exit status: 0 listed (maybe none), 1 the aggregator could not be asked or
answered an error, 2 usage error.

Examples:
  edge-sensor incidents
  edge-sensor incidents --api http://aggregator.lab:8080 --min-score 80 --json | jq .summary
`;

const OPTIONS = { api: { type: 'string' }, 'min-score': { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } } as const;

export async function incidentsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  if (values.help) { process.stdout.write(INCIDENTS_HELP); return 0; }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const api = apiUrl(values.api as string | undefined);
  const minScore = numberFlag(values['min-score'], 'min-score', { min: 0 });
  if (minScore !== undefined && minScore > 100) throw new UsageError(`--min-score must be at most 100 (got ${minScore})`);
  const limit = numberFlag(values.limit, 'limit', { min: 1, integer: true });
  const url = new URL('api/v1/incidents', api);
  if (minScore !== undefined) url.searchParams.set('min_score', String(minScore));
  if (limit !== undefined) url.searchParams.set('limit', String(Math.min(limit, 10_000)));
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    process.stderr.write(`edge-sensor incidents: cannot reach the aggregator at ${api.href}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}\n`);
    return 1;
  }
  const body = await res.json().catch(() => null) as { error?: string; incidents?: Incident[]; truncated?: boolean } | null;
  if (!res.ok || !body?.incidents) {
    process.stderr.write(`edge-sensor incidents: the aggregator answered ${res.status}${body?.error ? `: ${body.error}` : ''}\n`);
    return 1;
  }
  const out = new StdoutText();
  if (values.json) for (const inc of body.incidents) out.write(`${JSON.stringify(inc)}\n`);
  else if (body.incidents.length === 0) out.write('no incidents\n');
  else {
    for (const inc of body.incidents) {
      out.write(`${inc.score.toFixed(1).padStart(5)}  ${inc.title}\n`);
      out.write(`       ${inc.first} – ${inc.last}; ${inc.breaches} breach${inc.breaches === 1 ? '' : 'es'}; devices ${inc.devices.join(', ')}; sensors ${inc.sensors.join(', ')}; id ${inc.id}\n`);
      out.write(`       ${inc.summary}\n\n`);
    }
    if (body.truncated) out.write('(more incidents: raise --limit)\n');
  }
  out.flush();
  return 0;
}

function apiUrl(text: string | undefined): URL {
  const t = text ?? 'http://127.0.0.1:8080';
  let u: URL;
  try { u = new URL(t.endsWith('/') ? t : `${t}/`); } catch { throw new UsageError(`--api must be a URL such as http://127.0.0.1:8080 (got "${t}")`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--api must be an http(s) URL (got "${t}")`);
  return u;
}
