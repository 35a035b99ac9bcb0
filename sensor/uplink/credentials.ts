// The uplink's channel credentials: mutual TLS from PEM files (the CA that
// signed the aggregator's certificate, and this sensor's own certificate and
// key), or plaintext — only towards a loopback address, where nothing
// travels over a network, and with a warning even then. A sensor shipping
// breaches in clear text over a real network is refused here, before any
// connection is tried, with the way out in the message.
import { readFileSync } from 'node:fs';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { logger, type Log } from '../log/logger.ts';
import { isLoopbackAddress } from './address.ts';

export { isLoopbackAddress, parseHostPort } from './address.ts';

export interface TlsFiles {
  /** PEM: the CA certificate(s) the aggregator's certificate must chain to */
  ca: string;
  /** PEM: this sensor's client certificate (its CN is the sensor id the aggregator checks) */
  cert: string;
  /** PEM: the private key of `cert` */
  key: string;
}

/**
 * Credentials for an uplink to `address`: mTLS from `tls`, or — with `tls`
 * null — plaintext when the address is loopback (a warning is logged), an
 * Error otherwise. Unreadable PEM files are an Error naming the file.
 */
export function uplinkCredentials(tls: TlsFiles | null, address: string, log: Log = logger()): ChannelCredentials {
  if (tls === null) {
    if (!isLoopbackAddress(address)) {
      throw new Error(`uplink to ${address}: plaintext is allowed only to a loopback address (127.0.0.0/8, ::1, localhost); give --tls-ca, --tls-cert and --tls-key for mutual TLS`);
    }
    log.warn({ aggregator: address }, 'uplink: plaintext gRPC to a loopback aggregator: not authenticated, not encrypted');
    return credentials.createInsecure();
  }
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(`uplink: cannot read the ${what} ${path}: ${(e as Error).message}`);
    }
  };
  return credentials.createSsl(read('CA certificate (--tls-ca)', tls.ca), read('private key (--tls-key)', tls.key), read('certificate (--tls-cert)', tls.cert));
}
