// One pino logger for the process: JSON to stderr, synchronous so nothing is
// lost when the process exits or crashes; stdout is kept for CLI results.
//
// pino is loaded on the first line actually logged, not at start-up:
// importing it costs ~30 ms (measured: `node -e "await import('pino')"`
// 0.09 s against 0.06 s for node alone), a sixth of a whole `analyze` of a
// small capture, and a clean run logs nothing at the default level.
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

/** What the sensor logs through: pino's level methods (a pino Logger fits). */
export interface Log {
  level: string;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  fatal(obj: object, msg?: string): void;
}

// pino's numeric levels: a call below the current level returns before pino is loaded.
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
const levelValue = (l: string): number => LEVELS[l] ?? LEVELS.info!;

class LazyPino implements Log {
  private real: Logger | undefined;
  private current: string;

  constructor(level: string) {
    this.current = level in LEVELS ? level : 'info';
  }

  get level(): string { return this.current; }
  set level(l: string) {
    if (!(l in LEVELS)) throw new Error(`unknown log level "${l}" (one of ${Object.keys(LEVELS).join(', ')})`);
    this.current = l;
    if (this.real) this.real.level = l;
  }

  debug(obj: object, msg?: string): void { if (levelValue('debug') >= levelValue(this.current)) this.pino().debug(obj, msg); }
  info(obj: object, msg?: string): void { if (levelValue('info') >= levelValue(this.current)) this.pino().info(obj, msg); }
  warn(obj: object, msg?: string): void { if (levelValue('warn') >= levelValue(this.current)) this.pino().warn(obj, msg); }
  error(obj: object, msg?: string): void { if (levelValue('error') >= levelValue(this.current)) this.pino().error(obj, msg); }
  fatal(obj: object, msg?: string): void { if (levelValue('fatal') >= levelValue(this.current)) this.pino().fatal(obj, msg); }

  private pino(): Logger {
    if (!this.real) {
      // pino is CommonJS: require() loads it synchronously, where the first line is logged.
      const pino = createRequire(import.meta.url)('pino') as typeof import('pino');
      this.real = pino.pino(
        { level: this.current, base: { name: 'edge-sensor' } },
        pino.destination({ dest: 2, sync: true }),
      );
    }
    return this.real;
  }
}

let root: LazyPino | undefined;

export function logger(): Log {
  if (!root) root = new LazyPino(process.env.EDGE_SENSOR_LOG_LEVEL ?? 'info');
  return root;
}

export function setLogLevel(level: string): void {
  logger().level = level;
}
