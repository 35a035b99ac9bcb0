// A model breach as it leaves the sensor: JSON with what fired, how
// strongly, on which device, with the metrics that made it and one plain
// sentence an analyst can act on, plus the flows that are the evidence.
import { FEATURES, FEATURE_INDEX, NEVER, type FeatureName, type Observation } from '../learn/observation.ts';
import type { Model } from './model.ts';

export interface BreachMetric {
  name: string;
  /** null: never before (a first sighting) */
  value: number | null;
  /** what the model takes as unusual: the threshold, or the filter's bound */
  threshold?: string;
  window_s?: number;
  description: string;
}

export interface Breach {
  id: string;
  /** RFC 3339, capture time of the observation that completed the breach */
  time: string;
  model: string;
  title: string;
  category: Model['category'];
  score: number;
  mitre: string[];
  /** the device: its address, and where learned the MAC its frames carried last (packets) and the cloud interface that logged it (flow logs) */
  device: { ip: string; mac?: string; interface?: string };
  /** the peer, when the model's window is per peer or its summary names one */
  peer?: { ip: string; port: number };
  /** the service port, when the model's window is per port (a sweep of many hosts on it) */
  port?: number;
  /** DNS models: the registered domain of the triggering answer */
  domain?: string;
  metrics: BreachMetric[];
  summary: string;
  evidence: { uid: string; community_id: string }[];
  /** meta models: the ids of the breaches this one sums up */
  related?: string[];
}

export function buildBreach(
  m: Model,
  o: Observation,
  x: { id: string; total: number; score: number; evidence: Breach['evidence']; threshold?: number; adapted?: boolean },
): Breach {
  const threshold = x.threshold ?? m.threshold;
  const port = o.features[FEATURE_INDEX.port]!;
  const metrics: BreachMetric[] = [
    {
      name: m.metric.kind === 'count' ? 'count' : `sum of ${m.metric.feature}`, value: round(x.total), threshold: `>= ${threshold}`, window_s: m.window_s,
      description: x.adapted ? `${m.metric_label} (threshold adapted to this network: 1.25 × its 99.9th percentile of window peaks; the model's own is ${m.threshold})` : m.metric_label,
    },
  ];
  const seen = new Set<string>();
  for (const f of m.filters) {
    if (seen.has(f.feature)) continue;
    seen.add(f.feature);
    metrics.push({
      name: f.feature,
      value: metricValue(o.features[FEATURE_INDEX[f.feature]]!),
      threshold: `${f.op} ${Array.isArray(f.value) ? `[${f.value.join(', ')}]` : f.value}`,
      description: describe(f.feature),
    });
  }
  // How unusual, where the core knows: rarity and first sightings always help an analyst.
  // (a DNS observation's peer is the resolver: its rarity says nothing)
  for (const name of o.kind === 'dns' ? [] : ['peer_rarity', 'peer_age_s', 'peer_devices', 'bytes_out_z'] as const) {
    if (seen.has(name)) continue;
    const v = o.features[FEATURE_INDEX[name]]!;
    if (name === 'bytes_out_z' && (o.kind !== 'end' || v === 0)) continue;
    metrics.push({ name, value: metricValue(v), description: describe(name) });
  }
  return {
    id: x.id,
    time: new Date(Math.round(o.ts * 1000)).toISOString(),
    model: m.id,
    title: m.title,
    category: m.category,
    score: x.score,
    mitre: [...m.mitre],
    device: { ip: o.device },
    ...(m.group.includes('peer') || m.summary.includes('{peer}') ? { peer: { ip: o.peer, port } } : {}),
    ...(m.group.includes('port') ? { port } : {}),
    ...(o.kind === 'dns' && o.name ? { domain: o.name } : {}),
    metrics,
    summary: fill(m.summary, m, o, x.total),
    evidence: x.evidence,
  };
}

/** A feature's value for the metrics list: null for "never before". */
function metricValue(v: number): number | null {
  return v >= NEVER ? null : round(v);
}

function describe(name: FeatureName): string {
  return FEATURES[FEATURE_INDEX[name]]![1];
}

function round(v: number): number {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100;
}

/** "60 s", "5 min", "1 h", "1 day". */
export function duration(s: number): string {
  if (s < 120) return `${round(s)} s`;
  if (s < 7200) return `${round(s / 60)} min`;
  if (s < 172800) return `${round(s / 3600)} h`;
  return `${round(s / 86400)} days`;
}

/** "1.5 MB", "230 kB", "812 bytes" (decimal units, as network volumes are quoted). */
export function bytesText(n: number): string {
  if (n >= 1e9) return `${round(n / 1e9)} GB`;
  if (n >= 1e6) return `${round(n / 1e6)} MB`;
  if (n >= 1e3) return `${round(n / 1e3)} kB`;
  return `${Math.round(n)} bytes`;
}

function fill(template: string, m: Model, o: Observation, total: number): string {
  return template.replace(/\{([a-z_]+)\}/g, (all, name: string) => {
    switch (name) {
      case 'device': return o.device;
      case 'peer': return o.peer;
      case 'name': return o.name || 'one domain';
      case 'port': return String(o.features[FEATURE_INDEX.port]);
      case 'value': return String(round(total));
      case 'value_bytes': return bytesText(total);
      case 'threshold': return String(m.threshold);
      case 'window': return duration(m.window_s);
      case 'duration_h': return duration(o.features[FEATURE_INDEX.duration]!);
      default: {
        // {feature_bytes}: a feature that is a byte count, as "1.2 GB"
        const asBytes = name.endsWith('_bytes') && (FEATURE_INDEX as Record<string, number>)[name.slice(0, -6)] !== undefined;
        const i = (FEATURE_INDEX as Record<string, number>)[asBytes ? name.slice(0, -6) : name];
        if (i === undefined) return all;
        if (asBytes) return bytesText(o.features[i]!);
        const v = o.features[i]!;
        return name.endsWith('_s') ? (v >= NEVER ? 'never' : duration(v)) : String(Math.round(v * 10) / 10);
      }
    }
  });
}
