// Byte sources: a fast producer on stdin cannot make the sensor buffer
// without bound, and every byte arrives once, in order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import { StreamByteSource } from '../sensor/sources/byte-source.ts';

/** A producer that can deliver 64 MiB as fast as it is asked. */
function fastProducer(total: number, chunk = 64 << 10): { stream: Readable; produced: () => number } {
  let produced = 0;
  const stream = new Readable({
    read() {
      if (produced >= total) { this.push(null); return; }
      const n = Math.min(chunk, total - produced);
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = (produced + i) & 0xff;
      produced += n;
      this.push(b);
    },
  });
  return { stream, produced: () => produced };
}

test('a reader that falls behind pauses the producer (bounded buffering)', async () => {
  const { stream, produced } = fastProducer(64 << 20);
  const src = new StreamByteSource(stream, () => {});
  await new Promise((r) => setTimeout(r, 200)); // the consumer is busy elsewhere
  assert.ok(produced() < 12 << 20, `${produced() >> 20} MiB pulled from the producer while nobody read`);
  src.close();
});

test('every byte arrives once and in order, across small and large reads', async () => {
  const total = (20 << 20) + 12345;
  const { stream } = fastProducer(total, 50_000);
  const src = new StreamByteSource(stream, () => {}, Buffer.from([]));
  let got = 0;
  const sizes = [1, 7, 4096, 1 << 20, 333_333];
  for (let k = 0; ; k++) {
    const buf = new Uint8Array(sizes[k % sizes.length]!);
    const n = await src.read(buf);
    if (n === 0) break;
    for (let i = 0; i < n; i++) if (buf[i] !== ((got + i) & 0xff)) assert.unreachable(`byte ${got + i} out of order`);
    got += n;
  }
  assert.is(got, total);
});

test('a stream error ends the input after the bytes already received, reported once', async () => {
  const stream = new Readable({ read() {} });
  const errors: string[] = [];
  const src = new StreamByteSource(stream, (e) => errors.push(e.message));
  stream.push(Buffer.from('abc'));
  stream.destroy(new Error('boom'));
  const buf = new Uint8Array(16);
  assert.is(await src.read(buf), 3);
  assert.is(await src.read(buf), 0);
  assert.equal(errors, ['boom']);
});

test.run();
