// Zeek connection history (the conn.log `history` field) on a flow entry.
//
// Mirrors zeek/src/Conn.h: CheckHistory() adds a letter the first time its
// mask bit is seen (originator letters upper case, responder lower case; the
// responder's mask is shifted by 16), ScaledHistoryEntry() repeats a letter
// at counts 1, 10, 100, ... ('T', 'W' here). The history is capped at
// HISTORY_MAX letters (Zeek's is unbounded; longer ones are cut).
import { E_HIST_LEN, E_HISTORY, E_HIST_SEEN } from "./flowentry";
import { HISTORY_MAX } from "./flowrecord";

// TCP_Endpoint history masks (zeek/src/analyzer/protocol/tcp/TCP_Endpoint.h).
export const HIST_SYN_PKT: u32 = 0x1;
export const HIST_FIN_PKT: u32 = 0x2;
export const HIST_RST_PKT: u32 = 0x4;
export const HIST_FIN_RST_PKT: u32 = 0x8;
export const HIST_DATA_PKT: u32 = 0x10;
export const HIST_ACK_PKT: u32 = 0x20;
export const HIST_MULTI_FLAG_PKT: u32 = 0x40;
// UDP (zeek/src/packet_analysis/protocol/udp/UDP.cc): not shifted, explicit letters.
export const HIST_ORIG_DATA_PKT: u32 = 0x1;
export const HIST_RESP_DATA_PKT: u32 = 0x2;

const POW10: usize = memory.data<u32>([1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000]);

// @ts-ignore: decorator
@inline export function addHistory(e: usize, code: u32): void {
  const n = <i32>load<u8>(e + E_HIST_LEN);
  if (n < HISTORY_MAX) {
    store<u8>(e + E_HISTORY + <usize>n, <u8>code);
    store<u8>(e + E_HIST_LEN, <u8>(n + 1));
  }
}

/** Raw Connection::CheckHistory: true if `mask` was already seen, else records `code` and returns false. */
// @ts-ignore: decorator
@inline export function checkHistoryRaw(e: usize, mask: u32, code: u32): bool {
  const seen = load<u32>(e + E_HIST_SEEN);
  if ((seen & mask) == 0) {
    store<u32>(e + E_HIST_SEEN, seen | mask);
    addHistory(e, code);
    return false;
  }
  return true;
}

/** TCP_Endpoint::CheckHistory: responder letters are lower case and use the upper 16 mask bits. */
// @ts-ignore: decorator
@inline export function checkHistory(e: usize, mask: u32, code: u32, isOrig: bool): bool {
  return isOrig ? checkHistoryRaw(e, mask, code) : checkHistoryRaw(e, mask << 16, code | 0x20);
}

/** TCP_Endpoint::AddHistory. */
// @ts-ignore: decorator
@inline export function addHistoryDir(e: usize, code: u32, isOrig: bool): void {
  addHistory(e, isOrig ? code : code | 0x20);
}

/**
 * Connection::ScaledHistoryEntry with base 10: the counter (u32 at cntPtr)
 * is incremented; when it reaches 10^exp the letter is added and exp grows.
 * The exponent is a nibble of the byte at expPtr (bit `shift`).
 */
// @ts-ignore: decorator
@inline export function scaledHistory(e: usize, cntPtr: usize, expPtr: usize, shift: u32, code: u32, isOrig: bool): void {
  const cnt = load<u32>(cntPtr) + 1;
  const eb = <u32>load<u8>(expPtr);
  const ex = (eb >> shift) & 0xF;
  if (cnt == load<u32>(POW10 + (<usize>ex << 2))) {
    addHistory(e, isOrig ? code : code | 0x20);
    if (ex < 9) {
      store<u8>(expPtr, <u8>((eb & ~(<u32>0xF << shift)) | ((ex + 1) << shift)));
      store<u32>(cntPtr, cnt);
    } else {
      store<u32>(cntPtr, 0); // Zeek resets the counter when the threshold would overflow
    }
  } else {
    store<u32>(cntPtr, cnt);
  }
}

/** conn_state()'s RSTOS0 test: history == /\^?S[^HAFGIQ]*R.*​/ (whole-string match). */
export function historyIsRstOS0(e: usize): bool {
  const n = <usize>load<u8>(e + E_HIST_LEN);
  const h = e + E_HISTORY;
  let i: usize = 0;
  if (i < n && load<u8>(h) == 0x5E /* ^ */) i++;
  if (i >= n || load<u8>(h + i) != 0x53 /* S */) return false;
  i++;
  for (; i < n; i++) {
    const c = load<u8>(h + i);
    if (c == 0x52 /* R */) return true;
    if (c == 0x48 || c == 0x41 || c == 0x46 || c == 0x47 || c == 0x49 || c == 0x51) return false; // H A F G I Q
  }
  return false;
}
