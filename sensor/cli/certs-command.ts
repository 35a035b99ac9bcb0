// `edge-sensor certs`: a lab's PKI in one command — a CA, the aggregator's
// server certificate and a client certificate per sensor (its CN is the
// sensor id the aggregator checks) — made with the openssl CLI, so there is
// no crypto code of ours to trust and an operator can read exactly what was
// run (every command is logged at debug level).
//
// Files are made in a private temporary directory inside DIR and renamed
// into place only when all of them exist: a failure leaves DIR as it was,
// and a key is never readable by others, not even for a moment (mode 0600
// in a 0700 directory). Existing files are never replaced without --force.
// An existing CA (ca.pem + ca.key) is reused to sign new certificates, so
// sensors can be added later: "certs --out DIR --sensor s3".
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { logger } from '../log/logger.ts';
import { numberFlag, parse, UsageError } from './args.ts';

export const CERTS_HELP = `Usage: edge-sensor certs --out DIR [options]

Make certificates for a lab with openssl (OpenSSL 3 on PATH): a CA, the
aggregator's server certificate and one client certificate per sensor,
as PEM files in DIR:

  ca.pem, ca.key                  the CA (keep ca.key safe: it signs sensors)
  aggregator.pem, aggregator.key  the aggregator (server); its names: the
                                  --aggregator-host values, localhost and
                                  127.0.0.1
  sensor-ID.pem, sensor-ID.key    sensor ID (client; CN = ID, the identity
                                  the aggregator checks)

Keys are EC P-256, mode 0600. When DIR already holds ca.pem and ca.key the
CA is reused: the new certificates are signed by it (the aggregator
certificate is then made only with --aggregator-host). Existing files are
never overwritten without --force; --force also makes a new CA (and so
invalidates every certificate of the old one).

Options:
  --out DIR                   where the files go (required; created if needed)
  --ca-name NAME              the CA's common name (default "edge-sensor lab CA")
  --aggregator-host HOST      a DNS name or IP address sensors use to reach the
                              aggregator (repeatable)
  --sensor ID                 make a certificate for sensor ID (repeatable)
  --days N                    validity of new certificates (default 825)
  --force                     overwrite existing files, with a new CA
  --log-level LEVEL           pino level (default info; debug shows each
                              openssl command)
  -h, --help                  this help

Results (the files written) go to stdout.
Exit status: 0 when every file was written; 1 when openssl is missing or
failed, or a file exists (without --force): nothing is written then;
2 on a usage error.

Examples:
  edge-sensor certs --out pki --aggregator-host agg.lab --sensor s1 --sensor s2
  edge-sensor aggregator --grpc 0.0.0.0:4317 --tls-ca pki/ca.pem \\
      --tls-cert pki/aggregator.pem --tls-key pki/aggregator.key
  edge-sensor certs --out pki --sensor s3      # later: one more sensor, same CA
`;

const OPTIONS = {
  out: { type: 'string' },
  'ca-name': { type: 'string' },
  'aggregator-host': { type: 'string', multiple: true },
  sensor: { type: 'string', multiple: true },
  days: { type: 'string' },
  force: { type: 'boolean' },
  'log-level': { type: 'string' },
} as const;

