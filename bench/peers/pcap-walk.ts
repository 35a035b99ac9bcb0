// The C baseline (bench/peers/pcap-walk.c): read(2) in chunks, walk records, parse
// L2/L3/L4, count distinct 5-tuples. Compiled by the harness with cc -O2.
import { join } from "node:path";
import { compileC, probeOutput, which, type Peer } from "../measure.ts";

export const peer: Peer = {
  name: "pcap-walk",
  label: "C walk (cc -O2)",
  what: "read(2) in 4 MiB chunks + record walk + Ethernet/VLAN/IP/TCP/UDP parse + 5-tuple hash table: the practical limit",
  async probe() {
    if (!which("cc")) return null;
    const v = await probeOutput("cc", ["--version"]);
    return v?.split("\n")[0]?.trim() ?? "cc";
  },
  async prepare(ctx) {
    compileC(ctx, "bench/peers/pcap-walk.c", "pcap-walk");
  },
  command: (ctx, file) => ({ cmd: join(ctx.benchDir, "pcap-walk"), args: [file], captureStdout: true }),
  check(stdout, expected) {
    const r = JSON.parse(stdout) as { packets: number };
    return r.packets === expected ? null : `counted ${r.packets} packets, file has ${expected}`;
  },
};
