// Labelled attacks injected on the test day, and the benign look-alikes that
// share their surface features (must stay quiet).
//
// Each attack knows which models count as detecting it (the right family on
// the right device) and which inputs can show it at all: DNS content is in a
// capture, never in a cloud flow log.
import type { Rng } from '../../sensor/sample/rng.ts';
import { Emitter, newSite, type Host } from './topology.ts';
import type { Conn } from './conn.ts';

export type Source = 'pcap' | 'flows';

export interface AttackTruth {
  id: string;
  kind: AttackKind;
  /** the attacking device's addresses (v4, and v6 when it prefers it) */
  device: string[];
  deviceName: string;
  /** capture time of the first and last connection of the attack */
  start: number;
  end: number;
  /** model ids that count as a detection */
  expect: string[];
  /** inputs in which the attack is visible */
  visible: Source[];
  /** a sentence for the report */
  what: string;
}

export const ATTACK_KINDS = ['scan-network', 'scan-port', 'brute-force', 'beacon', 'exfil', 'lateral', 'server-c2', 'dos', 'staging', 'dns-tunnel', 'dga', 'long-connection'] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];

/** How quickly each kind must be detected (seconds after its start), per the targets. */
export const DETECT_WITHIN: Partial<Record<AttackKind, number>> = {
  'scan-network': 120, 'scan-port': 120, 'brute-force': 120, beacon: 1800,
};

const EXPECT: Record<AttackKind, string[]> = {
  'scan-network': ['device-network-scan'],
  'scan-port': ['device-port-scan'],
  'brute-force': ['device-brute-force'],
  beacon: ['compromise-beaconing-rare-endpoint'],
  exfil: ['anomalous-data-to-rare-endpoint', 'unusual-external-upload'],
  lateral: ['lateral-movement-admin-connections'],
  'server-c2': ['server-new-external-connections', 'anomalous-new-external-port'],
  dos: ['device-outbound-dos'],
  staging: ['unusual-internal-data-volume'],
  'dns-tunnel': ['dns-tunnelling'],
  dga: ['dns-dga-nxdomain'],
  'long-connection': ['anomalous-long-connection-rare-endpoint'],
};

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
function randomLabel(rng: Rng, n: number, alphabet = B32): string {
  let s = '';
  for (let k = 0; k < n; k++) s += alphabet[rng.int(0, alphabet.length - 1)];
  return s;
}

function addrs(h: Host): string[] {
  return h.v6 && h.ipv6 ? [h.ipv4, h.ipv6] : [h.ipv4];
}

/**
 * Inject one attack of `kind` by `dev` starting at `t0`. Returns its truth
 * (start/end from the connections actually emitted).
 */
