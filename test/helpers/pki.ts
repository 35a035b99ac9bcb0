// A lab PKI made with openssl for the mTLS tests: a CA, the aggregator's
// server certificate (localhost, 127.0.0.1), client certificates by CN, and
// one from a CA nobody trusts.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/**
 * In `dir`: ca.crt/ca.key, server.crt/server.key, `<name>.crt/.key` for each
 * client name → CN, and with `forged` a rogue CA (rogue.crt) and forged.crt
 * signed by it for the CN given.
 */
export function makePki(dir: string, clients: Record<string, string>, forged?: string): void {
  mkdirSync(dir, { recursive: true });
  const run = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const key = (name: string) => run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  key('ca');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=edge-test-ca', '-days', '2', '-out', 'ca.crt');
  const leaf = (name: string, cn: string, ext: string, ca = 'ca') => {
    key(name);
    run('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  };
  leaf('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  for (const [name, cn] of Object.entries(clients)) leaf(name, cn, 'extendedKeyUsage=clientAuth\n');
  if (forged !== undefined) {
    key('rogue');
    run('req', '-x509', '-new', '-key', 'rogue.key', '-subj', '/CN=rogue-ca', '-days', '2', '-out', 'rogue.crt');
    leaf('forged', forged, 'extendedKeyUsage=clientAuth\n', 'rogue');
  }
}
