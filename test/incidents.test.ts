// Incident correlation (sensor/aggregator/incidents.ts): breaches linked by a
// device, a peer that breaches next, or a shared outside endpoint become one
// incident with its phases, timeline, devices, sensors, score and summary;
// unrelated or distant breaches do not; arrival order does not matter; memory
// is bounded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IncidentCorrelator, incidentId, tacticsOf, type IncidentBreach } from '../sensor/aggregator/incidents.ts';
import { Rng } from '../sensor/sample/rng.ts';

const T0 = Date.parse('2026-11-20T09:00:00Z');
let n = 0;
function breach(min: number, device: string, model: string, mitre: string[], summary: string, peer?: string, score = 55): IncidentBreach {
  n++;
  return {
    id: `b${String(n).padStart(15, '0')}`, time: new Date(T0 + min * 60_000).toISOString(), model, title: `Title / ${model}`, score, mitre,
    device: { ip: device }, ...(peer ? { peer: { ip: peer, port: 445 } } : {}), summary,
  };
}

/** A scan from A, A logging into B, then B sending data out; and an unrelated device's port scan. */
function story(): { breaches: IncidentBreach[]; sensors: string[] } {
  n = 0;
  const breaches = [
    breach(0, '10.0.0.16', 'device-network-scan', ['T1046'], '10.0.0.16 scanned 508 hosts on 4 ports in 5 minutes'),
    breach(12, '10.0.0.16', 'lateral-movement-admin-connections', ['T1021'], '10.0.0.16 made 6 unusual admin connections to 10.0.0.18', '10.0.0.18'),
    breach(40, '10.0.0.18', 'anomalous-data-to-rare-endpoint', ['T1041', 'T1048'], '10.0.0.18 sent 2.1 GB to rare endpoint 203.0.113.9', '203.0.113.9', 76),
    breach(30, '10.0.7.7', 'device-port-scan', ['T1046'], '10.0.7.7 probed 40 ports on 10.0.7.8', '10.0.7.8'),
  ];
  return { breaches, sensors: ['s1', 's1', 's2', 's1'] };
}

test('a scan, lateral movement and exfiltration across two devices and sensors are one incident; an unrelated scan is another', () => {
  const { breaches, sensors } = story();
  const c = new IncidentCorrelator();
  const ids = breaches.map((b, i) => c.add(b, sensors[i]!, i + 1));
  assert.is(ids[0], ids[1]);
  assert.is(ids[1], ids[2]);
  assert.is.not(ids[3], ids[0]);
  assert.is(c.size, 2);
  const inc = c.incident(ids[0]!)!;
  assert.equal(inc.devices, ['10.0.0.16', '10.0.0.18']);
  assert.equal(inc.sensors, ['s1', 's2']);
  assert.equal(inc.phases, ['Discovery', 'Lateral Movement', 'Exfiltration']);
  assert.equal(inc.timeline.map((e) => e.model), ['device-network-scan', 'lateral-movement-admin-connections', 'anomalous-data-to-rare-endpoint']);
  assert.is(inc.breaches, 3);
  assert.is(inc.first, '2026-11-20T09:00:00.000Z');
  assert.is(inc.last, '2026-11-20T09:40:00.000Z');
  // independent evidence: 1 − 0.45 × 0.45 × 0.24
  assert.is(inc.score, Math.round(1000 * (1 - 0.45 * 0.45 * 0.24)) / 10);
  assert.is(inc.title, 'Discovery → Lateral Movement → Exfiltration across 2 devices');
  assert.match(inc.summary, /^3 breaches on 2 devices \(10\.0\.0\.16, 10\.0\.0\.18\) over 40 min, seen by sensors s1, s2\./);
  assert.match(inc.summary, /Discovery: 10\.0\.0\.16 scanned 508 hosts on 4 ports in 5 minutes/);
  assert.match(inc.summary, /Exfiltration: 10\.0\.0\.18 sent 2\.1 GB to rare endpoint 203\.0\.113\.9 \(Title \/ anomalous-data-to-rare-endpoint, score 76\)/);
  // highest score first
  assert.equal(c.incidents().map((i) => i.id), [ids[0], ids[3]]);
  assert.equal(c.incidents({ minScore: 60 }).map((i) => i.id), [ids[0]]);
  assert.equal(c.counters, { breaches: 4, incidents: 2, merged: 0, evicted: 0, timeline_dropped: 0, popular_peers: 0 });
});

