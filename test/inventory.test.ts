// The device inventory (sensor/state/inventory.ts): the learning thread's
// raw rows become the state's DeviceRows in the writer thread — address,
// MAC only when known, the interface's name, tags, times, the rolling risk
// decayed to the snapshot's time, breaches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { INVENTORY_ROW, decayedRisk, inventoryRows, type RawInventory } from '../sensor/state/inventory.ts';

function row(bytes: Uint8Array, i: number, v4: [number, number, number, number], first: number, last: number, mac: number[] | null, reporter: number): void {
  const at = i * INVENTORY_ROW;
  const dv = new DataView(bytes.buffer, at, INVENTORY_ROW);
  bytes.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4], at); // v4-mapped
  dv.setFloat64(16, first, true);
  dv.setFloat64(24, last, true);
  if (mac) { bytes.set(mac, at + 32); bytes[at + 39] = 0x80; }
  dv.setUint32(40, reporter, true);
  dv.setFloat64(48, 12, true);
}

test('raw rows become the state\'s device rows', () => {
  const rows = new Uint8Array(2 * INVENTORY_ROW);
  row(rows, 0, [10, 1, 0, 5], 1767571200, 1767657600, [0x3c, 0x52, 0x82, 1, 2, 3], 0);
  row(rows, 1, [10, 1, 0, 6], 1767571300, 1767571400, null, 7);
  const now = 1767657600;
  const inv: RawInventory = { rows, count: 2, now, risk: [['10.1.0.5', 80, now - 86400]], breaches: [['10.1.0.5', 2]], tags: { 'backup-server': ['10.1.0.6'] }, reporters: [[7, 'eni-0abc']] };
  assert.equal(inventoryRows(inv), [
    { ip: '10.1.0.5', mac: '3c:52:82:01:02:03', first_seen: '2026-01-05T00:00:00.000Z', last_seen: '2026-01-06T00:00:00.000Z', risk: 40, breaches: 2 },
    { ip: '10.1.0.6', interface: 'eni-0abc', tags: ['backup-server'], first_seen: '2026-01-05T00:01:40.000Z', last_seen: '2026-01-05T00:03:20.000Z', risk: 0, breaches: 0 },
  ]);
  assert.is(decayedRisk(80, now - 2 * 86400, now), 20);
  // a device in a peer group carries its number (what the aggregator's similar devices come from)
  const grouped = inventoryRows({ ...inv, groups: [['10.1.0.6', 3]] });
  assert.is(grouped[0]!.peer_group, undefined);
  assert.is(grouped[1]!.peer_group, 3);
});

test.run();
