// Runs the uvu suite through tsx and ends with a plain "N passed, N failed"
// line (plus skipped) that CI reads. Extra args narrow the files: e.g.
// `node test/run.mjs flows` runs test/*flows*.test.ts.
import { spawn } from 'node:child_process';

const filter = process.argv[2] ? `${process.argv[2]}.*\\.test\\.ts$` : '\\.test\\.ts$';
const child = spawn(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', 'test', filter], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, FORCE_COLOR: '0' },
});
let out = '';
child.stdout.on('data', (b) => { out += b; process.stdout.write(b); });
child.on('close', (code) => {
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  // uvu counts a crashed file as no tests; a non-zero exit with nothing failed still fails.
  let failed = Math.max(0, total - passed - skipped);
  if (code !== 0 && failed === 0) failed = 1;
  process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
