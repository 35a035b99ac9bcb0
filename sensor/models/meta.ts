// Meta models: breaches about breaches. One odd connection is noise; a
// device that breaches model after model within hours, or whose anomaly is
// followed by attack-like breaches, is the story an analyst wants first
// (Darktrace's "Device / Large Number of Model Breaches" and "Anomaly
// Followed By Multiple Breaches").
//
// A meta model watches the breaches of the other models per device over a
// window: `threshold` breaches (of distinct models when `distinct`), and when
// `after` names title families ("Anomalous Connection", "Unusual Activity"),
// only breaches that follow one of those families count. Like every model it
// is data: the config file can tune, disable or add them.
import { breachId } from './breach-id.ts';
import type { Breach } from './breach.ts';
import { CATEGORIES, ModelError, tagList, type Category } from './model.ts';
import { duration } from './breach.ts';
import { forgetOldest } from './bounded.ts';
import { loadFields } from './saved-fields.ts';

export interface MetaModel {
  id: string;
  title: string;
  category: Category;
  mitre: string[];
  priority: number;
  window_s: number;
  /** breaches within the window that make a meta breach */
  threshold: number;
  /** count distinct models only */
  distinct: boolean;
  /** title families ("Anomalous Connection") one of which must come first; the rest follow it */
  after: string[];
  throttle_s: number;
  summary: string;
  exclude_tags: string[];
  enabled: boolean;
}

const RAW_META = [
  {
    id: 'meta-large-number-of-breaches', title: 'Device / Large Number of Model Breaches', category: 'suspicious', mitre: [], priority: 2,
    window_s: 6 * 3600, threshold: 3, distinct: true, after: [], throttle_s: 86400,
    summary: '{device} breached {value} different models within {window}: {models}.',
  },
  {
    id: 'meta-anomaly-followed-by-breaches', title: 'Device / Anomaly Followed By Multiple Breaches', category: 'critical', mitre: [], priority: 1,
    window_s: 3600, threshold: 2, distinct: true, after: ['Anomalous Connection', 'Unusual Activity'], throttle_s: 86400,
    summary: '{device} showed an anomaly ({first}) followed by {value} other breaches within {window}: {models}.',
  },
];

function fail(where: string, msg: string): never {
  throw new ModelError(`${where}: ${msg}`);
}

export function parseMetaModel(raw: unknown, where: string): MetaModel {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(where, 'a meta model must be an object');
  const r = raw as Record<string, unknown>;
  const known = ['id', 'title', 'category', 'mitre', 'priority', 'window_s', 'threshold', 'distinct', 'after', 'throttle_s', 'summary', 'exclude_tags', 'enabled'];
  for (const k of Object.keys(r)) if (!known.includes(k)) fail(where, `unknown field ${k}`);
  if (typeof r.id !== 'string' || !/^[a-z0-9][a-z0-9-]{1,62}$/.test(r.id)) fail(`${where}.id`, 'lowercase letters, digits and dashes, 2–63 characters');
  where = `meta model ${r.id}`;
  if (typeof r.title !== 'string' || !r.title.includes(' / ')) fail(`${where}.title`, 'Darktrace style "Family / Name"');
  if (!CATEGORIES.includes(r.category as Category)) fail(`${where}.category`, `one of ${CATEGORIES.join(', ')}`);
  const mitre = r.mitre ?? [];
  if (!Array.isArray(mitre) || mitre.some((m) => typeof m !== 'string' || !/^T\d{4}(\.\d{3})?$/.test(m))) fail(`${where}.mitre`, 'a list of ATT&CK technique ids');
  const pos = (v: unknown, name: string, min: number) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) fail(`${where}.${name}`, `must be a number ≥ ${min}`);
    return v;
  };
  const after = r.after ?? [];
  if (!Array.isArray(after) || after.some((a) => typeof a !== 'string' || a.trim() === '')) fail(`${where}.after`, 'a list of title families');
  if (typeof r.summary !== 'string' || r.summary.trim() === '') fail(`${where}.summary`, 'must be a non-empty string');
  return {
    id: r.id, title: r.title, category: r.category as Category, mitre: mitre as string[],
    priority: Math.round(pos(r.priority ?? 3, 'priority', 1)),
    window_s: pos(r.window_s, 'window_s', 1), threshold: Math.round(pos(r.threshold, 'threshold', 1)),
    distinct: r.distinct === undefined ? true : r.distinct === true, after: after as string[],
    throttle_s: pos(r.throttle_s ?? 86400, 'throttle_s', 0), summary: r.summary,
    exclude_tags: tagList(r.exclude_tags, `${where}.exclude_tags`),
    enabled: r.enabled === undefined ? true : r.enabled === true,
  };
}

