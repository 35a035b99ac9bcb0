// The seeded traffic generator (sensor/sample/): determinism, file structure,
// ground-truth consistency, and agreement with tshark on the files it writes.
// Run: node --import tsx node_modules/uvu/bin.js test sample

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CaptureWriter } from "../sensor/sample/capture-writer.ts";
import { generateNetwork, type ExpectedFlow } from "../sensor/sample/network.ts";
import { Rng } from "../sensor/sample/rng.ts";
import { writeSampleCapture, type SampleCaptureOptions } from "../sensor/sample/sample-capture.ts";
import * as F from "../sensor/sample/frames.ts";

const dir = mkdtempSync(join(tmpdir(), "edge-sensor-sample-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

const SMALL = 3000;
let fileNo = 0;
function make(opts: SampleCaptureOptions): { path: string; flows: ExpectedFlow[]; packets: number; nonIp: number } {
  const path = join(dir, `c${fileNo++}.${opts.format ?? "pcap"}${opts.gzip ? ".gz" : ""}`);
  const r = writeSampleCapture(path, { packets: SMALL, ...opts });
  return { path, flows: r.flows, packets: r.packets, nonIp: r.nonIpPackets };
}

// ------------------------------------------------------------------ a tiny independent reader

interface Rec { sec: number; frac: number; unitsPerSec: number; cap: number; wire: number; iface: number }

function readCapture(path: string): { recs: Rec[]; linkTypes: number[] } {
  let b = readFileSync(path);
  if (b[0] === 0x1f && b[1] === 0x8b) b = gunzipSync(b);
  const recs: Rec[] = [];
  const magicLE = b.readUInt32LE(0);
  if (magicLE === 0x0a0d0d0a) {
    const le = b.readUInt32LE(8) === 0x1a2b3c4d;
    const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u16 = (o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const linkTypes: number[] = [];
    const units: number[] = [];
    let o = 0;
    while (o < b.length) {
      const type = u32(o), len = u32(o + 4);
      assert.ok(len >= 12 && len % 4 === 0, `block length ${len} at ${o}`);
      assert.is(u32(o + len - 4), len, "trailing block length");
      if (type === 1) {
        linkTypes.push(u16(o + 8));
        let tsresol = 6;
        for (let p = o + 16; p < o + len - 4; ) {
          const code = u16(p), olen = u16(p + 2);
          if (code === 0) break;
          if (code === 9) tsresol = b[p + 4]!;
          p += 4 + ((olen + 3) & ~3);
        }
        units.push(10 ** tsresol);
      } else if (type === 6) {
        const iface = u32(o + 8);
        const unitsPerSec = units[iface]!;
        const ts = u32(o + 12) * 4294967296 + u32(o + 16);
        recs.push({ sec: Math.floor(ts / unitsPerSec), frac: ts % unitsPerSec, unitsPerSec, cap: u32(o + 20), wire: u32(o + 24), iface });
      }
      o += len;
    }
    return { recs, linkTypes };
  }
  const le = magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d;
  const magic = le ? magicLE : b.readUInt32BE(0);
  assert.ok(magic === 0xa1b2c3d4 || magic === 0xa1b23c4d, "pcap magic");
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const unitsPerSec = magic === 0xa1b23c4d ? 1e9 : 1e6;
  const snap = u32(16);
  let o = 24;
  while (o < b.length) {
    const cap = u32(o + 8);
    assert.ok(cap <= snap, "caplen within snaplen");
    recs.push({ sec: u32(o), frac: u32(o + 4), unitsPerSec, cap, wire: u32(o + 12), iface: 0 });
    o += 16 + cap;
  }
  assert.is(o, b.length, "records end exactly at end of file");
  return { recs, linkTypes: [u32(20)] };
}

function sumPkts(flows: ExpectedFlow[]): number {
  let n = 0;
  for (const f of flows) n += f.orig_pkts + f.resp_pkts;
  return n;
}

// ------------------------------------------------------------------ generator basics

test("rng: seeded, uniform-ish, helpers in range", () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng("42");
  const xs = Array.from({ length: 5 }, () => a.u32());
  assert.equal(xs, Array.from({ length: 5 }, () => b.u32()));
  assert.not.equal(xs, Array.from({ length: 5 }, () => c.u32()));
  let sum = 0;
  for (let i = 0; i < 10000; i++) {
    const v = a.int(3, 9);
    assert.ok(v >= 3 && v <= 9);
    sum += a.float();
  }
  assert.ok(Math.abs(sum / 10000 - 0.5) < 0.02);
  assert.ok(a.lognormalInt(100, 2, 60, 1514) <= 1514);
});

test("frames: IPv4 header checksum verifies, IPv6 text round-trips", () => {
  const b = new Uint8Array(64);
  F.writeIPv4(b, 0, F.parseIPv4("10.1.2.3"), F.parseIPv4("192.0.2.9"), F.IPPROTO_UDP, 100, 64, 0x1234);
  assert.is(F.fold(F.sumWords(b, 0, 20)), 0xffff);
});

test("determinism: same seed → byte-identical file and truth; other seed → different", () => {
  for (const format of ["pcap", "pcapng"] as const) {
    const a = make({ seed: 7, format });
    const b = make({ seed: 7, format });
    const c = make({ seed: 8, format });
    assert.ok(readFileSync(a.path).equals(readFileSync(b.path)), `${format}: same seed, same bytes`);
    assert.equal(a.flows, b.flows);
    assert.not.ok(readFileSync(a.path).equals(readFileSync(c.path)), `${format}: other seed, other bytes`);
  }
});

test("exact packet count, time order, truth accounts for every IP frame", () => {
  for (const opts of [{ format: "pcap" }, { format: "pcapng" }, { format: "pcap", gzip: true, nanosecond: true, bigEndian: true, snaplen: 200 }, { format: "pcapng", bigEndian: true }] as SampleCaptureOptions[]) {
    const m = make({ seed: 11, ...opts });
    const { recs } = readCapture(m.path);
    assert.is(recs.length, SMALL, `${JSON.stringify(opts)}: record count`);
    assert.is(m.packets, SMALL);
    assert.is(sumPkts(m.flows) + m.nonIp, SMALL, "flows + non-IP frames = all frames");
    let prev = -Infinity;
    for (const r of recs) {
      const t = r.sec + r.frac / r.unitsPerSec;
      assert.ok(t >= prev, "timestamps never go backwards");
      prev = t;
      assert.ok(r.wire >= 40 && r.wire <= 1518, `frame size ${r.wire}`); // raw IP frames can be 40 bytes
      if (opts.snaplen) assert.ok(r.cap <= opts.snaplen);
    }
  }
});

test("no 5-tuple reused within Zeek's timeouts", () => {
  const r = generateNetwork({ seed: 5, packets: 60_000, hosts: 12 }, { frame() {} });
  const last = new Map<string, ExpectedFlow>();
  for (const f of [...r.flows].sort((a, b) => a.ts - b.ts)) {
    const key = `${f.proto} ${f.orig_h} ${f.orig_p} ${f.resp_h} ${f.resp_p}`;
    const prev = last.get(key);
    if (prev) assert.ok(f.ts - prev.last_ts > (f.proto === "tcp" ? 300 : 60), `${key} reused after ${f.ts - prev.last_ts}s`);
    last.set(key, f);
  }
});

test("ground truth covers the states the generator promises", () => {
  const r = generateNetwork({ seed: 3, packets: 200_000, hosts: 60 }, { frame() {} });
  const states = new Set(r.flows.map((f) => `${f.proto}:${f.conn_state}`));
  for (const s of ["tcp:SF", "tcp:S0", "tcp:REJ", "tcp:RSTO", "tcp:RSTR", "tcp:S1", "udp:SF", "udp:S0", "icmp:OTH"]) assert.ok(states.has(s), `missing ${s}`);
  assert.ok(r.flows.some((f) => f.vlan !== undefined), "some VLAN-tagged flows");
  assert.ok(r.flows.some((f) => f.ip_version === 6), "some IPv6 flows");
  assert.is(r.packets, 200_000);
});

test("capture writer: pcapng ns timestamps are exact beyond 2^53", () => {
  const path = join(dir, "ts.pcapng");
  const w = CaptureWriter.open(path, { format: "pcapng", interfaces: [{ tsresol: 9 }] });
  const frame = new Uint8Array(60);
  w.frame(1700000123, 987654321, frame, 0, 60, 60, 0);
  w.close();
  const b = readFileSync(path);
  // SHB (28 + shb_userappl option) then IDB then EPB: find the EPB.
  let o = 0;
  while (b.readUInt32LE(o) !== 6) o += b.readUInt32LE(o + 4);
  const ts = (BigInt(b.readUInt32LE(o + 12)) << 32n) | BigInt(b.readUInt32LE(o + 16));
  assert.is(ts, 1700000123n * 1000000000n + 987654321n);
});

// ------------------------------------------------------------------ tshark

const tshark = spawnSync("tshark", ["--version"], { encoding: "utf8" });
const haveTshark = tshark.status === 0;
if (!haveTshark) console.log("  (skipping tshark tests: tshark is not installed — apt-get install -y tshark)");

interface TsharkView { frames: number; conv: Map<string, [number, number]>; expert: string }

function runTshark(path: string): TsharkView {
  const r = spawnSync("tshark", [
    "-r", path, "-q",
    "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
    "-z", "io,stat,0", "-z", "conv,tcp", "-z", "conv,udp", "-z", "expert,warn",
  ], { encoding: "utf8", maxBuffer: 64 << 20 });
  const stderr = r.stderr.split("\n").filter((l) => l.trim() && !/^Running as user/.test(l)).join("\n");
  assert.is(r.status, 0, `tshark exit status (stderr: ${stderr})`);
  assert.is(stderr, "", "tshark printed no errors");
  const out = r.stdout;
  const io = /\|\s*[\d.]+\s*<>\s*[\d.]+\s*\|\s*(\d+)\s*\|/.exec(out);
  assert.ok(io, "io,stat line");
  const conv = new Map<string, [number, number]>();
  let proto = "";
  for (const line of out.split("\n")) {
    if (line.startsWith("TCP Conversations")) proto = "tcp";
    else if (line.startsWith("UDP Conversations")) proto = "udp";
    // "A:port <-> B:port  <frames> <bytes> <unit>  <frames> <bytes> <unit> ..." ("<-" is B→A, "->" is A→B)
    const m = /^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s/.exec(line);
    if (m && proto) {
      const key = `${proto} ${m[1]} ${m[2]} ${m[3]} ${m[4]}`;
      const prev = conv.get(key) ?? [0, 0];
      conv.set(key, [prev[0] + Number(m[6]), prev[1] + Number(m[5])]); // [A→B, B→A]
    }
  }
  return { frames: Number(io[1]), conv, expert: out.slice(out.indexOf("Warns") >= 0 ? out.indexOf("Warns") : out.length) };
}

function checkAgainstTshark(path: string, flows: ExpectedFlow[], packets: number): void {
  const v = runTshark(path);
  assert.is(v.frames, packets, "tshark frame count");
  assert.not.match(v.expert, /checksum/i, "no checksum complaints");
  // (Application payloads are random bytes, so tshark's HTTP/LDAP/SSH dissectors may call some "Malformed": not checked.)
  assert.not.match(v.expert, /Dup ACK|Out-Of-Order|previous segment not captured|ACKed segment that wasn't captured|Spurious/i, "consistent TCP sequence and ack numbers");
  // Expected per 5-tuple frame counts (summed, should a tuple recur beyond the timeouts).
  const want = new Map<string, [number, number]>();
  for (const f of flows) {
    if (f.proto === "icmp") continue;
    const key = `${f.proto} ${f.orig_h} ${f.orig_p} ${f.resp_h} ${f.resp_p}`;
    const prev = want.get(key) ?? [0, 0];
    want.set(key, [prev[0] + f.orig_pkts, prev[1] + f.resp_pkts]);
  }
  assert.is(v.conv.size, want.size, "same number of TCP+UDP conversations");
  for (const [key, [o, r]] of want) {
    // tshark may list a conversation with either endpoint first.
    const [proto, oh, op, rh, rp] = key.split(" ");
    const direct = v.conv.get(key);
    const flipped = v.conv.get(`${proto} ${rh} ${rp} ${oh} ${op}`);
    const got: [number, number] | undefined = direct ?? (flipped ? [flipped[1], flipped[0]] : undefined);
    assert.ok(got, `tshark lacks ${key}`);
    assert.equal(got, [o, r], `${key}: frames orig→resp, resp→orig`);
  }
}

test("tshark reads the pcap with zero errors and agrees with the ground truth", () => {
  if (!haveTshark) return;
  const m = make({ seed: 21, format: "pcap" });
  checkAgainstTshark(m.path, m.flows, m.packets);
});

test("tshark reads the pcapng (3 interfaces: Ethernet µs, Ethernet ns, raw IP) and agrees", () => {
  if (!haveTshark) return;
  const m = make({ seed: 22, format: "pcapng", hosts: 30 });
  const { linkTypes } = readCapture(m.path);
  assert.equal(linkTypes, [F.LINKTYPE_ETHERNET, F.LINKTYPE_ETHERNET, F.LINKTYPE_RAW]);
  assert.ok(new Set(m.flows.map((f) => f.iface)).size >= 2, "traffic on several interfaces");
  checkAgainstTshark(m.path, m.flows, m.packets);
});

test("tshark reads gzip'd, big-endian, nanosecond, truncated pcap and agrees", () => {
  if (!haveTshark) return;
  const m = make({ seed: 23, format: "pcap", gzip: true, bigEndian: true, nanosecond: true, snaplen: 96 });
  const v = runTshark(m.path);
  assert.is(v.frames, m.packets);
  checkAgainstTshark(m.path, m.flows, m.packets);
});

test.run();
