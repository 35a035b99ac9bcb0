// `edge-sensor aggregator`: the central service sensors deliver to — the
// uplink's gRPC server over LMDB storage, and the HTTP JSON API analysts
// read — running until SIGINT/SIGTERM, then closed in order (HTTP, then the
// sensors' streams, then the store) so nothing is cut mid-transaction.
//
// The aggregator modules (lmdb, grpc-js, the proto) are imported when the
// command runs, not with this file: run-cli.ts loads every command, and the
// sensor's own commands should not pay their start-up.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { logger } from '../log/logger.ts';
import { parse, UsageError } from './args.ts';
import { isLoopbackHost, parseListenAddress } from '../aggregator/listen-address.ts';

export const AGGREGATOR_HELP = `Usage: edge-sensor aggregator [options]

Run the aggregator until stopped (SIGINT / SIGTERM): receive model breaches,
device inventories and health from sensors over gRPC (one stream per
sensor; each breach stored exactly once by sensor and sequence number, in
LMDB under --data), and serve them as an HTTP JSON API under /api/v1/
(breaches, sensors, devices, health; acknowledgements and comments).

Sensors are authenticated by mutual TLS: a sensor's id is its client
certificate's common name (CN). Without --tls-* the gRPC address must be
loopback (plaintext, with a warning: a sensor is whoever its Hello says).
"edge-sensor certs" makes a lab CA and the certificates.

Options:
  --grpc HOST:PORT            where sensors connect (default 127.0.0.1:4317;
                              port 0 picks one, logged at start-up)
  --http HOST:PORT            the HTTP API (default 127.0.0.1:8080; port 0 picks
                              one). It has no authentication: keep it on
                              loopback or behind an authenticating proxy
  --data DIR                  the aggregator's data (LMDB; default
                              $XDG_DATA_HOME/edge-sensor/aggregator, i.e.
                              ~/.local/share/edge-sensor/aggregator)
  --tls-ca FILE               CA certificate(s) that sign sensors' certificates
  --tls-cert FILE             the aggregator's certificate (chain), PEM
  --tls-key FILE              its private key, PEM (the three go together)
  --allow-sensors FILE        only these sensors may deliver: one id per line,
                              "#" comments; others are refused
  --revoked FILE              these sensors are refused (same form), even with
                              a valid certificate
                              Both files are read again when they change.
  --log-level LEVEL           pino level (default info)
  -h, --help                  this help

Logs are JSON lines on stderr; the start-up line ("aggregator: running")
names the bound addresses and ports.
Exit status: 0 after a stop by SIGINT/SIGTERM; 1 when the data directory,
a TLS file or a sensor list cannot be used or an address cannot be bound
(one line on stderr); 2 on a usage error.

Examples:
  edge-sensor aggregator --data /var/lib/edge-aggregator
  edge-sensor certs --out pki --aggregator-host agg.lab --sensor s1 --sensor s2
  edge-sensor aggregator --grpc 0.0.0.0:4317 --tls-ca pki/ca.pem \\
      --tls-cert pki/aggregator.pem --tls-key pki/aggregator.key --allow-sensors sensors.txt
  curl -s 'http://127.0.0.1:8080/api/v1/breaches?min_score=70&limit=20'
`;

const OPTIONS = {
  grpc: { type: 'string' },
  http: { type: 'string' },
  data: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'allow-sensors': { type: 'string' },
  revoked: { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/** Where the aggregator keeps its data unless told: the user's data directory (XDG), beside the sensor's state. */
export function defaultAggregatorDir(): string {
  const base = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'edge-sensor', 'aggregator');
}

/** A condition of the machine (a file, a port): one line on stderr, exit 1. */
class StartError extends Error {}

export async function aggregatorCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  if (values.help) { process.stdout.write(AGGREGATOR_HELP); return 0; }
  if (positionals.length) throw new UsageError(`aggregator takes no arguments (got "${positionals[0]}")`);
  const log = logger();
  if (values['log-level']) {
    try { log.level = String(values['log-level']); } catch (e) { throw new UsageError(`--log-level: ${(e as Error).message}`); }
  }
  const grpcAddress = (values.grpc as string | undefined) ?? '127.0.0.1:4317';
  const httpAddress = (values.http as string | undefined) ?? '127.0.0.1:8080';
  const grpcHost = addressFlag(grpcAddress, 'grpc');
  addressFlag(httpAddress, 'http');
  const dataDir = (values.data as string | undefined) ?? defaultAggregatorDir();
  if (dataDir === '') throw new UsageError('--data must name a directory');
  const tlsFiles = (['tls-ca', 'tls-cert', 'tls-key'] as const).map((k) => values[k] as string | undefined);
  const given = tlsFiles.filter((f) => f !== undefined).length;
  if (given !== 0 && given !== 3) throw new UsageError('--tls-ca, --tls-cert and --tls-key go together (mutual TLS needs all three)');
  if (given === 0 && !isLoopbackHost(grpcHost)) {
    throw new UsageError(`--grpc ${grpcAddress}: plaintext gRPC is allowed only on a loopback address; give --tls-ca, --tls-cert and --tls-key`);
  }

  try {
    return await serve({
      grpcAddress, httpAddress, dataDir, log,
      tls: given === 3 ? tlsFiles.map((f) => readFile(f!, 'TLS')) as [Buffer, Buffer, Buffer] : null,
      allowFile: values['allow-sensors'] as string | undefined,
      revokedFile: values.revoked as string | undefined,
    });
  } catch (e) {
    if (!(e instanceof StartError)) throw e;
    process.stderr.write(`edge-sensor aggregator: ${e.message}\n`);
    return 1;
  }
}

