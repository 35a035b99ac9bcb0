// The benchmark harness: `npm run bench` (= tsx bench/run.ts).
//
//   1. generates (once; cached in .bench/) a seeded capture of mixed
//      enterprise traffic with sensor/sample/, plus a 4× shorter one;
//   2. times each tool on the file, best of N runs, with its peak RSS (the
//      file read into the page cache again before every run; the tools take
//      turns run by run, so the VM's drift does not fall on one of them);
//   3. prints the table on stdout (progress goes to stderr) and writes
//      bench/RESULTS.md with the machine and tool versions;
//   4. runs every tool on the 4× shorter capture too: the difference gives
//      each tool's rate after start-up, and edge-sensor's peak memory should
//      not depend on the capture's length.
//
// Flags: --packets N (2000000)  --runs N (3)  --only a,b,…  --seed S  --hosts N (250)
//        --timeout SECONDS (1800 per run)  --write / --no-write (RESULTS.md; default:
//        written only when every tool was selected)  --help

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { writeSampleCapture } from "../sensor/sample/sample-capture.ts";
import { measure, rateAfterStartup, rssMethod, sourceHash, warm, type BenchContext, type Measurement, type Peer } from "./measure.ts";
import { peer as argus } from "./peers/argus.ts";
import { peer as cat } from "./peers/cat.ts";
import { peer as edgeSensor, detectPeer as edgeSensorDetect, detectInlinePeer as edgeSensorDetectInline } from "./peers/edge-sensor.ts";
import { peer as pcapParser } from "./peers/pcap-parser.ts";
import { peer as pcapWalk } from "./peers/pcap-walk.ts";
import { peer as tshark } from "./peers/tshark.ts";

const PEERS: Peer[] = [cat, edgeSensor, edgeSensorDetect, edgeSensorDetectInline, pcapWalk, pcapParser, argus, tshark];

// ------------------------------------------------------------------ flags

interface Flags {
  packets: number;
  runs: number;
  only: string[] | null;
  seed: string;
  hosts: number;
  timeoutS: number;
  write: boolean | null;
}

function usage(): string {
  return `usage: npm run bench -- [--packets N] [--runs N] [--only ${PEERS.map((p) => p.name).join(",")}]
                        [--seed S] [--hosts N] [--timeout SECONDS] [--write|--no-write]`;
}