test('two devices breaching towards the same outside address are one incident; the same device two days later is a new one', () => {
  n = 0;
  const c = new IncidentCorrelator({ windowS: 6 * 3600 });
  const a = c.add(breach(0, '10.1.0.5', 'compromise-beaconing-rare-endpoint', ['T1071', 'T1573'], 'beacons', '198.51.100.66', 75), 'dc-a', 1);
  const b = c.add(breach(90, '10.2.0.9', 'compromise-beaconing-rare-endpoint', ['T1071', 'T1573'], 'beacons too', '198.51.100.66', 75), 'dc-b', 1);
  assert.is(a, b);
  assert.equal(c.incident(a)!.phases, ['Command and Control']);
  const later = c.add(breach(2 * 24 * 60, '10.1.0.5', 'device-port-scan', ['T1046'], 'scan'), 'dc-a', 2);
  assert.is.not(later, a);
  assert.is(c.incident(later)!.title, 'Discovery on 10.1.0.5');
});

test('a popular peer (named by more than 10 devices in the window) stops linking: a CDN does not make one incident of a fleet; a rare C2 still links', () => {
  n = 0;
  const c = new IncidentCorrelator();
  const cdn = '203.0.113.80';
  const ids = Array.from({ length: 40 }, (_, i) => c.add(breach(i, `10.5.0.${i + 1}`, 'anomalous-connection-new-endpoint', ['T1071'], `new endpoint ${i}`, cdn, 40), 's', i + 1));
  // the first ten devices are one incident through it; from the eleventh on it is popular and links nothing
  assert.is(new Set(ids.slice(0, 10)).size, 1);
  assert.is(new Set(ids.slice(10)).size, 30);
  assert.ok(!ids.slice(10).includes(ids[0]!));
  assert.is(c.counters.popular_peers, 30);
  const c2a = c.add(breach(50, '10.6.0.1', 'compromise-beaconing-rare-endpoint', ['T1071'], 'beacon a', '198.51.100.66', 75), 's', 100);
  const c2b = c.add(breach(55, '10.6.0.2', 'compromise-beaconing-rare-endpoint', ['T1071'], 'beacon b', '198.51.100.66', 75), 's', 101);
  assert.is(c2a, c2b, 'two devices beaconing to one rare endpoint are one incident');
  // a popular internal server that breaches itself joins none of the incidents that merely named it
  const dc = '10.0.0.2';
  const named = Array.from({ length: 15 }, (_, i) => c.add(breach(60 + i, `10.7.0.${i + 1}`, 'lateral-movement-admin-connections', ['T1021'], `admin ${i}`, dc), 's', 200 + i));
  const own = c.add(breach(80, dc, 'device-network-scan', ['T1046'], 'dc scans'), 's', 300);
  assert.ok(!named.includes(own), 'its own breach is its own incident');
  assert.equal(c.incident(own)!.devices, [dc]);
  assert.is(c.size, 1 + 30 + 1 + 5 + 1 + 1, 'the first ten namers of each popular address linked, the rest alone');
});

test('a breach linking two open incidents merges them into the earlier one', () => {
  n = 0;
  const c = new IncidentCorrelator();
  const x = c.add(breach(0, '10.0.0.1', 'device-network-scan', ['T1046'], 'x'), 's', 1);
  const y = c.add(breach(5, '10.0.0.2', 'device-network-scan', ['T1046'], 'y'), 's', 2);
  assert.is.not(x, y);
  const z = c.add(breach(10, '10.0.0.2', 'lateral-movement-admin-connections', ['T1021'], 'z', '10.0.0.1'), 's', 3);
  assert.is(z, x);
  assert.is(c.size, 1);
  assert.equal(c.incident(x)!.timeline.map((e) => e.summary), ['x', 'y', 'z']);
  assert.is(c.incident(y), null);
  assert.is(c.counters.merged, 1);
});

