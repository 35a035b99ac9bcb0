// Zeek's per-endpoint TCP analysis, reduced to what conn.log depends on.
//
// A port of TCPSessionAdapter::Process() / TCPAnalyzer::DeliverPacket()
// (zeek/src/packet_analysis/protocol/tcp/) and TCP_Endpoint:
//   init_endpoint, get_relative_seq, update_history, update_window (zero
//   window 'W'), SetLastTime, init_peer / update_ack_seq, update_last_seq
//   (retransmission 'T'), UpdateStateMachine (Inactive / SYN_Sent /
//   Established / Closed / Reset), ConnectionClosed (did_close,
//   close_complete), TCP_Endpoint::Size() and conn_state().
// Not ported: checksums ('C'), reassembly and content gaps ('G',
// missed_bytes), window scaling/recision weirds, events.
//
// Sequence arithmetic is u32 with Zeek's wrap counters; deltas are the i32
// difference (seq_delta), so everything is wrap-safe.
import {
  T_START, T_LAST, T_ACK, T_SEQ_WRAPS, T_ACK_WRAPS, T_HIST_SYN, T_HIST_FIN, T_HIST_RST,
  T_RXMT_CNT, T_WIN0_CNT, T_STATE, T_PREV, T_FLAGS, T_EXPS, E_LAST_TS,
  TCP_INACTIVE, TCP_SYN_SENT, TCP_SYN_ACK_SENT, TCP_PARTIAL, TCP_ESTABLISHED, TCP_CLOSED, TCP_RESET,
  TF_DID_CLOSE, TF_FIN_SEEN,
} from "./flowentry";
import {
  checkHistory, addHistoryDir, scaledHistory, historyIsRstOS0,
  HIST_SYN_PKT, HIST_FIN_PKT, HIST_RST_PKT, HIST_FIN_RST_PKT, HIST_DATA_PKT, HIST_ACK_PKT, HIST_MULTI_FLAG_PKT,
} from "./history";
import { CS_S0, CS_S1, CS_SF, CS_REJ, CS_S2, CS_S3, CS_RSTO, CS_RSTR, CS_RSTOS0, CS_RSTRH, CS_SH, CS_SHR, CS_OTH } from "./flowrecord";

const TH_FIN: u32 = 0x01;
const TH_SYN: u32 = 0x02;
const TH_RST: u32 = 0x04;
const TH_ACK: u32 = 0x10;
const TOO_LARGE_SEQ_DELTA: i32 = 1048576;

/** Actions for the flow table, returned by tcpPacket(). */
export const ACT_FLIP: u32 = 1;         // SYN / SYN-ACK reversal: Conn::FlipRoles()
export const ACT_ARM_ATTEMPT: u32 = 2;  // originator SYN from INACTIVE: tcp_attempt_delay timer
export const ACT_CLOSE: u32 = 4;        // close_complete: tcp_close_delay timer

// @ts-ignore: decorator
@inline function setState(ep: usize, s: u8): void {
  const cur = load<u8>(ep + T_STATE);
  if (cur != s) {
    store<u8>(ep + T_PREV, cur);
    store<u8>(ep + T_STATE, s);
  }
}

// @ts-ignore: decorator
@inline function initSeqs(ep: usize, start: u32, last: u32): void {
  store<u32>(ep + T_START, start);
  store<u32>(ep + T_ACK, start);
  store<u32>(ep + T_LAST, last);
}

// @ts-ignore: decorator
@inline function updateLastSeq(ep: usize, s: u32): void {
  if (s < load<u32>(ep + T_LAST)) store<u16>(ep + T_SEQ_WRAPS, load<u16>(ep + T_SEQ_WRAPS) + 1);
  store<u32>(ep + T_LAST, s);
}

/**
 * Account one TCP segment from endpoint E (peer P) of entry e. Packet fields
 * come from the caller (packet.ts globals). Returns ACT_* bits.
 */