function parseFlags(argv: string[]): Flags {
  const f: Flags = { packets: 2_000_000, runs: 3, only: null, seed: "edge-sensor-bench-1", hosts: 250, timeoutS: 1800, write: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [name, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const val = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value\n${usage()}`);
      return v;
    };
    const int = (min: number): number => {
      const s = val();
      const v = Number(s.replace(/[_,]/g, ""));
      if (!Number.isInteger(v) || v < min) throw new Error(`${name} wants an integer >= ${min}, got ${s}`);
      return v;
    };
    switch (name) {
      case "--packets": f.packets = int(1000); break;
      case "--runs": f.runs = int(1); break;
      case "--hosts": f.hosts = int(4); break;
      case "--timeout": f.timeoutS = int(1); break;
      case "--seed": f.seed = val(); break;
      case "--only": {
        f.only = val().split(",").map((s) => s.trim()).filter(Boolean);
        const unknown = f.only.filter((n) => !PEERS.some((p) => p.name === n));
        if (unknown.length) throw new Error(`unknown tool(s) ${unknown.join(", ")}; known: ${PEERS.map((p) => p.name).join(", ")}`);
        break;
      }
      case "--write": f.write = true; break;
      case "--no-write": f.write = false; break;
      case "-h": case "--help": process.stdout.write(usage() + "\n"); process.exit(0); break;
      default: throw new Error(`unknown flag ${a}\n${usage()}`);
    }
  }
  return f;
}

// ------------------------------------------------------------------ helpers

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};
const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");
const fmtMs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const mib = (kib: number | null): string => (kib === null ? "?" : (kib / 1024).toFixed(1));

interface CaptureInfo {
  path: string;
  packets: number;
  bytes: number;
  flows: number;
  generatedMs: number;
  generatorPps: number;
  stats: Record<string, number | string>;
}

/** Hash of the generator's sources: a change invalidates cached captures. */
function generatorHash(root: string): string {
  return sourceHash(root, ["sensor/sample"]);
}

function ensureCapture(ctx: BenchContext, flags: Flags, packets: number, hash: string): CaptureInfo {
  const safeSeed = flags.seed.replace(/[^A-Za-z0-9_.-]/g, "_");
  const base = join(ctx.benchDir, `enterprise-${safeSeed}-p${packets}-h${flags.hosts}-g${hash}`);
  const path = `${base}.pcap`;
  const metaPath = `${base}.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, "utf8")) as CaptureInfo;
    if (statSync(path).size === meta.bytes) {
      log(`using cached ${relative(ctx.root, path)} (${fmtInt(meta.packets)} packets, ${(meta.bytes / 1e6).toFixed(0)} MB)`);
      return meta;
    }
  }
  log(`generating ${relative(ctx.root, path)}: ${fmtInt(packets)} packets, ${flags.hosts} hosts, seed ${flags.seed} …`);
  const r = writeSampleCapture(path, { seed: flags.seed, packets, hosts: flags.hosts, format: "pcap" });
  // Ground truth next to it (one JSON flow per line) for accuracy checks.
  writeFileSync(`${base}.truth.jsonl`, r.flows.map((f) => JSON.stringify(f)).join("\n") + "\n");
  let v6 = 0, vlan = 0, tcp = 0, udp = 0, icmp = 0;
  const states: Record<string, number> = {};
  for (const f of r.flows) {
    const n = f.orig_pkts + f.resp_pkts;
    if (f.ip_version === 6) v6 += n;
    if (f.vlan !== undefined) vlan += n;
    if (f.proto === "tcp") tcp++; else if (f.proto === "udp") udp++; else icmp++;
    const k = `${f.proto} ${f.conn_state}`;
    states[k] = (states[k] ?? 0) + 1;
  }
  const info: CaptureInfo = {
    path,
    packets: r.packets,
    bytes: r.fileBytes,
    flows: r.flowCount,
    generatedMs: r.elapsedMs,
    generatorPps: r.packets / (r.elapsedMs / 1000),
    stats: {
      "capture span (s)": Math.round(r.lastTs - r.firstTs),
      "mean frame (bytes)": Math.round(r.bytes / r.packets),
      "IPv6 packets": `${((100 * v6) / r.packets).toFixed(1)} %`,
      "VLAN-tagged packets": `${((100 * vlan) / r.packets).toFixed(1)} %`,
      "non-IP (ARP) packets": r.nonIpPackets,
      "TCP / UDP / ICMP flows": `${tcp} / ${udp} / ${icmp}`,
      "TCP states": Object.entries(states).filter(([k]) => k.startsWith("tcp")).map(([k, v]) => `${k.slice(4)} ${v}`).join(", "),
    },
  };
  writeFileSync(metaPath, JSON.stringify(info, null, 2) + "\n");
  log(`  generated in ${fmtMs(r.elapsedMs)} (${fmtInt(info.generatorPps)} packets/s), ${(r.fileBytes / 1e6).toFixed(0)} MB, ${fmtInt(r.flowCount)} flows`);
  return info;
}

/** Remove cached captures made by another version of the generator. */
function pruneStale(ctx: BenchContext, hash: string): void {
  for (const f of readdirSync(ctx.benchDir)) {
    const m = /^enterprise-.*-g([0-9a-f]+)\.(pcap|json|truth\.jsonl)$/.exec(f);
    if (m && m[1] !== hash) {
      rmSync(join(ctx.benchDir, f), { force: true });
      log(`removed stale ${f}`);
    }
  }
}

// ------------------------------------------------------------------ running

/** The gist of a failing tool's stderr: its last line, or the message of a JSON (pino) log line. */
function lastError(stderr: string): string {
  const line = stderr.split("\n").filter((l) => l.trim()).pop() ?? "";
  let text = line.trim();
  try {
    const j = JSON.parse(text) as { msg?: string; err?: { message?: string } };
    text = [j.msg, j.err?.message].filter(Boolean).join(": ") || text;
  } catch { /* plain text */ }
  return text.length > 160 ? text.slice(0, 157) + "…" : text;
}

interface Row {
  peer: Peer;
  status: "ok" | "failed" | "not installed" | "skipped";
  version: string | null;
  best: Measurement | null;
  peakKiB: number | null;
  note: string;
}

