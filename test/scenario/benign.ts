// A day of ordinary traffic: what must NOT raise a breach.
//
// Workstations keep office hours (some are left on overnight), browse sites of
// Zipf popularity plus their own long tail and a few brand-new sites a day,
// use the file share, directory, mail, intranet and the company's SaaS suite.
// Around them runs the periodic and bulk machinery every network has and a
// naive detector mistakes for attacks: monitoring that pings and polls every
// device each minute, NTP, update checks, syslog, the DC forwarding DNS,
// the mail server delivering to many outside MX hosts, an admin workstation
// administering servers, and nightly backups that move gigabytes.
import type { Rng } from '../../sensor/sample/rng.ts';
import { Emitter, newSite, popularSite, type Host, type Site } from './topology.ts';

const H = 3600;

/** Is the workstation at its desk at second-of-day s? (lunch dip included) */
function present(w: Host, s: number): boolean {
  const h = s / H;
  return h >= w.arrive && h < w.leave;
}

function browse(em: Emitter, t: number, w: Host, site: Site, rng: Rng): number {
  em.lookup(t, w, site.name, site);
  let tt = t + rng.range(0.01, 0.1);
  const n = rng.int(1, 4);
  for (let k = 0; k < n; k++) {
    const out = rng.lognormalInt(1500, 0.7, 300, 60_000);
    const back = rng.lognormalInt(40_000, 1.3, 500, 20_000_000);
    const dur = Math.min(rng.lognormal(8, 1.2), 600);
    em.external(tt, w, site, 'tcp', 443, out, back, dur, rng.chance(0.97) ? 'SF' : 'RSTO', 'browse');
    tt += rng.range(0.02, 2);
  }
  return tt;
}

/** One workstation's day. */
function workstationDay(em: Emitter, w: Host, day0: number, weekday: boolean, rng: Rng): void {
  const topo = em.topo;
  const dc = topo.byJob.get('dc')!;
  const file = topo.byJob.get('file')!;
  const web = topo.byJob.get('web')!;
  const mail = topo.byJob.get('mail')!;
  const app = topo.byJob.get('app')!;
  const on = (s: number) => w.alwaysOn || (weekday && present(w, s));

  // Machinery while powered: NTP every ~17 min, update check every ~4 h, SaaS presence every 5 min.
  for (let s = rng.range(0, 1024); s < 86400; s += rng.range(1000, 1050)) {
    if (on(s)) em.internal(day0 + s, w, dc, 'udp', 123, 48, 48, rng.range(0.0003, 0.002), 'SF', 'ntp');
  }
  for (let s = rng.range(0, 4 * H); s < 86400; s += rng.range(3.7 * H, 4.3 * H)) {
    if (!on(s)) continue;
    em.lookup(day0 + s, w, topo.updates.name, topo.updates);
    em.external(day0 + s + 0.05, w, topo.updates, 'tcp', 443, rng.int(800, 1500), rng.int(3000, 9000), rng.range(0.3, 2), 'SF', 'update-check');
  }
  for (let s = rng.range(0, 300); s < 86400; s += rng.range(280, 320)) {
    if (!on(s)) continue;
    const sa = topo.saas[1]!;
    em.external(day0 + s, w, sa, 'tcp', 443, rng.int(400, 900), rng.int(400, 2500), rng.range(0.2, 1.5), 'SF', 'saas-presence');
  }
  if (!weekday) return;

  // Logon: Kerberos and LDAP, the file share mounted, mail opened.
  const arrive = w.arrive * H + rng.range(0, 600);
  em.internal(day0 + arrive, w, dc, 'tcp', 88, rng.int(1200, 1800), rng.int(1300, 2000), rng.range(0.01, 0.1), 'SF', 'kerberos');
  em.internal(day0 + arrive + 1, w, dc, 'tcp', 389, rng.int(600, 3000), rng.int(2000, 30000), rng.range(0.05, 1), 'SF', 'ldap');
  em.internal(day0 + arrive + 2, w, file, 'tcp', 445, rng.int(2000, 9000), rng.int(5000, 90000), w.leave * H - arrive - 60, rng.chance(0.8) ? 'SF' : 'S1', 'smb-session');
  // Mail: IMAPS poll every 5 min (internal, periodic, benign).
  for (let s = arrive + 5; s < w.leave * H; s += rng.range(295, 305)) {
    em.internal(day0 + s, w, mail, 'tcp', 993, rng.int(300, 800), rng.lognormalInt(2000, 1.2, 300, 5_000_000), rng.range(0.1, 2), 'SF', 'imap');
  }

  // Actions: Poisson while at the desk, fewer over lunch.
  let s = arrive;
  for (;;) {
    s += rng.exp(45 / w.activity);
    if (s >= w.leave * H) break;
    const h = s / H;
    if (h > 12 && h < 13 && rng.chance(0.6)) continue;
    const t = day0 + s;
    const x = rng.float();
    if (x < 0.42) browse(em, t, w, popularSite(topo), rng);
    else if (x < 0.55) browse(em, t, w, rng.pick(w.personal), rng);
    else if (x < 0.565) {
      // A site nobody here visited before: the long tail every network has.
      const site = newSite(topo);
      browse(em, t, w, site, rng);
    } else if (x < 0.61) {
      const sa = rng.pick(topo.saas);
      em.lookup(t, w, sa.name, sa);
      const up = rng.chance(0.1) ? rng.lognormalInt(2_000_000, 1, 50_000, 40_000_000) : rng.int(500, 5000);
      em.external(t + 0.05, w, sa, 'tcp', 443, up, rng.lognormalInt(30_000, 1.2, 500, 5_000_000), rng.range(0.5, 60), 'SF', 'saas');
    } else if (x < 0.74) {
      const write = rng.chance(0.2);
      em.internal(t, w, file, 'tcp', 445, write ? rng.lognormalInt(400_000, 1.5, 1000, 200_000_000) : rng.int(500, 3000), write ? rng.int(500, 3000) : rng.lognormalInt(300_000, 1.6, 1000, 300_000_000), rng.range(0.1, 30), 'SF', 'smb');
    } else if (x < 0.84) {
      em.lookup(t, w, 'intranet.corp.example', null, 'dns', undefined, undefined);
      em.internal(t + 0.01, w, web, 'tcp', 443, rng.int(500, 3000), rng.lognormalInt(50_000, 1, 1000, 5_000_000), rng.range(0.1, 20), 'SF', 'intranet');
    } else if (x < 0.9) {
      em.internal(t, w, app, 'tcp', 8443, rng.int(500, 5000), rng.lognormalInt(20_000, 1, 500, 2_000_000), rng.range(0.1, 20), 'SF', 'app');
    } else if (x < 0.93) {
      em.internal(t, w, dc, 'tcp', 389, rng.int(400, 2000), rng.int(800, 20000), rng.range(0.02, 0.5), 'SF', 'ldap');
    } else if (x < 0.96) {
      // Internal names: resolved, not connected to by name (printers, shares).
      em.lookup(t, w, `${rng.pick(['print', 'fs', 'wiki', 'git', 'hr'])}.corp.example`, null);
    } else {
      // A typo or a dead link: NXDOMAIN now and then.
      em.lookup(t, w, `${rng.pick(['wwww', 'ww', 'mial', 'docs'])}.${popularSite(topo).name.split('.').slice(1).join('.')}`, null);
    }
  }

  // The admin workstation administers servers on weekdays.
  if (w.admin) {
    for (let k = 0; k < 8; k++) {
      const srv = rng.pick(topo.servers);
      const port = rng.pick([22, 3389, 5985]);
      const t = day0 + rng.range(w.arrive * H + 600, w.leave * H - 600);
      em.internal(t, w, srv, 'tcp', port, rng.lognormalInt(30_000, 1, 2000, 2_000_000), rng.lognormalInt(200_000, 1, 5000, 20_000_000), rng.range(60, 1800), 'SF', 'admin');
    }
  }
}