export const BUILTIN_META_MODELS: readonly MetaModel[] = RAW_META.map((m, i) => parseMetaModel(m, `built-in meta models[${i}]`));

/** Built-in meta models with a config's list merged in by id. */
export function parseMetaModels(raw: unknown, where: string, base: readonly MetaModel[] = BUILTIN_META_MODELS): MetaModel[] {
  if (raw === undefined) return [...base];
  if (!Array.isArray(raw)) fail(where, 'expected a list of meta models');
  const byId = new Map(base.map((m) => [m.id, m]));
  raw.forEach((m, i) => { const meta = parseMetaModel(m, `${where}[${i}]`); byId.set(meta.id, meta); });
  return [...byId.values()];
}

const family = (title: string) => title.split(' / ')[0]!;
/** A breach's capture time in seconds, parsed once per breach (judge() reads every recent one's, per breach). */
const TIMES = new WeakMap<Breach, number>();
const ts = (b: Breach): number => {
  let t = TIMES.get(b);
  if (t === undefined) { t = Date.parse(b.time) / 1000; TIMES.set(b, t); }
  return t;
};

/**
 * Judges each breach as it is raised against the device's recent ones.
 * Keeps, per device, the breaches of the longest meta window (bounded:
 * at most `perDevice` each, at most `maxDevices` devices, least recent
 * forgotten).
 */
export class MetaEngine {
  private readonly recent = new Map<string, Breach[]>();
  private readonly throttle = new Map<string, number>();
  private readonly horizon: number;

  constructor(readonly metas: readonly MetaModel[], private readonly maxDevices = 50_000, private readonly perDevice = 64) {
    this.horizon = Math.max(0, ...metas.map((m) => m.window_s));
  }

  /** The breaches remembered per device and the throttles, as a structured-cloneable value. */
  saveState(): unknown { return { recent: new Map([...this.recent].map(([d, l]) => [d, [...l]])), throttle: new Map(this.throttle) }; }
  loadState(s: unknown): void {
    loadFields(this, s, ['recent', 'throttle'], 'meta models');
  }

  /** A breach was raised; returns the meta breaches it completes (each also goes through here: metas never count metas). */
  judge(b: Breach, excluded: (device: string, tags: readonly string[]) => boolean): Breach[] {
    const now = ts(b);
    const dev = b.device.ip;
    let list = this.recent.get(dev);
    if (list) this.recent.delete(dev);
    else {
      list = [];
      if (this.recent.size >= this.maxDevices) forgetOldest(this.recent);
    }
    this.recent.set(dev, list);
    list.push(b);
    while (list.length > this.perDevice || (list.length && ts(list[0]!) < now - this.horizon)) list.shift();

    const out: Breach[] = [];
    for (const m of this.metas) {
      if (!m.enabled || excluded(dev, m.exclude_tags)) continue;
      const key = `${m.id}|${dev}`;
      const until = this.throttle.get(key);
      if (until !== undefined && now < until) continue;
      const inWindow = list.filter((x) => ts(x) >= now - m.window_s);
      let counted = inWindow;
      let first: Breach | undefined;
      if (m.after.length) {
        first = inWindow.find((x) => m.after.includes(family(x.title)));
        if (!first) continue;
        const f = first;
        counted = inWindow.filter((x) => x !== f && ts(x) >= ts(f));
      }
      const models = m.distinct ? [...new Set(counted.map((x) => x.model))] : counted.map((x) => x.model);
      if (models.length < m.threshold) continue;
      if (this.throttle.size >= this.maxDevices) forgetOldest(this.throttle);
      this.throttle.set(key, now + m.throttle_s);
      const score = Math.min(100, Math.max(...counted.map((x) => x.score), first?.score ?? 0) + 5 * (models.length - m.threshold + 1));
      const evidence = counted.flatMap((x) => x.evidence).slice(0, 5);
      const titles = [...new Set(counted.map((x) => x.title))];
      out.push({
        id: breachId(`${m.id}|${dev}|${now}`),
        time: b.time, model: m.id, title: m.title, category: m.category, score,
        mitre: [...new Set([...m.mitre, ...counted.flatMap((x) => x.mitre)])],
        device: { ip: dev },
        metrics: [{ name: m.distinct ? 'distinct models breached' : 'breaches', value: models.length, threshold: `>= ${m.threshold}`, window_s: m.window_s, description: 'breaches of the device within the window' }],
        summary: m.summary.replace(/\{([a-z]+)\}/g, (all, name: string) => {
          switch (name) {
            case 'device': return dev;
            case 'value': return String(models.length);
            case 'window': return duration(m.window_s);
            case 'models': return titles.join('; ');
            case 'first': return first ? first.title : '';
            default: return all;
          }
        }),
        evidence,
        related: counted.map((x) => x.id),
      });
    }
    return out;
  }
}