/** Probe (and, unless done, prepare) a tool: its row, ready to time (status "ok") or saying why not. */
async function setupPeer(ctx: BenchContext, peer: Peer, label: string, prepared: boolean): Promise<Row> {
  const row: Row = { peer, status: "ok", version: null, best: null, peakKiB: null, note: "" };
  row.version = await peer.probe(ctx);
  if (row.version === null) {
    row.status = "not installed";
    log(`${label}: not installed`);
    return row;
  }
  if (peer.prepare && !prepared) {
    try {
      await peer.prepare(ctx);
    } catch (e) {
      row.status = "failed";
      row.note = `prepare: ${(e as Error).message.split("\n")[0]}`;
      log(`${label}: ${row.note}`);
    }
  }
  return row;
}

/**
 * Time every ready tool on the file, `flags.runs` rounds of one run each, the
 * tools taking turns: this VM's speed drifts by ±5% over a minute, and a
 * tool's runs back to back would hand that drift to its ratios (the
 * detection row read −17%, −23% and −26% in three such runs). A tool that
 * fails is out of the later rounds.
 */
async function runRounds(ctx: BenchContext, rows: Row[], file: string, packets: number, flags: Flags, suffix = ""): Promise<void> {
  for (let i = 1; i <= flags.runs; i++) {
    for (const row of rows) {
      if (row.status !== "ok") continue;
      const label = `${row.peer.name}${suffix}`;
      const cmd = row.peer.command(ctx, file);
      // This VM's page cache holds ~2 GB and drops pages in the background:
      // read the file again before every run, or some runs read from disk.
      await warm(file);
      const m = await measure(cmd.cmd, cmd.args, { cwd: ctx.root, captureStdout: cmd.captureStdout, env: cmd.env, timeoutMs: flags.timeoutS * 1000 });
      if (!m.ok) {
        row.status = "failed";
        const why = m.timedOut ? `timed out after ${flags.timeoutS} s` : m.signal ? `killed by ${m.signal}` : `exit ${m.exitCode}`;
        row.note = `${why}${m.stderrTail ? `: ${lastError(m.stderrTail)}` : ""}`;
        log(`${label} run ${i}/${flags.runs}: FAILED (${row.note})`);
        continue;
      }
      log(`${label} run ${i}/${flags.runs}: ${fmtMs(m.wallMs)}, peak RSS ${mib(m.peakRssKiB)} MiB`);
      if (i === 1 && row.peer.check) {
        try {
          const problem = row.peer.check(m.stdout, packets);
          if (problem) row.note = problem;
        } catch (e) {
          row.note = `could not read its output: ${(e as Error).message}`;
        }
      }
      if (!row.best || m.wallMs < row.best.wallMs) row.best = m;
      if (m.peakRssKiB !== null) row.peakKiB = Math.max(row.peakKiB ?? 0, m.peakRssKiB);
    }
  }
}

// ------------------------------------------------------------------ report

/** "3.2× faster" / "1.6× slower" from two times, t for this tool and ref for edge-sensor. */
function ratioWords(t: number, ref: number): string {
  const r = ref / t; // >1: this tool is faster
  if (r >= 1) return `${r.toFixed(r >= 10 ? 0 : 1)}× faster`;
  const s = 1 / r;
  return `${s.toFixed(s >= 10 ? 0 : 1)}× slower`;
}

function ratioText(row: Row, es: Row | undefined): string {
  if (row.peer === edgeSensor) return row.status === "ok" ? "1×" : "";
  if (row.status !== "ok" || !row.best) return "";
  if (!es || es.status !== "ok" || !es.best) return "n/a";
  return ratioWords(row.best.wallMs, es.best.wallMs);
}

/**
 * Packets per second once running: the extra packets of the full capture
 * over the extra time it took, against the 4× shorter one. Process start-up
 * (Node's ~0.1 s against a C program's ~1 ms) is paid on both and cancels,
 * so this is the rate a long capture sees. null when either run is missing.
 */
function steadyRate(full: Row, short: Row | undefined, cap: CaptureInfo, shortCap: CaptureInfo): number | null {
  if (!short || full.status !== "ok" || short.status !== "ok" || !full.best || !short.best) return null;
  return rateAfterStartup(cap.packets, full.best.wallMs, shortCap.packets, short.best.wallMs);
}