/** Server-side machinery of one day. */
function serverDay(em: Emitter, day0: number, weekday: boolean, rng: Rng, devices: Host[]): void {
  const topo = em.topo;
  const dc = topo.byJob.get('dc')!;
  const web = topo.byJob.get('web')!;
  const db = topo.byJob.get('db')!;
  const app = topo.byJob.get('app')!;
  const mail = topo.byJob.get('mail')!;
  const backup = topo.byJob.get('backup')!;
  const monitor = topo.byJob.get('monitor')!;
  const file = topo.byJob.get('file')!;

  // Monitoring: every device pinged every two minutes (unanswered when powered off), servers' exporters scraped each minute.
  for (let s = rng.range(0, 60); s < 86400; s += 60) {
    const ping = Math.floor(s / 60) % 2 === 0;
    for (const d of devices) {
      if (d === monitor) continue;
      const up = d.role === 'server' || d.alwaysOn || (weekday && present(d, s));
      if (ping) em.internal(day0 + s + rng.range(0, 2), monitor, d, 'icmp', 0, 56, up ? 56 : 0, up ? rng.range(0.0002, 0.002) : 0, up ? 'SF' : 'S0', 'monitor-ping');
      if (d.role === 'server') em.internal(day0 + s + rng.range(2, 4), monitor, d, 'tcp', 9100, rng.int(150, 250), rng.int(20_000, 60_000), rng.range(0.01, 0.2), 'SF', 'monitor-scrape');
    }
  }
  // Syslog from every server to app01, and the web tier's database traffic.
  for (const srv of topo.servers) {
    if (srv === app) continue;
    for (let s = rng.range(0, 30); s < 86400; s += rng.range(50, 70)) em.internal(day0 + s, srv, app, 'udp', 514, rng.int(120, 900), 0, 0, 'S0', 'syslog');
  }
  const busy = (s: number) => (weekday && s > 8 * H && s < 18 * H ? 1 : 0.15);
  for (let s = 0; s < 86400; s += rng.exp(20 / busy(s))) {
    em.internal(day0 + s, web, db, 'tcp', 5432, rng.int(200, 4000), rng.lognormalInt(5000, 1.3, 100, 2_000_000), rng.range(0.005, 2), 'SF', 'web-db');
    if (rng.chance(0.3)) em.internal(day0 + s + 0.5, app, db, 'tcp', 5432, rng.int(200, 4000), rng.lognormalInt(5000, 1.3, 100, 2_000_000), rng.range(0.005, 2), 'SF', 'app-db');
  }
  // DC: forwards cache misses upstream and keeps time with the pool.
  for (let s = 0; s < 86400; s += rng.exp(15 / busy(s))) {
    const r = rng.pick(topo.resolvers);
    const site = rng.chance(0.8) ? popularSite(topo) : newSite(topo);
    const c = em.external(day0 + s, dc, r, 'udp', 53, 0, 0, rng.range(0.005, 0.08), 'SF', 'dns-forward');
    c.dns = { qname: site.name, qtype: 1, rcode: 0, answers: [site.ipv4], ttl: 300 };
  }
  for (let s = rng.range(0, 1024); s < 86400; s += 1024) em.external(day0 + s, dc, topo.ntpPool, 'udp', 123, 48, 48, rng.range(0.01, 0.05), 'SF', 'ntp-upstream');
  // Mail delivery: a few big providers most of the time, small ones now and then (many new peers a day).
  for (let s = 0; s < 86400; s += rng.exp(240 / busy(s))) {
    const mx = rng.chance(0.7) ? topo.mx[rng.int(0, 4)]! : rng.pick(topo.mx);
    em.external(day0 + s, mail, mx, 'tcp', 25, rng.lognormalInt(30_000, 1.2, 1000, 20_000_000), rng.int(300, 900), rng.range(0.3, 5), 'SF', 'smtp-out');
  }
  // Nightly backups: the backup server pulls from every server (file server: gigabytes).
  let t = day0 + 1 * H + rng.range(0, 300);
  for (const srv of topo.servers) {
    if (srv === backup || srv.job === 'scanner') continue;
    const bytes = srv === file ? rng.lognormalInt(6e9, 0.3, 1e9, 2e10) : srv === db ? rng.lognormalInt(1.5e9, 0.3, 2e8, 5e9) : rng.lognormalInt(1e8, 0.5, 1e7, 1e9);
    const dur = bytes / rng.range(80e6, 110e6);
    em.internal(t, backup, srv, 'tcp', srv.job === 'dc' || srv === file ? 445 : 22, rng.int(20_000, 200_000), bytes, dur, 'SF', 'backup');
    t += dur + rng.range(5, 60);
  }
  // Servers check for updates twice a day.
  for (const srv of topo.servers) {
    for (const h of [rng.range(2, 5), rng.range(14, 17)]) {
      em.external(day0 + h * H, srv, topo.updates, 'tcp', 443, rng.int(800, 1500), rng.int(3000, 9000), rng.range(0.3, 2), 'SF', 'update-check');
    }
  }
}

