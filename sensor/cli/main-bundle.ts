// Entry point of the esbuild bundle that `npx edge-sensor` runs (see
// bin.cjs): the bundle is CommonJS, which starts faster than an ES module
// (README, Design decisions); CommonJS has no top-level await, hence this file
// beside main.ts.
import { runCli } from './run-cli.ts';

void runCli(process.argv.slice(2)).then((code) => { process.exitCode = code; });
