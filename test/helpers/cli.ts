// Runs the real CLI in a child process, as a user would.
import { spawn, spawnSync } from 'node:child_process';
import { REPO_ROOT } from './shared-data.ts';

export interface CliResult { code: number; stdout: string; stderr: string }

export function cli(args: string[], input?: Buffer | string): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'sensor/cli/main.ts', ...args], {
    cwd: REPO_ROOT,
    input,
    maxBuffer: 256 << 20,
    env: { ...process.env, EDGE_SENSOR_LOG_LEVEL: process.env.EDGE_SENSOR_LOG_LEVEL ?? 'warn' },
  });
  return { code: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** The CLI in a child process without blocking this one (for tests whose aggregator or sensor answers from this process). */
export function cliAsync(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'sensor/cli/main.ts', ...args], {
      cwd: REPO_ROOT, env: { ...process.env, EDGE_SENSOR_LOG_LEVEL: process.env.EDGE_SENSOR_LOG_LEVEL ?? 'warn' },
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (b) => { stdout += b; });
    child.stderr.on('data', (b) => { stderr += b; });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Parse JSON lines, failing loudly on a bad line. */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text.split('\n').filter((l) => l.trim()).map((l, i) => {
    try { return JSON.parse(l) as T; } catch { throw new Error(`line ${i + 1} is not JSON: ${l.slice(0, 200)}`); }
  });
}

/** pino lines on stderr. */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}
