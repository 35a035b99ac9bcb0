// Our flows against conn.logs written by real Zeek (its btest baselines, in
// ../shared/data/flows/zeek_conn/zeek_btest_baselines) from the same
// captures. Flows are matched by (orig_h, orig_p, resp_h, resp_p, proto) —
// direction included, so the originator must be the one Zeek chose — and
// must agree on conn_state, history, orig_pkts, resp_pkts, orig_ip_bytes,
// resp_ip_bytes and the payload bytes orig_bytes/resp_bytes (both unset when
// the duration is 0, in Zeek and in our records). local_orig/local_resp are not compared (Zeek's
// Site::local_nets differs per btest), nor ts/uid (masked in baselines).
//
// By the sensor's counting rule (see test/tshark-differential.test.ts) a
// decapsulated packet belongs to its inner flow only, so Zeek's rows for the
// OUTER tunnel connections are not flows of ours: they are excluded by
// name below. Every other baseline row must match one of our flows, and
// every flow of ours must match a row, except where listed with a reason.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { analyzeToArray } from '../sensor/pipeline/analyze.ts';
import type { FlowRecord } from '../sensor/flows/zeek-record.ts';
import { needSharedData, sharedPath } from './helpers/shared-data.ts';
import { normAddr } from './helpers/tshark.ts';
import { zeekBaselines, type ZeekRow } from './helpers/zeek-log.ts';

const silent = pino({ level: 'silent' });

/** Zeek rows for outer tunnel connections: not flows by our counting rule. */
const OUTER_TUNNEL_ROWS: { proto: string; port: number; service: string; why: string }[] = [
  { proto: 'udp', port: 4789, service: 'vxlan', why: 'VXLAN outer UDP connection (its packets are counted in the inner flows; the ARP-carrying ones are no flow)' },
  { proto: 'udp', port: 6081, service: 'geneve', why: 'GENEVE outer UDP connection' },
  { proto: 'udp', port: 3544, service: 'teredo', why: 'Teredo outer UDP connection: to/from the Teredo server port, or a relay on any port (service teredo)' },
];

/** An outer tunnel row: its service names the tunnel Zeek decapsulated, or it uses the tunnel's port. */
function isOuterTunnel(r: ZeekRow): (typeof OUTER_TUNNEL_ROWS)[number] | undefined {
  return OUTER_TUNNEL_ROWS.find((o) => r.proto === o.proto
    && ((r.service ?? '').split(',').includes(o.service) || Number(r['id.resp_p']) === o.port || Number(r['id.orig_p']) === o.port));
}

/**
 * Baseline rows that legitimately differ from our flow, by capture and key
 * ("proto orig_h:orig_p > resp_h:resp_p"): the row whose fields match
 * `zeek` is expected to look like `ours` in those fields, for the reason given.
 */
const ROW_EXCEPTIONS: Record<string, { key: string; zeek: Partial<Record<Compared, string>>; ours: Partial<Record<Compared, string>>; why: string }[]> = {
  'pcap/linktypes/tunnels/vxlan.pcap': [{
    key: 'icmp 10.0.0.1:8 > 10.0.0.2:0', zeek: { history: 'X' }, ours: { history: '' },
    why: "Zeek's history letter X means \"connection analysis partial (e.g. limits exceeded)\" - an analyzer-internal state of that Zeek run, "
      + 'not a packet event; ICMP has no history of its own (the other ICMP rows in these baselines log "-")',
  }],
};

/** Our flows with no baseline row, by capture and key, with the reason. */
const EXTRA_FLOWS: Record<string, { key: string; why: string }[]> = {
  'pcap/linktypes/tunnels/Teredo.pcap': ['unknown_transport 2001:0:4137:9e50:8000:f12a:b9c8:2815:0 > 2001:4860:0:2001::68:0', 'unknown_transport fe80::708d:fe83:4114:a512:0 > 2001:0:4137:9e50:8000:f12a:b9c8:2815:0'].map((key) => ({
    key,
    why: 'Teredo bubbles (IPv6 with no next header, protocol 59) are decapsulated like every Teredo packet and make address-only flows; '
      + 'Zeek drops IPv6 packets with no next header (weird ipv6_no_next) and opens no connection for them',
  })),
};

