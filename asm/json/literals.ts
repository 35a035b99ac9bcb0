// ASCII literals (field names, punctuation, digit alphabets) copied once, at
// start, out of AssemblyScript's UTF-16 string data into a byte table, so the
// per-record path writes them with 8-byte stores instead of a bounds-checked
// charCodeAt per character (measured: the latter was a third of the
// formatter's time). A handle packs the table address and the length.

import { copyWords } from "../bytes";

const TABLE_BYTES: usize = 4096;
const TABLE: usize = memory.data(<i32>TABLE_BYTES, 8);
let used: usize = 0;

/** Put `s` (ASCII, ≤ 255 chars) in the table; returns its handle. Called from module start only. */
export function lit(s: string): u32 {
  const n = <usize>s.length;
  // each entry is padded to whole 8-byte words plus one, so putLit's word copies stay inside the table
  const room = ((n + 7) & ~<usize>7) + 8;
  if (n > 255 || used + room > TABLE_BYTES) unreachable(); // a build-time mistake: fails at instantiation
  const at = TABLE + used;
  for (let i: usize = 0; i < n; i++) store<u8>(at + i, <u8>s.charCodeAt(<i32>i));
  used += room;
  return (<u32>at << 8) | <u32>n;
}

/** Where a literal's bytes are (for alphabets read by index). */
@inline export function litPtr(h: u32): usize { return <usize>(h >> 8); }

/**
 * Write the literal at p, 8 bytes at a time: up to 7 bytes past its end are
 * scribbled on and then overwritten by what follows. Callers keep that much
 * slack at the end of the output region (MAX_LINE_BASE covers it).
 */
@inline export function putLit(p: usize, h: u32): usize {
  const n = <usize>(h & 0xff);
  copyWords(p, <usize>(h >> 8), n);
  return p + n;
}
