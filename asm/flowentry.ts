// Layout of one flow-table entry (flows.ts owns the table; tcpstate.ts and
// history.ts work on single entries). One entry = ENTRY_SIZE bytes in a slab
// allocated once by flowsInit(); fields are read and written with load/store
// at the constant offsets below, never through objects.
//
// The key is canonical: side A is the (address, port) pair that sorts lower,
// side B the other one, so both directions of a connection hit the same entry.
// Everything that belongs to one endpoint is stored per *side* (A/B), not per
// role: the originator is side (F_ORIG_B ? B : A). Zeek's FlipRoles() is thus
// a single bit flip, and the counters follow the roles automatically.
//
//  off size field
//  --- ---- ---------------------------------------------------------------
//    0  16  E_ADDR_A     side A address (IPv4 v4-mapped)            \
//   16  16  E_ADDR_B     side B address                             |
//   32   2  E_PORT_A     side A port (ICMP: type or counterpart)    |  key:
//   34   2  E_PORT_B     side B port (ICMP: counterpart or code)    |  compared
//   36   2  E_VLAN       outer VLAN id (0xFFFF none)                |  as 4 u64
//   38   1  E_PROTO      IP protocol                                |  + 3 u32
//   39   1  E_TUNB       tunnel type | KB_NO_PORTS | KB_ONE_WAY    |
//   40   4  E_TUNID      tunnel id (VNI, GRE key, ...)              /
//   44   4  E_HASH       full 32-bit key hash (home slot on deletion)
//   48   4  E_PREV       timeout list links (entry index, NIL = none)
//   52   4  E_NEXT       ... also the free-list link
//   56   8  E_DEADLINE   f64 deadline this entry is filed under in its list
//   64   8  E_LAST_TS    f64 last packet time
//   72   8  E_START      f64 capture clock when the flow was created
//   80   4  E_HIST_SEEN  Zeek's hist_seen mask (orig bits 0-15, resp bits 16-31)
//   84   4  E_INTERIMS   interim records written so far (active timeout)
//   88   1  E_LIST       which timeout list (L_*), L_NONE when unlinked
//   89   1  E_HIST_LEN
//   90   1  E_FLAGS      F_* below
//   91   1  E_KIND       K_TCP / K_UDP / K_ICMP / K_OTHER
//   92   1  E_IPVER      4 or 6
//   93   3  (pad)
//   96  24  E_HISTORY    Zeek history letters (HISTORY_MAX)
//  120   8  E_TOUCH      f64 capture clock at the flow's latest packet
//  128  64  side A block (S_* offsets below)
//  192  64  side B block
//  256      ENTRY_SIZE: 4 cache lines, entries 64-byte aligned
//
// Side block (S_*), 64 bytes:
//    0   8  S_PKTS       u64 packets sent by this side
//    8   8  S_IP_BYTES   u64 sum of IP lengths
//   16   8  S_WIRE_BYTES u64 sum of frame lengths
//   24   8  S_PAYLOAD    u64 payload bytes (UDP/ICMP/other only; TCP overlays below)
//   --- TCP endpoint (Zeek's TCP_Endpoint, the fields conn.log depends on) ---
//   24   4  T_START      start_seq (ISN, or seq-1 for partial connections)
//   28   4  T_LAST       last_seq (highest seq+len seen, u32)
//   32   4  T_ACK        ack_seq (highest ack received from the peer)
//   36   2  T_SEQ_WRAPS
//   38   2  T_ACK_WRAPS
//   40   4  T_HIST_SYN   hist_last_SYN (relative seq, u32)
//   44   4  T_HIST_FIN   hist_last_FIN
//   48   4  T_HIST_RST   hist_last_RST
//   52   4  T_RXMT_CNT   retransmissions (history 'T', scaled 1, 10, 100 ...)
//   56   4  T_WIN0_CNT   zero windows (history 'W', scaled)
//   60   1  T_STATE      TCP_ENDPOINT_* state
//   61   1  T_PREV       prev_state
//   62   1  T_FLAGS      TF_DID_CLOSE | TF_FIN_SEEN
//   63   1  T_EXPS       next scaling exponent: rxmt low nibble, win0 high nibble
//
// Cold part, a parallel array of COLD_SIZE bytes per entry (written when the
// flow is created, read when its record is written; never per packet):
//    0   8  C_SERIAL     f64 flow serial number
//    8   8  C_FIRST_TS   f64 first packet time
//   16   4  C_IFACE      capture interface of the first packet
//   20   2  C_INNER_VLAN
//   22   6  C_MAC_A      MAC of side A (Zeek: the first packet's source MAC goes to its sender)
//   28   6  C_MAC_B      MAC of side B
//   34   1  C_SOURCE     SRC_* of the first packet (sFlow samples: SRC_SFLOW)
//   35   1  (pad)
//   36   4  C_SAMPLING   1-in-N sampling of the first packet (0: not sampled)
//
// Times: records carry the packets' own timestamps (C_FIRST_TS, E_LAST_TS);
// expiry runs on the capture clock (the latest time seen, never backwards:
// E_START, E_TOUCH, E_DEADLINE), so a capture whose timestamps jump back
// does not make every packet of the earlier stretch look long expired.
//
// Memory per flow: 256 B entry + 40 B cold + 8 B hash table (2 u32 slots) = 304 B.

