// The package's root folder, found from wherever this code runs: the
// TypeScript sources (sensor/core/) or the esbuild bundle (build/js/…).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(dir: string): string {
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'asm', 'counters.ts'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('edge-sensor: cannot find its package root (a folder with package.json and asm/)');
    dir = up;
  }
}

export const PACKAGE_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/** Set by the esbuild bundle (npm run build:js); absent when running the TypeScript through tsx. */
declare const EDGE_BUNDLED: boolean | undefined;
export const BUNDLED = typeof EDGE_BUNDLED !== 'undefined' && EDGE_BUNDLED === true;
