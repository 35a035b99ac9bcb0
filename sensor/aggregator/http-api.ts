// The aggregator's HTTP JSON API (node:http, no framework): what sensors
// delivered — breaches, sensors with their health and lag, devices — and
// what analysts add to it (acknowledgements, comments). See the README's
// table for the routes.
//
// It serves analysts' tools on the aggregator's host or behind a proxy: it
// has no authentication of its own, so the command binds it to loopback
// unless told otherwise (and warns then).
//
// Robustness, since anything that can reach the port can send anything:
// every parameter is validated (400 with a JSON error), bodies are limited
// (64 KiB → 413), a handler's failure is a 500 for that request only, and
// the parser's own rejections (malformed HTTP) are answered 400 and counted —
// nothing a client sends can end the process.
import type { IncidentService } from './incident-service.ts';
import type { DeviceScores, ScoreWindow } from './device-scores.ts';
import { canonicalAddress } from '../uplink/protocol.ts';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { logger as defaultLogger, type Log } from '../log/logger.ts';
import { StateError } from '../state/state-error.ts';
import type { AggregatorStore, SensorRecord, StoredBreach, StoredDevice } from './aggregator-store.ts';
import { AnnotationStore, breachKey, type Annotation, type AnnotationKey } from './annotation-store.ts';
import type { Incident } from './incidents.ts';
import type { AggregatorServer } from './grpc-server.ts';
import {
  DEFAULT_DEVICE_LIMIT, HttpError, MAX_DEVICE_LIMIT, annotationBody, breachQuery, incidentQuery, numberParam, sensorParam, seqParam, singleParams,
} from './http-params.ts';
import { formatListenAddress, isLoopbackHost, parseListenAddress } from './listen-address.ts';

export const MAX_BODY_BYTES = 64 << 10;
/** similar devices listed per device (similar_count says how many there are) */
export const MAX_SIMILAR = 10;
/** A listing stops growing past this (then `truncated: true`): a response is built in memory. */
export const MAX_RESPONSE_BYTES = 32 << 20;

export interface HttpApiOptions {
  /** "host:port"; port 0 picks a free one (see `port`) */
  address: string;
  store: AggregatorStore;
  /** the gRPC server, for who is connected now and its counters (without it: connected is null) */
  server?: Pick<AggregatorServer, 'stats' | 'connected'>;
  /** devices' rolling scores (GET /api/v1/devices): without it every score is 0 */
  scores?: Pick<DeviceScores, 'score' | 'keys'>;
  /** incidents (GET /api/v1/incidents): without it those routes answer 404 */
  incidents?: Pick<IncidentService, 'incidents' | 'incident' | 'resolve'>;
  logger?: Log;
}

export interface HttpStats {
  /** requests received */
  received: number;
  /** answered 4xx: bad parameters, unknown routes, bodies too large */
  rejected: number;
  /** answered 5xx: the store failed or a handler threw */
  errors: number;
  /** connections whose bytes were not HTTP (answered 400 by the parser, closed) */
  malformed: number;
}

export interface HttpApi {
  readonly port: number;
  /** "host:port" as bound */
  readonly address: string;
  stats(): HttpStats;
  /** Stop listening and close every connection. */
  close(): Promise<void>;
}

interface Request {
  method: string;
  /** path segments after /api/v1, decoded */
  parts: string[];
  query: URLSearchParams;
  body(): Promise<unknown>;
}

type Reply = { status?: number; body: unknown };