test('arrival order does not matter: the same incidents from every seeded shuffle of a story', () => {
  const { breaches, sensors } = story();
  const grouping = (order: number[]) => {
    const c = new IncidentCorrelator();
    for (const i of order) c.add(breaches[i]!, sensors[i]!, i + 1);
    // incidents as sets of breach indexes (the id add() returned may since have been merged into another), with their timelines and phases
    return c.incidents().map((inc) => ({ members: inc.timeline.map((e) => breaches.findIndex((b) => b.id === e.id)).sort(), timeline: inc.timeline.map((e) => e.id), phases: inc.phases, score: inc.score }))
      .sort((a, b) => a.members[0]! - b.members[0]!);
  };
  const expected = grouping([0, 1, 2, 3]);
  const rng = new Rng('incidents-order');
  for (let k = 0; k < 30; k++) {
    const order = [0, 1, 2, 3];
    for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(rng.float() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!]; }
    assert.equal(grouping(order), expected, `order ${order}`);
  }
});

test('memory is bounded: incidents past maxIncidents are forgotten least recently active first, timelines past maxTimeline counted', () => {
  n = 0;
  const c = new IncidentCorrelator({ maxIncidents: 100, maxTimeline: 10 });
  let kept = '';
  for (let i = 0; i < 5000; i++) {
    const id = c.add(breach(i, `10.9.${i >> 8 & 255}.${i & 255}`, 'device-port-scan', ['T1046'], `scan ${i}`), 's', i + 1);
    // one device keeps breaching: its incident stays active and is never the one forgotten
    kept = c.add(breach(i, '10.0.0.1', 'device-network-scan', ['T1046'], `busy ${i}`), 's', 100_000 + i);
    assert.ok(c.size <= 100);
    void id;
  }
  assert.is(c.counters.evicted, 5000 + 1 - 100);
  const busy = c.incident(kept)!;
  assert.is(busy.breaches, 5000);
  assert.is(busy.timeline.length, 10);
  assert.is(busy.timeline[0]!.summary, 'busy 0');
  assert.is(c.counters.timeline_dropped, 4990);
});

test('incident ids are 64-bit FNV-1a of sensor and opening breach: equal to a BigInt reference, stable, distinct', () => {
  const reference = (text: string) => {
    let h = 0xcbf29ce484222325n;
    for (let i = 0; i < text.length; i++) h = ((h ^ BigInt(text.charCodeAt(i))) * 0x100000001b3n) & 0xffffffffffffffffn;
    return `inc-${h.toString(16).padStart(16, '0')}`;
  };
  const rng = new Rng(6);
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const sensor = `sensor-${Math.floor(rng.float() * 50)}`;
    const id = `${Math.floor(rng.float() * 2 ** 48).toString(16)}${i}`;
    const got = incidentId(sensor, id);
    assert.is(got, reference(`${sensor}\u0000${id}`));
    assert.is(incidentId(sensor, id), got, 'stable');
    seen.add(got);
  }
  assert.is(seen.size, 5000);
});

test('a phase is told by the breach that saw it, not by a meta model summing breaches up', () => {
  n = 0;
  const c = new IncidentCorrelator();
  c.add(breach(0, '10.1.0.4', 'device-brute-force', ['T1110'], '10.1.0.4 made 20 short connections to 10.10.0.11 on port 22 within 5 min'), 's', 1);
  const id = c.add({ ...breach(1, '10.1.0.4', 'meta-many-models', ['T1046', 'T1110'], '10.1.0.4 breached 3 different models', undefined, 60), related: ['b000000000000001'] }, 's', 2);
  const inc = c.incident(id)!;
  assert.match(inc.summary, /Credential Access: 10\.1\.0\.4 made 20 short connections/);
  // with nothing else to tell Discovery, the meta breach tells it
  assert.match(inc.summary, /Discovery: 10\.1\.0\.4 breached 3 different models/);
  assert.is(inc.timeline[1]!.meta, true);
});

test('tactics from technique ids, sub-techniques by their parent, in kill-chain order', () => {
  assert.equal(tacticsOf(['T1048', 'T1046', 'T1568.002', 'T9999']), ['Discovery', 'Command and Control', 'Exfiltration']);
  assert.equal(tacticsOf([]), []);
});

test.run();
