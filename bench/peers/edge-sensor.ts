// Our sensor: `edge-sensor analyze FILE --flows /dev/null`, run exactly as
// `npx edge-sensor` runs it (sensor/cli/bin.cjs: the esbuild bundle made by
// npm install), every flow record formatted and written (to /dev/null), the
// JSON summary on stdout checked for the packet count.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Peer } from "../measure.ts";

export const peer: Peer = {
  name: "edge-sensor",
  label: "edge-sensor analyze",
  what: "decodes every packet, tracks flows with Zeek semantics, writes flow records (to /dev/null)",
  async probe(ctx) {
    // Reported even if the CLI is not there yet: the row then fails with the reason.
    const pkg = JSON.parse(readFileSync(join(ctx.root, "package.json"), "utf8")) as { version?: string };
    const cli = existsSync(join(ctx.root, "sensor/cli/main.ts")) ? "" : " (sensor/cli/main.ts missing)";
    return `edge-sensor ${pkg.version ?? "?"}${cli}`;
  },
  command: (ctx, file) => ({
    cmd: process.execPath,
    args: [join(ctx.root, "sensor/cli/bin.cjs"), "analyze", file, "--flows", "/dev/null"],
    captureStdout: true,
  }),
  check(stdout, expected) {
    let summary: { packets?: unknown };
    try { summary = JSON.parse(stdout) as { packets?: unknown }; } catch { return "summary on stdout is not JSON"; }
    return summary.packets === expected ? null : `reported ${String(summary.packets)} packets, file has ${expected}`;
  },
};

/** `base` with more arguments, under its own name. */
function withArgs(base: Peer, name: string, label: string, what: string, extra: string[]): Peer {
  return {
    ...base, name, label, what,
    command: (ctx, file) => {
      const c = base.command(ctx, file);
      return { ...c, args: [...c.args, ...extra] };
    },
  };
}

/**
 * The same with detection on: learning and every built-in model, breaches
 * written (to /dev/null), no learning period, in the detection thread. Its
 * ratio to the row above is what scoring costs (issue 4's target: at most 25%).
 */
export const detectPeer = withArgs(peer, "edge-sensor-detect", "edge-sensor analyze --breaches",
  "the same, with pattern-of-life learning and the model catalogue in the detection thread (breaches to /dev/null, --learning 0)",
  ["--breaches", "/dev/null", "--learning", "0"]);

/** Detection in the packet thread (--inline-detection): what it costs on one core. */
export const detectInlinePeer = withArgs(detectPeer, "edge-sensor-detect-inline", "edge-sensor analyze --breaches --inline-detection",
  "the same, learning and judging in the packet thread (one core busy instead of two)", ["--inline-detection"]);
