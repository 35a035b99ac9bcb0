// Service guessed from the responder's port. Zeek names services by dynamic
// protocol detection; we only see ports here, so this is a label of intent,
// not proof — documented as such in the README.

const TCP: Record<number, string> = {
  21: 'ftp', 22: 'ssh', 23: 'telnet', 25: 'smtp', 53: 'dns', 80: 'http', 88: 'krb', 110: 'pop3', 111: 'sunrpc',
  135: 'dce_rpc', 139: 'smb', 143: 'imap', 179: 'bgp', 389: 'ldap', 443: 'ssl', 445: 'smb', 465: 'smtp', 502: 'modbus',
  587: 'smtp', 636: 'ldap', 873: 'rsync', 993: 'imap', 995: 'pop3', 1080: 'socks', 1433: 'mssql', 1883: 'mqtt',
  2049: 'nfs', 3128: 'http', 3268: 'ldap', 3306: 'mysql', 3389: 'rdp', 5432: 'postgresql', 5900: 'rfb', 5985: 'winrm',
  5986: 'winrm', 6379: 'redis', 6667: 'irc', 8080: 'http', 8443: 'ssl', 9200: 'http', 20000: 'dnp3', 27017: 'mongodb',
};
const UDP: Record<number, string> = {
  53: 'dns', 67: 'dhcp', 68: 'dhcp', 69: 'tftp', 88: 'krb', 123: 'ntp', 137: 'netbios-ns', 138: 'netbios-dgm',
  161: 'snmp', 162: 'snmp', 443: 'quic', 500: 'ipsec', 514: 'syslog', 546: 'dhcpv6', 547: 'dhcpv6', 1812: 'radius',
  1813: 'radius', 1900: 'ssdp', 2055: 'netflow', 2152: 'gtpv1', 3544: 'teredo', 4500: 'ipsec', 4739: 'ipfix',
  4789: 'vxlan', 5060: 'sip', 5353: 'mdns', 5355: 'llmnr', 6081: 'geneve', 6343: 'sflow',
};

export function serviceForPort(proto: number, respPort: number): string | undefined {
  if (proto === 6) return TCP[respPort];
  if (proto === 17) return UDP[respPort];
  return undefined;
}

/** Every (proto, port, service) the table knows (the Wasm formatter is given them once). */
export function serviceEntries(): [proto: number, port: number, service: string][] {
  return [
    ...Object.entries(TCP).map(([port, name]): [number, number, string] => [6, Number(port), name]),
    ...Object.entries(UDP).map(([port, name]): [number, number, string] => [17, Number(port), name]),
  ];
}
