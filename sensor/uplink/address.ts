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
  return hp !== null && isLoopbackHost(hp.host);
}

/** Whether a host (no port, no brackets) is loopback only: 127.0.0.0/8, ::1 or localhost — reachable from this machine alone. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return isIP(h) === 6 && (h === '::1' || h === '0:0:0:0:0:0:0:1');
}