export async function startHttpApi(opts: HttpApiOptions): Promise<HttpApi> {
  const log = opts.logger ?? defaultLogger();
  const { host, port } = parseListenAddress(opts.address);
  const { store, server } = opts;
  const annotations = new AnnotationStore(store);
  const stats: HttpStats = { received: 0, rejected: 0, errors: 0, malformed: 0 };
  const startedAt = new Date();

  // ---- the routes ----

  const annotated = (b: StoredBreach): Record<string, unknown> => {
    const a = annotations.get(breachKey(b.sensor, b.epoch, b.seq));
    // the aggregator's fields last, always set: a sensor's breach JSON can name neither another sensor nor a fake acknowledgement
    return { ...b.breach, sensor: b.sensor, epoch: b.epoch, seq: b.seq, received_at: b.received_at, annotation: a ?? null };
  };

  function listBreaches(q: URLSearchParams): Reply {
    const query = breachQuery(q);
    const out: Record<string, unknown>[] = [];
    let bytes = 0, truncated = false;
    for (const b of store.breaches(query)) {
      const row = annotated(b);
      bytes += JSON.stringify(row).length;
      if (bytes > MAX_RESPONSE_BYTES) { truncated = true; break; }
      out.push(row);
    }
    return { body: { count: out.length, limit: query.limit, truncated: truncated || out.length === query.limit, breaches: out } };
  }

  function findBreach(sensorText: string, seqText: string, q: URLSearchParams): StoredBreach {
    const sensor = sensorParam(sensorText, 'the path\'s sensor')!;
    const seq = seqParam(seqText, 'the path\'s seq');
    const epoch = numberParam(singleParams(q, ['epoch']).get('epoch'), 'epoch', 0, Number.MAX_SAFE_INTEGER, true);
    const b = store.breach(sensor, seq, epoch);
    if (!b) throw new HttpError(404, `no breach ${seq} of sensor "${sensor}"${epoch !== undefined ? ` in epoch ${epoch}` : ' in its current epoch'}`);
    return b;
  }

  const annotationReply = (b: StoredBreach, a: Annotation): Reply => ({ body: { sensor: b.sensor, epoch: b.epoch, seq: b.seq, annotation: a } });

  function sensorView(rec: SensorRecord, connected: Set<string> | null, now: number): Record<string, unknown> {
    const last = lastBreach(rec);
    const since = (iso: string | undefined) => (iso === undefined ? null : Math.max(0, (now - Date.parse(iso)) / 1000));
    return {
      id: rec.id,
      first_connected: rec.first_connected,
      last_connected: rec.last_connected,
      connected: connected ? connected.has(rec.id) : null,
      version: rec.last_hello.sensor_version,
      state_id: rec.state_id,
      epoch: rec.epoch,
      acked_seq: rec.acked_seq,
      counters: rec.counters,
      last_health: rec.last_health ?? null,
      last_breach: last ? { seq: last.seq, time: last.breach.time ?? null, received_at: last.received_at } : null,
      lag: {
        // how long the aggregator has heard nothing of each kind, and how far behind the sensor says it is
        health_s: since(rec.last_health?.received_at),
        breach_s: since(last?.received_at),
        sensor_s: rec.last_health?.lag_s ?? null,
      },
    };
  }

  // The newest breach is the one at the acknowledgement (or just below it,
  // past rejected tombstones); a breach stored beyond a gap is not counted
  // until the gap fills.
  function lastBreach(rec: SensorRecord): StoredBreach | undefined {
    for (let seq = rec.acked_seq; seq > 0 && seq > rec.acked_seq - 16; seq--) {
      const b = store.breach(rec.id, seq, rec.epoch);
      if (b) return b;
    }
    return undefined;
  }

  function listSensors(q: URLSearchParams): Reply {
    singleParams(q, []);
    const connected = server ? new Set(server.connected()) : null;
    const now = Date.now();
    return { body: { sensors: store.sensors().map((r) => sensorView(r, connected, now)) } };
  }

  // Devices: the rows sensors sent (their inventories), with the rolling
  // scores of their breaches (device-scores.ts) and their similar devices:
  // the other members of their peer group on the same sensor (devices that
  // use the same client ports at the same hours in the same role,
  // sensor/learn/peer-groups.ts). A device with breaches but no row (its
  // sensor has not sent its inventory) is listed too, with its address.
  type DeviceView = Record<string, unknown> & { sensor: string; ip: string; scores: Record<ScoreWindow, number> };

  function deviceViews(sensor: string | undefined): DeviceView[] {
    const rows = store.devices(sensor);
    const groups = new Map<string, StoredDevice[]>();
    for (const d of rows) {
      if (d.peer_group === undefined) continue;
      const k = `${d.sensor}\u0000${d.peer_group}`;
      const g = groups.get(k);
      if (g) g.push(d); else groups.set(k, [d]);
    }
    const scoreOf = (s: string, ip: string) => opts.scores?.score(s, ip) ?? null;
    const zero = { '1h': 0, '24h': 0, '7d': 0 };
    const view = (d: { sensor: string; ip: string; peer_group?: number }, row: StoredDevice | null): DeviceView => {
      const sc = scoreOf(d.sensor, d.ip);
      const peers = d.peer_group === undefined ? [] : (groups.get(`${d.sensor}\u0000${d.peer_group}`) ?? []).filter((x) => x.ip !== d.ip);
      return {
        ...(row ?? { sensor: d.sensor, ip: d.ip }), sensor: d.sensor, ip: d.ip,
        scores: sc?.scores ?? zero, breaches_7d: sc?.breaches_7d ?? 0, last_breach: sc?.last_breach ?? null,
        similar: peers.slice(0, MAX_SIMILAR).map((x) => ({ ip: x.ip, score_24h: scoreOf(x.sensor, x.ip)?.scores['24h'] ?? 0 })),
        similar_count: peers.length,
      };
    };
    const out = rows.map((d) => view(d, d));
    if (opts.scores) {
      const have = new Set(rows.map((d) => `${d.sensor}\u0000${d.ip}`));
      for (const [s, ip] of opts.scores.keys()) {
        if ((sensor === undefined || s === sensor) && !have.has(`${s}\u0000${ip}`)) out.push(view({ sensor: s, ip }, null));
      }
    }
    return out;
  }

  function listDevices(q: URLSearchParams): Reply {
    const p = singleParams(q, ['sensor', 'limit', 'sort', 'min_score']);
    const sensor = sensorParam(p.get('sensor'));
    const limit = numberParam(p.get('limit'), 'limit', 1, MAX_DEVICE_LIMIT, true) ?? DEFAULT_DEVICE_LIMIT;
    const minScore = numberParam(p.get('min_score'), 'min_score', 0, 100, false);
    const sort = p.get('sort') ?? 'sensor';
    if (sort !== 'sensor' && sort !== 'score') throw new HttpError(400, 'sort must be "sensor" (by sensor, then address) or "score" (highest 24 h score first)');
    let all = deviceViews(sensor);
    if (minScore !== undefined) all = all.filter((d) => d.scores['24h'] >= minScore);
    if (sort === 'score') all.sort((x, y) => y.scores['24h'] - x.scores['24h'] || y.scores['7d'] - x.scores['7d'] || (x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0));
    return { body: { count: Math.min(all.length, limit), limit, truncated: all.length > limit, devices: all.slice(0, limit) } };
  }

  function oneDevice(sensorText: string, ipText: string, q: URLSearchParams): Reply {
    singleParams(q, []);
    const sensor = sensorParam(sensorText, 'the path\'s sensor')!;
    const ip = canonicalAddress(ipText);
    if (ip === null) throw new HttpError(400, `the path's device "${ipText.slice(0, 64)}" is not an IP address`);
    const d = deviceViews(sensor).find((x) => x.ip === ip);
    if (!d) throw new HttpError(404, `no device ${ip} of sensor "${sensor}" (neither in its inventory nor in a stored breach)`);
    return { body: d };
  }

  function health(q: URLSearchParams): Reply {
    singleParams(q, []);
    return {
      body: {
        status: 'ok',
        aggregator_id: store.aggregatorId,
        started_at: startedAt.toISOString(),
        uptime_s: Math.round((Date.now() - startedAt.getTime()) / 1000),
        grpc: server ? { ...server.stats(), connected: server.connected().length } : null,
        http: { ...stats },
        store: { dir: store.dir, breaches: store.breachCount(), sensors: store.sensors().length, annotations: annotations.count() },
      },
    };
  }

  // Incidents, with what analysts added: the incident's own annotation and
  // those made on ids since merged into it (merged_annotations: a merge
  // never hides an acknowledgement). An id merged away answers as the
  // incident it is now part of, and says so (merged_into). `acknowledged`
  // is the incident's own acknowledgement: one made on a part before the
  // merge does not cover what joined it.
  const incidentKey = (id: string): AnnotationKey => ['incident', id];

  function incidentView(inc: Incident, annotation: Annotation | null = annotations.get(incidentKey(inc.id)) ?? null): Record<string, unknown> {
    const merged: Record<string, Annotation> = {};
    for (const id of inc.merged_ids) {
      const a = annotations.get(incidentKey(id));
      if (a) merged[id] = a;
    }
    return { ...inc, annotation, merged_annotations: merged };
  }

  /** The incident `id` names (following merges), and `merged_into` when it was merged away. */
  function findIncident(id: string): { inc: Incident; merged: { merged_into?: string } } {
    const now = opts.incidents!.resolve(id);
    const inc = now === null ? null : opts.incidents!.incident(now);
    if (!inc) throw new HttpError(404, `no incident "${id.slice(0, 64)}" (never, or forgotten: the least recently active go past the aggregator's bound)`);
    return { inc, merged: inc.id === id ? {} : { merged_into: inc.id } };
  }

  function listIncidents(q: URLSearchParams): Reply {
    const { minScore, limit, acknowledged } = incidentQuery(q);
    const out: Record<string, unknown>[] = [];
    let truncated = false;
    for (const inc of opts.incidents!.incidents(minScore !== undefined ? { minScore } : {})) {
      const a = annotations.get(incidentKey(inc.id)) ?? null;
      if (acknowledged !== undefined && Boolean(a?.acknowledged) !== acknowledged) continue;
      if (out.length === limit) { truncated = true; break; }
      out.push(incidentView(inc, a));
    }
    return { body: { count: out.length, limit, truncated, incidents: out } };
  }

  async function route(r: Request): Promise<Reply> {
    const [a, b, c, d, ...rest] = r.parts;
    const only = (method: string) => { if (r.method !== method) throw new HttpError(405, `${r.method} is not allowed here: ${method} only`, { Allow: method }); };
    if (rest.length === 0) {
      if (a === 'health' && b === undefined) { only('GET'); return health(r.query); }
      if (a === 'sensors' && b === undefined) { only('GET'); return listSensors(r.query); }
      if (a === 'devices' && b === undefined) { only('GET'); return listDevices(r.query); }
      if (a === 'devices' && b !== undefined && c !== undefined && d === undefined) { only('GET'); return oneDevice(b, c, r.query); }
      if (a === 'breaches' && b === undefined) { only('GET'); return listBreaches(r.query); }
      if (a === 'incidents' && opts.incidents && b === undefined) { only('GET'); return listIncidents(r.query); }
      if (a === 'incidents' && opts.incidents && b !== undefined && c === undefined) {
        only('GET');
        singleParams(r.query, []);
        const { inc, merged } = findIncident(b);
        return { body: { ...incidentView(inc), ...merged } };
      }
      if (a === 'incidents' && opts.incidents && b !== undefined && (c === 'ack' || c === 'comment') && d === undefined) {
        const allow = c === 'ack' ? 'POST, DELETE' : 'POST';
        if (r.method !== 'POST' && !(c === 'ack' && r.method === 'DELETE')) throw new HttpError(405, `${r.method} is not allowed here: ${allow} only`, { Allow: allow });
        singleParams(r.query, []);
        const { inc, merged } = findIncident(b);
        const key = incidentKey(inc.id);
        if (r.method === 'DELETE') return { body: { id: inc.id, ...merged, annotation: await annotations.unacknowledge(key) } };
        const body = annotationBody(await r.body(), c === 'comment');
        const a2 = c === 'ack' ? await annotations.acknowledge(key, body.by, body.comment) : await annotations.comment(key, body.by, body.comment!);
        return { body: { id: inc.id, ...merged, annotation: a2 } };
      }
      if (a === 'breaches' && b !== undefined && c !== undefined && d === undefined) {
        only('GET');
        const found = findBreach(b, c, r.query);
        return { body: annotated(found) };
      }
      if (a === 'breaches' && b !== undefined && c !== undefined && (d === 'ack' || d === 'comment')) {
        const allow = d === 'ack' ? 'POST, DELETE' : 'POST';
        if (r.method !== 'POST' && !(d === 'ack' && r.method === 'DELETE')) throw new HttpError(405, `${r.method} is not allowed here: ${allow} only`, { Allow: allow });
        const found = findBreach(b, c, r.query);
        const key = breachKey(found.sensor, found.epoch, found.seq);
        if (r.method === 'DELETE') return annotationReply(found, await annotations.unacknowledge(key));
        const body = annotationBody(await r.body(), d === 'comment');
        const a2 = d === 'ack' ? await annotations.acknowledge(key, body.by, body.comment) : await annotations.comment(key, body.by, body.comment!);
        return annotationReply(found, a2);
      }
    }
    throw new HttpError(404, 'no such route (see GET /api/v1/health, /api/v1/breaches, /api/v1/incidents, /api/v1/sensors, /api/v1/devices)');
  }

  // ---- HTTP ----

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.received++;
    let reply: Reply;
    let headers: Record<string, string> = {};
    try {
      reply = await route(parseRequest(req));
    } catch (e) {
      if (e instanceof HttpError) {
        reply = { status: e.status, body: { error: e.message } };
        headers = e.headers;
      } else if (e instanceof StateError) {
        // the store's condition (disk full, read-only): the request failed, the aggregator goes on
        reply = { status: 503, body: { error: e.message } };
      } else {
        log.error({ err: (e as Error)?.stack ?? String(e), method: req.method, url: req.url?.slice(0, 200) }, 'aggregator http: request failed');
        reply = { status: 500, body: { error: 'internal error' } };
      }
    }
    const status = reply.status ?? 200;
    if (status >= 500) stats.errors++;
    else if (status >= 400) stats.rejected++;
    if (status === 413) headers = { ...headers, Connection: 'close' };
    send(res, status, reply.body, headers);
  }

  const http: Server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      // send() itself failed (the client went away): nothing to answer
      log.debug({ err: String(e) }, 'aggregator http: response not sent');
    });
  });
  http.maxHeadersCount = 64;
  // bytes that are not HTTP: answer 400 when the socket can still take it, never throw
  http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    stats.malformed++;
    if (err.code === 'ECONNRESET' || !socket.writable) { socket.destroy(); return; }
    const body = JSON.stringify({ error: `malformed request: ${err.code ?? err.message}` });
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(new Error(`aggregator http: cannot listen on ${opts.address}: ${e.message}`));
    http.once('error', onError);
    http.listen({ host, port }, () => { http.off('error', onError); resolve(); });
  });
  http.on('error', (e) => log.error({ err: e.message }, 'aggregator http: server error'));
  const bound = (http.address() as AddressInfo).port;
  const address = formatListenAddress(host, bound);
  if (!isLoopbackHost(host)) log.warn({ address }, 'aggregator http: the API has no authentication and listens beyond loopback: put it behind an authenticating proxy or a firewall');
  log.info({ address, port: bound }, 'aggregator http: API listening');

  return {
    port: bound,
    address,
    stats: () => ({ ...stats }),
    close: () => new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    }),
  };
}

