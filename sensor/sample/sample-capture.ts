// One call that writes a generated capture file (and optionally its ground
// truth): used by the CLI's `demo` command, the benchmark and the tests.
// To make a file by hand, see sample-capture-cli.ts.

import { closeSync, openSync, statSync, writeSync } from "node:fs";
import { CaptureWriter, type CaptureFormat, type CaptureInterface } from "./capture-writer.ts";
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from "./frames.ts";
import { generateNetwork, type ExpectedFlow, type NetworkOptions, type NetworkSummary } from "./network.ts";
import type { Seed } from "./rng.ts";

export interface SampleCaptureOptions {
  seed?: Seed;
  /** Exact frame count (default 50 000). */
  packets?: number;
  /** Default "pcap". */
  format?: CaptureFormat;
  /** Hosts in the simulated network (default 40). */
  hosts?: NetworkOptions["hosts"];
  durationS?: number;
  ipv6Share?: number;
  vlanShare?: number;
  startTs?: number;
  /** gzip the file (multi-member gzip). */
  gzip?: boolean;
  /** Classic pcap: nanosecond timestamps. */
  nanosecond?: boolean;
  /** Big-endian file headers. */
  bigEndian?: boolean;
  /** Truncate frames to this many bytes (all interfaces). */
  snaplen?: number;
  /**
   * pcapng interfaces. Default: lan0 (Ethernet, µs), dc0 (Ethernet, ns),
   * wan0 (raw IP, µs) — workstation, server-to-server and external traffic.
   */
  interfaces?: CaptureInterface[];
  /** Also write the ground truth here, one ExpectedFlow JSON object per line. */
  truthPath?: string;
  /** Inject the demo's attack once this share of the packets is planned (NetworkOptions.attackAfter). */
  attackAfter?: number;
}

export interface SampleCaptureResult extends Omit<NetworkSummary, "flows"> {
  path: string;
  format: CaptureFormat;
  /** Size of the file written. */
  fileBytes: number;
  /** Ground truth (empty when truthPath was given: it went to the file). */
  flows: ExpectedFlow[];
  /** Generation wall time in ms. */
  elapsedMs: number;
}

export const DEFAULT_PCAPNG_INTERFACES: CaptureInterface[] = [
  { linkType: LINKTYPE_ETHERNET, name: "lan0", tsresol: 6 },
  { linkType: LINKTYPE_ETHERNET, name: "dc0", tsresol: 9 },
  { linkType: LINKTYPE_RAW, name: "wan0", tsresol: 6 },
];

/** Generate a capture file. Synchronous; returns the summary and ground truth. */
export function writeSampleCapture(path: string, opts: SampleCaptureOptions = {}): SampleCaptureResult {
  const started = performance.now();
  const format = opts.format ?? "pcap";
  const interfaces = format === "pcapng" ? (opts.interfaces ?? DEFAULT_PCAPNG_INTERFACES).map((i) => ({ ...i, snaplen: opts.snaplen ?? i.snaplen })) : undefined;
  const writer = CaptureWriter.open(path, {
    format,
    gzip: opts.gzip,
    nanosecond: opts.nanosecond,
    bigEndian: opts.bigEndian,
    snaplen: opts.snaplen,
    linkType: LINKTYPE_ETHERNET,
    interfaces,
  });
  let truthFd = -1;
  let truthBuf = "";
  const flushTruth = (): void => {
    if (truthBuf) writeSync(truthFd, truthBuf);
    truthBuf = "";
  };
  if (opts.truthPath) truthFd = openSync(opts.truthPath, "w");
  let summary: NetworkSummary;
  try {
    summary = generateNetwork(
      {
        seed: opts.seed ?? 1,
        packets: opts.packets ?? (opts.durationS === undefined ? 50_000 : undefined),
        durationS: opts.durationS,
        hosts: opts.hosts,
        ipv6Share: opts.ipv6Share,
        vlanShare: opts.vlanShare,
        startTs: opts.startTs,
        attackAfter: opts.attackAfter,
        links: interfaces ? interfaces.map((i) => i.linkType ?? LINKTYPE_ETHERNET) : [LINKTYPE_ETHERNET],
        onFlow: truthFd >= 0
          ? (f) => {
              truthBuf += JSON.stringify(f) + "\n";
              if (truthBuf.length > 1 << 20) flushTruth();
            }
          : undefined,
      },
      writer,
    );
  } finally {
    writer.close();
    if (truthFd >= 0) {
      flushTruth();
      closeSync(truthFd);
    }
  }
  return { ...summary, path, format, fileBytes: statSync(path).size, elapsedMs: performance.now() - started };
}