export const ENTRY_SIZE: usize = 256;
export const ENTRY_SHIFT: usize = 8;
export const COLD_SIZE: usize = 40;

export const E_ADDR_A: usize = 0;
export const E_ADDR_B: usize = 16;
export const E_PORT_A: usize = 32;
export const E_PORT_B: usize = 34;
export const E_PORTS: usize = 32;   // u32 view: port A | port B << 16
export const E_MISC: usize = 36;    // u32 view: vlan | proto << 16 | tunb << 24
export const E_VLAN: usize = 36;
export const E_PROTO: usize = 38;
export const E_TUNB: usize = 39;
export const E_TUNID: usize = 40;
export const E_HASH: usize = 44;
export const E_PREV: usize = 48;
export const E_NEXT: usize = 52;
export const E_DEADLINE: usize = 56;
export const E_LAST_TS: usize = 64;
export const E_START: usize = 72;
export const E_HIST_SEEN: usize = 80;
export const E_INTERIMS: usize = 84;
export const E_LIST: usize = 88;
export const E_HIST_LEN: usize = 89;
export const E_FLAGS: usize = 90;
export const E_KIND: usize = 91;
export const E_IPVER: usize = 92;
export const E_HISTORY: usize = 96;
export const E_TOUCH: usize = 120;
export const E_SIDE_A: usize = 128;
export const SIDE_SIZE: usize = 64;

export const C_SERIAL: usize = 0;
export const C_FIRST_TS: usize = 8;
export const C_IFACE: usize = 16;
export const C_INNER_VLAN: usize = 20;
export const C_MAC_A: usize = 22;
export const C_MAC_B: usize = 28;
export const C_SOURCE: usize = 34;
export const C_SAMPLING: usize = 36;

export const S_PKTS: usize = 0;
export const S_IP_BYTES: usize = 8;
export const S_WIRE_BYTES: usize = 16;
export const S_PAYLOAD: usize = 24;
export const T_START: usize = 24;
export const T_LAST: usize = 28;
export const T_ACK: usize = 32;
export const T_SEQ_WRAPS: usize = 36;
export const T_ACK_WRAPS: usize = 38;
export const T_HIST_SYN: usize = 40;
export const T_HIST_FIN: usize = 44;
export const T_HIST_RST: usize = 48;
export const T_RXMT_CNT: usize = 52;
export const T_WIN0_CNT: usize = 56;
export const T_STATE: usize = 60;
export const T_PREV: usize = 61;
export const T_FLAGS: usize = 62;
export const T_EXPS: usize = 63;

/** Key byte E_TUNB: low 4 bits tunnel type, plus these. */
export const KB_NO_PORTS: u32 = 0x40;  // address-only flow
export const KB_ONE_WAY: u32 = 0x80;   // one-way ICMP message type: key not canonicalised (as Zeek/Community ID)

/** E_FLAGS bits. */
export const F_ORIG_B: u8 = 1;        // originator is side B
export const F_FLIPPED: u8 = 2;       // roles were flipped (history '^')
export const F_HAS_MAC: u8 = 4;       // MACs valid
export const F_CLOSE_SCHED: u8 = 8;   // TCP close delay running (entry is on L_CLOSED)
export const F_ATTEMPT: u8 = 16;      // TCP attempt timer running (entry is on L_ATTEMPT)

/** E_KIND values; the first four are also the lazy timeout list numbers. */
export const K_TCP: u8 = 0;
export const K_UDP: u8 = 1;
export const K_ICMP: u8 = 2;
export const K_OTHER: u8 = 3;

/** Timeout lists. 0-4 are ordered by last activity, lazily (see flows.ts); 5-6 by a fixed deadline. */
export const L_TCP: u8 = 0;
export const L_UDP: u8 = 1;
export const L_ICMP: u8 = 2;
export const L_OTHER: u8 = 3;
export const L_DNS: u8 = 4;       // UDP to a DNS port: Zeek's DNS analyzer ends these after dns_session_timeout
export const L_ATTEMPT: u8 = 5;   // TCP SYN (or orig SYN-ACK) unanswered: Zeek's tcp_attempt_delay
export const L_CLOSED: u8 = 6;    // TCP closed (FIN both ways / RST / FIN + silent peer): tcp_close_delay
export const NUM_LISTS: u8 = 7;
export const L_NONE: u8 = 255;

export const NIL: u32 = 0xFFFFFFFF;

// Zeek's TCP endpoint states (scripts/base/init-bare.zeek TCP_*).
export const TCP_INACTIVE: u8 = 0;
export const TCP_SYN_SENT: u8 = 1;
export const TCP_SYN_ACK_SENT: u8 = 2;
export const TCP_PARTIAL: u8 = 3;
export const TCP_ESTABLISHED: u8 = 4;
export const TCP_CLOSED: u8 = 5;
export const TCP_RESET: u8 = 6;

export const TF_DID_CLOSE: u8 = 1;
export const TF_FIN_SEEN: u8 = 2;
