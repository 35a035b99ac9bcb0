// A model is data: which observations it looks at (filters over learned
// features), what it counts or sums over a window per device (and peer or
// port), the threshold that makes a breach, and how the breach is named,
// scored and explained. The built-in catalogue (catalogue.ts) and a user's
// models file (--models FILE, JSON) are read by parseModels, which says
// exactly what is wrong with a bad entry instead of running it.
import { GATE_OPS } from '../core/wasm-core.ts';
import { FEATURE_INDEX, type FeatureName } from '../learn/observation.ts';

export const CATEGORIES = ['critical', 'suspicious', 'compliance', 'informational'] as const;
export type Category = (typeof CATEGORIES)[number];
export type Op = keyof typeof GATE_OPS;
export const OPS = Object.keys(GATE_OPS) as Op[];
export type GroupField = 'peer' | 'port';

export interface Filter {
  feature: FeatureName;
  op: Op;
  /** a number, or for `in` / `not in` a list of ports (or port ranges "6000-6063") */
  value: number | (number | string)[];
}

export interface Model {
  /** stable id (lowercase, dashes): breaches and throttles refer to it */
  id: string;
  /** Darktrace style "Family / Name" */
  title: string;
  category: Category;
  /** MITRE ATT&CK technique ids */
  mitre: string[];
  /** 1 (highest) – 5: orders breaches of the same score */
  priority: number;
  /** conn: when a connection starts; end: when a flow finishes; dns: a DNS answer to a device (packets only) */
  on: 'conn' | 'end' | 'dns';
  filters: Filter[];
  /** count the observations, or sum a feature of them */
  metric: { kind: 'count' } | { kind: 'sum'; feature: FeatureName };
  /** windows are kept per device, and per these fields too */
  group: GroupField[];
  window_s: number;
  /** breach when the window's metric reaches this */
  threshold: number;
  /** no new breach of this model for the same device (and group) for this long */
  throttle_s: number;
  /** judged against a learned baseline: not for devices seen for less than the baseline period */
  baseline: boolean;
  /**
   * One plain sentence; {device} {peer} {port} {value} {threshold} {window}
   * and {feature_name} of the triggering observation are filled in.
   */
  summary: string;
  /** what the metric is, for the breach's metrics list ("hosts contacted on one port") */
  metric_label: string;
  /** devices carrying any of these tags (the config's `tags`) are not judged by this model */
  exclude_tags: string[];
  /** the threshold follows this network's tail of window peaks when that is higher (adaptive.ts); default false */
  adaptive: boolean;
  /** not judged when most of the device's peer group use the port as clients ("normal for its group"; sensor/learn/peer-groups.ts) */
  skip_group_port: boolean;
  enabled: boolean;
}

export class ModelError extends Error {}

const ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
const MITRE = /^T\d{4}(\.\d{3})?$/;

function fail(where: string, msg: string): never {
  throw new ModelError(`${where}: ${msg}`);
}

function num(v: unknown, where: string, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) fail(where, `must be a number${min > -Infinity ? ` ≥ ${min}` : ''}`);
  return v;
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.trim() === '') fail(where, 'must be a non-empty string');
  return v;
}

function featureName(v: unknown, where: string): FeatureName {
  if (typeof v !== 'string' || !(v in FEATURE_INDEX)) fail(where, `unknown feature ${JSON.stringify(v)} (known: ${Object.keys(FEATURE_INDEX).join(', ')})`);
  return v as FeatureName;
}

/** A list of tag names (absent: none). */
export function tagList(v: unknown, where: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((t) => typeof t !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(t))) fail(where, 'a list of tag names (lowercase letters, digits, dashes)');
  return [...new Set(v as string[])];
}

/** Ports of an `in` list: numbers and "a-b" ranges, each 0–65535. */
export function portList(v: unknown, where: string): number[] {
  if (!Array.isArray(v) || v.length === 0) fail(where, 'must be a non-empty list of ports or "a-b" ranges');
  const out: number[] = [];
  for (const p of v) {
    if (typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 65535) out.push(p);
    else if (typeof p === 'string' && /^\d+-\d+$/.test(p)) {
      const [a, b] = p.split('-').map(Number) as [number, number];
      if (a > b || b > 65535) fail(where, `bad port range ${p}`);
      for (let x = a; x <= b; x++) out.push(x);
    } else fail(where, `bad port ${JSON.stringify(p)}`);
  }
  return out;
}

