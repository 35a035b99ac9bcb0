// Run one command, time it, and take its peak resident memory.
//
// Peak RSS comes from GNU time (`/usr/bin/time -f %M -o FILE`), which reads
// ru_maxrss from wait4() when the child exits: exact, and it covers the whole
// life of the process however short. Where GNU time is missing (Debian
// package `time`), we fall back to polling VmHWM in /proc/PID/status every
// 5 ms, which can miss growth in a process's last milliseconds. The method
// used is reported with the results.
//
// Wall time is measured here (monotonic clock, spawn to exit), so it includes
// process start-up, as a user would see it.

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const GNU_TIME = "/usr/bin/time";

export type RssMethod = "gnu-time" | "proc-poll";

export function rssMethod(): RssMethod {
  return existsSync(GNU_TIME) ? "gnu-time" : "proc-poll";
}

export interface RunOptions {
  cwd?: string;
  /** Keep the child's stdout (default: discard it to /dev/null). */
  captureStdout?: boolean;
  /** Kill the child after this long (default 30 min). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface Measurement {
  /** Exit code 0 and not timed out. */
  ok: boolean;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  wallMs: number;
  /** Peak resident set size in KiB (null when unknown). */
  peakRssKiB: number | null;
  /** CPU seconds, user + system, of the command and its threads (null without GNU time) */
  cpuS: number | null;
  stdout: string;
  /** Last lines of stderr (for failure reports). */
  stderrTail: string;
}

/** Run cmd with args; resolve with its wall time and peak RSS. Never rejects for a failing command. */
export function measure(cmd: string, args: string[], opts: RunOptions = {}): Promise<Measurement> {
  const method = rssMethod();
  let rssFile = "";
  let tmp = "";
  let file = cmd;
  let argv = args;
  if (method === "gnu-time") {
    tmp = mkdtempSync(join(tmpdir(), "bench-rss-"));
    rssFile = join(tmp, "rss");
    file = GNU_TIME;
    argv = ["-f", "%M %U %S", "-o", rssFile, cmd, ...args];
  }
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    let child;
    try {
      child = spawn(file, argv, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: ["ignore", opts.captureStdout ? "pipe" : "ignore", "pipe"],
      });
    } catch (e) {
      resolve({ ok: false, exitCode: null, signal: null, timedOut: false, wallMs: 0, peakRssKiB: null, cpuS: null, stdout: "", stderrTail: String(e) });
      return;
    }
    const out: Buffer[] = [];
    let err = "";
    child.stdout?.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString("utf8");
      if (err.length > 64 * 1024) err = err.slice(-16 * 1024);
    });
    let polledPeak = 0;
    let poll: NodeJS.Timeout | undefined;
    if (method === "proc-poll" && child.pid !== undefined) {
      const statusPath = `/proc/${child.pid}/status`;
      poll = setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(statusPath, "utf8"));
          if (m) polledPeak = Math.max(polledPeak, Number(m[1]));
        } catch {
          /* exited */
        }
      }, 5);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 30 * 60 * 1000);
    let spawnError = "";
    child.on("error", (e) => {
      spawnError = String(e);
    });
    child.on("close", (code, signal) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      let peak: number | null = polledPeak || null;
      let cpu: number | null = null;
      if (method === "gnu-time") {
        try {
          // With -o, GNU time writes "Command exited with non-zero status N" before the format on failure: take the last line.
          const lines = readFileSync(rssFile, "utf8").trim().split("\n");
          const [rss, user, sys] = lines[lines.length - 1]!.split(" ").map(Number);
          peak = Number.isFinite(rss) && rss! > 0 ? rss! : null;
          cpu = Number.isFinite(user) && Number.isFinite(sys) ? user! + sys! : null;
        } catch {
          peak = null;
        }
        rmSync(tmp, { recursive: true, force: true });
      }
      const stderrTail = (spawnError ? spawnError + "\n" : "") + err.trim().split("\n").filter((l) => !/^Running as user "root"/.test(l)).slice(-6).join("\n");
      resolve({
        ok: code === 0 && !timedOut && !spawnError,
        exitCode: code,
        signal,
        timedOut,
        wallMs,
        peakRssKiB: peak,
        cpuS: cpu,
        stdout: Buffer.concat(out).toString("utf8"),
        stderrTail,
      });
    });
  });
}

