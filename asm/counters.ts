// Every counter the core keeps, one f64 slot each in a static array that JS
// reads directly (no call per counter, no i64 at the boundary).
//
// Naming is the contract with the JS side, which parses THIS FILE to learn
// the names (sensor/core/counters.ts), so there is one source of truth:
//   C_*  plain counts (packets, flows, skipped blocks ...)
//   E_*  errors in the input: each is counted, and the byte offset of its
//        first and latest occurrence is kept so the log can point at it.
// The trailing comment of each line is the human description used in logs.
// Ranges: capture 0-39, decode 40-119, flows 120-159, flow events 160-179,
// learning 180-199.
// Keep NUM_COUNTERS last.

// ---- capture (capture.ts): file and record framing ----
export const C_RECORDS: i32 = 0; // capture records read (packets, incl. undecodable ones)
export const C_CAPTURE_BYTES: i32 = 1; // bytes of capture file consumed
export const C_WIRE_BYTES: i32 = 2; // sum of on-the-wire packet lengths
export const C_CAPTURED_BYTES: i32 = 3; // sum of captured packet lengths
export const C_SNAP_TRUNCATED: i32 = 4; // packets captured shorter than on the wire (snaplen)
export const C_PCAPNG_SECTIONS: i32 = 5; // pcapng section header blocks
export const C_PCAPNG_INTERFACES: i32 = 6; // pcapng interface description blocks
export const C_PCAPNG_SKIPPED_BLOCKS: i32 = 7; // pcapng blocks skipped (statistics, name resolution, custom, unknown)
export const E_BAD_FILE_HEADER: i32 = 8; // file header unreadable (bad magic, too short)
export const E_TRUNCATED_RECORD: i32 = 9; // input ended inside a record or block
export const E_RECORD_TOO_LONG: i32 = 10; // record length exceeds snap length or the sane maximum
export const E_CAPLEN_GT_WIRELEN: i32 = 11; // captured length larger than the on-the-wire length
export const E_BAD_BLOCK: i32 = 12; // pcapng block with an impossible length or mismatched trailer
export const E_BAD_INTERFACE: i32 = 13; // pcapng packet refers to an interface that was never described
export const E_UNKNOWN_LINKTYPE: i32 = 14; // packet of a link type the decoder does not know
export const E_TIME_BACKWARDS: i32 = 15; // packet timestamp earlier than the previous one
export const E_BAD_TIMESTAMP: i32 = 16; // timestamp fraction out of range
export const E_RESYNC: i32 = 17; // framing lost; skipped bytes to the next plausible record
export const C_RESYNC_SKIPPED_BYTES: i32 = 18; // bytes skipped while resynchronising
export const E_TOO_MANY_INTERFACES: i32 = 19; // pcapng file describes more interfaces than the core tracks

// ---- decode (decode.ts, tunnels.ts, fragments.ts): link layer to transport ----
export const C_IPV4: i32 = 40; // IPv4 packets (innermost)
export const C_IPV6: i32 = 41; // IPv6 packets (innermost)
export const C_TCP: i32 = 42; // TCP segments
export const C_UDP: i32 = 43; // UDP datagrams
export const C_ICMP: i32 = 44; // ICMP and ICMPv6 messages
export const C_OTHER_TRANSPORT: i32 = 45; // other IP protocols (address-only flows)
export const C_NON_IP: i32 = 46; // frames that carry no IP (ARP, LLDP, STP, ...)
export const C_VLAN_TAGGED: i32 = 47; // frames with at least one 802.1Q/802.1ad tag
export const C_MPLS: i32 = 48; // frames with an MPLS label stack
export const C_PPPOE: i32 = 49; // PPPoE session frames
export const C_TUNNELLED: i32 = 50; // packets decapsulated from a tunnel (VXLAN, GENEVE, GRE, ERSPAN, IP-in-IP, Teredo, GTP)
export const C_FRAGMENTS: i32 = 51; // IP fragments
export const C_FRAGMENTS_HELD: i32 = 52; // fragments that arrived before their first fragment
export const E_LINK_TRUNCATED: i32 = 53; // link-layer header cut short
export const E_TOO_MANY_LAYERS: i32 = 54; // more VLAN tags, MPLS labels or tunnels than the decoder follows
export const E_IPV4_TRUNCATED: i32 = 55; // IPv4 header cut short
export const E_IPV4_BAD_HEADER: i32 = 56; // IPv4 header length or total length impossible
export const E_IPV6_TRUNCATED: i32 = 57; // IPv6 header cut short
export const E_IPV6_BAD_EXT: i32 = 58; // IPv6 extension header chain truncated or malformed
export const E_BAD_IP_VERSION: i32 = 59; // IP version nibble neither 4 nor 6
export const E_TCP_TRUNCATED: i32 = 60; // TCP header cut short or bad data offset
export const E_UDP_TRUNCATED: i32 = 61; // UDP header cut short
export const E_ICMP_TRUNCATED: i32 = 62; // ICMP header cut short
export const E_TUNNEL_TRUNCATED: i32 = 63; // tunnel header cut short or malformed
export const E_FRAG_TABLE_FULL: i32 = 64; // fragment table full: oldest entry evicted
export const E_FRAG_ORPHAN: i32 = 65; // fragments whose first fragment never came within 60 s: held, then dropped from flow accounting
export const E_SCTP_TRUNCATED: i32 = 66; // SCTP common header cut short
export const C_NON_FIRST_FRAGMENTS: i32 = 67; // later fragments attributed to their flow via the fragment table