export function injectAttack(em: Emitter, kind: AttackKind, id: string, dev: Host, t0: number, rng: Rng, targets: Host[]): AttackTruth {
  const topo = em.topo;
  const first = em.out.length;
  const servers = topo.servers;
  let what = '';
  switch (kind) {
    case 'scan-network': {
      // A SYN sweep of the server subnet and the device's own /24 on SMB and RDP, ~15 probes/s.
      let t = t0;
      const att: Host = { ...dev, v6: false }; // one copy: its source ports advance
      const live = new Map(targets.map((h) => [h.ipv4, h] as const));
      for (const port of [445, 3389]) {
        for (const net of ['10.10.0', dev.subnet]) {
          for (let host = 1; host < 255; host++) {
            const ip = `${net}.${host}`;
            const h = live.get(ip);
            const ghost: Host = { ...dev, name: ip, ipv4: ip, v6: false, ipv6: undefined, subnet: net, mac: '00:00:0c:07:ac:01' };
            const target = h ?? ghost;
            if (target === dev) continue;
            const open = h && ((port === 445 && (h.job === 'file' || h.job === 'dc')) || (port === 3389 && h.role === 'workstation' && rng.chance(0.3)));
            em.internal(t, att, target, 'tcp', port, 0, 0, h ? (open ? 0.002 : 0.0005) : 2, h ? (open ? 'RSTO' : 'REJ') : 'S0', 'attack-scan', id);
            t += rng.exp(1 / 15);
          }
        }
      }
      what = 'SYN sweep of two /24s on ports 445 and 3389';
      break;
    }
    case 'scan-port': {
      // Ports 1–1024 of the database server, ~60 probes/s.
      const target = topo.byJob.get('db')!;
      let t = t0;
      for (let port = 1; port <= 1024; port++) {
        const open = port === 22 || port === 443;
        em.internal(t, dev, target, 'tcp', port, 0, 0, open ? 0.002 : 0.0004, open ? 'RSTO' : 'REJ', 'attack-portscan', id);
        t += rng.exp(1 / 60);
      }
      what = 'ports 1–1024 of db01';
      break;
    }
    case 'brute-force': {
      // SSH password guessing against the application server, one attempt every ~2 s for 10 minutes.
      const target = topo.byJob.get('app')!;
      for (let t = t0; t < t0 + 600; t += rng.range(1.5, 2.5)) {
        em.internal(t, dev, target, 'tcp', 22, rng.int(1800, 2400), rng.int(2000, 2600), rng.range(1, 3), 'SF', 'attack-bruteforce', id);
      }
      what = 'SSH password guessing on app01, one attempt every 2 s';
      break;
    }
    case 'beacon': {
      // Command and control: a never-seen domain, HTTPS every 60 s ± 10% for the rest of the day.
      const c2 = newSite(topo, `cdn-${randomLabel(rng, 6, 'abcdefghijklmnopqrstuvwxyz')}.${rng.pick(['top', 'xyz', 'info'])}`);
      em.lookup(t0, dev, c2.name, c2, 'dns', id);
      for (let t = t0 + 0.05; t < t0 + 6 * 3600; t += rng.range(54, 66)) {
        em.external(t, dev, c2, 'tcp', 443, rng.int(300, 420), rng.int(150, 600), rng.range(0.2, 0.6), 'SF', 'attack-beacon', id);
      }
      what = `HTTPS beacon every ~60 s to ${c2.name}`;
      break;
    }
    case 'exfil': {
      // 600 MB uploaded to a never-seen endpoint in 12 connections over 20 minutes.
      const drop = newSite(topo, `files-${randomLabel(rng, 5, 'abcdefghijklmnopqrstuvwxyz')}.net`);
      em.lookup(t0, dev, drop.name, drop, 'dns', id);
      for (let k = 0; k < 12; k++) {
        em.external(t0 + 1 + k * 100, dev, drop, 'tcp', 443, rng.int(45e6, 55e6), rng.int(5000, 20000), rng.range(60, 95), 'SF', 'attack-exfil', id);
      }
      what = `about 600 MB uploaded to ${drop.name}`;
      break;
    }
    case 'lateral': {
      // SMB, WinRM and RDP to workstations and servers this device never administered.
      const peers = [...targets.filter((h) => h.role === 'workstation' && h !== dev && !h.admin).slice(0, 4), topo.byJob.get('db')!, topo.byJob.get('web')!];
      let t = t0;
      for (const p of peers) {
        const port = rng.pick([445, 5985, 3389]);
        em.internal(t, dev, p, 'tcp', port, rng.int(5000, 60000), rng.int(5000, 60000), rng.range(2, 60), 'SF', 'attack-lateral', id);
        t += rng.range(30, 120);
      }
      what = `admin connections to ${peers.length} internal hosts`;
      break;
    }
    case 'server-c2': {
      // The database server, compromised, calls out to raw IPs on 4444 and 8081.
      const db = topo.byJob.get('db')!;
      let t = t0;
      for (let k = 0; k < 5; k++) {
        const s = newSite(topo);
        em.external(t, db, s, 'tcp', k % 2 ? 8081 : 4444, rng.int(2000, 9000), rng.int(20000, 200000), rng.range(5, 60), 'SF', 'attack-server-c2', id);
        t += rng.range(60, 300);
      }
      dev = db;
      what = 'db01 connecting to new external hosts on 4444 and 8081';
      break;
    }
    case 'dos': {
      // A SYN flood from a bot: ~5000 connection attempts to one external host in a minute.
      const victim = newSite(topo);
      let t = t0;
      const att: Host = { ...dev, v6: false };
      for (let k = 0; k < 5000; k++) {
        em.external(t, att, victim, 'tcp', 80, 0, 0, 0, 'S0', 'attack-dos', id);
        t += rng.exp(60 / 5000);
      }
      what = '5000 SYNs to one external host in a minute';
      break;
    }
    case 'staging': {
      // Staging: 8 GB pulled from the file server in 30 minutes (its normal use is megabytes).
      const file = topo.byJob.get('file')!;
      for (let k = 0; k < 8; k++) {
        em.internal(t0 + k * 220, dev, file, 'tcp', 445, rng.int(20000, 60000), rng.int(0.95e9, 1.05e9), rng.range(150, 210), 'SF', 'attack-staging', id);
      }
      what = 'about 8 GB read from file01 in 30 minutes';
      break;
    }
    case 'dns-tunnel': {
      // TXT queries with long encoded labels under one domain, 2 per second for 15 minutes.
      const domain = `${randomLabel(rng, 7, 'abcdefghijklmnopqrstuvwxyz')}.com`;
      for (let t = t0; t < t0 + 900; t += rng.range(0.3, 0.7)) {
        const name = `${randomLabel(rng, rng.int(48, 60))}.${randomLabel(rng, rng.int(20, 40))}.t.${domain}`;
        const q = em.lookup(t, dev, name, null, 'attack-dns-tunnel', id, 16, [randomLabel(rng, rng.int(100, 200))]);
        em.forward(t + 0.0005, q.dns!, 'attack-dns-tunnel', id); // the DC asks upstream for it: never cached
      }
      what = `DNS TXT tunnel under ${domain}, 2 queries/s`;
      break;
    }
    case 'dga': {
      // Domain generation: 300 random names, almost all NXDOMAIN, in 5 minutes.
      for (let k = 0; k < 300; k++) {
        const name = `${randomLabel(rng, rng.int(12, 20), 'abcdefghijklmnopqrstuvwxyz0123456789')}.${rng.pick(['com', 'net', 'org', 'info'])}`;
        const c = em.lookup(t0 + k, dev, name, null, 'attack-dga', id);
        c.ts = t0 + rng.range(0, 300);
        em.forward(c.ts + 0.0005, c.dns!, 'attack-dga', id);
      }
      what = '300 generated domain names, NXDOMAIN, in 5 minutes';
      break;
    }
  }
  if (kind === 'long-connection') {
    // A reverse shell: one TLS connection to a never-seen host held open for three hours, a trickle each way.
    const host = newSite(topo);
    em.external(t0, dev, host, 'tcp', 443, rng.int(200_000, 400_000), rng.int(300_000, 900_000), 3 * 3600 + rng.range(0, 600), 'SF', 'attack-long-connection', id);
    what = 'one connection held open for three hours to a never-seen host';
  }
  let start = Infinity, end = -Infinity;
  for (let k = first; k < em.out.length; k++) {
    const c: Conn = em.out[k]!;
    c.attack = id;
    if (c.ts < start) start = c.ts;
    if (c.ts + c.duration > end) end = c.ts + c.duration;
  }
  return {
    id, kind, device: addrs(dev), deviceName: dev.name, start, end, expect: EXPECT[kind],
    visible: kind === 'dns-tunnel' || kind === 'dga' ? ['pcap'] : ['pcap', 'flows'], what,
  };
}

