// The writer thread and its ring (sensor/sinks/): every record handed over
// comes out as one line, in order, with the reporter names sent alongside;
// more batches than may be in flight pass through (the packet side waits);
// and a writer thread that fails does not hang the packet side — close()
// reports the failure and the records it could not write.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { Worker } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { R, REC_SIZE } from '../sensor/core/flow-record.ts';
import { ReporterIds, SOURCE } from '../sensor/flowlogs/flow-event.ts';
import { BATCH_RECORDS, MAX_IN_FLIGHT } from '../sensor/sinks/flow-batch.ts';
import { ThreadedFlowSink } from '../sensor/sinks/threaded-flow-sink.ts';
import { ReporterNamesOut, receiveReporterNames, type ReporterNames } from '../sensor/sinks/reporter-names.ts';
import { MessageChannel } from 'node:worker_threads';

/** n flow records; record i has serial i + 1 and reporter id (i % 3) for AWS-sourced ones. */
function records(n: number, reporters?: ReporterIds): Uint8Array {
  const recs = new Uint8Array(n * REC_SIZE);
  const dv = new DataView(recs.buffer);
  for (let i = 0; i < n; i++) {
    const o = i * REC_SIZE;
    recs.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, (i >> 8) & 0xff, i & 0xff], o + R.ORIG_H);
    recs.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1], o + R.RESP_H);
    recs[o + R.IP_VERSION] = 4;
    recs[o + R.PROTO] = 6;
    dv.setFloat64(o + R.TS, 1.7e9 + i, true);
    dv.setFloat64(o + R.LAST_TS, 1.7e9 + i + 1, true);
    dv.setFloat64(o + R.SERIAL, i + 1, true);
    dv.setFloat64(o + R.ORIG_PKTS, 1, true);
    dv.setUint16(o + R.ORIG_P, 40000, true);
    dv.setUint16(o + R.RESP_P, 443, true);
    dv.setUint16(o + R.VLAN, 0xffff, true);
    dv.setUint16(o + R.INNER_VLAN, 0xffff, true);
    recs[o + R.CONN_STATE] = 2;
    if (reporters) {
      recs[o + R.SOURCE] = SOURCE.aws_vpc;
      dv.setUint32(o + R.REPORTER, reporters.id(`eni-${i % 3}`), true);
      dv.setUint32(o + R.RECORDS, 1, true);
    }
  }
  return recs;
}

