// Flow-log text input: line splitting across any chunking (CRLF, no final
// newline, BOM, over-long lines with bounded memory), gzip by magic number
// (single and multi-member, corrupt, truncated, a one-byte first read on
// stdin), directory trees in byte order, and files closed when a reader stops.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  FlowInputError, LineSplitter, eachLine, expandInput, filesBelow, lines, openFlowFile, type LineRef,
} from '../sensor/flowlogs/text-input.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { REPO_ROOT } from './helpers/shared-data.ts';

interface Got { text: string; line: number; offset: number }

async function* chunked(buf: Buffer, sizes: () => number): AsyncIterable<Buffer> {
  for (let p = 0; p < buf.length;) {
    const n = Math.max(1, sizes());
    yield buf.subarray(p, p + n);
    p += n;
  }
}

async function collect(src: AsyncIterable<Buffer>, maxLine?: number, tooLong?: Got[]): Promise<Got[]> {
  const out: Got[] = [];
  for await (const r of lines(src, maxLine, (line, offset) => tooLong?.push({ text: '', line, offset }))) {
    out.push({ text: r.buf.toString('latin1', r.start, r.end), line: r.line, offset: r.offset });
  }
  return out;
}

/** What the lines of `text` must be: split on \n, one trailing \r dropped, no line after a final \n. */
function expected(text: string): Got[] {
  const parts = text.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  let off = 0;
  return parts.map((p, i) => {
    const g = { text: p.endsWith('\r') ? p.slice(0, -1) : p, line: i + 1, offset: off };
    off += p.length + 1;
    return g;
  });
}

function randomText(rng: Rng): string {
  const n = rng.int(0, 60);
  let s = '';
  for (let i = 0; i < n; i++) {
    const len = rng.pick([0, 1, 2, 5, 30, 200]);
    for (let j = 0; j < len; j++) s += String.fromCharCode(rng.int(32, 126));
    if (rng.chance(0.2)) s += '\r';
    if (i < n - 1 || rng.chance(0.5)) s += '\n';
  }
  return s;
}

test('lines: same lines, numbers and offsets whatever the chunking (seeded)', async () => {
  const rng = new Rng('text-input-chunks');
  for (let round = 0; round < 300; round++) {
    const text = randomText(rng);
    const buf = Buffer.from(text, 'latin1');
    const size = rng.pick([1, 2, 3, 7, 64, 4096]);
    const got = await collect(chunked(buf, () => rng.chance(0.3) ? rng.int(1, 2 * size) : size));
    assert.equal(got, expected(text), `round ${round}, chunk ${size}: ${JSON.stringify(text.slice(0, 80))}`);
  }
});

test('eachLine gives exactly what lines gives', async () => {
  const rng = new Rng('text-input-eachline');
  for (let round = 0; round < 100; round++) {
    const text = randomText(rng);
    const buf = Buffer.from(text, 'latin1');
    const size = rng.int(1, 50);
    const a = await collect(chunked(buf, () => size), 40);
    const b: Got[] = [];
    await eachLine(chunked(buf, () => size), (r: LineRef) => b.push({ text: r.buf.toString('latin1', r.start, r.end), line: r.line, offset: r.offset }), 40);
    assert.equal(b, a);
  }
});

test('over-long lines are reported with their line and offset, skipped, and never buffered whole', async () => {
  const long = 'x'.repeat(1000);
  const text = `a\n${long}\nb\n${long}${long}\nc\n${long}`;
  const buf = Buffer.from(text);
  for (const size of [1, 10, 100, 999, 1000, 1001, 5000]) {
    const tooLong: Got[] = [];
    const got = await collect(chunked(buf, () => size), 100, tooLong);
    assert.equal(got.map((g) => [g.text, g.line, g.offset]), [['a', 1, 0], ['b', 3, 1003], ['c', 5, 3006]], `chunk ${size}`);
    assert.equal(tooLong.map((g) => [g.line, g.offset]), [[2, 2], [4, 1005], [6, 3008]], `chunk ${size}`);
  }
  // Memory: with 1-byte chunks the splitter never holds more than maxLine (+1) bytes of a line.
  const sp = new LineSplitter(100, () => {});
  let held = 0;
  for (let i = 0; i < 5000; i++) {
    for (const _ of sp.push(Buffer.from('y'))) { /* none: no newline */ }
    held = Math.max(held, (sp as unknown as { carryLen: number }).carryLen);
  }
  assert.ok(held <= 101, `held ${held} bytes`);
});