function parseRequest(req: IncomingMessage): Request {
  let url: URL;
  try { url = new URL(req.url ?? '/', 'http://aggregator'); } catch { throw new HttpError(400, 'the request target is not a valid URL path'); }
  // any route: a client announcing a body too large is told so before it sends it
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) { req.resume(); throw new HttpError(413, `the body is over ${MAX_BODY_BYTES} bytes`); }
  const path = url.pathname;
  if (!path.startsWith('/api/v1/')) throw new HttpError(404, 'no such route (the API is under /api/v1/)');
  let parts: string[];
  try { parts = path.slice('/api/v1/'.length).split('/').filter((s) => s !== '').map(decodeURIComponent); } catch { throw new HttpError(400, 'the path is not valid percent-encoding'); }
  return { method: req.method ?? 'GET', parts, query: url.searchParams, body: () => readJsonBody(req) };
}

/**
 * The request's body as JSON, at most MAX_BODY_BYTES (413 past it; a
 * Content-Length over it is refused in parseRequest). Past the limit the rest is read and
 * dropped, not the socket destroyed: the client then reads the 413 instead
 * of a reset (the response says Connection: close).
 */
function readJsonBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) { chunks.push(chunk); return; }
      req.off('data', onData);
      req.resume();
      reject(new HttpError(413, `the body is over ${MAX_BODY_BYTES} bytes`));
    };
    req.on('data', onData);
    req.once('error', (e) => reject(new HttpError(400, `the body could not be read: ${e.message}`)));
    // a client gone mid-body: settled (a no-op when 'end' came first), so no request is left waiting forever
    req.once('close', () => reject(new HttpError(400, 'the client closed the connection before the body ended')));
    req.once('end', () => {
      if (size > MAX_BODY_BYTES) return;
      if (size === 0) return resolve({});
      try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown); } catch { reject(new HttpError(400, 'the body is not valid JSON')); }
    });
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(text);
}
