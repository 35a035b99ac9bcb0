// The uplink flags `analyze` and `run` share (--aggregator and its TLS
// files), checked before anything runs, and the uplink started from them.
//
// The uplink's modules are imported only when --aggregator is given: the
// protocol's proto loading and grpc-js cost ~200 ms of start-up that every
// other run would pay for otherwise.
import type { Log } from '../log/logger.ts';
import type { Uplink, UplinkStats } from '../uplink/uplink-client.ts';
import type { TlsFiles } from '../uplink/credentials.ts';
import { isLoopbackAddress, parseHostPort } from '../uplink/address.ts';
import { numberFlag, UsageError } from './args.ts';

export const UPLINK_OPTIONS = {
  aggregator: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'sensor-id': { type: 'string' },
} as const;

export const UPLINK_TIMEOUT_OPTION = {
  'aggregator-timeout': { type: 'string' },
} as const;

export const UPLINK_HELP = `  --aggregator HOST:PORT      stream every breach in the state's outbox to an
                              aggregator (gRPC), at least once; acknowledged
                              ones leave the outbox, the rest wait there for
                              the next connection. Needs --state
  --tls-ca FILE, --tls-cert FILE, --tls-key FILE
                              mutual TLS (PEM): the CA of the aggregator's
                              certificate, this sensor's certificate and key.
                              Without them only a loopback aggregator is
                              allowed (plaintext, with a warning)
  --sensor-id ID              the identity said to the aggregator (default: the
                              state's id; with TLS, its certificate's CN)
`;

export const UPLINK_TIMEOUT_HELP = `  --aggregator-timeout S      at the end, wait up to S seconds for every breach
                              to be acknowledged (default 30); what is left
                              stays in the outbox for the next run (exit 0)
`;

const SENSOR_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

export interface UplinkConfig {
  address: string;
  tls: TlsFiles | null;
  sensorId?: string;
  /** analyze: seconds to wait for the outbox to drain at the end */
  timeoutS: number;
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** The uplink flags checked (usage errors name the flag); null without --aggregator. `hasState`: whether the run keeps state (the outbox). */
export function uplinkFlags(values: Values, hasState: boolean, stateHint: string): UplinkConfig | null {
  const address = values.aggregator as string | undefined;
  const tlsGiven = (['tls-ca', 'tls-cert', 'tls-key'] as const).filter((f) => values[f] !== undefined);
  if (address === undefined) {
    for (const f of [...tlsGiven, 'sensor-id', 'aggregator-timeout']) if (values[f] !== undefined) throw new UsageError(`--${f} is about the uplink: it needs --aggregator`);
    return null;
  }
  if (!parseHostPort(address)) throw new UsageError(`--aggregator must be HOST:PORT or [IPv6]:PORT (got "${address}")`);
  if (!hasState) throw new UsageError(`--aggregator delivers from the state's outbox: it needs ${stateHint}`);
  if (tlsGiven.length > 0 && tlsGiven.length < 3) throw new UsageError('mutual TLS needs all three of --tls-ca, --tls-cert and --tls-key');
  const tls = tlsGiven.length === 3 ? { ca: values['tls-ca'] as string, cert: values['tls-cert'] as string, key: values['tls-key'] as string } : null;
  if (!tls && !isLoopbackAddress(address)) {
    throw new UsageError(`--aggregator ${address}: plaintext is allowed only to a loopback address (127.0.0.0/8, ::1, localhost); give --tls-ca, --tls-cert and --tls-key for mutual TLS`);
  }
  const sensorId = values['sensor-id'] as string | undefined;
  if (sensorId !== undefined && !SENSOR_ID.test(sensorId)) throw new UsageError(`--sensor-id must be 1–128 characters of [A-Za-z0-9._:@-] (got "${sensorId}")`);
  const timeoutS = numberFlag(values['aggregator-timeout'], 'aggregator-timeout', { min: 0 }) ?? 30;
  return { address, tls, ...(sensorId !== undefined ? { sensorId } : {}), timeoutS };
}

/**
 * Load the uplink's modules and build its credentials now (an unreadable
 * PEM file is a usage error before the run starts); returns what starts the
 * uplink on the state directory once the pipeline has opened it.
 */
export async function prepareUplink(config: UplinkConfig, log: Log): Promise<(stateDir: string) => Uplink> {
  const [{ Uplink }, { uplinkCredentials }] = await Promise.all([import('../uplink/uplink-client.ts'), import('../uplink/credentials.ts')]);
  let credentials;
  try {
    credentials = uplinkCredentials(config.tls, config.address, log);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return (stateDir) => {
    const u = new Uplink({ address: config.address, stateDir, credentials, log, ...(config.sensorId !== undefined ? { sensorId: config.sensorId } : {}) });
    u.start();
    return u;
  };
}

/** What the summary says of the uplink. */
export function uplinkSummary(stats: UplinkStats, outboxLeft: number): Record<string, unknown> {
  return { sent: stats.sent, acked: stats.acked, resent: stats.resent, errors: stats.errors, reconnects: stats.reconnects, outbox_left: outboxLeft };
}