/** Baselines made with a capture filter: only rows the filter left complete are compared. */
const FILTERED: Record<string, { keep: (r: ZeekRow) => boolean; why: string }> = {
  'pcap/benign/wikipedia.pcap': {
    keep: (r) => r['id.resp_p'] === '53',
    why: 'btest core/pcap/dynamic-filter.zeek installs the BPF filter "port 80" after the first packet and "port 53" after the second: '
      + 'only the DNS (port 53) connections reach Zeek complete; the mDNS row holds 1 packet and the HTTP row 1 packet of theirs, the other HTTP connections are absent',
  },
};

const COMPARED = ['conn_state', 'history', 'orig_pkts', 'resp_pkts', 'orig_ip_bytes', 'resp_ip_bytes', 'orig_bytes', 'resp_bytes'] as const;
type Compared = (typeof COMPARED)[number];

function rowKey(r: ZeekRow): string {
  return `${r.proto} ${normAddr(r['id.orig_h']!)}:${r['id.orig_p']} > ${normAddr(r['id.resp_h']!)}:${r['id.resp_p']}`;
}
function flowKey(f: FlowRecord): string {
  return `${f.proto} ${normAddr(f['id.orig_h'])}:${f['id.orig_p']} > ${normAddr(f['id.resp_h'])}:${f['id.resp_p']}`;
}
function reversed(key: string): string {
  const m = /^(\S+) (\S+) > (\S+)$/.exec(key)!;
  return `${m[1]} ${m[3]} > ${m[2]}`;
}

function values(x: ZeekRow | FlowRecord): Record<Compared, string> {
  const out = {} as Record<Compared, string>;
  for (const c of COMPARED) {
    const v = (x as Record<string, unknown>)[c];
    // Zeek logs an empty history as "-" (unset).
    out[c] = v === null || v === undefined ? '' : String(v);
  }
  return out;
}

const show = (v: Record<Compared, string>) => COMPARED.map((c) => `${c}=${v[c] || '-'}`).join(' ');

/** Match rows to flows sharing one key (Zeek can log one 5-tuple several times): find a pairing with equal values. */
function pairUp(rows: Record<Compared, string>[], flows: Record<Compared, string>[]): boolean {
  if (rows.length !== flows.length) return false;
  const used = new Array(flows.length).fill(false);
  const same = (a: Record<Compared, string>, b: Record<Compared, string>) => COMPARED.every((c) => a[c] === b[c]);
  const go = (i: number): boolean => {
    if (i === rows.length) return true;
    for (let j = 0; j < flows.length; j++) {
      if (used[j] || !same(rows[i]!, flows[j]!)) continue;
      used[j] = true;
      if (go(i + 1)) return true;
      used[j] = false;
    }
    return false;
  };
  return go(0);
}

test('baselines are found and each names its capture', () => {
  if (!needSharedData('Zeek baselines')) return;
  const b = zeekBaselines();
  assert.is(b.length, 10);
  for (const x of b) {
    assert.is(x.parsed.path, 'conn');
    for (const f of ['id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', ...COMPARED]) assert.ok(x.parsed.fields.includes(f), `${x.log}: no ${f} column`);
    assert.ok(x.parsed.rows.length > 0, x.log);
  }
});