/** Is an executable on PATH (or at this absolute path)? Returns its path or null. */
export function which(name: string): string | null {
  if (name.includes("/")) return existsSync(name) ? name : null;
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

// ------------------------------------------------------------------ peers

/** What every peer module (bench/peers/*.ts) exports as `peer`. */
export interface Peer {
  /** Short id for --only. */
  name: string;
  /** Label in the table. */
  label: string;
  /** One line: what it does to the file. */
  what: string;
  /** Version string when installed, null when not (the row then says "not installed"). */
  probe(ctx: BenchContext): Promise<string | null>;
  /** One-time setup (e.g. compiling) before timing; throw to mark the row failed. */
  prepare?(ctx: BenchContext): Promise<void>;
  /** The command that processes `file`. */
  command(ctx: BenchContext, file: string): { cmd: string; args: string[]; captureStdout?: boolean; env?: NodeJS.ProcessEnv };
  /** Inspect a successful run's stdout; return a problem (e.g. a wrong packet count) or null. */
  check?(stdout: string, expectedPackets: number): string | null;
}

export interface BenchContext {
  /** Repository root. */
  root: string;
  /** .bench/ (cache, build products). */
  benchDir: string;
}

/** Run a command quickly for its output (version probes). */
export function probeOutput(cmd: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    let out = "";
    let child;
    try {
      child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    } catch {
      resolve(null);
      return;
    }
    child.stdout!.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.on("error", () => resolve(null));
    child.on("close", () => resolve(out));
  });
}

// ------------------------------------------------------------------ shared by the harness scripts

/**
 * Read a file so its pages are in the page cache. Done before every timed
 * run: this VM keeps ~2 GB of cache and drops pages in the background.
 */
export async function warm(file: string): Promise<void> {
  if (which("cat")) await measure("cat", [file]);
  else readFileSync(file);
}

/**
 * Items per second once running: the full input's extra items over the extra
 * time it took against a shorter input. Process start-up (Node's ~0.1 s, a C
 * program's ~1 ms) is paid on both and cancels. null when it cannot be told.
 */
export function rateAfterStartup(items: number, wallMs: number, shortItems: number, shortWallMs: number): number | null {
  const dt = (wallMs - shortWallMs) / 1000;
  return dt > 0 && items > shortItems ? (items - shortItems) / dt : null;
}

/** Compile a C tool of the harness into .bench/ with `cc -O2` (once per change of its source); its path. Throws with cc's message. */
export function compileC(ctx: BenchContext, source: string, name: string): string {
  const out = join(ctx.benchDir, name);
  const src = join(ctx.root, source);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  const r = spawnSync("cc", ["-O2", "-o", out, src], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cc failed: ${(r.stderr || String(r.error)).split("\n")[0]}`);
  return out;
}

/**
 * Put a script's section into bench/RESULTS.md: the section under `head`
 * that an earlier run left is removed (up to the next "## " heading) and the
 * new one appended (run.ts rewrites the file first; the other scripts of
 * `npm run bench` each keep one section).
 */
export function writeResultsSection(root: string, head: string, body: string[]): void {
  const results = join(root, "bench/RESULTS.md");
  if (existsSync(results)) {
    const text = readFileSync(results, "utf8");
    const at = text.indexOf(`\n${head}`);
    if (at >= 0) {
      const next = text.indexOf("\n## ", at + 1);
      writeFileSync(results, (text.slice(0, at).trimEnd() + "\n" + (next >= 0 ? text.slice(next) : "")).trimEnd() + "\n");
    }
  }
  appendFileSync(results, ["", head, "", ...body, ""].join("\n"));
}

/** Hash of the .ts sources in these folders (under root): a change makes a cached generated input stale. */
export function sourceHash(root: string, dirs: string[]): string {
  const h = createHash("sha256");
  for (const dir of dirs) {
    for (const f of readdirSync(join(root, dir)).filter((f) => f.endsWith(".ts")).sort()) h.update(f).update(readFileSync(join(root, dir, f)));
  }
  return h.digest("hex").slice(0, 10);
}
