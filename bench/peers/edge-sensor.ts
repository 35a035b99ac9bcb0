// Our sensor: `edge-sensor analyze FILE --flows /dev/null`, run the way a user
// runs it from a checkout (node + tsx loader), flow records discarded, the
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
    args: ["--import", "tsx", join(ctx.root, "sensor/cli/main.ts"), "analyze", file, "--flows", "/dev/null"],
    captureStdout: true,
  }),
  check(stdout, expected) {
    // The summary is JSON; look for a packet count wherever the CLI puts it.
    let summary: unknown;
    try {
      summary = JSON.parse(stdout.trim().split("\n").filter(Boolean).pop() ?? "");
    } catch {
      try { summary = JSON.parse(stdout); } catch { return "summary on stdout is not JSON"; }
    }
    const n = findPackets(summary);
    if (n === null) return null; // nothing to compare
    return n === expected ? null : `reported ${n} packets, file has ${expected}`;
  },
};

function findPackets(v: unknown, depth = 0): number | null {
  if (!v || typeof v !== "object" || depth > 3) return null;
  const o = v as Record<string, unknown>;
  for (const k of ["packets", "packetsTotal", "totalPackets"]) if (typeof o[k] === "number") return o[k] as number;
  for (const k of Object.keys(o)) {
    const n = findPackets(o[k], depth + 1);
    if (n !== null) return n;
  }
  return null;
}