// @ts-ignore: decorator
@inline export function tcpPacket(e: usize, E: usize, P: usize, isOrig: bool, ts: f64,
                                  flags: u32, base: u32, ackSeq: u32, len: u32, window: u32): u32 {
  const syn = (flags & TH_SYN) != 0;
  const fin = (flags & TH_FIN) != 0;
  const rst = (flags & TH_RST) != 0;
  const ack = (flags & TH_ACK) != 0;

  let segLen = len;
  if (syn) segLen++;
  if (fin) segLen++;
  if (rst) segLen -= len;
  const onePast = base + segLen;

  // init_endpoint()
  const est = load<u8>(E + T_STATE);
  if (est == TCP_INACTIVE) {
    if (syn) initSeqs(E, base, onePast);
    else initSeqs(E, base - 1, base); // partial: as though a SYN had been seen
  } else if (est == TCP_SYN_SENT || est == TCP_SYN_ACK_SENT) {
    if (syn && base != load<u32>(E + T_START)) initSeqs(E, base, onePast); // SYN_seq_jump
  } else if (est == TCP_ESTABLISHED || est == TCP_PARTIAL) {
    if (syn) initSeqs(E, base, onePast);
  } else if (est == TCP_RESET) {
    if (syn && load<u8>(E + T_PREV) == TCP_INACTIVE) initSeqs(E, base, onePast);
  }
  const start = load<u32>(E + T_START);
  const rel = base - start; // get_relative_seq(), modulo 2^32 (only compared for equality)

  // update_history()
  const bits = (syn ? 1 : 0) + (fin ? 1 : 0) + (rst ? 1 : 0);
  if (bits > 1) {
    if (fin && rst) checkHistory(e, HIST_FIN_RST_PKT, 0x49 /* I */, isOrig);
    else checkHistory(e, HIST_MULTI_FLAG_PKT, 0x51 /* Q */, isOrig);
  } else if (bits == 1) {
    if (syn) {
      const code: u32 = ack ? 0x48 /* H */ : 0x53 /* S */;
      if (checkHistory(e, HIST_SYN_PKT, code, isOrig) && rel != load<u32>(E + T_HIST_SYN)) addHistoryDir(e, code, isOrig);
      store<u32>(E + T_HIST_SYN, rel);
    } else if (fin) {
      // The FIN's sequence number comes after any data in the packet.
      const fs = rel + len;
      if (checkHistory(e, HIST_FIN_PKT, 0x46 /* F */, isOrig) && fs != load<u32>(E + T_HIST_FIN)) addHistoryDir(e, 0x46, isOrig);
      store<u32>(E + T_HIST_FIN, fs);
    } else {
      if (checkHistory(e, HIST_RST_PKT, 0x52 /* R */, isOrig) && rel != load<u32>(E + T_HIST_RST)) addHistoryDir(e, 0x52, isOrig);
      store<u32>(E + T_HIST_RST, rel);
    }
  } else {
    if (len != 0) checkHistory(e, HIST_DATA_PKT, 0x44 /* D */, isOrig);
    else if (ack) checkHistory(e, HIST_ACK_PKT, 0x41 /* A */, isOrig);
  }

  // update_window(): only the zero-window history letter matters for conn.log.
  const pst = load<u8>(P + T_STATE);
  if (window == 0 && !rst && pst != TCP_CLOSED && est != TCP_RESET) {
    scaledHistory(e, E + T_WIN0_CNT, E + T_EXPS, 4, 0x57 /* W */, isOrig);
  }

  // Last packet time. (Zeek's Connection::SetLastTime() skips packets once
  // both sides have closed, so its conn.log duration leaves out e.g. the final
  // ACK; flowrecord.ts defines R_LAST_TS as the last packet's time, so every
  // packet counts here.)
  if (ts > load<f64>(e + E_LAST_TS)) store<f64>(e + E_LAST_TS, ts);

  if (fin) store<u8>(E + T_FLAGS, load<u8>(E + T_FLAGS) | TF_FIN_SEEN);

  // ACK processing: init_peer() / update_ack_seq().
  if (ack) {
    if (pst == TCP_INACTIVE) {
      const a = ackSeq - 1;
      initSeqs(P, a, a);
    } else if (!rst) {
      const pAck = load<u32>(P + T_ACK);
      const d = <i32>(ackSeq - pAck);
      let w = <u32>load<u16>(P + T_ACK_WRAPS);
      if (d < 0) { if (w != 0 && ackSeq > pAck) w--; }
      else if (d > 0) { if (ackSeq < pAck) w++; }
      const underflow = w == 0 && <i32>(ackSeq - load<u32>(P + T_START)) < 0;
      if (!underflow && d > 0 && !(ackSeq == 0 && d > TOO_LARGE_SEQ_DELTA)) {
        if (ackSeq < pAck) store<u16>(P + T_ACK_WRAPS, load<u16>(P + T_ACK_WRAPS) + 1);
        store<u32>(P + T_ACK, ackSeq);
      }
    }
  }

  // update_last_seq()
  const last = load<u32>(E + T_LAST);
  const dl = <i32>(onePast - last);
  if ((syn || rst) && (dl > TOO_LARGE_SEQ_DELTA || dl < -TOO_LARGE_SEQ_DELTA)) {
    // untrusted sequence number
  } else if (fin && last == start + 1) {
    updateLastSeq(E, onePast); // only SYN and FIN seen: trust the FIN (> 2 GB connections)
  } else if (est == TCP_RESET) {
    // don't trust sequence numbers after a RST
  } else if (dl > 0) {
    updateLastSeq(E, onePast);
  } else if (len != 0) {
    scaledHistory(e, E + T_RXMT_CNT, E + T_EXPS, 0, 0x54 /* T */, isOrig);
  }

  // UpdateStateMachine()
  let act: u32 = 0;
  let doClose = false;
  if (est == TCP_INACTIVE) {
    if (syn) {
      if (isOrig) {
        setState(E, ack ? TCP_SYN_ACK_SENT : TCP_SYN_SENT);
        act |= ACT_ARM_ATTEMPT;
      } else {
        let ps = load<u8>(P + T_STATE);
        if (!ack && ps == TCP_SYN_ACK_SENT) {
          // SYN/SYN-ACK reversal (the SYN-ACK was seen first): flip and establish.
          act |= ACT_FLIP;
          setState(P, TCP_ESTABLISHED);
          ps = TCP_ESTABLISHED;
        }
        if (ps == TCP_SYN_SENT) setState(P, TCP_ESTABLISHED);
        setState(E, TCP_ESTABLISHED);
      }
    }
    if (fin) { setState(E, TCP_CLOSED); doClose = true; }
    if (rst) { setState(E, TCP_RESET); doClose = true; }
    if (load<u8>(E + T_STATE) == TCP_INACTIVE) { // no control flags changed the state
      if (!isOrig && len == 0 && load<u8>(P + T_STATE) == TCP_SYN_SENT) {
        // an ack of the initial SYN before the SYN-ACK: not a partial connection yet
      } else if (ack && load<u8>(P + T_STATE) == TCP_ESTABLISHED) {
        setState(E, TCP_ESTABLISHED); // missed the SYN, saw the SYN-ACK: establish
      } else {
        setState(E, TCP_PARTIAL);
      }
    }
  } else if (est == TCP_SYN_SENT || est == TCP_SYN_ACK_SENT) {
    if (fin) { setState(E, TCP_CLOSED); doClose = true; }
    if (rst) { setState(E, TCP_RESET); doClose = true; }
  } else if (est == TCP_ESTABLISHED || est == TCP_PARTIAL) {
    if (syn && est == TCP_PARTIAL && load<u8>(P + T_STATE) == TCP_INACTIVE && !ack) setState(E, TCP_SYN_SENT);
    if (fin && !rst) {
      setState(E, TCP_CLOSED);
      if (load<u8>(P + T_STATE) == TCP_RESET && load<u8>(P + T_PREV) == TCP_CLOSED) setState(P, TCP_CLOSED);
      doClose = true;
    }
    if (rst) { setState(E, TCP_RESET); doClose = true; }
  } else if (est == TCP_CLOSED) {
    if (rst && load<u8>(P + T_STATE) != TCP_CLOSED) {
      setState(E, TCP_RESET);
      if ((load<u8>(E + T_FLAGS) & TF_DID_CLOSE) == 0) doClose = true;
    }
  }

  // ConnectionClosed()
  if (doClose) {
    const ef = load<u8>(E + T_FLAGS);
    if ((ef & TF_DID_CLOSE) == 0) {
      store<u8>(E + T_FLAGS, ef | TF_DID_CLOSE);
      if (load<u8>(E + T_STATE) == TCP_RESET || (load<u8>(P + T_FLAGS) & TF_DID_CLOSE) != 0 ||
          load<u8>(P + T_STATE) == TCP_INACTIVE) act |= ACT_CLOSE;
    }
  }
  return act;
}