/**
 * The vulnerability scanner's nightly run (02:00, weekdays): every device of
 * the server and office subnets on a dozen ports. It is a scan, by a device
 * whose job is scanning: the config tags it `security-scanner`, and the scan
 * models leave it alone.
 */
function scannerNight(em: Emitter, day0: number, rng: Rng, devices: Host[]): void {
  const scanner = em.topo.byJob.get('scanner');
  if (!scanner) return;
  const live = new Map(devices.map((d) => [d.ipv4, d] as const));
  let t = day0 + 2 * H + rng.range(0, 120);
  for (const net of ['10.10.0', '10.1.0']) {
    for (let host = 1; host < 255; host++) {
      const ip = `${net}.${host}`;
      const d = live.get(ip);
      if (d === scanner) continue;
      const target: Host = d ?? { ...scanner, name: ip, ipv4: ip, v6: false, ipv6: undefined, subnet: net };
      for (const port of [22, 80, 135, 443, 445, 3389, 5432, 8443]) {
        const open = d && ((port === 445 && (d.job === 'file' || d.job === 'dc')) || (port === 22 && d.role === 'server') || (port === 443 && d.job === 'web'));
        em.internal(t, scanner, target, 'tcp', port, 0, 0, d ? 0.001 : 2, d ? (open ? 'RSTO' : 'REJ') : 'S0', 'vuln-scan');
        t += rng.exp(1 / 40);
      }
    }
  }
}

/** A whole day of benign traffic for the given devices. */
export function benignDay(em: Emitter, day0: number, weekday: boolean, rng: Rng, workstations: Host[]): void {
  for (const w of workstations) workstationDay(em, w, day0, weekday, rng);
  serverDay(em, day0, weekday, rng, [...em.topo.servers, ...workstations]);
  if (weekday) scannerNight(em, day0, rng, [...em.topo.servers, ...workstations]);
}

export { present };