/** Validate one model (unknown fields refused: a typo must not silently disable a filter). */
export function parseModel(raw: unknown, where: string): Model {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(where, 'a model must be an object');
  const r = raw as Record<string, unknown>;
  const known = new Set(['id', 'title', 'category', 'mitre', 'priority', 'on', 'filters', 'metric', 'group', 'window_s', 'threshold', 'throttle_s', 'baseline', 'summary', 'metric_label', 'exclude_tags', 'adaptive', 'skip_group_port', 'enabled']);
  for (const k of Object.keys(r)) if (!known.has(k)) fail(where, `unknown field ${k}`);
  const id = str(r.id, `${where}.id`);
  if (!ID.test(id)) fail(`${where}.id`, 'lowercase letters, digits and dashes, 2–63 characters');
  where = `model ${id}`;
  const title = str(r.title, `${where}.title`);
  if (!title.includes(' / ')) fail(`${where}.title`, 'Darktrace style "Family / Name"');
  const category = r.category as Category;
  if (!CATEGORIES.includes(category)) fail(`${where}.category`, `one of ${CATEGORIES.join(', ')}`);
  if (!Array.isArray(r.mitre) || r.mitre.some((m) => typeof m !== 'string' || !MITRE.test(m))) fail(`${where}.mitre`, 'a list of ATT&CK technique ids (T1046, T1071.004)');
  const on = r.on;
  if (on !== 'conn' && on !== 'end' && on !== 'dns') fail(`${where}.on`, 'conn, end or dns');
  if (!Array.isArray(r.filters)) fail(`${where}.filters`, 'must be a list');
  const filters = r.filters.map((f, i): Filter => {
    const w = `${where}.filters[${i}]`;
    if (typeof f !== 'object' || f === null) fail(w, 'must be an object');
    const ff = f as Record<string, unknown>;
    for (const k of Object.keys(ff)) if (!['feature', 'op', 'value'].includes(k)) fail(w, `unknown field ${k}`);
    const feature = featureName(ff.feature, `${w}.feature`);
    const op = ff.op as Op;
    if (!OPS.includes(op)) fail(`${w}.op`, `one of ${OPS.join(' ')}`);
    if (op === 'in' || op === 'not in') { portList(ff.value, `${w}.value`); return { feature, op, value: ff.value as (number | string)[] }; }
    return { feature, op, value: num(ff.value, `${w}.value`) };
  });
  const m = r.metric as Record<string, unknown> | undefined;
  let metric: Model['metric'];
  if (m?.kind === 'count') metric = { kind: 'count' };
  else if (m?.kind === 'sum') metric = { kind: 'sum', feature: featureName(m.feature, `${where}.metric.feature`) };
  else fail(`${where}.metric`, '{"kind":"count"} or {"kind":"sum","feature":…}');
  const group = (r.group ?? []) as GroupField[];
  if (!Array.isArray(group) || group.some((g) => g !== 'peer' && g !== 'port')) fail(`${where}.group`, 'a list of "peer" and "port"');
  return {
    id, title, category, mitre: r.mitre as string[], on, filters, metric, group: [...new Set(group)],
    priority: Math.round(num(r.priority ?? 3, `${where}.priority`, 1)),
    window_s: num(r.window_s, `${where}.window_s`, 1),
    threshold: num(r.threshold, `${where}.threshold`, 0),
    throttle_s: num(r.throttle_s ?? 3600, `${where}.throttle_s`, 0),
    baseline: r.baseline === undefined ? false : r.baseline === true,
    summary: str(r.summary, `${where}.summary`),
    metric_label: str(r.metric_label, `${where}.metric_label`),
    exclude_tags: tagList(r.exclude_tags, `${where}.exclude_tags`),
    adaptive: r.adaptive === true,
    skip_group_port: r.skip_group_port === true,
    enabled: r.enabled === undefined ? true : r.enabled === true,
  };
}

/**
 * A catalogue: the built-in models, with a user's file merged in by id (a
 * model with a built-in id replaces it, `"enabled": false` turns it off).
 */
export function parseModels(raw: unknown, where: string, base: readonly Model[] = []): Model[] {
  const list = Array.isArray(raw) ? raw : (raw as { models?: unknown } | null)?.models;
  if (!Array.isArray(list)) fail(where, 'expected a list of models, or {"models": [...]}');
  const byId = new Map(base.map((m) => [m.id, m]));
  list.forEach((m, i) => {
    const model = parseModel(m, `${where}[${i}]`);
    byId.set(model.id, model);
  });
  return [...byId.values()];
}
