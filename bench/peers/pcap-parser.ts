// The npm package pcap-parser (a devDependency) reading the same file in
// Node and counting packets: what a plain-JavaScript reader costs. It parses
// classic pcap only (no pcapng).
//
// Run as a program, this file is the child the harness times:
//   node --import tsx bench/peers/pcap-parser.ts FILE   → {"packets":N,"bytes":B}
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Peer } from "../measure.ts";

interface PcapParserPacket { header: { capturedLength: number }; data: Buffer }
interface PcapParserEmitter {
  on(ev: "packet", f: (p: PcapParserPacket) => void): PcapParserEmitter;
  on(ev: "end", f: () => void): PcapParserEmitter;
  on(ev: "error", f: (e: Error) => void): PcapParserEmitter;
}

const require = createRequire(import.meta.url);

export const peer: Peer = {
  name: "pcap-parser",
  label: "pcap-parser (npm)",
  what: "Node stream parser, one JS object per packet, counting packets",
  async probe(ctx) {
    try {
      const pkgPath = require.resolve("pcap-parser/package.json", { paths: [ctx.root] });
      const v = (JSON.parse(readFileSync(pkgPath, "utf8")) as { version: string }).version;
      return `pcap-parser ${v}`;
    } catch {
      return null;
    }
  },
  command: (ctx, file) => ({
    cmd: process.execPath,
    args: ["--no-deprecation", "--import", "tsx", join(ctx.root, "bench/peers/pcap-parser.ts"), file],
    captureStdout: true,
  }),
  check(stdout, expected) {
    const r = JSON.parse(stdout) as { packets: number };
    return r.packets === expected ? null : `counted ${r.packets} packets, file has ${expected}`;
  },
};

function main(file: string): void {
  const pcapParser = require("pcap-parser") as { parse(input: string): PcapParserEmitter };
  let packets = 0;
  let bytes = 0;
  pcapParser
    .parse(file)
    .on("packet", (p) => {
      packets++;
      bytes += p.header.capturedLength;
    })
    .on("error", (e) => {
      process.stderr.write(`pcap-parser: ${e.message}\n`);
      process.exit(1);
    })
    .on("end", () => {
      process.stdout.write(JSON.stringify({ packets, bytes }) + "\n");
    });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write(`usage: ${fileURLToPath(import.meta.url)} FILE.pcap\n`);
    process.exit(2);
  }
  main(file);
}