interface ServeOptions {
  grpcAddress: string;
  httpAddress: string;
  dataDir: string;
  /** ca, cert, key */
  tls: [Buffer, Buffer, Buffer] | null;
  allowFile: string | undefined;
  revokedFile: string | undefined;
  log: ReturnType<typeof logger>;
}

async function serve(o: ServeOptions): Promise<number> {
  const [{ ServerCredentials }, { openAggregatorStore }, { startAggregatorServer }, { startHttpApi }, { SensorListFile, sensorAuthorizer }, { IncidentService }, { DeviceScores }] = await Promise.all([
    import('@grpc/grpc-js'), import('../aggregator/aggregator-store.ts'), import('../aggregator/grpc-server.ts'),
    import('../aggregator/http-api.ts'), import('../aggregator/sensor-lists.ts'), import('../aggregator/incident-service.ts'), import('../aggregator/device-scores.ts'),
  ]);
  const list = (path: string | undefined, flag: string) => {
    if (path === undefined) return null;
    try { return new SensorListFile(path, o.log); } catch (e) { throw new StartError(`--${flag} ${path}: ${(e as Error).message}`); }
  };
  const allow = list(o.allowFile, 'allow-sensors');
  const revoked = list(o.revokedFile, 'revoked');
  const credentials = o.tls ? ServerCredentials.createSsl(o.tls[0], [{ cert_chain: o.tls[1], private_key: o.tls[2] }], true) : ServerCredentials.createInsecure();

  // a StateError (not aggregator data, another format, read-only disk) reaches run-cli: one line, exit 1
  const store = openAggregatorStore(o.dataDir);
  const stops: (() => Promise<void>)[] = [() => store.close()];
  const stopAll = async () => { for (const stop of stops.splice(0)) await stop().catch((e: unknown) => o.log.error({ err: String(e) }, 'aggregator: closing failed')); };
  try {
    // incidents and device scores are derived from the stored breaches: rebuilt here, then fed as each batch is stored
    const incidents = new IncidentService();
    const scores = new DeviceScores();
    const t0 = performance.now();
    const replayed = incidents.rebuild(store);
    scores.rebuild(store);
    o.log.info({ breaches: replayed, incidents: incidents.correlator.size, devices_scored: scores.size, ms: Math.round(performance.now() - t0) }, 'aggregator: incidents and device scores rebuilt from the stored breaches');
    const grpc = await startAggregatorServer({
      address: o.grpcAddress, store, credentials, authorize: sensorAuthorizer(allow, revoked), logger: o.log,
      onStored: (sensor, items) => { incidents.addStored(sensor, items); scores.addStored(sensor, items); },
    })
      .catch((e: Error) => { throw new StartError(e.message); });
    stops.unshift(() => grpc.close(2000));
    const http = await startHttpApi({ address: o.httpAddress, store, server: grpc, incidents, scores, logger: o.log })
      .catch((e: Error) => { throw new StartError(e.message); });
    stops.unshift(() => http.close());
    o.log.info({
      grpc: o.grpcAddress, grpc_port: grpc.port, http: http.address, http_port: http.port, data: store.dir,
      tls: o.tls !== null, allow_sensors: allow ? allow.size : null, revoked: revoked ? revoked.size : null, aggregator_id: store.aggregatorId,
    }, 'aggregator: running');

    const signal = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    o.log.info({ signal }, 'aggregator: stopping');
    // a second signal while closing: stop at once (the store's last transaction is atomic either way)
    const force = () => { o.log.warn({}, 'aggregator: second signal: exiting without closing'); process.exit(1); };
    process.once('SIGINT', force);
    process.once('SIGTERM', force);
    await stopAll();
    process.off('SIGINT', force);
    process.off('SIGTERM', force);
    o.log.info({ stored: grpc.stats().stored, http_requests: http.stats().received }, 'aggregator: stopped');
    return 0;
  } finally {
    await stopAll();
  }
}

function addressFlag(text: string, flag: string): string {
  try { return parseListenAddress(text).host; } catch (e) { throw new UsageError(`--${flag}: ${(e as Error).message}`); }
}

function readFile(path: string, what: string): Buffer {
  try { return readFileSync(path); } catch (e) { throw new StartError(`cannot read the ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
}
