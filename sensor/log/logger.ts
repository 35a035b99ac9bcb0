// One pino logger for the process: JSON to stderr, synchronous so nothing is
// lost when the process exits or crashes; stdout is kept for CLI results.
import pino, { type Logger } from 'pino';

let root: Logger | undefined;

export function logger(): Logger {
  if (!root) {
    root = pino(
      { level: process.env.EDGE_SENSOR_LOG_LEVEL ?? 'info', base: { name: 'edge-sensor' } },
      pino.destination({ dest: 2, sync: true }),
    );
  }
  return root;
}

export function setLogLevel(level: string): void {
  logger().level = level;
}
