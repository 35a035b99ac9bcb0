// Subcommand dispatch. Returns the exit code instead of exiting so tests can
// drive the CLI in-process.
import { logger } from '../log/logger.ts';
import { StateError } from '../state/state-error.ts';
import { aggregatorCommand } from './aggregator-command.ts';
import { analyzeCommand } from './analyze-command.ts';
import { UsageError } from './args.ts';
import { breachesCommand } from './breaches-command.ts';
import { certsCommand } from './certs-command.ts';
import { demoCommand } from './demo-command.ts';
import { devicesCommand } from './devices-command.ts';
import { incidentsCommand } from './incidents-command.ts';
import { runCommand } from './run-command.ts';
import { statusCommand } from './status-command.ts';

export const MAIN_HELP = `Usage: edge-sensor <command> [options]

Commands:
  analyze <input…>   analyse captures and flow logs offline, write flow records
  run                the long-running sensor: live packets, NetFlow/IPFIX/sFlow
                     collectors, watched flow-log folders
  demo               run the sensor over a built-in, generated sample network
  status             read a sensor's state (--state DIR): running or not, last
                     snapshot, inputs' checkpoints, breaches, outbox, tables
  breaches           the breach history stored in a sensor's state (--state),
                     or an aggregator's breaches from its HTTP API (--api)
  devices            the device inventory stored in a sensor's state
  aggregator         the central aggregator: sensors deliver over gRPC, analysts
                     read the HTTP JSON API
  certs              make a lab CA and certificates for the aggregator and sensors
  incidents          the incidents an aggregator has correlated (its HTTP API)
  help [command]     show help for a command

Run "edge-sensor <command> --help" for the options of a command.
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  analyze: analyzeCommand,
  run: runCommand,
  demo: demoCommand,
  status: statusCommand,
  breaches: breachesCommand,
  devices: devicesCommand,
  aggregator: aggregatorCommand,
  certs: certsCommand,
  incidents: incidentsCommand,
};

export async function runCli(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h') { process.stdout.write(MAIN_HELP); return cmd ? 0 : 2; }
  if (cmd === 'help') {
    const sub = rest[0];
    if (sub && COMMANDS[sub]) return COMMANDS[sub]!(['--help']);
    process.stdout.write(MAIN_HELP);
    return 0;
  }
  const run = COMMANDS[cmd];
  if (!run) { process.stderr.write(`edge-sensor: unknown command "${cmd}"\n\n${MAIN_HELP}`); return 2; }
  try {
    return await run(rest);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`edge-sensor ${cmd}: ${e.message}\n(see "edge-sensor ${cmd} --help")\n`); return 2; }
    // The state's condition (missing, read-only, full, another format): its one line says it all.
    if (e instanceof StateError) { process.stderr.write(`edge-sensor ${cmd}: ${e.message}\n`); return 1; }
    logger().fatal({ err: e }, `edge-sensor ${cmd} failed`);
    return 1;
  }
}
