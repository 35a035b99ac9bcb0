// Floods as classic pcap files, written fast (one frame template, the
// varying fields patched in place): a SYN flood from spoofed sources, and
// one host sweeping a /8. For memory-bound tests, where millions of new
// keys must reach the tables; no checksums (the core does not check them).
import { openSync, writeSync, closeSync } from 'node:fs';
import { Rng } from '../../sensor/sample/rng.ts';

const FRAME = 54; // Ethernet 14 + IPv4 20 + TCP 20

function template(): Uint8Array {
  const f = new Uint8Array(FRAME);
  f.set([0, 0x1b, 0x21, 1, 2, 3, 0, 0x1b, 0x21, 4, 5, 6, 0x08, 0x00], 0);
  f.set([0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0], 14);
  f[14 + 33] = 0x02; // SYN
  f[14 + 32] = 0x50; // data offset 5
  f[14 + 34] = 0xff; f[14 + 35] = 0xff; // window
  return f;
}

/**
 * Write `packets` SYNs to `path`, one every 10 µs of capture time from
 * `startTs`: `from(i)` and `to(i)` give each packet's IPv4 source and
 * destination (32-bit numbers), `sport(i)` and `dport(i)` its ports.
 */
function writeSyns(path: string, packets: number, startTs: number, from: (i: number) => number, to: (i: number) => number, sport: (i: number) => number, dport: (i: number) => number): void {
  const fd = openSync(path, 'w');
  const header = new DataView(new ArrayBuffer(24));
  header.setUint32(0, 0xa1b2c3d4, true); header.setUint16(4, 2, true); header.setUint16(6, 4, true);
  header.setUint32(16, 65535, true); header.setUint32(20, 1, true);
  writeSync(fd, new Uint8Array(header.buffer));
  const per = 16 + FRAME, batch = 65536;
  const buf = new Uint8Array(per * batch);
  const dv = new DataView(buf.buffer);
  const t = template();
  for (let i = 0; i < batch; i++) buf.set(t, i * per + 16);
  for (let done = 0; done < packets;) {
    const n = Math.min(batch, packets - done);
    for (let j = 0; j < n; j++) {
      const i = done + j, o = j * per;
      const us = Math.round(i * 10);
      dv.setUint32(o, startTs + Math.floor(us / 1e6), true);
      dv.setUint32(o + 4, us % 1e6, true);
      dv.setUint32(o + 8, FRAME, true);
      dv.setUint32(o + 12, FRAME, true);
      dv.setUint32(o + 16 + 26, from(i) >>> 0);
      dv.setUint32(o + 16 + 30, to(i) >>> 0);
      dv.setUint16(o + 16 + 34, sport(i));
      dv.setUint16(o + 16 + 36, dport(i));
      dv.setUint32(o + 16 + 38, i);
    }
    writeSync(fd, buf, 0, n * per);
    done += n;
  }
  closeSync(fd);
}

const ip = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** SYNs from random public sources (spoofed) to one local web server. */
export function writeSynFlood(path: string, packets: number, seed = 1): void {
  const rng = new Rng(seed);
  writeSyns(path, packets, 1767571200, () => ip(1 + rng.int(0, 222), rng.int(0, 255), rng.int(0, 255), rng.int(1, 254)), () => ip(10, 0, 0, 5),
    () => 1024 + rng.int(0, 60000), () => 80);
}

/** One local host trying port 445 on random addresses of 10.0.0.0/8. */
export function writeSlash8Scan(path: string, packets: number, seed = 2): void {
  const rng = new Rng(seed);
  writeSyns(path, packets, 1767571200, () => ip(10, 0, 0, 9), () => ip(10, rng.int(0, 255), rng.int(0, 255), rng.int(1, 254)),
    (i) => 1024 + (i % 60000), () => 445);
}