function tempFile(): { path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'flow-sink-'));
  return { path: join(dir, 'flows.jsonl'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('every record comes out once, in order, with reporter names; more batches than may be in flight', async () => {
  const f = tempFile();
  try {
    const reporters = new ReporterIds();
    const n = (MAX_IN_FLIGHT + 3) * BATCH_RECORDS + 17;
    const recs = records(n, reporters);
    const sink = new ThreadedFlowSink(f.path, { reporters });
    // handed over in uneven pieces, as the core's drains do
    for (let at = 0, k = 0; at < n; k++) {
      const take = Math.min(n - at, [1, 700, 4096, 5000, 33][k % 5]!);
      sink.writeBatch(recs.subarray(at * REC_SIZE, (at + take) * REC_SIZE), take);
      at += take;
    }
    const c = await sink.close();
    assert.equal({ received: c.received, sent: c.sent, errors: c.errors, discarded: c.discarded }, { received: n, sent: n, errors: 0, discarded: 0 });
    const lines = readFileSync(f.path, 'latin1').trimEnd().split('\n');
    assert.is(lines.length, n);
    lines.forEach((l, i) => {
      const o = JSON.parse(l) as { 'id.orig_h': string; reporter?: string };
      if (o['id.orig_h'] !== `10.0.${(i >> 8) & 0xff}.${i & 0xff}`) assert.unreachable(`line ${i}: ${o['id.orig_h']}`);
      if (o.reporter !== `eni-${i % 3}`) assert.unreachable(`line ${i}: reporter ${o.reporter}`);
    });
  } finally { f.done(); }
});

test('a run whose records fit one partial batch is formatted without the thread, same bytes', async () => {
  const f = tempFile(), g = tempFile();
  try {
    const reporters = new ReporterIds();
    const n = BATCH_RECORDS - 1;
    const recs = records(n, reporters);
    // inline: one partial batch, never sent
    const small = new ThreadedFlowSink(f.path, { reporters, lazy: true });
    small.writeBatch(recs, n);
    const c = await small.close();
    assert.not.ok(small.threadStarted, 'the thread was started for one partial batch');
    assert.equal({ received: c.received, sent: c.sent, errors: c.errors }, { received: n, sent: n, errors: 0 });
    assert.equal(await small.close(), c, 'a second close: the same counters');
    // the thread: the same records plus one, so a full batch goes to it
    const big = new ThreadedFlowSink(g.path, { reporters });
    big.writeBatch(records(n + 1, reporters), n + 1);
    assert.is((await big.close()).sent, n + 1);
    assert.ok(big.threadStarted);
    const inline = readFileSync(f.path, 'latin1');
    const threaded = readFileSync(g.path, 'latin1');
    assert.ok(inline.length > 0 && threaded.startsWith(inline), 'inline lines equal the thread\'s');
    // a bad network fails the inline path with a reported error, not a throw
    const bad = new ThreadedFlowSink(f.path, { localNets: ['not-a-network'], lazy: true });
    bad.writeBatch(recs.subarray(0, 10 * REC_SIZE), 10);
    const b = await bad.close();
    assert.equal({ errors: b.errors, discarded: b.discarded }, { errors: 1, discarded: 10 });
  } finally { f.done(); g.done(); }
});

test('a writer thread that fails does not hang the packet side; close() reports it', async () => {
  const f = tempFile();
  try {
    // an invalid network makes the writer thread fail as it starts
    const sink = new ThreadedFlowSink(f.path, { localNets: ['not-a-network'] });
    const n = (MAX_IN_FLIGHT * 2 + 1) * BATCH_RECORDS;
    const recs = records(n);
    for (let at = 0; at < n; at += BATCH_RECORDS) sink.writeBatch(recs.subarray(at * REC_SIZE, (at + BATCH_RECORDS) * REC_SIZE), BATCH_RECORDS);
    const c = await sink.close();
    assert.is(c.errors, 1);
    assert.is(c.sent, 0);
    assert.is(c.received, n);
    assert.is(c.discarded, n);
    assert.match(c.error ?? '', /flow writer thread failed: .*not-a-network/);
  } finally { f.done(); }
});

/** Hand `batches` full batches over, as a long run would. */
function feed(sink: ThreadedFlowSink, batches: number): number {
  const recs = records(BATCH_RECORDS);
  for (let b = 0; b < batches; b++) sink.writeBatch(recs, BATCH_RECORDS);
  return batches * BATCH_RECORDS;
}

test('the writer thread on a full disk: the error once, every record counted as discarded, a second close the same', async () => {
  const sink = new ThreadedFlowSink('/dev/full');
  const n = feed(sink, MAX_IN_FLIGHT + 4);
  const c = await sink.close();
  assert.equal({ received: c.received, sent: c.sent, errors: c.errors, discarded: c.discarded }, { received: n, sent: 0, errors: 1, discarded: n });
  assert.match(c.error ?? '', 'ENOSPC');
  assert.equal(await sink.close(), c, 'close() twice: the same counters, the fd closed once');
});

test('the writer thread on a pipe its reader closed: no error (EPIPE is the reader leaving), the rest discarded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flow-sink-'));
  try {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK); // so the sink's open for writing does not block
    const sink = new ThreadedFlowSink(fifo);
    closeSync(reader);
    const n = feed(sink, MAX_IN_FLIGHT + 4);
    const c = await sink.close();
    assert.equal({ received: c.received, sent: c.sent, errors: c.errors, discarded: c.discarded, error: c.error }, { received: n, sent: 0, errors: 0, discarded: n, error: undefined });
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a writer thread that vanished without a word (killed) is given up after stallMs; the packet side goes on', async () => {
  const sink = new ThreadedFlowSink(tempFileName(), { stallMs: 300 });
  // killed as an out-of-memory kill would be: no flag raised, and its 'exit'
  // event cannot reach this thread while it waits synchronously
  void (sink as unknown as { worker: Worker }).worker.terminate();
  const t0 = Date.now();
  while (Date.now() - t0 < 300) { /* let the thread stop */ }
  const n = feed(sink, MAX_IN_FLIGHT * 2);
  assert.ok(Date.now() - t0 < 10_000, 'did not hang');
  const c = await sink.close();
  assert.equal({ received: c.received, sent: c.sent, errors: c.errors, discarded: c.discarded }, { received: n, sent: 0, errors: 1, discarded: n });
  assert.match(c.error ?? '', /took nothing for 0.3 s/);
});

const tempFiles: string[] = [];
function tempFileName(): string { const f = tempFile(); tempFiles.push(f.path); return f.path; }
test.after(() => { for (const p of tempFiles) rmSync(join(p, '..'), { recursive: true, force: true }); });

test('reporter names go to a worker once, with the slot that first needs them; a slot announcing names it did not bring is an error', () => {
  const reporters = new ReporterIds();
  const ch = new MessageChannel();
  const out = new ReporterNamesOut(reporters, ch.port1);
  const a = reporters.id('eni-a'), b = reporters.id('eni-b');
  assert.is(out.postNew(), true);
  assert.is(out.postNew(), false, 'sent once');
  const c = reporters.id('eni-c');
  assert.is(out.postNew(), true);
  // the first slot brings the overflow id's name too (records past the table's room carry it)
  const first: ReporterNames = receiveReporterNames(ch.port2, 'slot 1');
  assert.equal(first, [[1, '(other)'], [a, 'eni-a'], [b, 'eni-b']]);
  assert.equal(receiveReporterNames(ch.port2, 'slot 2'), [[c, 'eni-c']]);
  assert.throws(() => receiveReporterNames(ch.port2, 'slot 3'), /slot 3: reporter names announced but not received/);
  ch.port1.close();
});

test.run();
