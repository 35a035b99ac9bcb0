// Query-string and body validation for the aggregator's HTTP API: every
// parameter is checked (type, range, form), unknown and repeated ones are
// refused, so a typo ("min-score" for "min_score") is a 400 that says so,
// not a silently unfiltered answer.
import { parseRfc3339 } from '../flowlogs/gcp-vpc.ts';
import { formatAddress, parseAddress } from '../flows/ip-address.ts';
import { isValidSensorId } from '../uplink/protocol.ts';
import type { BreachQuery } from './aggregator-store.ts';
import { MAX_BY_CHARS, MAX_COMMENT_CHARS } from './annotation-store.ts';

export const DEFAULT_BREACH_LIMIT = 1000;
export const MAX_BREACH_LIMIT = 10_000;
export const DEFAULT_DEVICE_LIMIT = 10_000;
export const MAX_DEVICE_LIMIT = 100_000;
export const DEFAULT_INCIDENT_LIMIT = 100;
export const MAX_INCIDENT_LIMIT = 10_000;

/** A request the API refuses: the status and the message of its JSON error. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const bad = (message: string) => new HttpError(400, message);

/** The parameters as one value each; unknown or repeated names are refused. */
export function singleParams(params: URLSearchParams, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of params) {
    if (!allowed.includes(name)) throw bad(`unknown parameter "${name.slice(0, 64)}"${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`);
    if (out.has(name)) throw bad(`parameter "${name}" given twice`);
    out.set(name, value);
  }
  return out;
}

/** RFC 3339 with a zone or epoch seconds, to epoch ms (the forms `edge-sensor breaches --since` takes). */
export function timeParam(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const text = v.trim();
  const s = /^\d{1,12}(\.\d{1,9})?$/.test(text) ? Number(text) : parseRfc3339(text);
  if (!Number.isFinite(s)) throw bad(`${name} must be an RFC 3339 time (2024-05-01T00:00:00Z) or epoch seconds (got "${text.slice(0, 64)}")`);
  return s * 1000;
}

export function numberParam(v: string | undefined, name: string, min: number, max: number, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw bad(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got "${v.slice(0, 64)}")`);
  }
  return n;
}

export function sensorParam(v: string | undefined, name = 'sensor'): string | undefined {
  if (v === undefined) return undefined;
  if (!isValidSensorId(v)) throw bad(`${name} must be a sensor id: 1–128 characters of [A-Za-z0-9._:@-]`);
  return v;
}

/** An address in the sensor's canonical form (the form breaches are indexed by). */
export function addressParam(v: string | undefined, name: string): string | undefined {
  if (v === undefined) return undefined;
  const a = v.length <= 64 ? parseAddress(v) : null;
  if (!a) throw bad(`${name} must be an IPv4 or IPv6 address (got "${v.slice(0, 64)}")`);
  return formatAddress(a.bytes, a.version);
}

const MODEL_ID = /^[\x21-\x7e]{1,128}$/;

/** GET /api/v1/breaches' parameters. */
export function breachQuery(params: URLSearchParams): BreachQuery & { limit: number } {
  const p = singleParams(params, ['since', 'until', 'min_score', 'model', 'device', 'sensor', 'limit']);
  const model = p.get('model');
  if (model !== undefined && !MODEL_ID.test(model)) throw bad('model must be a model id: 1–128 visible ASCII characters');
  const q = {
    since: timeParam(p.get('since'), 'since'),
    until: timeParam(p.get('until'), 'until'),
    minScore: numberParam(p.get('min_score'), 'min_score', 0, 100),
    model,
    device: addressParam(p.get('device'), 'device'),
    sensor: sensorParam(p.get('sensor')),
    limit: numberParam(p.get('limit'), 'limit', 1, MAX_BREACH_LIMIT, true) ?? DEFAULT_BREACH_LIMIT,
  };
  if (q.since !== undefined && q.until !== undefined && q.since > q.until) throw bad('since is after until');
  return q;
}

/** GET /api/v1/incidents' parameters. */
export function incidentQuery(params: URLSearchParams): { minScore?: number; limit: number; acknowledged?: boolean } {
  const p = singleParams(params, ['min_score', 'limit', 'acknowledged']);
  return {
    minScore: numberParam(p.get('min_score'), 'min_score', 0, 100, false),
    limit: numberParam(p.get('limit'), 'limit', 1, MAX_INCIDENT_LIMIT, true) ?? DEFAULT_INCIDENT_LIMIT,
    acknowledged: booleanParam(p.get('acknowledged'), 'acknowledged'),
  };
}

export function booleanParam(v: string | undefined, name: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === 'true' || v === 'false') return v === 'true';
  throw bad(`${name} must be true or false (got "${v.slice(0, 64)}")`);
}

/** A path's sequence number (and the optional ?epoch=). */
export function seqParam(v: string, name = 'seq'): number {
  return numberParam(v, name, 1, Number.MAX_SAFE_INTEGER, true)!;
}

export interface AckBody { by: string; comment?: string }

/** `{"by"?, "comment"?}` for an acknowledgement; `{"comment", "by"?}` for a comment. Unknown fields are refused. */
export function annotationBody(body: unknown, needComment: boolean): AckBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the body must be a JSON object');
  const rec = body as Record<string, unknown>;
  for (const k of Object.keys(rec)) if (k !== 'by' && k !== 'comment') throw bad(`unknown field "${k.slice(0, 64)}" in the body (allowed: by, comment)`);
  const { by, comment } = rec;
  if (by !== undefined && !(typeof by === 'string' && by.trim().length > 0 && by.length <= MAX_BY_CHARS && !CONTROL.test(by))) {
    throw bad(`by must be 1–${MAX_BY_CHARS} characters without control characters`);
  }
  if (comment === undefined) {
    if (needComment) throw bad('comment is required');
  } else if (!(typeof comment === 'string' && comment.trim().length > 0 && comment.length <= MAX_COMMENT_CHARS && !CONTROL_BUT_NEWLINE.test(comment))) {
    throw bad(`comment must be 1–${MAX_COMMENT_CHARS} characters (no control characters but newlines and tabs)`);
  }
  return { by: typeof by === 'string' ? by.trim() : 'anonymous', ...(typeof comment === 'string' ? { comment } : {}) };
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NEWLINE = /[\u0000-\u0008\u000b-\u001f\u007f]/;