/**
 * Benign look-alikes of the test day: a SaaS tool adopted by most devices
 * within two hours, a network-wide patch download from a new CDN address.
 * (A new device joining is handled by the generator.)
 */
export function lookAlikes(em: Emitter, day0: number, rng: Rng, workstations: Host[]): string[] {
  const topo = em.topo;
  const tool = newSite(topo, 'app.newcollab-tool.com');
  for (const w of workstations) {
    if (!rng.chance(0.7)) continue;
    const t = day0 + rng.range(9 * 3600, 11 * 3600);
    em.lookup(t, w, tool.name, tool, 'dns');
    for (let k = 0; k < rng.int(3, 12); k++) {
      em.external(t + k * rng.range(30, 600), w, tool, 'tcp', 443, rng.lognormalInt(200_000, 1.2, 2000, 20_000_000), rng.lognormalInt(300_000, 1, 2000, 20_000_000), rng.range(1, 120), 'SF', 'saas-adoption');
    }
  }
  const cdn = newSite(topo, 'dl.patch-cdn.vendor-os.com');
  for (const d of [...workstations, ...topo.servers]) {
    const t = day0 + rng.range(12 * 3600, 14 * 3600);
    em.lookup(t, d, cdn.name, cdn, 'dns');
    em.external(t + 0.05, d, cdn, 'tcp', 443, rng.int(20_000, 80_000), rng.int(3e8, 8e8), rng.range(60, 400), 'SF', 'patch-download');
  }
  return ['SaaS tool adopted by ~70% of workstations within two hours', 'patch download (300–800 MB) by every device from a new CDN address', 'a new workstation joining at 10:00'];
}
