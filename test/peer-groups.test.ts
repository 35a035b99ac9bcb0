// Peer groups: devices clustered by behaviour from the core's tables, a
// `similar devices` answer, and models that leave alone a port that is
// normal for the device's group ("unusual for this device, normal for its group").
// The groups are rebuilt between batches of records once six hours of capture
// time have passed, so an input must be busy enough to fill a batch now and then.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../sensor/pipeline/analyze.ts';
import type { Breach } from '../sensor/models/breach.ts';
import type { DeviceProfileRow } from '../sensor/core/wasm-core.ts';
import { GROUP_AT, PeerGroups, similarity } from '../sensor/learn/peer-groups.ts';

const dir = mkdtempSync(join(tmpdir(), 'edge-groups-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const TCP = 6 << 16;
function row(ip: string, ports: number[], hours: number[], served = 0, conns = 500): DeviceProfileRow {
  const h = new Float64Array(24);
  for (const x of hours) h[x] = 10;
  return { ip, served, conns, hours: h, clientPorts: new Set(ports.map((p) => p | TCP)) };
}
const OFFICE = [9, 10, 11, 12, 13, 14, 15, 16];
const ALLDAY = Array.from({ length: 24 }, (_, i) => i);

test('groups equal the connected components of similarity() >= GROUP_AT (the fast all-pairs pass decides as similarity() does)', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const pool = [22, 53, 80, 123, 389, 443, 445, 993, 3389, 5432, 8080, 8443];
  const rows = Array.from({ length: 300 }, (_, i) => {
    const ports = pool.filter(() => rnd() < 0.35);
    const hours = Array.from({ length: 24 }, (_, h) => h).filter(() => rnd() < 0.4);
    return row(`10.1.${i >> 8}.${i & 255}`, ports, hours, Math.round(rnd() * 4) / 4);
  });
  // reference: every pair through similarity(), union-find
  const parent = rows.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  for (let i = 0; i < rows.length; i++) for (let j = i + 1; j < rows.length; j++) {
    if (similarity(rows[i]!, rows[j]!) >= GROUP_AT) parent[Math.max(find(i), find(j))] = Math.min(find(i), find(j));
  }
  const g = new PeerGroups(rows);
  let multi = 0;
  for (let i = 0; i < rows.length; i++) {
    const want = rows.filter((_, j) => find(j) === find(i)).map((r) => r.ip).sort();
    assert.equal([...g.of(rows[i]!.ip)!.members].sort(), want, rows[i]!.ip);
    if (want.length > 1) multi++;
  }
  assert.ok(multi > 10 && multi < rows.length - 10, `a mix of grouped and lone devices (${multi} grouped)`);
});

test('similarity and groups: same ports, hours and role group together; a server and a scanner stand apart', () => {
  const ws = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((ip) => row(ip, [443, 445, 389, 993], OFFICE));
  const srv = row('10.0.9.1', [5432, 514], ALLDAY, 0.9);
  const scanner = row('10.0.9.9', Array.from({ length: 200 }, (_, i) => i + 1), [2]);
  const quiet = row('10.0.0.99', [443], OFFICE, 0, 10); // too little history to judge
  assert.is(similarity(ws[0]!, ws[1]!), 1);
  assert.ok(similarity(ws[0]!, srv) < 0.3);
  const g = new PeerGroups([...ws, srv, scanner, quiet]);
  assert.equal(g.of('10.0.0.1')!.members.sort(), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
  assert.is(g.of('10.0.9.1')!.members.length, 1);
  assert.is(g.of('10.0.9.9')!.members.length, 1);
  assert.is(g.of('10.0.0.99'), undefined);
  assert.ok(g.portNormal('10.0.0.2', 993, 6));
  assert.not.ok(g.portNormal('10.0.0.2', 993, 17));
  assert.not.ok(g.portNormal('10.0.9.1', 5432, 6)); // a group of one says nothing
  assert.equal(g.similar('10.0.0.1', 3).map((s) => s.device), ['10.0.0.2', '10.0.0.3', '10.0.0.4']);
  assert.equal(g.describe().find((x) => x.size === 4)!.common_ports, ['443/tcp', '445/tcp', '389/tcp', '993/tcp']);
});

test('a port new to a device but normal for its peer group raises no New External Port breach; the same port from a device unlike them does', async () => {
  const T0 = 1767571200;
  const lines = ['version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status'];
  let port = 20000;
  const add = (src: string, dst: string, dport: number, t: number) => lines.push(`2 123456789012 eni-0a ${src} ${dst} ${port++} ${dport} 6 20 5000 ${t} ${t + 2} ACCEPT OK`);
  for (let t = T0; t < T0 + 2 * 86400; t += 600) {
    const hour = Math.floor((t - T0) / 3600) % 24;
    // six build agents, around the clock: HTTPS to a common mirror; five of them also fetch from their own git remote
    for (let a = 1; a <= 6; a++) {
      add(`10.0.1.${a}`, '198.51.100.10', 443, t + a);
      if (a <= 5 && (t - T0) % 3600 === 0) add(`10.0.1.${a}`, `203.0.113.${10 + a}`, 9418, t + a + 1);
    }
    // background: 60 sensors reporting to an internal collector every 5 minutes (enough
    // records that the core's output fills, and the groups are rebuilt, every few hours)
    for (let k = 0; k < 60; k++) for (const dt of [0, 300]) add(`10.0.3.${k + 1}`, '10.0.9.2', 8080, t + dt + 20 + k);
    // a workstation in office hours: web, files, directory, mail
    if (hour >= 9 && hour < 17) for (const [i, p] of [443, 445, 389, 993].entries()) add('10.0.2.1', p === 443 ? '198.51.100.10' : '10.0.9.1', p, t + 10 + i);
  }
  const t1 = T0 + 86400 + 12 * 3600 + 30;
  add('10.0.1.6', '203.0.113.99', 9418, t1);       // the sixth agent's first git fetch
  add('10.0.2.1', '203.0.113.98', 9418, t1 + 60);  // the workstation's
  lines.splice(1, lines.length - 1, ...lines.slice(1).sort((a, b) => Number(a.split(' ')[10]) - Number(b.split(' ')[10])));
  const path = join(dir, 'groups.log');
  writeFileSync(path, lines.join('\n') + '\n');
  const breaches: Breach[] = [];
  const s = await analyze({ inputs: [path], format: 'aws-vpc', onBreach: (b) => breaches.push(b), learningS: 86400, similar: ['10.0.1.6'], progress: false });
  const newPort = breaches.filter((b) => b.model === 'anomalous-new-external-port');
  assert.equal(newPort.map((b) => [b.device.ip, b.port ?? b.metrics.find((m) => m.name === 'port')?.value]), [['10.0.2.1', 9418]]);
  assert.ok(s.detection!.suppressed_group >= 1);
  assert.equal(s.detection!.similar!['10.0.1.6']!.slice(0, 5).map((x) => x.device).sort(), ['10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.4', '10.0.1.5']);
  const agents = s.detection!.peer_groups.find((g) => g.members.includes('10.0.1.6'))!;
  assert.ok(!agents.members.includes('10.0.2.1'));
  assert.ok(agents.common_ports.includes('9418/tcp'));
});

test.run();
