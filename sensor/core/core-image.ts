// A core's whole state as a value: its linear memory in 64 KiB chunks (the
// chunks that are all zero left out: table capacity reserved but never
// touched costs nothing) and its mutable globals, which the build exports as
// "state:*" (asm/tools/export-globals.mjs). Every table, flow, counter and
// learned baseline of the core lives in one of the two, so a snapshot is a
// few large copies, not millions of small puts — and a restored core carries
// on exactly where the image was taken.
//
// An image is laid out by one build of the module and the options its
// regions were reserved with (`layout`): restoring it into anything else
// would read tables through the wrong offsets, so putImage refuses.

export const CHUNK_BYTES = 65536;

export interface CoreChunk { index: number; bytes: Uint8Array }

export interface CoreImage {
  /** the module's digest and the options that laid out its memory */
  layout: string;
  /** memory size in 64 KiB pages */
  pages: number;
  /** the chunks that are not all zero */
  chunks: CoreChunk[];
  /** the "state:*" globals, in name order */
  globals: (number | bigint)[];
}

export class ImageMismatchError extends Error {}

/** The instance's "state:*" globals, in name order (the order images store them in). */
export function stateGlobals(exports: Record<string, unknown>): WebAssembly.Global[] {
  return Object.keys(exports)
    .filter((k) => k.startsWith('state:'))
    .sort()
    .map((k) => exports[k] as WebAssembly.Global);
}

/** Whether the chunk at word offset `w` (32-bit words) of `words` is all zero. */
function zeroChunk(words: Int32Array, w: number): boolean {
  // eight words OR-ed per test (a 62 MiB core scanned in 11 ms instead of 17)
  const end = w + CHUNK_BYTES / 4;
  for (let i = w; i < end; i += 8) {
    if ((words[i]! | words[i + 1]! | words[i + 2]! | words[i + 3]! | words[i + 4]! | words[i + 5]! | words[i + 6]! | words[i + 7]!) !== 0) return false;
  }
  return true;
}

/**
 * A copy of memory and globals as they are now. `spare`: chunk buffers an
 * earlier image no longer needs (the state writer hands them back once
 * written), filled instead of new ones — half a GiB of fresh 64 KiB
 * allocations costs more in page faults than the copy itself.
 */
export function takeImage(memory: WebAssembly.Memory, globals: readonly WebAssembly.Global[], layout: string, spare?: Uint8Array[]): CoreImage {
  const buf = memory.buffer;
  const words = new Int32Array(buf);
  const u8 = new Uint8Array(buf);
  const pages = buf.byteLength / CHUNK_BYTES;
  const chunks: CoreChunk[] = [];
  for (let i = 0; i < pages; i++) {
    if (zeroChunk(words, i * (CHUNK_BYTES / 4))) continue;
    const from = u8.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
    const reuse = spare?.pop();
    if (reuse && reuse.length === CHUNK_BYTES) { reuse.set(from); chunks.push({ index: i, bytes: reuse }); }
    else chunks.push({ index: i, bytes: from.slice() });
  }
  return { layout, pages, chunks, globals: globals.map((g) => g.value as number | bigint) };
}

/**
 * Overwrite memory and globals with the image's. The memory grows to the
 * image's size if smaller (views over it must be re-created after); chunks
 * the image leaves out are zeroed.
 */
export function putImage(memory: WebAssembly.Memory, globals: readonly WebAssembly.Global[], layout: string, image: CoreImage): void {
  if (image.layout !== layout) throw new ImageMismatchError('the saved core state was laid out by another build of the core or other table sizes');
  if (image.globals.length !== globals.length) throw new ImageMismatchError(`the saved core state has ${image.globals.length} globals, this core ${globals.length}`);
  const have = memory.buffer.byteLength / CHUNK_BYTES;
  if (image.pages < have) throw new ImageMismatchError(`the saved core state has ${image.pages} pages of memory, this core already ${have}`);
  if (image.pages > have) memory.grow(image.pages - have);
  const u8 = new Uint8Array(memory.buffer);
  const words = new Int32Array(memory.buffer);
  let next = 0;
  const sorted = [...image.chunks].sort((a, b) => a.index - b.index);
  for (let i = 0; i < image.pages; i++) {
    const c = sorted[next];
    if (c && c.index === i) {
      if (c.bytes.length !== CHUNK_BYTES) throw new ImageMismatchError(`chunk ${i} of the saved core state is ${c.bytes.length} bytes`);
      u8.set(c.bytes, i * CHUNK_BYTES);
      next++;
    } else if (!zeroChunk(words, i * (CHUNK_BYTES / 4))) {
      u8.fill(0, i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
    }
  }
  if (next !== sorted.length) throw new ImageMismatchError('the saved core state has chunks past its memory size');
  globals.forEach((g, i) => { g.value = image.globals[i]!; });
}

/** Bytes an image holds (its chunks). */
export function imageBytes(image: CoreImage): number {
  return image.chunks.length * CHUNK_BYTES;
}
