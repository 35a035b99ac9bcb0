// What the commands that read an aggregator's HTTP API share (`incidents`,
// `breaches --api`): the --api flag, and one GET of a listing whose
// failure — the aggregator not reached, or answering an error — is one
// line on stderr (the command then exits 1).
import { UsageError } from './args.ts';

export const DEFAULT_API = 'http://127.0.0.1:8080';

/** --api URL: an http(s) URL, as a base the API's paths resolve under (a path prefix, e.g. behind a proxy, is kept). */
export function apiUrl(text: string | undefined): URL {
  const t = text ?? DEFAULT_API;
  let u: URL;
  try { u = new URL(t.endsWith('/') ? t : `${t}/`); } catch { throw new UsageError(`--api must be a URL such as ${DEFAULT_API} (got "${t}")`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--api must be an http(s) URL (got "${t}")`);
  return u;
}

export interface Listing<T> { items: T[]; truncated: boolean }

/**
 * GET `path` (e.g. "api/v1/breaches") under `api` with the parameters that
 * are set; the array in the answer's `field`, or null once the failure is
 * said on stderr as "edge-sensor COMMAND: …".
 */
export async function getListing<T>(command: string, api: URL, path: string, field: string, params: Record<string, string | number | undefined>): Promise<Listing<T> | null> {
  const url = new URL(path, api);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
  const fail = (why: string) => { process.stderr.write(`edge-sensor ${command}: ${why}\n`); return null; };
  let res: Response;
  let body: Record<string, unknown> | null;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    body = await res.json().catch(() => null) as Record<string, unknown> | null;
  } catch (e) {
    return fail(`cannot reach the aggregator at ${api.href}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
  }
  const items = body?.[field];
  if (!res.ok || !Array.isArray(items)) {
    const error = typeof body?.error === 'string' ? `: ${body.error}` : res.ok ? ' (not an answer of its API: is this the aggregator\'s HTTP address?)' : '';
    return fail(`the aggregator answered ${res.status}${error}`);
  }
  return { items: items as T[], truncated: body?.truncated === true };
}