/**
 * Zeek's TCP SessionAdapter::IsReuse() for a SYN on an existing connection:
 * O/R are the originator's and responder's endpoints. A new SYN is a new
 * connection when the old one has closed on either side, or when its
 * sequence number is not the one the connection started with.
 */
export function tcpIsReuse(O: usize, R: usize, flags: u32, base: u32): bool {
  let C = O;
  if ((flags & TH_ACK) != 0) {
    if (load<u8>(O + T_STATE) != TCP_INACTIVE) return false; // not a half connection
    C = R;
  }
  const closed = ((load<u8>(O + T_FLAGS) | load<u8>(R + T_FLAGS)) & TF_DID_CLOSE) != 0;
  if (!closed) {
    if (base == load<u32>(C + T_START)) return false;
    if ((flags & TH_ACK) == 0 && load<u8>(C + T_STATE) == TCP_SYN_ACK_SENT &&
        load<u8>(R + T_STATE) == TCP_INACTIVE && base == load<u32>(R + T_START)) return false; // SYN after its SYN-ACK
  }
  return true;
}

/** TCP_Endpoint::Size(): payload bytes from sequence numbers (excluding SYN and FIN). */
export function tcpSize(E: usize, P: usize): u64 {
  const start = <u64>load<u32>(E + T_START);
  const ack64 = (<u64>load<u16>(E + T_ACK_WRAPS) << 32) | <u64>load<u32>(E + T_ACK);
  if (load<u8>(E + T_PREV) == TCP_SYN_SENT && load<u8>(E + T_STATE) == TCP_RESET &&
      load<u8>(P + T_STATE) == TCP_INACTIVE && ack64 != start && ack64 != start + 1) {
    return 0; // a half-open connection discovered and aborted
  }
  const last64 = (<u64>load<u16>(E + T_SEQ_WRAPS) << 32) | <u64>load<u32>(E + T_LAST);
  const top = last64 > ack64 ? last64 : ack64;
  if (top <= start) return 0; // (Zeek would underflow here)
  let size = top - start;
  size--;                                                    // the SYN octet
  if ((load<u8>(E + T_FLAGS) & TF_FIN_SEEN) != 0 && size != 0) size--; // the FIN octet
  return size;
}

