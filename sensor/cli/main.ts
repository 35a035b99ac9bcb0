// Entry point of the `edge-sensor` command — run through tsx from the sources
// and bundled by esbuild into build/js/cli/main.cjs (see bin.cjs). The bundle
// is CommonJS, which starts faster than an ES module (README, Design
// decisions) and has no top-level await: hence the .then.
import { runCli } from './run-cli.ts';

void runCli(process.argv.slice(2)).then((code) => { process.exitCode = code; });
