// The built-in models: data in the same shape as a user's --models file
// (model.ts says what every field means). Thresholds are starting points
// a deployment tunes; each entry says why its filters are what they are.
// The scans and the flood adapt their thresholds to the network (adaptive.ts:
// how many hosts or ports a device reaches in a minute varies by network);
// brute force, DNS and the first-sighting models do not (a burst of password
// guesses is one however noisy the network's databases are). The new-port
// models leave a port alone that most of the device's peer group use
// (sensor/learn/peer-groups.ts: unusual for the device, normal for its group).
import { parseModels, type Model } from './model.ts';

/** Ports of remote administration and authentication services. */
const ADMIN_PORTS = [22, 23, 135, 445, 3389, 5900, 5985, 5986];
const AUTH_PORTS = [21, 22, 23, 25, 110, 143, 389, 445, 587, 993, 995, 1433, 3306, 3389, 5432, 5900, 5985, 5986];
/** Ports every client uses outbound: never "new external ports" worth a breach. */
const COMMON_OUT = [53, 80, 123, 443];

const RAW = [
  {
    // Many hosts on one port, none used in the past hour: a sweep of the
    // local networks. Internal only: a browser meets dozens of new external
    // hosts on 443 in a minute, a workstation does not meet 25 new internal
    // hosts on one port. Judged at connection start, so unanswered probes
    // count before their flows time out.
    id: 'device-network-scan', title: 'Device / Network Scan', category: 'suspicious', mitre: ['T1046'], priority: 2,
    // port_fresh (hosts newly tried on the port, decayed over a minute)
    // keeps a workstation's lone new internal peer in the core: from the
    // second fresh host in a burst on, observations reach the window (the
    // first is not counted, so a breach means at least threshold + 1).
    on: 'conn', filters: [
      { feature: 'originator', op: '==', value: 1 },
      { feature: 'direction', op: '==', value: 2 },
      { feature: 'channel_gap_s', op: '>', value: 3600 },
      { feature: 'port_fresh', op: '>=', value: 1.5 },
    ],
    metric: { kind: 'count' }, group: ['port'], window_s: 60, threshold: 25, throttle_s: 3600, baseline: false, adaptive: true,
    metric_label: 'internal hosts contacted on one port, not used in the past hour',
    summary: '{device} contacted {value} internal hosts on port {port} within {window}, none of which it had used on that port in the past hour: a network scan.',
    exclude_tags: ['security-scanner'],
  },
  {
    // Many ports of one host: nothing but a scanner opens 20 fresh ports on
    // one peer in a minute. pair_fresh (ports newly tried on this peer,
    // decayed over a minute) keeps every lone new connection in the core
    // (the first port of a burst is not counted, as for the network scan).
    id: 'device-port-scan', title: 'Device / Suspicious Port Scan', category: 'suspicious', mitre: ['T1046'], priority: 2,
    on: 'conn', filters: [
      { feature: 'originator', op: '==', value: 1 },
      { feature: 'channel_gap_s', op: '>', value: 3600 },
      { feature: 'pair_fresh', op: '>=', value: 1.5 },
    ],
    metric: { kind: 'count' }, group: ['peer'], window_s: 60, threshold: 20, throttle_s: 3600, baseline: false, adaptive: true,
    metric_label: 'ports of one host contacted, not used in the past hour',
    summary: '{device} tried {value} different ports on {peer} within {window}, none of which it had used in the past hour: a port scan.',
    exclude_tags: ['security-scanner'],
  },
  {
    // Repeated short connections to one authentication service: password
    // guessing. Short = under 90 s (a real session lasts longer; a
    // cloud flow log times a record by its 60 s window, so a 2 s attempt reads as 60 s); pair_conns
    // (connections between the two over the last hour) keeps the single
    // LDAP query or SMB mount in the core.
    id: 'device-brute-force', title: 'Device / Brute Force Attempt', category: 'suspicious', mitre: ['T1110'], priority: 2,
    on: 'end', filters: [
      { feature: 'originator', op: '==', value: 1 },
      { feature: 'port', op: 'in', value: AUTH_PORTS },
      { feature: 'duration', op: '<', value: 90 },
      // a login attempt receives a few KB (SSH key exchange and a refusal,
      // an NTLM challenge, a TLS certificate): a client fetching files over
      // SMB in short sessions receives far more (a workstation's 20 SMB
      // connections in 5 min, 15–490 KB each, breached with --learning 0)
      { feature: 'bytes_in', op: '<', value: 20000 },
      { feature: 'pair_conns', op: '>=', value: 10 },
      // a client that has used the service for days at its own pace (a web
      // server's database connections) is not guessing passwords on it
      { feature: 'channel_age_s', op: '<', value: 86400 },
    ],
    metric: { kind: 'count' }, group: ['peer', 'port'], window_s: 300, threshold: 20, throttle_s: 3600, baseline: false,
    metric_label: 'short connections to one authentication service',
    summary: '{device} made {value} short connections to {peer} on port {port} within {window}: repeated login attempts.',
    exclude_tags: ['security-scanner'],
  },
  {
    // A port this device never used as a client, to an endpoint almost no
    // device contacts: a new channel out (a tool speaking its own protocol).
    id: 'anomalous-new-external-port', title: 'Anomalous Connection / New External Port', category: 'suspicious', mitre: ['T1571'], priority: 3,
    on: 'conn', filters: [
      { feature: 'direction', op: '==', value: 1 },
      { feature: 'port_age_s', op: '==', value: 0 },
      { feature: 'peer_rarity', op: '>=', value: 95 },
      { feature: 'port', op: 'not in', value: COMMON_OUT },
    ],
    metric: { kind: 'count' }, group: ['port'], window_s: 3600, threshold: 1, throttle_s: 86400, baseline: true, skip_group_port: true,
    metric_label: 'connections on a port new to the device, to a rare endpoint',
    summary: '{device} used port {port} as a client for the first time, to {peer}, an endpoint {peer_rarity}% of the network has not contacted.',
  },
  {
    // Volume out to an endpoint (almost) nobody else talks to: exfiltration.
    // Flows of 1 MB or more (a window per device and peer for every small
    // upload to a rare site would cost more than it tells: exfiltration in
    // small pieces adds up in the device's external volume, which the
    // unusual-external-upload model judges).
    id: 'anomalous-data-to-rare-endpoint', title: 'Anomalous Connection / Data Sent to Rare Endpoint', category: 'critical', mitre: ['T1041', 'T1048'], priority: 1,
    on: 'end', filters: [
      { feature: 'direction', op: '==', value: 1 },
      { feature: 'peer_rarity', op: '>=', value: 95 },
      { feature: 'bytes_out', op: '>=', value: 1e6 },
    ],
    metric: { kind: 'sum', feature: 'bytes_out' }, group: ['peer'], window_s: 3600, threshold: 50e6, throttle_s: 21600, baseline: true,
    metric_label: 'bytes sent to a rare external endpoint',
    summary: '{device} sent {value_bytes} to {peer} within {window}, an endpoint {peer_rarity}% of the network has not contacted.',
  },
  {
    // A device that mostly answers connections starts making new external
    // ones: a server used as a foothold, or a web shell calling out.
    id: 'server-new-external-connections', title: 'Anomalous Connection / Server Making New External Connections', category: 'suspicious', mitre: ['T1071', 'T1571'], priority: 3,
    on: 'conn', filters: [
      { feature: 'direction', op: '==', value: 1 },
      { feature: 'device_server', op: '>=', value: 0.8 },
      { feature: 'pair_gap_s', op: '>', value: 86400 },
      { feature: 'peer_rarity', op: '>=', value: 90 },
      // on a port the server has not used as a client for a day: a mail
      // server delivering to new MX hosts on 25 every hour is its job
      // (measured: with 150 workstations it alone made the evaluation's
      // false positives, 1.25 per 100 device-days)
      { feature: 'port_age_s', op: '<', value: 86400 },
    ],
    metric: { kind: 'count' }, group: [], window_s: 3600, threshold: 3, throttle_s: 21600, baseline: true, skip_group_port: true,
    metric_label: 'new rare external endpoints contacted by a server',
    summary: '{device}, which mostly answers connections, contacted {value} new external endpoints within {window} (the latest {peer} on port {port}).',
  },
  {
    // Remote administration to internal hosts this device never administered.
    id: 'lateral-movement-admin-connections', title: 'Anomalous Connection / Unusual Internal Admin Connections', category: 'suspicious', mitre: ['T1021'], priority: 2,
    on: 'conn', filters: [
      { feature: 'originator', op: '==', value: 1 },
      { feature: 'direction', op: '==', value: 2 },
      { feature: 'port', op: 'in', value: ADMIN_PORTS },
      { feature: 'channel_age_s', op: '==', value: 0 },
      { feature: 'pair_gap_s', op: '>', value: 86400 },
    ],
    metric: { kind: 'count' }, group: [], window_s: 3600, threshold: 3, throttle_s: 21600, baseline: true,
    metric_label: 'internal hosts newly reached on an administration port',
    summary: '{device} opened administration connections (SMB, RDP, SSH, WinRM …) to {value} internal hosts it had never administered within {window}, the latest {peer} on port {port}.',
    exclude_tags: ['security-scanner'],
  },
  {
    // Malware calling home: connections to one outside endpoint at a steady
    // period with steady sizes, hour after hour (beacon.ts scores it), to an
    // endpoint almost nobody else talks to and the network met recently,
    // on a channel that began within six hours (a beacon is caught within
    // half an hour of its start, or of the capture's): a device's app that has polled
    // its vendor every 5 minutes for days is its pattern of life (a service
    // reached over IPv6 by a few dual-stack devices looks rare by address).
    // NTP and DNS poll by design and have their own models (tunnelling).
    id: 'compromise-beaconing-rare-endpoint', title: 'Compromise / Beaconing Activity To Rare Endpoint', category: 'critical', mitre: ['T1071', 'T1573'], priority: 1,
    on: 'end', filters: [
      { feature: 'direction', op: '==', value: 1 },
      { feature: 'beacon_events', op: '>=', value: 12 },
      { feature: 'beacon_score', op: '>=', value: 85 },
      { feature: 'peer_rarity', op: '>=', value: 90 },
      { feature: 'peer_age_s', op: '<', value: 14 * 86400 },
      { feature: 'beacon_age_s', op: '<', value: 6 * 3600 },
      // regular for ten minutes at least: an IoT camera's cloud keepalive,
      // every 4.6 s, is as regular as a beacon within its first minute
      // (a real benign capture, pcap/benign/iot_camera_baseline)
      { feature: 'beacon_age_s', op: '>=', value: 600 },
      { feature: 'port', op: 'not in', value: [53, 123] },
    ],
    metric: { kind: 'count' }, group: ['peer'], window_s: 3600, threshold: 1, throttle_s: 86400, baseline: false,
    metric_label: 'connections at a regular period to a rare endpoint',
    summary: '{device} connected to {peer} on port {port} every {beacon_period_s} or so ({beacon_events} times, regularity {beacon_score}/100), an endpoint {peer_rarity}% of the network has not contacted and first seen {peer_age_s} ago: beaconing.',
  },
  {
    // A device that keeps trying an outside host which refuses or never
    // answers: malware retrying a dead or blocked command-and-control
    // server. Its retries come too fast to be beacon events (they coalesce)
    // and fail too early to carry data. Found missing on a real labelled
    // capture (Stratosphere CTU-SME-11: RemcosRAT, 719 rejected connections
    // to one address in 12 minutes).
    id: 'anomalous-failed-connections-rare-endpoint', title: 'Anomalous Connection / Repeated Failed Connections to Rare Endpoint', category: 'suspicious', mitre: ['T1071', 'T1571'], priority: 2,
    on: 'end', filters: [
      { feature: 'direction', op: '==', value: 1 },
      { feature: 'failed', op: '==', value: 1 },
      { feature: 'peer_rarity', op: '>=', value: 90 },
      { feature: 'port', op: 'not in', value: [53, 123] },
      // a loop, not a one-off: kept in the core until the pair has a few
      // connections this hour (a flood of single failures to random hosts
      // would otherwise make a window each)
      { feature: 'pair_conns', op: '>=', value: 5 },
    ],
    // per port: a retry loop knocks on one door (a port scan, many, is the scan models')
    metric: { kind: 'count' }, group: ['peer', 'port'], window_s: 600, threshold: 30, throttle_s: 21600, baseline: false,
    metric_label: 'failed connections to a rare external endpoint',
    summary: '{device} made {value} failed connections to {peer} on port {port} within {window}, an endpoint {peer_rarity}% of the network has not contacted: a retry loop, as malware calling a dead or blocked command-and-control server makes.',
  },
  {
    // Gigabytes pulled from (or pushed to) internal hosts, far beyond the
    // device's own busiest hours: data gathered before it leaves. A backup
    // server moving as much every night has learned that as its normal.
    id: 'unusual-internal-data-volume', title: 'Unusual Activity / Unusual Internal Data Volume', category: 'suspicious', mitre: ['T1039', 'T1074'], priority: 2,
    on: 'end', filters: [
      { feature: 'direction', op: '==', value: 2 },
      { feature: 'originator', op: '==', value: 1 },
      { feature: 'internal_volume', op: '>=', value: 1e9 },
      { feature: 'internal_volume_ratio', op: '>=', value: 4 },
    ],
    metric: { kind: 'count' }, group: [], window_s: 3600, threshold: 1, throttle_s: 21600, baseline: true,
    metric_label: 'connections while internal volume ran far above the device’s busiest past hours',
    summary: '{device} moved {internal_volume_bytes} with internal hosts lately (the latest with {peer}), {internal_volume_ratio} times its busiest hours before: possible data staging.',
    exclude_tags: ['backup-server'],
  },
  {
    // Far more sent outside than the device ever sent in an hour.
    id: 'unusual-external-upload', title: 'Anomalous Connection / Unusual External Upload Volume', category: 'suspicious', mitre: ['T1048'], priority: 2,
    on: 'end', filters: [
      { feature: 'direction', op: '==', value: 1 },
      { feature: 'external_out_volume', op: '>=', value: 200e6 },
      { feature: 'external_out_ratio', op: '>=', value: 5 },
    ],
    metric: { kind: 'count' }, group: [], window_s: 3600, threshold: 1, throttle_s: 21600, baseline: true,
    metric_label: 'connections while the upload volume ran far above the device’s busiest past hours',
    summary: '{device} sent {external_out_volume_bytes} outside lately (the latest to {peer}), {external_out_ratio} times its busiest hours before.',
  },
  {
    // A DNS tunnel: a stream of long names, each asked once, under one
    // registered domain (data encoded in the labels, answers in TXT/NULL).
    // Ordinary devices repeat a few names per domain; dns_domain_names keeps
    // a lone long name (a CDN's hashed host) in the core. A resolver asks
    // upstream for all its clients: judged on the clients, not on it.
    id: 'dns-tunnelling', title: 'Compromise / DNS Tunnelling', category: 'critical', mitre: ['T1071.004', 'T1572'], priority: 1,
    on: 'dns', filters: [
      { feature: 'dns_resolver', op: '==', value: 0 },
      { feature: 'dns_name_new', op: '==', value: 1 },
      { feature: 'dns_sub_len', op: '>=', value: 30 },
      { feature: 'dns_domain_names', op: '>=', value: 10 },
    ],
    metric: { kind: 'count' }, group: [], window_s: 300, threshold: 40, throttle_s: 21600, baseline: false,
    metric_label: 'new long names asked under one domain',
    summary: '{device} asked {value} never-repeated names of {dns_sub_len} characters under {name} within {window} ({dns_domain_txt} TXT/NULL questions lately, entropy {dns_sub_entropy} bits per character): DNS tunnelling.',
  },
  {
    // Domain generation: malware tries many made-up domains until one
    // resolves. Many NXDOMAIN answers for domains the device never asked
    // about before; a typo now and then stays in the core (dns_nx_domains).
    id: 'dns-dga-nxdomain', title: 'Compromise / DGA Beacon (NXDOMAIN Burst)', category: 'critical', mitre: ['T1568.002'], priority: 1,
    on: 'dns', filters: [
      { feature: 'dns_resolver', op: '==', value: 0 },
      { feature: 'dns_rcode', op: '==', value: 3 },
      { feature: 'dns_domain_new', op: '==', value: 1 },
      { feature: 'dns_nx_domains', op: '>=', value: 5 },
    ],
    metric: { kind: 'count' }, group: [], window_s: 600, threshold: 25, throttle_s: 21600, baseline: false,
    metric_label: 'NXDOMAIN answers for domains new to the device',
    summary: '{device} asked for {value} domains it had never asked about before that do not exist within {window} (the latest {name}): domain generation.',
  },
  {
    // One connection held open for hours to an endpoint almost nobody else
    // talks to: a reverse shell, a tunnel, remote control. Judged when the
    // flow ends (or the capture does).
    id: 'anomalous-long-connection-rare-endpoint', title: 'Anomalous Connection / Long-Lived Connection to Rare Endpoint', category: 'suspicious', mitre: ['T1071', 'T1572'], priority: 2,
    on: 'end', filters: [
      { feature: 'direction', op: '==', value: 1 },
      { feature: 'originator', op: '==', value: 1 },
      { feature: 'duration', op: '>=', value: 7200 },
      { feature: 'peer_rarity', op: '>=', value: 95 },
    ],
    metric: { kind: 'count' }, group: ['peer'], window_s: 3600, threshold: 1, throttle_s: 86400, baseline: true,
    metric_label: 'connections open for hours to a rare endpoint',
    summary: '{device} kept a connection to {peer} on port {port} open for {duration_h} ({bytes_out_bytes} sent), an endpoint {peer_rarity}% of the network has not contacted.',
  },
  {
    // Tens of megabytes sent at an hour of the week the device is never
    // active (its week profile, UTC): a transfer scheduled for when nobody
    // watches. Needs a week of the device's history to judge.
    id: 'unusual-activity-transfer-at-unusual-hour', title: 'Unusual Activity / Data Transfer at Unusual Hour', category: 'suspicious', mitre: ['T1029', 'T1048'], priority: 3,
    on: 'end', filters: [
      { feature: 'originator', op: '==', value: 1 },
      { feature: 'bytes_out', op: '>=', value: 20e6 },
      { feature: 'hour_share', op: '<', value: 0.05 },
      { feature: 'device_age_s', op: '>=', value: 7 * 86400 },
    ],
    metric: { kind: 'count' }, group: [], window_s: 3600, threshold: 1, throttle_s: 86400, baseline: true,
    metric_label: 'large transfers at an hour the device is not active',
    summary: '{device} sent {bytes_out_bytes} to {peer} at an hour of the week it is almost never active ({hour_share} × an average hour).',
    exclude_tags: ['backup-server'],
  },
  {
    // A flood of connections to one external host: the device takes part in
    // a denial of service. pair_conns (decayed over an hour) keeps every
    // ordinary outbound connection in the core: only a pair already busy
    // reaches the engine's window.
    id: 'device-outbound-dos', title: 'Device / Outbound Denial of Service', category: 'critical', mitre: ['T1498'], priority: 1,
    on: 'conn', filters: [
      { feature: 'originator', op: '==', value: 1 },
      { feature: 'direction', op: '==', value: 1 },
      { feature: 'pair_conns', op: '>=', value: 500 },
    ],
    metric: { kind: 'count' }, group: ['peer'], window_s: 60, threshold: 2000, throttle_s: 3600, baseline: false, adaptive: true,
    metric_label: 'connections to one external host',
    summary: '{device} opened {value} connections to {peer} within {window}: a flood.',
  },
];

export const BUILTIN_MODELS: readonly Model[] = parseModels(RAW, 'built-in catalogue');
