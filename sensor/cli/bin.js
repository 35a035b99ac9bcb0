#!/usr/bin/env node
// `npx edge-sensor …`. Runs the esbuild bundle that `npm install` / `npm run
// build` makes (starts in ~0.1 s) when it is at least as new as every source
// file; otherwise — a developer editing sources — loads the TypeScript
// through tsx (~0.35 s to start), so a stale bundle never runs.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bundle = join(root, 'build', 'js', 'cli', 'main.mjs');

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

if (existsSync(bundle) && statSync(bundle).mtimeMs >= newestSource(join(root, 'sensor'))) {
  await import(bundle);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
}