/** conn_state() of scripts/base/protocols/conn/main.zeek for TCP. O/R: originator/responder endpoints. */
export function tcpConnState(e: usize, O: usize, R: usize): u8 {
  const os = load<u8>(O + T_STATE);
  const rs = load<u8>(R + T_STATE);
  const oInactive = os == TCP_INACTIVE || os == TCP_PARTIAL;
  const rInactive = rs == TCP_INACTIVE || rs == TCP_PARTIAL;
  if (rs == TCP_RESET) {
    if (os == TCP_SYN_SENT || os == TCP_SYN_ACK_SENT ||
        (os == TCP_RESET && tcpSize(O, R) == 0 && tcpSize(R, O) == 0)) return CS_REJ;
    return oInactive ? CS_RSTRH : CS_RSTR;
  }
  if (os == TCP_RESET) {
    if (rInactive) return historyIsRstOS0(e) ? CS_RSTOS0 : CS_OTH;
    return CS_RSTO;
  }
  if (rs == TCP_CLOSED && os == TCP_CLOSED) return CS_SF;
  if (os == TCP_CLOSED) return rInactive ? CS_SH : CS_S2;
  if (rs == TCP_CLOSED) return oInactive ? CS_SHR : CS_S3;
  if (os == TCP_SYN_SENT && rs == TCP_INACTIVE) return CS_S0;
  if (os == TCP_ESTABLISHED && rs == TCP_ESTABLISHED) return CS_S1;
  return CS_OTH;
}

/** True while the connection is an unanswered attempt (Zeek's AttemptTimer condition). */
// @ts-ignore: decorator
@inline export function tcpIsAttempt(O: usize, R: usize): bool {
  const os = load<u8>(O + T_STATE);
  return (os == TCP_SYN_SENT || os == TCP_SYN_ACK_SENT) && load<u8>(R + T_STATE) == TCP_INACTIVE;
}

/** Either side closed and either side reset: Zeek removes these after tcp_reset_delay / via ExpireTimer. */
// @ts-ignore: decorator
@inline export function tcpResetAfterClose(A: usize, B: usize): bool {
  return ((load<u8>(A + T_FLAGS) | load<u8>(B + T_FLAGS)) & TF_DID_CLOSE) != 0 &&
         (load<u8>(A + T_STATE) == TCP_RESET || load<u8>(B + T_STATE) == TCP_RESET);
}
