// One connection of a generated scenario, as the generator decides it: who,
// when, how much each way and how it ended. Renderers turn a time-ordered
// stream of these into a capture (render-pcap.ts) or into cloud flow logs
// (render-flowlogs.ts); both derive every packet from packet-plan.ts, so a
// flow log carries exactly the packets and bytes the capture holds.
//
// Ground truth rides along: `attack` names the injected attack a connection
// belongs to (undefined for benign traffic), which the scorer uses to tell a
// detection from a false positive.

export type ConnState =
  /** established, data, FIN both ways */
  | 'SF'
  /** SYN (and retries) unanswered; UDP/ICMP: no answer */
  | 'S0'
  /** SYN answered by RST */
  | 'REJ'
  /** established, data, never closed within the capture */
  | 'S1'
  /** established, data, then reset by the originator */
  | 'RSTO';

/** A DNS exchange carried by a UDP (or TCP) connection to port 53. */
export interface DnsExchange {
  /** query name, dotted, no trailing dot */
  qname: string;
  /** 1 A, 28 AAAA, 16 TXT, 10 NULL, 5 CNAME, 12 PTR, 15 MX, 33 SRV … */
  qtype: number;
  /** 0 NOERROR, 3 NXDOMAIN, 2 SERVFAIL */
  rcode: number;
  /** A / AAAA answers (addresses as text); TXT answers use `txt` */
  answers: string[];
  /** TXT answer strings (each ≤ 255 bytes) */
  txt?: string[];
  /** answer TTL, seconds */
  ttl: number;
}

export interface Conn {
  /** capture time of the first packet, seconds since the epoch (fractions allowed) */
  ts: number;
  /** seconds from the first packet to the last (0: one instant) */
  duration: number;
  proto: 'tcp' | 'udp' | 'icmp';
  /** addresses as text: IPv4 dotted or IPv6 (both ends the same family) */
  orig_h: string;
  /** TCP/UDP port; ICMP: 8 (echo request) */
  orig_p: number;
  resp_h: string;
  /** TCP/UDP port; ICMP: 0 (echo reply) */
  resp_p: number;
  /** application payload bytes originator → responder, and back (ICMP: echo data) */
  orig_bytes: number;
  resp_bytes: number;
  state: ConnState;
  /** Ethernet addresses of the two ends as the tap sees them (routed peers: the gateway's) */
  orig_mac: string;
  resp_mac: string;
  /** 802.1Q VLAN id of the frames, when tagged */
  vlan?: number;
  /** the DNS question and answer this connection carries (port 53) */
  dns?: DnsExchange;
  /** ground truth: the injected attack's id ("scan-network-1"); undefined for benign traffic */
  attack?: string;
  /** generator's label of the behaviour (browse, dns, smb, monitor-ping, backup, …) */
  kind: string;
}