test('a line of exactly maxLine bytes is kept; CR is dropped; BOM only on line 1', async () => {
  const got = await collect(chunked(Buffer.from(`\ufeffhead\r\n${'z'.repeat(10)}\n\ufeffkeep\n`), () => 3), 10);
  assert.equal(got.map((g) => g.text), ['head', 'z'.repeat(10), Buffer.from('\ufeffkeep').toString('latin1')]);
  assert.is(got[0]!.offset, 0);
});

test('empty input and a lone newline', async () => {
  assert.equal(await collect(chunked(Buffer.alloc(0), () => 1)), []);
  assert.equal(await collect(chunked(Buffer.from('\n'), () => 1)), [{ text: '', line: 1, offset: 0 }]);
});

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'text-input-'));
}

async function readAll(path: string): Promise<{ text: string; compressed: boolean }> {
  const f = openFlowFile(path, 7);
  const parts: Buffer[] = [];
  for await (const c of f.chunks()) parts.push(c);
  return { text: Buffer.concat(parts).toString(), compressed: f.compressed };
}

test('openFlowFile: plain, gzip, multi-member gzip, empty; small read sizes', async () => {
  const dir = tempDir();
  try {
    const body = 'one\ntwo\nthree\n'.repeat(50);
    writeFileSync(join(dir, 'plain.log'), body);
    writeFileSync(join(dir, 'g.log.gz'), gzipSync(body));
    writeFileSync(join(dir, 'multi.gz'), Buffer.concat([gzipSync('first\n'), gzipSync('second\n')]));
    writeFileSync(join(dir, 'empty'), '');
    writeFileSync(join(dir, 'one-byte'), '\x1f');
    assert.equal(await readAll(join(dir, 'plain.log')), { text: body, compressed: false });
    assert.equal(await readAll(join(dir, 'g.log.gz')), { text: body, compressed: true });
    assert.equal(await readAll(join(dir, 'multi.gz')), { text: 'first\nsecond\n', compressed: true });
    assert.equal(await readAll(join(dir, 'empty')), { text: '', compressed: false });
    assert.equal(await readAll(join(dir, 'one-byte')), { text: '\x1f', compressed: false });
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

async function errorKind(path: string): Promise<string> {
  try { await readAll(path); } catch (e) {
    assert.instance(e, FlowInputError);
    return (e as FlowInputError).kind;
  }
  return 'no error';
}

test('openFlowFile: corrupt and truncated gzip, missing file, directory given as file', async () => {
  const dir = tempDir();
  try {
    const gz = gzipSync('a\n'.repeat(10000));
    const corrupt = Buffer.from(gz); corrupt[20] = corrupt[20]! ^ 0xff; corrupt[21] = corrupt[21]! ^ 0xff;
    writeFileSync(join(dir, 'corrupt.gz'), corrupt);
    writeFileSync(join(dir, 'truncated.gz'), gz.subarray(0, gz.length >> 1));
    assert.is(await errorKind(join(dir, 'corrupt.gz')), 'corrupt_gzip');
    assert.is(await errorKind(join(dir, 'truncated.gz')), 'corrupt_gzip');
    assert.is(await errorKind(join(dir, 'missing.log')), 'unreadable_input');
    assert.is(await errorKind(dir), 'unreadable_input');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

const fdCount = () => readdirSync('/proc/self/fd').length;

test('a reader that stops early (or hits corrupt gzip) leaves no file open', async () => {
  if (!existsSync('/proc/self/fd')) return;
  const dir = tempDir();
  try {
    const big = Buffer.alloc(4 << 20, 'line of text\n');
    writeFileSync(join(dir, 'big.log'), big);
    writeFileSync(join(dir, 'big.gz'), gzipSync(big));
    const gz = gzipSync(Buffer.alloc(1 << 20, 'q\n'));
    const corrupt = Buffer.from(gz); corrupt.fill(0x55, 100, 200);
    writeFileSync(join(dir, 'corrupt.gz'), corrupt);
    const before = fdCount();
    for (let i = 0; i < 20; i++) {
      for (const name of ['big.log', 'big.gz']) {
        // eslint-disable-next-line no-unreachable-loop
        for await (const _ of openFlowFile(join(dir, name), 1 << 16).chunks()) break;
      }
      await errorKind(join(dir, 'corrupt.gz'));
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(fdCount() <= before + 1, `fds: ${before} before, ${fdCount()} after`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('filesBelow / expandInput: sorted depth-first, symlink loops and dangling links survive', () => {
  const dir = tempDir();
  try {
    for (const d of ['b', 'a/z', 'a/y', 'c']) mkdirSync(join(dir, d), { recursive: true });
    for (const f of ['b/2.log', 'b/10.log', 'a/z/x.gz', 'a/y/1', 'a/0', 'c/é', 'c/e', 'c/Z', 'top']) writeFileSync(join(dir, f), f);
    symlinkSync(dir, join(dir, 'a', 'loop'));
    symlinkSync(join(dir, 'nowhere'), join(dir, 'c', 'dangling'));
    const rel = (ps: string[]) => ps.map((p) => p.slice(dir.length + 1));
    const want = ['a/0', 'a/y/1', 'a/z/x.gz', 'b/10.log', 'b/2.log', 'c/Z', 'c/e', 'c/é', 'top'];
    assert.equal(rel(filesBelow(dir)), want);
    assert.equal(rel(expandInput(dir)), want);
    assert.equal(expandInput(join(dir, 'top')), [join(dir, 'top')]);
    assert.equal(expandInput('-'), ['-']);
    try { expandInput(join(dir, 'nope')); assert.unreachable('no throw'); } catch (e) {
      assert.instance(e, FlowInputError);
      assert.is((e as FlowInputError).kind, 'unreadable_input');
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

/** Run a script that reads "-" and prints its lines as JSON; feed stdin in pieces with pauses. */
function viaStdin(pieces: Buffer[]): Promise<string> {
  const script = `
    import { openFlowFile, lines } from './sensor/flowlogs/text-input.ts';
    const f = openFlowFile('-');
    const out = [];
    for await (const r of lines(f.chunks())) out.push(r.buf.toString('latin1', r.start, r.end));
    console.log(JSON.stringify({ compressed: f.compressed, lines: out }));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (b) => { out += b; });
    child.stderr.on('data', (b) => { err += b; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}: ${err}`))));
    (async () => {
      for (const p of pieces) {
        child.stdin.write(p);
        await new Promise((r) => setTimeout(r, 60));
      }
      child.stdin.end();
    })().catch(reject);
  });
}

test('stdin ("-"): gzip recognised even when the first read is one byte', async () => {
  const gz = gzipSync('alpha\nbeta\n');
  const got = JSON.parse(await viaStdin([gz.subarray(0, 1), gz.subarray(1)]));
  assert.equal(got, { compressed: true, lines: ['alpha', 'beta'] });
  const plain = JSON.parse(await viaStdin([Buffer.from('x'), Buffer.from('y\nz')]));
  assert.equal(plain, { compressed: false, lines: ['xy', 'z'] });
});

test.run();