function table(rows: Row[], shortRows: Row[], cap: CaptureInfo, shortCap: CaptureInfo): string[] {
  const es = rows.find((r) => r.peer === edgeSensor);
  const rate = (r: Row): number | null => steadyRate(r, shortRows.find((s) => s.peer === r.peer), cap, shortCap);
  const esRate = es ? rate(es) : null;
  const head = ["tool", "packets/s", "MB/s", "peak RSS (MiB)", "CPU s (best run)", "vs edge-sensor", "packets/s after start-up", "vs edge-sensor after start-up", "notes"];
  const body = rows.map((r) => {
    if (r.status !== "ok" || !r.best) return [r.peer.label, "—", "—", "—", "—", "", "—", "", r.status === "failed" ? `FAILED: ${r.note}` : r.status];
    const s = r.best.wallMs / 1000;
    const rr = rate(r);
    const short = shortRows.find((x) => x.peer === r.peer);
    const note = [r.note, short && short.status !== "ok" ? `short capture: ${short.status}${short.note ? ` (${short.note})` : ""}` : ""].filter(Boolean).join("; ");
    const rel = rr === null || esRate === null ? "" : r.peer === edgeSensor ? "1×" : ratioWords(1 / rr, 1 / esRate);
    return [r.peer.label, fmtInt(cap.packets / s), (cap.bytes / 1e6 / s).toFixed(1), mib(r.peakKiB), r.best.cpuS === null ? "?" : r.best.cpuS.toFixed(2), ratioText(r, es), rr === null ? "—" : fmtInt(rr), rel, note];
  });
  const numeric = (i: number): boolean => (i >= 1 && i <= 4) || i === 6;
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ")} |`;
  return [line(head), `|${widths.map((w, i) => (numeric(i) ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|")}|`, ...body.map(line)];
}

function machine(): Record<string, string> {
  let cpu = cpus()[0]?.model ?? "unknown";
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) cpu = m[1]!.trim();
  } catch { /* not Linux */ }
  return {
    CPU: cpu,
    cores: String(cpus().length),
    RAM: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: release(),
    node: process.version,
    "load average at start (1 min)": `${loadavg()[0]!.toFixed(2)}${loadavg()[0]! > 0.5 * cpus().length ? " — other work was running: expect noise" : ""}`,
  };
}

