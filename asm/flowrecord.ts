// Layout of one flow record in the output region (and of one flow event in
// the input region: flow-record sources hand the core records of this shape). Flows leave the core in
// batches: the core appends records here, JS reads them all through one
// DataView after the call returns, then clears the region. Mirrored by
// sensor/core/flow-record.ts (test/core-layout.test.ts checks the two agree).
//
// Counters are f64 so JS reads exact integers (< 2^53) without i64/BigInt.

export const REC_SIZE: i32 = 224;

export const R_TS: i32 = 0;              // f64 first packet time (s)
export const R_LAST_TS: i32 = 8;         // f64 last packet time (s)
export const R_ORIG_BYTES: i32 = 16;     // f64 originator payload bytes (Zeek orig_bytes)
export const R_RESP_BYTES: i32 = 24;     // f64
export const R_ORIG_IP_BYTES: i32 = 32;  // f64 sum of IP lengths from the originator
export const R_RESP_IP_BYTES: i32 = 40;  // f64
export const R_ORIG_WIRE_BYTES: i32 = 48;// f64 sum of on-the-wire frame lengths
export const R_RESP_WIRE_BYTES: i32 = 56;// f64
export const R_ORIG_PKTS: i32 = 64;      // f64
export const R_RESP_PKTS: i32 = 72;      // f64
export const R_SERIAL: i32 = 80;         // f64 flow serial number, unique per core instance (interim and final records share it)
export const R_MISSED_BYTES: i32 = 88;   // f64 bytes in sequence gaps (TCP)
export const R_ORIG_H: i32 = 96;         // 16 bytes, IPv4 v4-mapped
export const R_RESP_H: i32 = 112;        // 16 bytes
export const R_ORIG_P: i32 = 128;        // u16 (ICMP: type)
export const R_RESP_P: i32 = 130;        // u16 (ICMP: code)
export const R_PROTO: i32 = 132;         // u8 IP protocol number
export const R_IP_VERSION: i32 = 133;    // u8 4 or 6
export const R_CONN_STATE: i32 = 134;    // u8 CS_* below
export const R_FLAGS: i32 = 135;         // u8 RF_* below
export const R_VLAN: i32 = 136;          // u16, 0xFFFF none
export const R_INNER_VLAN: i32 = 138;    // u16, 0xFFFF none
export const R_TUNNEL_ID: i32 = 140;     // u32
export const R_TUNNEL_TYPE: i32 = 144;   // u8 TUNNEL_* (packet.ts)
export const R_HISTORY_LEN: i32 = 145;   // u8
export const R_ORIG_MAC: i32 = 146;      // 6 bytes (valid when RF_HAS_MAC)
export const R_RESP_MAC: i32 = 152;      // 6 bytes
export const R_HISTORY: i32 = 160;       // up to HISTORY_MAX ASCII bytes
export const HISTORY_MAX: i32 = 24;
export const R_INTERFACE: i32 = 184;     // u32 capture interface of the first packet
export const R_END_REASON: i32 = 188;    // u8 END_* below
// Flow-record sources (flow logs, NetFlow, Zeek): zero on packet-path records.
export const R_SOURCE: i32 = 189;        // u8 SRC_* below (0 = packets)
export const R_ACTION: i32 = 190;        // u8 0 none, 1 accept, 2 reject
export const R_DIRECTION: i32 = 191;     // u8 0 unknown, 1 ingress, 2 egress (relative to the reporter)
export const R_REPORTER: i32 = 192;      // u32 interned reporter id (JS keeps the names), 0 none
export const R_SAMPLING: i32 = 196;      // u32 1-in-N sampling already applied to the counts (0/1 = none)
export const R_ORIG_TCP_FLAGS: i32 = 200;// u8 OR of TCP flags from the originator
export const R_RESP_TCP_FLAGS: i32 = 201;// u8
export const R_SOURCE_FLAGS: i32 = 202;  // u8 SF_* below
export const R_RECORDS: i32 = 204;       // u32 source records merged into this one
export const R_REPORTER_2: i32 = 208;    // u32 a second reporter that saw the flow (pairing, dedup)
// 212..223 reserved (zero)

// conn_state codes, Zeek's names in this order (sensor/core/flow-record.ts).
export const CS_S0: u8 = 0;
export const CS_S1: u8 = 1;
export const CS_SF: u8 = 2;
export const CS_REJ: u8 = 3;
export const CS_S2: u8 = 4;
export const CS_S3: u8 = 5;
export const CS_RSTO: u8 = 6;
export const CS_RSTR: u8 = 7;
export const CS_RSTOS0: u8 = 8;
export const CS_RSTRH: u8 = 9;
export const CS_SH: u8 = 10;
export const CS_SHR: u8 = 11;
export const CS_OTH: u8 = 12;

// Record flags.
export const RF_INTERIM: u8 = 1;     // flow still open: an interim record on the active timeout
export const RF_HAS_MAC: u8 = 2;     // orig/resp MACs valid
export const RF_FLIPPED: u8 = 4;     // originator decided against the first packet's direction (Zeek history '^')

// Source flags.
export const SF_BIDIR: u8 = 1;       // resp counters came from the source itself
export const SF_PAIRED: u8 = 2;      // joined from records of both directions
export const SF_DEDUPED: u8 = 4;     // another reporter's copy of the same traffic was dropped
export const SF_LATE: u8 = 8;        // arrived after the lateness window: emitted unmerged
export const SF_STATED: u8 = 16;     // conn_state was given by the source (Zeek), not derived
export const SF_NO_ICMP_TYPE: u8 = 32; // ICMP without type/code (AWS, Azure, GCP log 0/0): not keyed as echo reply

// Why the record was written.
export const END_INACTIVE: u8 = 0;   // inactivity timeout
export const END_CLOSED: u8 = 1;     // TCP close (FIN both ways / RST) plus close delay
export const END_EVICTED: u8 = 2;    // table full
export const END_FLUSHED: u8 = 3;    // end of input
export const END_ACTIVE_TIMEOUT: u8 = 4; // interim record, flow goes on
export const END_REUSED: u8 = 5;     // a new connection reused the 5-tuple of a closed flow

// Where a record came from (sensor/flowlogs/flow-event.ts SOURCES, same order).
export const SRC_PACKETS: u8 = 0;
export const SRC_AWS_VPC: u8 = 1;
export const SRC_AZURE_VNET: u8 = 2;
export const SRC_AZURE_NSG: u8 = 3;
export const SRC_GCP_VPC: u8 = 4;
export const SRC_NETFLOW_V5: u8 = 5;
export const SRC_NETFLOW_V9: u8 = 6;
export const SRC_IPFIX: u8 = 7;
export const SRC_SFLOW: u8 = 8;
export const SRC_ZEEK_CONN: u8 = 9;

/**
 * The largest counter a record carries (2^53 - 1): beyond it an f64 no longer
 * holds every integer, and the JSON writers (asm/json/out.ts putCount and
 * JavaScript's String) would disagree on its digits. Flow-record sources
 * reject larger counts; the merger saturates sums here.
 */
export const MAX_COUNT: f64 = 9007199254740991;