// ---- flows (flows.ts): the flow table ----
export const C_FLOWS_CREATED: i32 = 120; // flows created
export const C_FLOWS_EXPIRED: i32 = 121; // flows ended by inactivity timeout
export const C_FLOWS_CLOSED: i32 = 122; // TCP flows ended after FIN/RST close
export const C_FLOWS_EVICTED: i32 = 123; // flows ended early because the table was full
export const C_FLOWS_FLUSHED: i32 = 124; // flows ended by end of input
export const C_INTERIM_RECORDS: i32 = 125; // interim records for long flows (active timeout)
export const C_FLOW_RECORDS: i32 = 126; // flow records emitted in total
export const C_FLOWS_ACTIVE: i32 = 127; // flows currently in the table (a gauge)
export const C_FLOWS_REUSED: i32 = 128; // a new TCP connection reused a closed flow's 5-tuple
export const C_FLOW_RECORDS_DROPPED: i32 = 129; // flow records lost because the output region was full (the caller ignored flowsReady)
export const C_FLOWS_FLIPPED: i32 = 130; // flows whose originator was decided against the first packet's direction (Zeek history '^')
export const C_FLOW_LONG_PROBES: i32 = 131; // flow inserts whose hash probe exceeded the bound (one flow of the cluster evicted)

// ---- flow events (flowevents.ts): records from flow logs, NetFlow, Zeek ----
export const C_EVENTS_IN: i32 = 160; // flow events received from flow-record sources
export const C_EVENTS_MERGED: i32 = 161; // events merged into a pending flow (a later interval or the other direction)
export const C_EVENTS_DEDUPED: i32 = 162; // events not counted: another reporter's copy of traffic already counted
export const C_EVENTS_LATE: i32 = 163; // events older than the lateness window: emitted on their own, unmerged
export const C_EVENT_FLOWS_EVICTED: i32 = 164; // pending flows emitted early because the event table was full
export const C_EVENT_FLOWS_ACTIVE: i32 = 165; // flows pending in the event table (a gauge)
export const E_BAD_EVENT: i32 = 166; // flow event with impossible values (address family, times or counts)
export const C_EVENT_FLOWS_PAIRED: i32 = 167; // flows joined from records of both directions
export const C_EVENT_FLOWS: i32 = 168; // flow records written from flow events

// ---- learning (learn/): pattern of life ----
export const C_LEARN_CONNS: i32 = 180; // connections learned (a local end: a device of ours)
export const C_LEARN_ENDS: i32 = 181; // finished flows learned
export const C_LEARN_NOT_LOCAL: i32 = 182; // connections with no end in the local networks (not learned)
export const C_LEARN_OBSERVATIONS: i32 = 183; // observations handed to the model engine (passed a model's filters)
export const C_LEARN_OBS_DROPPED: i32 = 184; // observations lost because the observation region was full
export const C_LEARN_DEVICES: i32 = 185; // devices in the device table (a gauge)
export const C_LEARN_DEVICE_EVICTIONS: i32 = 186; // devices forgotten to make room (table full)
export const C_LEARN_ENDPOINT_EVICTIONS: i32 = 187; // endpoints forgotten to make room
export const C_LEARN_PAIR_EVICTIONS: i32 = 188; // device-peer pairs forgotten to make room
export const C_LEARN_CHANNEL_EVICTIONS: i32 = 189; // device-peer-port channels forgotten to make room
export const C_LEARN_PORT_EVICTIONS: i32 = 190; // device client ports forgotten to make room
export const C_LEARN_BEACON_EVICTIONS: i32 = 191; // device-peer periodicity rings forgotten to make room
export const C_DNS_ANSWERS: i32 = 192; // DNS answers parsed on port 53 (learned when the asker is local)
export const C_DNS_QUERIES: i32 = 193; // DNS questions seen on port 53 (not learned: their answer carries them)
export const C_DNS_MALFORMED: i32 = 194; // port-53 payloads that are not a sound DNS message (or whose answers are not)
export const C_LEARN_DNS_EVICTIONS: i32 = 195; // DNS names (per asking device) forgotten to make room
export const C_LEARN_UNANSWERED: i32 = 197; // outside connections to local addresses that never answered (internet scans): not learned
export const C_DNS_UNSOLICITED: i32 = 196; // DNS answers sent by a flow's originator (no question went first): not learned
export const C_LEARN_LOG_DROPPED: i32 = 198; // learning-log entries not learned: a shipped log whose entry is malformed (its replay stops there), or an entry with no room (flowsReady keeps room)
export const C_LEARN_DNS_DOMAIN_EVICTIONS: i32 = 199; // DNS registered domains (per asking device) forgotten to make room
export const C_LEARN_DNS_ASKER_EVICTIONS: i32 = 200; // DNS askers (devices' NXDOMAIN rates, resolvers) forgotten to make room

export const NUM_COUNTERS: i32 = 208;