let totalCompared = 0;
for (const b of needSharedData('Zeek baselines') ? zeekBaselines() : []) {
  test(`Zeek baseline ${b.trace} (${b.capture}): every connection both have agrees`, async () => {
    // Interim records (active timeout) are snapshots; the final record has the totals.
    const flows = (await analyzeToArray([sharedPath(b.capture)], { log: silent })).flows.filter((f) => !f.interim);
    const filter = FILTERED[b.capture];
    const rowEx = ROW_EXCEPTIONS[b.capture] ?? [];
    const extraOk = EXTRA_FLOWS[b.capture] ?? [];
    const problems: string[] = [];

    const rowsByKey = new Map<string, ZeekRow[]>();
    let outer = 0, filtered = 0;
    for (const r of b.parsed.rows) {
      if (isOuterTunnel(r)) { outer++; continue; }
      if (filter && !filter.keep(r)) { filtered++; continue; }
      const k = rowKey(r);
      rowsByKey.set(k, [...(rowsByKey.get(k) ?? []), r]);
    }
    const flowsByKey = new Map<string, FlowRecord[]>();
    for (const f of flows) flowsByKey.set(flowKey(f), [...(flowsByKey.get(flowKey(f)) ?? []), f]);

    for (const [k, rows] of rowsByKey) {
      const fs = flowsByKey.get(k) ?? [];
      const want = rows.map(values);
      // Listed differences: the row is expected to look like our flow in the listed fields.
      for (const e of rowEx.filter((x) => x.key === k)) {
        const row = want.find((w) => Object.entries(e.zeek).every(([c, v]) => w[c as Compared] === v));
        if (!row) { problems.push(`${k}: ROW_EXCEPTIONS entry no longer matches a Zeek row (${JSON.stringify(e.zeek)})`); continue; }
        Object.assign(row, e.ours);
      }
      const got = fs.map(values);
      flowsByKey.delete(k);
      if (!pairUp(want, got)) {
        const rev = flowsByKey.get(reversed(k));
        problems.push(`${k}: Zeek ${want.map(show).join(' | ') || '(listed: no flow)'} — ours ${got.map(show).join(' | ') || 'no flow'}${rev ? ` (we have the reverse direction: ${rev.map((f) => show(values(f))).join(' | ')})` : ''}`);
      }
    }
    for (const [k, fs] of flowsByKey) {
      if (filter) continue; // a filtered baseline lacks what the filter dropped
      if (extraOk.some((e) => e.key === k)) continue;
      problems.push(`${k}: our flow(s) ${fs.map((f) => show(values(f))).join(' | ')} have no Zeek row`);
    }
    const compared = [...rowsByKey.values()].reduce((n, r) => n + r.length, 0);
    assert.ok(compared > 0, `${b.log}: no row left to compare`);
    assert.equal(problems, [], `${b.log}: ${problems.length} differences among ${compared} rows compared (${outer} outer tunnel rows, ${filtered} filtered rows excluded)`);
    totalCompared += compared;
    // Every exception must still be needed.
    for (const e of rowEx) assert.ok(rowsByKey.has(e.key), `stale ROW_EXCEPTIONS entry ${e.key}`);
    for (const e of extraOk) assert.ok(flows.some((f) => flowKey(f) === e.key), `stale EXTRA_FLOWS entry ${e.key}`);
  });
}

test('the baselines together compare a meaningful number of connections', () => {
  if (!needSharedData('Zeek baselines')) return;
  assert.ok(totalCompared >= 60, `only ${totalCompared} Zeek rows compared`);
});

test('outer tunnel rows excluded by name really are tunnel connections in their baselines', () => {
  if (!needSharedData('Zeek baselines')) return;
  let n = 0;
  for (const b of zeekBaselines()) {
    const parents = new Set(b.parsed.rows.flatMap((r) => (r.tunnel_parents ?? '').split(',').filter(Boolean)));
    for (const r of b.parsed.rows) {
      const o = isOuterTunnel(r);
      if (!o) continue;
      n++;
      // Zeek names the service it decapsulated, or the row is the parent of an inner connection.
      assert.ok(r.service === o.service || parents.has(r.uid!), `${b.log}: ${rowKey(r)} excluded as ${o.service} but neither its service nor a tunnel parent`);
    }
  }
  assert.ok(n >= 6, `only ${n} outer tunnel rows`);
});

test.run();
