// Flow key helpers: the key hash, ICMP type pairing, Zeek's likely server ports.

/**
 * ICMP "port" pairing of Zeek's ICMP4_counterpart()/ICMP6_counterpart()
 * (zeek/src/packet_analysis/protocol/icmp/ICMP.cc), which the Community ID
 * spec copies: the key's source port is the message type, the destination
 * port the counterpart type, so a request and its reply share a flow. Types
 * without a counterpart are one-way: the destination port is the code and the
 * key is not canonicalised (returns -1). Note Zeek's asymmetry, kept here:
 * v4 router solicitation (10) pairs with advertisement (9), but 9 alone is
 * one-way.
 */
// @ts-ignore: decorator
@inline export function icmpCounterpart(type: u32, v6: bool): i32 {
  if (!v6) {
    switch (type) {
      case 8: return 0;     // echo -> echo reply
      case 0: return 8;
      case 13: return 14;   // timestamp
      case 14: return 13;
      case 15: return 16;   // information request
      case 16: return 15;
      case 10: return 9;    // router solicitation / advertisement (paired both ways, as Zeek and Community ID do)
      case 9: return 10;
      case 17: return 18;   // address mask
      case 18: return 17;
      default: return -1;
    }
  }
  switch (type) {
    case 128: return 129;   // echo request/reply
    case 129: return 128;
    case 133: return 134;   // router solicitation/advertisement
    case 134: return 133;
    case 135: return 136;   // neighbor solicitation/advertisement
    case 136: return 135;
    case 130: return 131;   // MLD query/report
    case 131: return 130;
    case 139: return 140;   // node information query/response
    case 140: return 139;
    case 144: return 145;   // home agent address discovery request/reply
    case 145: return 144;
    default: return -1;
  }
}

/**
 * The answering half of a request/response pair (echo reply, router
 * advertisement, …): the types icmpCounterpart pairs, seen from the reply.
 */
// @ts-ignore: decorator
@inline export function icmpIsReply(type: u32, v6: bool): bool {
  if (!v6) return type == 0 || type == 14 || type == 16 || type == 9 || type == 18;
  return type == 129 || type == 134 || type == 136 || type == 131 || type == 140 || type == 145;
}

/** Multiply-xorshift over the key words (64-bit lanes), folded to 32 bits. */
// @ts-ignore: decorator
@inline export function hashKey(a0: u64, a1: u64, b0: u64, b1: u64, ports: u32, misc: u32, tun: u32): u32 {
  let h: u64 = 0x243F6A8885A308D3 ^ ((<u64>misc << 32) | <u64>ports);
  h = (h ^ a0) * 0x9E3779B97F4A7C15; h ^= h >> 29;
  h = (h ^ a1) * 0xBF58476D1CE4E5B9; h ^= h >> 32;
  h = (h ^ b0) * 0x94D049BB133111EB; h ^= h >> 29;
  h = (h ^ b1) * 0x9E3779B97F4A7C15; h ^= h >> 32;
  h = (h ^ <u64>tun) * 0xBF58476D1CE4E5B9; h ^= h >> 31;
  return <u32>h ^ <u32>(h >> 32);
}

// Zeek's `likely_server_ports` as populated by the scripts Zeek loads by
// default (base/protocols/*, base/packet-protocols/*: each analyzer's
// well-known ports, `redef likely_server_ports += { ports }`). Used only for
// Zeek's role-flip heuristic on connections that do not start with a SYN
// (TCPAnalyzer::WantConnection) and on UDP (UDPAnalyzer::WantConnection).
const TCP_SERVER_PORTS: usize = memory.data<u16>([
  21, 2811,                                   // ftp (+ gridftp)
  22,                                         // ssh
  25, 587,                                    // smtp
  79,                                         // finger
  80, 81, 631, 1080, 3128, 8000, 8080, 8888,  // http
  88,                                         // krb
  110,                                        // pop3
  135,                                        // dce-rpc
  139, 445,                                   // smb
  143,                                        // imap
  389, 3268,                                  // ldap
  443, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223, // ssl
  502,                                        // modbus
  1434, 3306,                                 // mysql
  1883,                                       // mqtt
  3389,                                       // rdp
  5222, 5269,                                 // xmpp
  5432,                                       // postgresql
  6379,                                       // redis
  6666, 6667, 6668, 6669,                     // irc
  20000,                                      // dnp3
  0,                                          // end
]);
const UDP_SERVER_PORTS: usize = memory.data<u16>([
  53, 137, 5353, 5355,                        // dns (+ netbios-ns, mdns, llmnr)
  67,                                         // dhcp (server side only)
  88,                                         // krb
  123,                                        // ntp
  161, 162,                                   // snmp
  389,                                        // ldap (cldap)
  443,                                        // dtls / quic
  514,                                        // syslog
  1812,                                       // radius
  3389,                                       // rdp (rdpeudp)
  5060,                                       // sip
  20000,                                      // dnp3
  3544,                                       // teredo
  4789,                                       // vxlan
  6081,                                       // geneve
  2152, 2123,                                 // gtpv1
  5072,                                       // ayiya
  0,                                          // end
]);

/** One bit per port: TCP bitmap then UDP bitmap (8 KiB each). */
const LIKELY: usize = memory.data(16384, 8);

export function initLikelyServerPorts(): void {
  memory.fill(LIKELY, 0, 16384);
  for (let i: usize = 0; ; i++) {
    const p = <usize>load<u16>(TCP_SERVER_PORTS + (i << 1));
    if (p == 0) break;
    store<u8>(LIKELY + (p >> 3), load<u8>(LIKELY + (p >> 3)) | <u8>(1 << <u8>(p & 7)));
  }
  for (let i: usize = 0; ; i++) {
    const p = <usize>load<u16>(UDP_SERVER_PORTS + (i << 1));
    if (p == 0) break;
    const q = LIKELY + 8192 + (p >> 3);
    store<u8>(q, load<u8>(q) | <u8>(1 << <u8>(p & 7)));
  }
}

// @ts-ignore: decorator
@inline export function likelyTcpServerPort(p: u32): bool {
  return ((<u32>load<u8>(LIKELY + <usize>(p >> 3)) >> (p & 7)) & 1) != 0;
}
// @ts-ignore: decorator
@inline export function likelyUdpServerPort(p: u32): bool {
  return ((<u32>load<u8>(LIKELY + 8192 + <usize>(p >> 3)) >> (p & 7)) & 1) != 0;
}