const HOST_NAME = /^(?=.{1,253}$)(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
// a subject's CN is given to openssl as "/CN=…": its separators and escapes are kept out
const CA_NAME = /^[^/\\+=,"<>#;\x00-\x1f\x7f]{1,64}$/;

/** A condition of the machine (openssl, a file): one line on stderr, exit 1. */
class CertsError extends Error {}

export async function certsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  if (values.help) { process.stdout.write(CERTS_HELP); return 0; }
  if (positionals.length) throw new UsageError(`certs takes no arguments (got "${positionals[0]}")`);
  const log = logger();
  if (values['log-level']) {
    try { log.level = String(values['log-level']); } catch (e) { throw new UsageError(`--log-level: ${(e as Error).message}`); }
  }
  const out = values.out as string | undefined;
  if (!out) throw new UsageError('--out DIR is required (where the certificates go)');
  const caName = (values['ca-name'] as string | undefined) ?? 'edge-sensor lab CA';
  if (!CA_NAME.test(caName)) throw new UsageError('--ca-name must be 1–64 characters without / \\ + = , " < > # ; or control characters');
  const hosts = (values['aggregator-host'] as string[] | undefined) ?? [];
  for (const h of hosts) if (!(isIP(h) || HOST_NAME.test(h))) throw new UsageError(`--aggregator-host "${h}" is not a DNS name or IP address`);
  const sensors = (values.sensor as string[] | undefined) ?? [];
  const { isValidSensorId } = await import('../uplink/protocol.ts');
  for (const s of sensors) if (!isValidSensorId(s)) throw new UsageError(`--sensor "${s}" is not a sensor id (1–128 characters of [A-Za-z0-9._:@-])`);
  if (new Set(sensors).size !== sensors.length) throw new UsageError('--sensor: an id is given twice');
  const days = numberFlag(values.days, 'days', { min: 1, integer: true }) ?? 825;
  const force = values.force === true;

  try {
    const written = makeCertificates({ dir: resolve(out), caName, hosts, sensors, days, force, log });
    process.stdout.write(written.map((f) => `${f}\n`).join(''));
    return 0;
  } catch (e) {
    if (!(e instanceof CertsError)) throw e;
    process.stderr.write(`edge-sensor certs: ${e.message}\n`);
    return 1;
  }
}

interface Plan {
  dir: string;
  caName: string;
  hosts: string[];
  sensors: string[];
  days: number;
  force: boolean;
  log: ReturnType<typeof logger>;
}

/** Make the certificates; returns the paths written. */
export function makeCertificates(p: Plan): string[] {
  const hasCa = existsSync(join(p.dir, 'ca.pem')) && existsSync(join(p.dir, 'ca.key'));
  if (!hasCa && !p.force && (existsSync(join(p.dir, 'ca.pem')) || existsSync(join(p.dir, 'ca.key')))) {
    throw new CertsError(`${p.dir} holds only one of ca.pem and ca.key: a CA needs both (use --force to make a new CA)`);
  }
  const newCa = p.force || !hasCa;
  const names = [
    ...(newCa ? ['ca'] : []),
    ...(newCa || p.hosts.length > 0 ? ['aggregator'] : []),
    ...p.sensors.map((s) => `sensor-${s}`),
  ];
  if (names.length === 0) throw new CertsError(`nothing to make: ${p.dir} already has a CA; give --sensor ID or --aggregator-host HOST`);
  const files = names.flatMap((n) => [`${n}.pem`, `${n}.key`]);
  const existing = files.filter((f) => existsSync(join(p.dir, f)));
  if (existing.length > 0 && !p.force) throw new CertsError(`${p.dir} already has ${existing.join(', ')}: not overwritten (use --force to replace them, with a new CA)`);

  // openssl is there before anything is created
  opensslIn('/', p.log)('version');
  try { mkdirSync(p.dir, { recursive: true }); } catch (e) { throw new CertsError(`cannot create ${p.dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  let work: string;
  try { work = mkdtempSync(join(p.dir, '.certs-')); } catch (e) { throw new CertsError(`cannot write in ${p.dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  try {
    chmodSync(work, 0o700);
    const openssl = opensslIn(work, p.log);
    const caPem = newCa ? join(work, 'ca.pem') : join(p.dir, 'ca.pem');
    const caKey = newCa ? join(work, 'ca.key') : join(p.dir, 'ca.key');
    const key = (name: string) => {
      openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
      chmodSync(join(work, `${name}.key`), 0o600);
    };
    if (newCa) {
      key('ca');
      openssl('req', '-x509', '-new', '-key', 'ca.key', '-subj', `/CN=${p.caName}`, '-days', String(p.days), '-sha256', '-set_serial', serial(),
        '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.pem');
    }
    const leaf = (name: string, cn: string, ext: string) => {
      key(name);
      openssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`);
      writeFileSync(join(work, `${name}.ext`), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n${ext}`);
      openssl('x509', '-req', '-in', `${name}.csr`, '-CA', caPem, '-CAkey', caKey, '-set_serial', serial(), '-days', String(p.days), '-sha256',
        '-extfile', `${name}.ext`, '-out', `${name}.pem`);
    };
    if (names.includes('aggregator')) {
      const sans = [...new Set([...p.hosts, 'localhost', '127.0.0.1'])].map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`));
      leaf('aggregator', p.hosts[0] ?? 'localhost', `extendedKeyUsage=serverAuth\nsubjectAltName=${sans.join(',')}\n`);
    }
    for (const s of p.sensors) leaf(`sensor-${s}`, s, 'extendedKeyUsage=clientAuth\n');
    // all made: into place (certificates readable, keys 0600 as made)
    for (const f of files) {
      if (f.endsWith('.pem')) chmodSync(join(work, f), 0o644);
      renameSync(join(work, f), join(p.dir, f));
    }
    return files.map((f) => join(p.dir, f));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Run openssl in `cwd`; a missing openssl or a failure is a CertsError with openssl's own words. */
function opensslIn(cwd: string, log: ReturnType<typeof logger>): (...args: string[]) => void {
  return (...args) => {
    log.debug({ cwd, args }, 'certs: openssl');
    try {
      execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
      if (err.code === 'ENOENT') throw new CertsError('openssl was not found on PATH: install OpenSSL 3 (e.g. "apt-get install openssl") or make the certificates by hand');
      const said = err.stderr?.toString().trim().split('\n').slice(0, 3).join(' / ') || err.message;
      throw new CertsError(`openssl ${args[0]} failed: ${said}`);
    }
  };
}

// Random 127-bit serials: positive, and unique without a serial file beside the CA.
const serial = (): string => {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return `0x${b.toString('hex')}`;
};
