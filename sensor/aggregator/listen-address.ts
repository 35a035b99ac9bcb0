// "host:port" as the aggregator's --grpc and --http flags take it, checked
// before anything binds so a typo is a usage error, not a half-started
// aggregator. IPv6 hosts are bracketed ("[::1]:8080"), as in URLs and as
// grpc-js expects them.
import { isIP } from 'node:net';

export interface ListenAddress {
  /** without brackets */
  host: string;
  /** 0: any free port (the one bound is logged) */
  port: number;
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Parse "host:port"; throws an Error saying what is wrong. */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) throw new Error(`"${text}" is not HOST:PORT (an IPv6 host in brackets: [::1]:8080)`);
  const host = m[1]!;
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`"${text}": port must be 0–65535`);
  const bracketed = text.startsWith('[');
  if (bracketed ? isIP(host) !== 6 : !(isIP(host) === 4 || HOST_NAME.test(host))) throw new Error(`"${text}": "${host}" is not an IP address or host name`);
  return { host, port };
}

export { isLoopbackHost } from '../uplink/address.ts';

/** "host:port" again, IPv6 bracketed. */
export const formatListenAddress = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
