// The decoded packet: the one hand-off between the decoders (decode.ts and
// friends) and the flow table (flows.ts). Plain module globals and two static
// 16-byte address slots, so decoding a packet allocates nothing.
//
// Contract: decodePacket() (decode.ts) fills these for every record; if it
// returns true, flows.ts consumes them via accountPacket(). Addresses are
// always 16 bytes: IPv4 is stored v4-mapped (::ffff:a.b.c.d) so one key
// layout serves both families; pkt_ip_version says which one it really is.

/** Capture time of the packet, seconds since the epoch (capture clock). */
export let pkt_ts: f64 = 0;
/** Length on the wire (pcap orig_len / pcapng original length). */
export let pkt_wire_len: u32 = 0;
/** Index of the capture interface (pcapng IDB index; 0 for classic pcap). */
export let pkt_interface: u32 = 0;

/** 4 or 6 for the innermost IP header that the flow is keyed on. */
export let pkt_ip_version: u8 = 0;
/** IP protocol number of the innermost transport (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 132 SCTP, ...). */
export let pkt_proto: u8 = 0;
/** Source / destination port. ICMP/ICMPv6: sport = type, dport = code (as Zeek logs them). Other protocols: 0. */
export let pkt_sport: u16 = 0;
export let pkt_dport: u16 = 0;
/** False for address-only flows (unknown protocol, or a fragment whose ports are unknown). */
export let pkt_has_ports: bool = false;

/** IP-level length of this packet: IPv4 total length, IPv6 40 + payload length (Zeek's *_ip_bytes). */
export let pkt_ip_len: u32 = 0;
/** Transport payload length implied by the headers (not by caplen): IP length - IP headers - L4 header. */
export let pkt_payload_len: u32 = 0;

/** TCP only. Flags byte (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80). */
export let pkt_tcp_flags: u8 = 0;
export let pkt_tcp_seq: u32 = 0;
export let pkt_tcp_ack: u32 = 0;
export let pkt_tcp_window: u16 = 0;

/** Outer and inner 802.1Q/802.1ad VLAN ids; 0xFFFF when absent. */
export let pkt_vlan: u16 = 0xFFFF;
export let pkt_inner_vlan: u16 = 0xFFFF;

/** Innermost decapsulated tunnel; TUNNEL_NONE when the packet was not tunnelled. */
export let pkt_tunnel_type: u8 = 0;
/** VXLAN/GENEVE VNI, GRE key, ERSPAN session id; 0 when the tunnel has none. */
export let pkt_tunnel_id: u32 = 0;

/** True when the outermost Ethernet header was seen (pkt_src_mac/pkt_dst_mac valid). */
export let pkt_has_mac: bool = false;

/** A fragment that is not the first one of its datagram (ports borrowed from the fragment table). */
export let pkt_is_later_fragment: bool = false;
/**
 * Extra packets/bytes to add to this packet's flow on top of the packet itself:
 * fragments that arrived before the first fragment told us their ports, held
 * in the fragment table and released with the first fragment.
 */
export let pkt_extra_pkts: u32 = 0;
export let pkt_extra_ip_bytes: u32 = 0;
export let pkt_extra_wire_bytes: u32 = 0;
export let pkt_extra_payload: u32 = 0;
/** Where a frame came from when not from a capture file: SRC_SFLOW etc. (flowrecord.ts), with its 1-in-N sampling. */
/** Where the transport payload's captured bytes start, and how many there are (TCP/UDP only; 0: none captured). */
export let pkt_payload_at: usize = 0;
export let pkt_payload_cap: u32 = 0;
export let pkt_source: u8 = 0;
export let pkt_sampling: u32 = 0;

export const TUNNEL_NONE: u8 = 0;
export const TUNNEL_VXLAN: u8 = 1;
export const TUNNEL_GENEVE: u8 = 2;
export const TUNNEL_GRE: u8 = 3;
export const TUNNEL_ERSPAN: u8 = 4;
export const TUNNEL_IPIP: u8 = 5; // 4in4, 6in4, 4in6, 6in6
export const TUNNEL_TEREDO: u8 = 6;
export const TUNNEL_GTP: u8 = 7;

// Static 16-byte address slots and 6-byte MAC slots. memory.data() reserves
// zeroed static memory at compile time: no allocation at run time.
export const pkt_src: usize = memory.data(16, 16);
export const pkt_dst: usize = memory.data(16, 16);
export const pkt_src_mac: usize = memory.data(8, 8);
export const pkt_dst_mac: usize = memory.data(8, 8);

/** Reset every field before decoding a new record. */
@inline export function resetPacket(): void {
  pkt_ip_version = 0; pkt_proto = 0; pkt_sport = 0; pkt_dport = 0; pkt_has_ports = false;
  pkt_ip_len = 0; pkt_payload_len = 0;
  pkt_tcp_flags = 0; pkt_tcp_seq = 0; pkt_tcp_ack = 0; pkt_tcp_window = 0;
  pkt_vlan = 0xFFFF; pkt_inner_vlan = 0xFFFF;
  pkt_tunnel_type = TUNNEL_NONE; pkt_tunnel_id = 0;
  pkt_has_mac = false; pkt_is_later_fragment = false;
  pkt_extra_pkts = 0; pkt_extra_ip_bytes = 0; pkt_extra_wire_bytes = 0; pkt_extra_payload = 0;
  pkt_source = 0; pkt_sampling = 0;
  pkt_payload_at = 0; pkt_payload_cap = 0;
}

// Setters, because AssemblyScript module globals are read-only from other modules.
export function setPacketTime(ts: f64, wireLen: u32, iface: u32): void { pkt_ts = ts; pkt_wire_len = wireLen; pkt_interface = iface; }
export function setIp(version: u8, proto: u8, ipLen: u32): void { pkt_ip_version = version; pkt_proto = proto; pkt_ip_len = ipLen; }
export function setPorts(sport: u16, dport: u16, payloadLen: u32): void { pkt_sport = sport; pkt_dport = dport; pkt_payload_len = payloadLen; pkt_has_ports = true; }
export function setPayloadLen(len: u32): void { pkt_payload_len = len; }
/** The payload starts at `at`; of its header-level length `len`, what lies before the captured end `end` is there. */
@inline export function setPayloadAt(at: usize, end: usize, len: u32): void {
  pkt_payload_at = at;
  pkt_payload_cap = end > at ? <u32>min<usize>(end - at, <usize>len) : 0;
}
export function setTcp(flags: u8, seq: u32, ack: u32, window: u16): void { pkt_tcp_flags = flags; pkt_tcp_seq = seq; pkt_tcp_ack = ack; pkt_tcp_window = window; }
export function setVlan(outer: u16, inner: u16): void { pkt_vlan = outer; pkt_inner_vlan = inner; }
export function setTunnel(kind: u8, id: u32): void { pkt_tunnel_type = kind; pkt_tunnel_id = id; }
export function setHasMac(v: bool): void { pkt_has_mac = v; }
export function setLaterFragment(v: bool): void { pkt_is_later_fragment = v; }
export function setExtra(pkts: u32, ipBytes: u32, wireBytes: u32, payload: u32): void { pkt_extra_pkts = pkts; pkt_extra_ip_bytes = ipBytes; pkt_extra_wire_bytes = wireBytes; pkt_extra_payload = payload; }
export function setSource(source: u8, sampling: u32): void { pkt_source = source; pkt_sampling = sampling; }
export function clearPorts(): void { pkt_sport = 0; pkt_dport = 0; pkt_has_ports = false; }
