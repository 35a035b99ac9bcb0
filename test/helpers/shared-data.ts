// Locates ../shared/data (real captures and flow logs from public test
// suites). It sits beside the repository on developer and CI machines but not
// in a user's clone: tests that need it skip with a clear message.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHARED_DATA = join(REPO_ROOT, '..', 'shared', 'data');
export const HAVE_SHARED_DATA = existsSync(join(SHARED_DATA, 'MANIFEST.tsv'));

let warned = false;
/** True when shared data is present; otherwise prints one skip notice. */
export function needSharedData(what: string): boolean {
  if (HAVE_SHARED_DATA) return true;
  if (!warned) {
    console.log(`  [skip] ${what}: ../shared/data is not beside this clone (it holds third-party captures used as conformance cases)`);
    warned = true;
  }
  return false;
}

export function sharedPath(rel: string): string {
  return join(SHARED_DATA, rel);
}

/** Every file below a shared-data folder, sorted, as paths relative to SHARED_DATA. */
export function sharedFiles(relDir: string, filter: (p: string) => boolean = () => true): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (filter(p)) out.push(relative(SHARED_DATA, p));
    }
  };
  if (HAVE_SHARED_DATA) walk(join(SHARED_DATA, relDir));
  return out;
}

export interface ManifestRow { file: string; packets: number; tsharkOk: boolean; encapsulation: string; magic: string }

/** MANIFEST.tsv: tshark's own packet counts per capture. */
export function manifest(): Map<string, ManifestRow> {
  const rows = new Map<string, ManifestRow>();
  if (!HAVE_SHARED_DATA) return rows;
  const lines = readFileSync(join(SHARED_DATA, 'MANIFEST.tsv'), 'utf8').trim().split('\n');
  const head = lines[0]!.split('\t');
  const col = (n: string) => head.indexOf(n);
  for (const line of lines.slice(1)) {
    const f = line.split('\t');
    rows.set(f[col('file')]!, {
      file: f[col('file')]!,
      packets: Number(f[col('packets')]),
      tsharkOk: f[col('tshark_ok')] === 'yes',
      encapsulation: f[col('encapsulation')]!,
      magic: f[col('magic_format')]!,
    });
  }
  return rows;
}
