// The local (internal) networks, as JS hands them over (sensor/flows/
// local-nets.ts owns the list and its defaults): (network, mask) pairs of
// 16-byte addresses, IPv4 prefixes also kept as 32-bit words for the common
// case. Shared by the core (which devices are ours, asm/learn/) and the
// flow formatter (local_orig / local_resp, asm/json/).
import { reserve } from "./bytes";

export const MAX_NETS: i32 = 256;
let nets: usize = 0;
let netCount: i32 = 0;
let v4Nets: usize = 0;
let v4Count: i32 = 0;

/** Reserve the lists (once, at init). */
export function localNetsInit(): bool {
  if (nets != 0) return true;
  nets = reserve(<usize>MAX_NETS * 32);
  v4Nets = reserve(<usize>MAX_NETS * 8);
  return nets != 0 && v4Nets != 0;
}

/** Forget every network (the list is being set again). */
export function clearNets(): void { netCount = 0; v4Count = 0; }

/** Add a local network from src: 16-byte network then 16-byte mask. Returns 0, or -1 when the list is full. */
export function addNet(src: usize): i32 {
  if (nets == 0 || netCount >= MAX_NETS) return -1;
  memory.copy(nets + <usize>netCount * 32, src, 32);
  netCount++;
  // an IPv4 prefix (v4-mapped, mask covering the ::ffff part) also joins the 32-bit list
  if (load<u8>(src + 16 + 10) == 0xff && load<u8>(src + 16 + 11) == 0xff && load<u8>(src + 10) == 0xff) {
    store<u32>(v4Nets + <usize>v4Count * 8, bswap<u32>(load<u32>(src + 12)));
    store<u32>(v4Nets + <usize>v4Count * 8 + 4, bswap<u32>(load<u32>(src + 16 + 12)));
    v4Count++;
  }
  return 0;
}

/** Is the 16-byte address at a in a local network? (LocalNets.contains) */
export function isLocal(a: usize): bool {
  if (load<u64>(a) == 0 && load<u16>(a + 8) == 0 && load<u16>(a + 10) == 0xffff) {
    const w = bswap<u32>(load<u32>(a + 12));
    for (let i = 0; i < v4Count; i++) {
      const q = v4Nets + <usize>i * 8;
      if ((w & load<u32>(q + 4)) == load<u32>(q)) return true;
    }
    return false;
  }
  for (let i = 0; i < netCount; i++) {
    const q = nets + <usize>i * 32;
    if ((load<u64>(a) & load<u64>(q + 16)) == load<u64>(q) && (load<u64>(a + 8) & load<u64>(q + 24)) == load<u64>(q + 8)) return true;
  }
  return false;
}
