// Entry point of the `edge-sensor` command.
import { runCli } from './run-cli.ts';

process.exitCode = await runCli(process.argv.slice(2));
