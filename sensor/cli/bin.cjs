#!/usr/bin/env node
// `npx edge-sensor …`. Runs the esbuild bundle that `npm install` / `npm run
// build` makes when it is at least as new as every source file; otherwise —
// a developer editing sources — loads the TypeScript through tsx (~0.35 s to
// start), so a stale bundle never runs. CommonJS, like the bundle: Node's ES
// module loader costs ~10 ms more at start (README, Design decisions).
'use strict';
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..', '..');
const bundle = join(root, 'build', 'js', 'cli', 'main.cjs');

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

if (existsSync(bundle) && statSync(bundle).mtimeMs >= newestSource(join(root, 'sensor'))) {
  require(bundle);
} else {
  import('tsx/esm/api')
    .then(({ register }) => { register(); return import('./main.ts'); })
    .catch((e) => { process.stderr.write(`edge-sensor: ${e && e.stack ? e.stack : e}\n`); process.exitCode = 1; });
}
