// Aggregator addresses as the CLI takes them ("host:port", "[v6]:port"),
// and whether one is loopback — the only place plaintext is allowed. No
// gRPC here: the CLI checks its flags without loading it.
import { isIP } from 'node:net';

/** The host and port of "host:port" or "[v6]:port"; null when it is not that shape. */
export function parseHostPort(address: string): { host: string; port: number } | null {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address) ?? /^([^:[\]\s]+):(\d{1,5})$/.exec(address);
  if (!m) return null;
  const port = Number(m[2]);
  return port <= 65535 ? { host: m[1]!, port } : null;
}

/** Whether "host:port" names a loopback address: 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackAddress(address: string): boolean {
  const hp = parseHostPort(address);
  if (!hp) return false;
  const host = hp.host.toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && (host === '::1' || host === '0:0:0:0:0:0:0:1');
}