function gitCommit(root: string): string {
  const r = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) return "no commit yet";
  const dirty = spawnSync("git", ["status", "--porcelain"], { cwd: root, encoding: "utf8" }).stdout.trim() ? " (with uncommitted changes)" : "";
  return r.stdout.trim() + dirty;
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const ctx: BenchContext = { root, benchDir: join(root, ".bench") };
  mkdirSync(ctx.benchDir, { recursive: true });
  const selected = PEERS.filter((p) => !flags.only || flags.only.includes(p.name));
  const write = flags.write ?? selected.length === PEERS.length;

  const mach = machine(); // before we load the machine ourselves
  const hash = generatorHash(root);
  pruneStale(ctx, hash);
  const cap = ensureCapture(ctx, flags, flags.packets, hash);
  const wantMemCheck = selected.includes(edgeSensor);
  // Every tool also runs on a 4× shorter capture: edge-sensor's memory must
  // not grow with length, and the difference between the two runs gives each
  // tool's rate with its start-up cost taken out.
  const shortCap = ensureCapture(ctx, flags, Math.floor(flags.packets / 4), hash);

  const rows: Row[] = [];
  for (const p of selected) rows.push(await setupPeer(ctx, p, p.name, false));
  await runRounds(ctx, rows, cap.path, cap.packets, flags);

  log(`every tool again on the 4× shorter capture (${fmtInt(shortCap.packets)} packets)`);
  const shortRows: Row[] = [];
  for (const r of rows) {
    if (r.status === "ok") shortRows.push(await setupPeer(ctx, r.peer, `${r.peer.name} (short)`, true));
  }
  await runRounds(ctx, shortRows, shortCap.path, shortCap.packets, flags, " (short)");
  const esFull = rows.find((r) => r.peer === edgeSensor);
  const esShort = shortRows.find((r) => r.peer === edgeSensor);
  const memRows: Row[] = esFull?.status === "ok" && esShort ? [esShort, esFull] : [];

  // ---- report
  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const tableLines = table(rows, shortRows, cap, shortCap);
  const memLines: string[] = [];
  if (wantMemCheck) {
    const full = rows.find((r) => r.peer === edgeSensor);
    if (memRows.length === 2 && memRows[0]!.status === "ok" && full?.status === "ok") {
      const [s, f] = memRows as [Row, Row];
      memLines.push(`| capture | packets | peak RSS (MiB) |`, `|---|--:|--:|`);
      memLines.push(`| 4× shorter | ${fmtInt(shortCap.packets)} | ${mib(s.peakKiB)} |`);
      memLines.push(`| full | ${fmtInt(cap.packets)} | ${mib(f.peakKiB)} |`);
      if (s.peakKiB && f.peakKiB) {
        const growth = f.peakKiB / s.peakKiB;
        memLines.push("", `Peak RSS ratio full / short: **${growth.toFixed(2)}** for ${(cap.packets / shortCap.packets).toFixed(0)}× the packets ` +
          `(${growth < 1.25 ? "independent of capture length" : "grows with capture length: investigate"}).`);
      }
    } else {
      memLines.push(`Not measured: edge-sensor ${full?.status === "ok" ? `failed on the short capture (${memRows[0]?.note ?? ""})` : "did not run on the full capture"}.`);
    }
  }

  process.stdout.write(`\nedge-sensor benchmark — ${fmtInt(cap.packets)} packets, ${(cap.bytes / 1e6).toFixed(0)} MB, ${fmtInt(cap.flows)} flows; best of ${flags.runs}, warm cache\n\n`);
  process.stdout.write(tableLines.join("\n") + "\n");
  if (memLines.length) process.stdout.write(`\nedge-sensor peak memory vs capture length:\n${memLines.join("\n")}\n`);

  if (write) {
    const versions = rows.map((r) => `| ${r.peer.label} | ${r.version ?? "not installed"} | ${r.peer.what} |`);
    const md = [
      "# Benchmark results",
      "",
      `Generated by \`npm run bench\` on ${date} (commit ${gitCommit(root)}). See [README.md](README.md) for how to read this.`,
      "",
      "## Machine",
      "",
      ...Object.entries(mach).map(([k, v]) => `- ${k}: ${v}`),
      `- peak RSS measured with: ${rssMethod() === "gnu-time" ? "GNU time (ru_maxrss at exit)" : "polling VmHWM in /proc (GNU time not installed)"}`,
      "",
      "## Capture",
      "",
      `- \`${relative(root, cap.path)}\`: classic pcap, ${fmtInt(cap.packets)} packets, ${(cap.bytes / 1e6).toFixed(1)} MB, ${fmtInt(cap.flows)} flows (ground truth), seed \`${flags.seed}\`, ${flags.hosts} hosts`,
      ...Object.entries(cap.stats).map(([k, v]) => `- ${k}: ${v}`),
      `- generated by sensor/sample at ${fmtInt(cap.generatorPps)} packets/s (including writing the file)`,
      "",
      `## Throughput (best of ${flags.runs} runs, the tools taking turns run by run, file in page cache)`,
      "",
      ...tableLines,
      "",
      `packets/s is end to end on the full capture (process start to exit). "After start-up" is (${fmtInt(cap.packets)} − ${fmtInt(shortCap.packets)}) packets over the difference of the best full and best 4× shorter runs: start-up is paid on both and cancels, so it is the rate a long capture sees.`,
      "",
      "## edge-sensor peak memory vs capture length",
      "",
      ...(memLines.length ? memLines : ["Not measured (edge-sensor not selected)."]),
      "",
      "## Tools",
      "",
      "| tool | version | what it does |",
      "|---|---|---|",
      ...versions,
      "",
    ].join("\n");
    const out = join(root, "bench/RESULTS.md");
    writeFileSync(out, md);
    log(`wrote ${relative(root, out)}`);
  } else {
    log("partial run: bench/RESULTS.md not updated (pass --write to force)");
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`[bench] ${(e as Error).message ?? String(e)}\n`);
  process.exit(1);
});
