// Load helpers shared by the capture walker and the decoders, plus the one
// init-time allocation helper. Everything here is @inline: these sit on the
// per-packet path and must compile down to a single load (+ bswap).
//
// Wasm memory is little-endian, so network-order (big-endian) fields need a
// bswap; host-order fields of the capture file need one only when the file's
// byte order differs from ours.

/** Big-endian u16 at p, widened to u32 (the width every caller computes in). */
@inline export function be16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
/** Big-endian u32 at p. */
@inline export function be32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
/** Little-endian u16 at p. */
@inline export function le16(p: usize): u32 { return <u32>load<u16>(p); }
/** Little-endian u32 at p. */
@inline export function le32(p: usize): u32 { return load<u32>(p); }
/** Byte at p. */
@inline export function u8at(p: usize): u32 { return <u32>load<u8>(p); }

/** u32 in a file's byte order: `swap` = the file is big-endian. */
@inline export function rd32(p: usize, swap: bool): u32 {
  const v = load<u32>(p);
  return swap ? bswap<u32>(v) : v;
}
/** u16 in a file's byte order. */
@inline export function rd16(p: usize, swap: bool): u32 {
  const v = load<u16>(p);
  return <u32>(swap ? bswap<u16>(v) : v);
}

/**
 * Copy n bytes 8 at a time. memory.copy is a call out of the Wasm code into
 * the runtime; for records and short names a loop of word moves is cheaper.
 * When n is not a multiple of 8 it reads and writes up to 7 bytes past n:
 * callers keep that much room on both sides.
 */
@inline export function copyWords(dst: usize, src: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 8) store<u64>(dst + i, load<u64>(src + i));
}

/** Zero n bytes (a multiple of 8) 8 at a time: as copyWords, cheaper than memory.fill's call for a record. */
@inline export function zeroWords(dst: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 8) store<u64>(dst + i, 0);
}

/**
 * Allocate `size` bytes once at init, or return 0 when memory cannot grow
 * that far. The stub runtime's heap.alloc traps (unreachable) when
 * memory.grow fails, and init() must report failure instead of trapping,
 * so we grow memory ourselves first: a zero-size probe allocation tells us
 * where the bump pointer is, and if memory is already big enough the real
 * allocation below never needs to grow.
 */
export function reserve(size: usize): usize {
  const probe = heap.alloc(0); // 16 wasted bytes, once per table
  // With asconfig's exportStart the host must call _start() first: it sets
  // the allocator's start. Without it the bump pointer is 0 and tables would
  // overlay the static data — fail init cleanly instead.
  if (probe < __heap_base) return 0;
  const end = <u64>probe + <u64>size + 64;
  if (end > 0xFFFF0000) return 0; // beyond wasm32
  const pagesNeeded = <i32>((end + 0xFFFF) >> 16);
  const have = memory.size();
  if (pagesNeeded > have) {
    if (memory.grow(pagesNeeded - have) < 0) return 0;
  }
  const p = heap.alloc(size);
  // Memory above everything handed out so far is zero (fresh pages from
  // memory.grow, or initial pages above the static data), and nothing frees
  // (the stub runtime's bump allocator only moves forward): zeroing it again
  // would only fault every page of every table in at start — milliseconds,
  // and resident memory for table capacity that may never be used.
  if (p < fresh) memory.fill(p, 0, size);
  if (p + size > fresh) fresh = p + size;
  return p;
}

/** Everything at or above this address was never handed out by reserve(). */
let fresh: usize = 0;
