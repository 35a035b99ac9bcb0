// Breaches and devices as the sensor produces them, for the state tests:
// every field a real breach can carry (null metric values, a peer, a port,
// evidence, related ids), so a round trip through the state is tested on
// the real shape.
import type { Breach } from '../../sensor/models/breach.ts';
import type { DeviceRow } from '../../sensor/state/device-store.ts';

const MODELS = ['network-scan', 'port-scan', 'brute-force-ssh', 'compromise-beaconing-rare-endpoint'] as const;

/** Breach number `n` at `timeMs` (ids are stable for a given n and prefix). */
export function makeBreach(n: number, timeMs: number, over: Partial<Breach> = {}, prefix = 'b'): Breach {
  const model = MODELS[n % MODELS.length]!;
  const device = `10.0.${(n >> 8) & 255}.${n & 255}`;
  return {
    id: `${prefix}${n.toString(16).padStart(15, '0')}`,
    time: new Date(timeMs).toISOString(),
    model,
    title: `Title of ${model}`,
    category: 'suspicious',
    score: 40 + (n % 60),
    mitre: ['T1046'],
    device: { ip: device, ...(n % 2 ? { mac: '02:00:00:00:00:01' } : {}) },
    ...(n % 3 === 0 ? { peer: { ip: n % 6 === 0 ? '2001:db8::1' : '198.51.100.7', port: 443 } } : {}),
    ...(n % 5 === 0 ? { port: 445 } : {}),
    metrics: [
      { name: 'count', value: 12 + n, threshold: '>= 10', window_s: 300, description: 'connections in the window' },
      { name: 'peer_age_s', value: null, description: 'seconds since the peer was first seen (null: never)' },
      { name: 'bytes_out_z', value: 3.25, description: 'z-score of bytes out' },
    ],
    summary: `${device} did something unusual (#${n})`,
    evidence: [{ uid: `C${n}abc`, community_id: '1:abcdefghijklmnopqrstuvwxyz0=' }],
    ...(n % 7 === 0 ? { related: ['b000000000000001'] } : {}),
    ...over,
  };
}

export function makeDevices(): DeviceRow[] {
  return [
    { ip: '10.0.0.10', mac: '02:00:00:00:00:0a', name: 'ws-10', tags: ['workstation'], first_seen: '2024-05-01T00:00:00.000Z', last_seen: '2024-05-02T00:00:00.000Z', risk: 12.5, breaches: 1 },
    { ip: '2001:db8::5', first_seen: '2024-05-01T00:00:01.000Z', last_seen: '2024-05-01T12:00:00.000Z' },
    { ip: '10.0.0.2', mac: '02:00:00:00:00:02', interface: 'eni-0abc', first_seen: '2024-05-01T00:00:02.000Z', last_seen: '2024-05-02T00:00:00.000Z', risk: 0, breaches: 0 },
    { ip: '192.168.1.1', name: 'gw', tags: ['router', 'no-scan-alerts'], first_seen: '2024-05-01T00:00:03.000Z', last_seen: '2024-05-02T00:00:00.000Z' },
  ];
}
