// The flow table (asm/flows.ts + tcpstate.ts + history.ts): Zeek conn.log
// semantics on synthetic packets fed straight into the packet.ts globals
// (build/core.test.wasm, built from asm/test-entry.ts). The comparison with
// Zeek's own conn.logs on real captures is test/zeek-baseline.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCore, TCP, type FlowRec, type Pkt } from './helpers/flow-core.ts';
import { RF_FLIPPED, RF_HAS_MAC, RF_INTERIM } from '../sensor/core/flow-record.ts';

const A = '10.0.0.1', B = '10.0.0.2';
const END = { INACTIVE: 'inactive', CLOSED: 'closed', EVICTED: 'evicted', FLUSHED: 'flushed', ACTIVE_TIMEOUT: 'active_timeout', REUSED: 'reused' } as const;
const RF = { INTERIM: RF_INTERIM, HAS_MAC: RF_HAS_MAC, FLIPPED: RF_FLIPPED } as const;
const S = TCP.SYN, SA = TCP.SYN | TCP.ACK, AK = TCP.ACK, FA = TCP.FIN | TCP.ACK, RA = TCP.RST | TCP.ACK, R = TCP.RST, PA = TCP.PSH | TCP.ACK;

/** Client A:40000 -> server B:8080 (8080 is a likely server port; ephemeral ports are not). */
function c2s(ts: number, flags: number, seq: number, ack = 0, len = 0, extra: Partial<Pkt> = {}): Pkt {
  return { ts, src: A, dst: B, sport: 40000, dport: 8080, flags, seq, ack, len, ...extra };
}
function s2c(ts: number, flags: number, seq: number, ack = 0, len = 0, extra: Partial<Pkt> = {}): Pkt {
  return { ts, src: B, dst: A, sport: 8080, dport: 40000, flags, seq, ack, len, ...extra };
}

function run(pkts: Pkt[], opts: { cap?: number; out?: number; timeouts?: number[]; advance?: number } = {}): { core: TestCore; recs: FlowRec[] } {
  const core = new TestCore(opts.cap ?? 1024, opts.out ?? 64, opts.timeouts);
  for (const p of pkts) core.packet(p);
  if (opts.advance !== undefined) core.advance(opts.advance);
  core.flush();
  return { core, recs: core.records };
}

function one(pkts: Pkt[], advance?: number): FlowRec {
  const { recs } = run(pkts, { advance });
  assert.is(recs.length, 1, `expected one flow, got ${recs.map((r) => `${r.connState}/${r.history}`).join(' ')}`);
  return recs[0]!;
}

// A complete handshake: ISNs 1000 (client) and 5000 (server).
const HANDSHAKE: Pkt[] = [c2s(1, S, 1000), s2c(1.01, SA, 5000, 1001), c2s(1.02, AK, 1001, 5001)];

// ---------------------------------------------------------------- TCP states

const states = suite('conn_state');

states('SF: handshake, data both ways, FIN both ways', () => {
  const r = one([
    ...HANDSHAKE,
    c2s(1.1, PA, 1001, 5001, 100), s2c(1.2, PA, 5001, 1101, 300),
    c2s(1.3, FA, 1101, 5301), s2c(1.4, FA, 5301, 1102), c2s(1.5, AK, 1102, 5302),
  ], 10);
  assert.is(r.connState, 'SF');
  assert.is(r.history, 'ShADdFf');
  assert.is(r.origBytes, 100);
  assert.is(r.respBytes, 300);
  assert.is(r.origPkts, 5);
  assert.is(r.respPkts, 3);
  assert.is(r.origIpBytes, 5 * 40 + 100);
  assert.is(r.origH, A);
  assert.is(r.origP, 40000);
  assert.is(r.respP, 8080);
  assert.is(r.ts, 1);
  assert.is(r.lastTs, 1.5, 'last packet time (Zeek would stop at 1.4, the second FIN)');
  assert.is(r.endReason, END.CLOSED, 'ended by the close delay');
});

states('S0: unanswered SYN (and its retransmission)', () => {
  const r = one([c2s(1, S, 1000), c2s(4, S, 1000)]);
  assert.is(r.connState, 'S0');
  assert.is(r.history, 'S');
  assert.is(r.origPkts, 2);
  assert.is(r.origBytes, 0);
});

states('REJ: SYN answered by RST', () => {
  const r = one([c2s(1, S, 1000), s2c(1.01, RA, 0, 1001)]);
  assert.is(r.connState, 'REJ');
  assert.is(r.history, 'Sr');
});

states('S1: established, not closed', () => {
  const r = one([...HANDSHAKE, c2s(2, PA, 1001, 5001, 10)]);
  assert.is(r.connState, 'S1');
  assert.is(r.history, 'ShAD');
  assert.is(r.endReason, END.FLUSHED);
});

states('S2: originator closed, no reply', () => {
  assert.is(one([...HANDSHAKE, c2s(2, FA, 1001, 5001)]).connState, 'S2');
});

states('S3: responder closed, no reply', () => {
  assert.is(one([...HANDSHAKE, s2c(2, FA, 5001, 1001)]).connState, 'S3');
});

states('RSTO: originator aborts', () => {
  const r = one([...HANDSHAKE, c2s(2, PA, 1001, 5001, 5), c2s(2.1, RA, 1006, 5001)]);
  assert.is(r.connState, 'RSTO');
  assert.is(r.history, 'ShADR');
  assert.is(r.origBytes, 5);
});

states('RSTR: responder aborts', () => {
  const r = one([...HANDSHAKE, s2c(2, R, 5001)]);
  assert.is(r.connState, 'RSTR');
  assert.is(r.history, 'ShAr');
});

states('RSTOS0: SYN then RST from the originator', () => {
  const r = one([c2s(1, S, 1000), c2s(1.5, R, 1001)]);
  assert.is(r.connState, 'RSTOS0');
  assert.is(r.history, 'SR');
});

states('RSTRH: SYN-ACK then RST from the responder, no SYN seen', () => {
  const r = one([s2c(1, SA, 5000, 1001), s2c(1.5, R, 5001)]);
  assert.is(r.connState, 'RSTRH');
  assert.is(r.history, '^hr');
  assert.is(r.origH, A, 'the SYN-ACK came from the likely server port: flipped');
  assert.ok(r.flags & RF.FLIPPED);
});

states('SH: SYN then FIN, no SYN-ACK', () => {
  const r = one([c2s(1, S, 1000), c2s(1.5, FA, 1001, 0)]);
  assert.is(r.connState, 'SH');
  assert.is(r.history, 'SF');
});

states('SHR: SYN-ACK then FIN from the responder', () => {
  const r = one([s2c(1, SA, 5000, 1001), s2c(1.5, FA, 5001, 1001)]);
  assert.is(r.connState, 'SHR');
  assert.is(r.history, '^hf');
});

states('OTH: mid-stream traffic', () => {
  const r = one([c2s(1, PA, 7000, 9000, 50), s2c(1.1, PA, 9000, 7050, 70)]);
  assert.is(r.connState, 'OTH');
  assert.is(r.history, 'Dd');
  assert.is(r.origBytes, 50, 'partial connection: bytes from sequence numbers all the same');
  assert.is(r.respBytes, 70);
});

states('missed SYN, SYN-ACK seen, then the ACK establishes (Zeek)', () => {
  const r = one([s2c(1, SA, 5000, 1001), c2s(1.01, AK, 1001, 5001), c2s(1.1, PA, 1001, 5001, 20), s2c(1.2, PA, 5001, 1021, 30)]);
  assert.is(r.connState, 'S1');
  assert.is(r.history, '^hADd');
  assert.is(r.origBytes, 20);
  assert.is(r.respBytes, 30);
});

states.run();

// ---------------------------------------------------------------- history details

const hist = suite('history');

hist('retransmissions and zero windows are logged at 1, 10, 100 ...', () => {
  const pk: Pkt[] = [...HANDSHAKE, c2s(1.1, PA, 1001, 5001, 10)];
  for (let i = 0; i < 10; i++) pk.push(c2s(1.2 + i * 0.01, PA, 1001, 5001, 10)); // 10 retransmissions
  pk.push(s2c(1.5, AK, 5001, 1011, 0, { win: 0 }));
  const r = one(pk);
  assert.is(r.history, 'ShADTTaw', "the pure ACK's 'a' comes before its zero window 'w'");
});

hist('repeated SYN with a new sequence number starts a new connection (IsReuse)', () => {
  const { recs } = run([c2s(1, S, 1000), c2s(2, S, 777777)]);
  assert.is(recs.length, 2);
  assert.is(recs[0]!.endReason, END.REUSED);
  assert.is(recs[0]!.history, 'S');
});

hist('FIN+RST is I, SYN+FIN is Q, each once', () => {
  const r = one([...HANDSHAKE, c2s(2, TCP.FIN | TCP.RST | TCP.ACK, 1001, 5001), c2s(2.1, TCP.FIN | TCP.RST | TCP.ACK, 1001, 5001)]);
  assert.is(r.history, 'ShAI');
  const q = one([c2s(1, TCP.SYN | TCP.FIN, 1000)]);
  assert.is(q.history, 'Q');
});

hist('sequence numbers wrap: byte counts stay right', () => {
  const isn = 0xffffff00;
  const r = one([
    c2s(1, S, isn), s2c(1.01, SA, 5000, isn + 1), c2s(1.02, AK, isn + 1, 5001),
    c2s(1.1, PA, isn + 1, 5001, 1000), c2s(1.2, PA, (isn + 1001) >>> 0, 5001, 1000),
    s2c(1.3, AK, 5001, (isn + 2001) >>> 0),
    c2s(1.4, FA, (isn + 2001) >>> 0, 5001), s2c(1.5, FA, 5001, (isn + 2002) >>> 0),
  ]);
  assert.is(r.origBytes, 2000);
  assert.is(r.connState, 'SF');
});

hist('one-sided capture: a silent peer is re-initialised from every ack, so its size stays 0 (Zeek)', () => {
  const r = one([c2s(1, S, 1000), c2s(1.02, AK, 1001, 5001), c2s(1.1, PA, 1001, 5001, 10), c2s(1.3, AK, 1011, 9001)]);
  assert.is(r.respBytes, 0);
  assert.is(r.origBytes, 10);
  assert.is(r.connState, 'S0');
  assert.is(r.history, 'SAD');
});

hist('sizes use the peer acks when they pass the data seen (Zeek Size())', () => {
  // the client's second data segment was not captured, but the server acked it
  const r = one([...HANDSHAKE, c2s(1.1, PA, 1001, 5001, 10), s2c(1.2, AK, 5001, 1031), c2s(1.3, FA, 1031, 5001)]);
  assert.is(r.origBytes, 30);
});

hist.run();

// ---------------------------------------------------------------- roles

const roles = suite('originator');

roles('first packet decides, except a partial start from a likely server port', () => {
  const r = one([s2c(1, PA, 5000, 1000, 10), c2s(1.1, AK, 1000, 5010)]);
  assert.is(r.origH, A);
  assert.is(r.origP, 40000);
  assert.is(r.history, '^dA');
});

roles('SYN-ACK between two unlisted ports is not flipped (Zeek: stealth scans)', () => {
  const r = one([{ ts: 1, src: B, dst: A, sport: 50000, dport: 40000, flags: SA, seq: 5000, ack: 1001 }]);
  assert.is(r.origH, B);
  assert.is(r.history, 'H');
  assert.is(r.connState, 'OTH');
});

roles('setFlipSynAck: every first-packet SYN-ACK is flipped (opt-in, not Zeek)', () => {
  const core = new TestCore();
  core.x.testFlipSynAck(1);
  core.packet({ ts: 1, src: B, dst: A, sport: 50000, dport: 40000, flags: SA, seq: 5000, ack: 1001 });
  const r = core.flush()[0]!;
  assert.is(r.origH, A);
  assert.is(r.history, '^h');
});

roles('SYN arriving after its SYN-ACK flips the connection', () => {
  const p = (ts: number, src: string, flags: number, seq: number, ack: number, len = 0): Pkt =>
    src === B ? { ts, src: B, dst: A, sport: 50000, dport: 40000, flags, seq, ack, len } : { ts, src: A, dst: B, sport: 40000, dport: 50000, flags, seq, ack, len };
  const r = one([p(1, B, SA, 5000, 1001), p(1.001, A, S, 1000, 0), p(1.01, A, AK, 1001, 5001), p(1.1, A, PA, 1001, 5001, 10)]);
  assert.is(r.origH, A);
  assert.is(r.history, 'Hs^AD');
  assert.is(r.connState, 'S1');
  assert.ok(r.flags & RF.FLIPPED);
});

roles('UDP from a likely server port to an unlisted one is flipped', () => {
  const r = one([{ ts: 1, src: B, dst: A, sport: 53, dport: 33333, proto: 'udp', len: 40 }]);
  assert.is(r.origH, A);
  assert.is(r.origP, 33333);
  assert.is(r.connState, 'SHR');
  assert.is(r.history, '^d');
  assert.is(r.origPkts, 0);
  assert.is(r.respPkts, 1);
});

roles('MACs: the first packet source MAC belongs to its sender, its destination MAC to the peer', () => {
  const r = one([s2c(1, SA, 5000, 1001, 0, { srcMac: '02:00:00:00:00:0b', dstMac: '02:00:00:00:00:0a' })]);
  assert.ok(r.flags & RF.HAS_MAC);
  assert.is(r.origMac, '02:00:00:00:00:0a');
  assert.is(r.respMac, '02:00:00:00:00:0b');
});

roles.run();

// ---------------------------------------------------------------- UDP / ICMP / other

const nontcp = suite('udp-icmp-other');

nontcp('UDP: S0 one way, SF both ways, payload and ip bytes', () => {
  const { recs } = run([
    { ts: 1, src: A, dst: B, sport: 5000, dport: 6000, proto: 'udp', len: 100 },
    { ts: 1.1, src: B, dst: A, sport: 6000, dport: 5000, proto: 'udp', len: 200 },
    { ts: 1, src: A, dst: B, sport: 5001, dport: 6000, proto: 'udp', len: 10 },
  ]);
  const sf = recs.find((r) => r.origP === 5000)!;
  assert.is(sf.connState, 'SF');
  assert.is(sf.history, 'Dd');
  assert.is(sf.origBytes, 100);
  assert.is(sf.respBytes, 200);
  assert.is(sf.origIpBytes, 128);
  const s0 = recs.find((r) => r.origP === 5001)!;
  assert.is(s0.connState, 'S0');
  assert.is(s0.history, 'D');
});

nontcp('ICMP echo request and reply share a flow; orig_p type, resp_p counterpart', () => {
  const r = one([
    { ts: 1, src: A, dst: B, sport: 8, dport: 0, proto: 'icmp', len: 56 },
    { ts: 1.01, src: B, dst: A, sport: 0, dport: 0, proto: 'icmp', len: 56 },
  ]);
  assert.is(r.connState, 'OTH');
  assert.is(r.history, '');
  assert.is(r.origP, 8);
  assert.is(r.respP, 0);
  assert.is(r.origPkts, 1);
  assert.is(r.respPkts, 1);
  assert.is(r.origBytes, 56);
});

nontcp('ICMPv6 echo pairs (128/129); neighbour solicitation pairs with advertisement', () => {
  const X = 'fe80::1', Y = 'fe80::2';
  const { recs } = run([
    { ts: 1, src: X, dst: Y, sport: 128, dport: 0, proto: 'icmp', len: 16 },
    { ts: 1.1, src: Y, dst: X, sport: 129, dport: 0, proto: 'icmp', len: 16 },
    { ts: 2, src: Y, dst: X, sport: 135, dport: 0, proto: 'icmp', len: 24 },
    { ts: 2.1, src: X, dst: Y, sport: 136, dport: 0, proto: 'icmp', len: 24 },
  ]);
  assert.is(recs.length, 2);
  const echo = recs.find((r) => r.origP === 128)!;
  assert.is(echo.respP, 129);
  assert.is(echo.respPkts, 1);
  const nd = recs.find((r) => r.origP === 135)!;
  assert.is(nd.origH, 'fe80::2');
  assert.is(nd.respP, 136);
  assert.is(nd.respPkts, 1);
});

nontcp('one-way ICMP types are not paired: resp_p is the code, each direction its own flow', () => {
  const { recs } = run([
    { ts: 1, src: A, dst: B, sport: 3, dport: 3, proto: 'icmp', len: 28 },
    { ts: 1.1, src: B, dst: A, sport: 3, dport: 3, proto: 'icmp', len: 28 },
    { ts: 1.2, src: A, dst: B, sport: 3, dport: 1, proto: 'icmp', len: 28 },
  ]);
  assert.is(recs.length, 3);
  assert.ok(recs.every((r) => r.origPkts === 1 && r.respPkts === 0 && r.origP === 3));
  assert.equal(recs.map((r) => r.respP).sort(), [1, 3, 3]);
});

nontcp('other protocols and address-only packets: OTH, ports 0', () => {
  const { recs } = run([
    { ts: 1, src: A, dst: B, proto: 47, noPorts: true, len: 100 },
    { ts: 1.1, src: B, dst: A, proto: 47, noPorts: true, len: 60 },
  ]);
  assert.is(recs.length, 1);
  assert.is(recs[0]!.connState, 'OTH');
  assert.is(recs[0]!.origP, 0);
  assert.is(recs[0]!.respPkts, 1);
  assert.is(recs[0]!.origBytes, 100);
});

nontcp('VLAN and tunnel id are part of the key', () => {
  const base: Pkt = { ts: 1, src: A, dst: B, sport: 1, dport: 2, proto: 'udp', len: 1 };
  const { recs } = run([base, { ...base, vlan: 10, innerVlan: 20 }, { ...base, vlan: 10 }, { ...base, tunnel: 1, tunnelId: 42 }, { ...base, tunnel: 1, tunnelId: 43 }]);
  assert.is(recs.length, 4, 'inner VLAN is recorded but not keyed');
  const t = recs.find((r) => r.tunnelId === 42)!;
  assert.is(t.tunnelType, 1);
  const v = recs.find((r) => r.vlan === 10)!;
  assert.is(v.innerVlan, 20);
  assert.is(v.origPkts, 2);
  assert.is(recs.find((r) => r.vlan === 0xffff && r.tunnelType === 0)!.innerVlan, 0xffff);
});

nontcp('fragments released late are added to the packet that releases them', () => {
  const r = one([{ ts: 1, src: A, dst: B, sport: 5, dport: 6, proto: 'udp', len: 1472, extra: [2, 3000, 3028, 2960] }]);
  assert.is(r.origPkts, 3);
  assert.is(r.origIpBytes, 1500 + 3000);
  assert.is(r.origBytes, 1472 + 2960);
  assert.is(r.origWireBytes, 1514 + 3028);
});

nontcp.run();

// ---------------------------------------------------------------- time

const time = suite('timeouts');

time('a UDP flow idle 61 s becomes two flows; idle 59 s stays one', () => {
  const u = (ts: number): Pkt => ({ ts, src: A, dst: B, sport: 7000, dport: 7001, proto: 'udp', len: 10 });
  const two = run([u(100), u(161)]).recs;
  assert.is(two.length, 2);
  assert.is(two[0]!.endReason, END.INACTIVE);
  assert.ok(two[1]!.serial > two[0]!.serial);
  assert.is(run([u(100), u(159)]).recs.length, 1);
});

time('the sweep writes idle flows as the capture clock passes their deadline', () => {
  const core = new TestCore();
  core.packet({ ts: 100, src: A, dst: B, sport: 7000, dport: 7001, proto: 'udp', len: 10 });
  core.advance(159.9);
  assert.is(core.records.length, 0);
  core.advance(160);
  assert.is(core.records.length, 1);
  assert.is(core.records[0]!.endReason, END.INACTIVE);
  assert.is(core.counter('C_FLOWS_EXPIRED'), 1);
  assert.is(core.counter('C_FLOWS_ACTIVE'), 0);
});

time('TCP: established flows time out after 300 s, unanswered SYNs after 5 s', () => {
  const core = new TestCore();
  for (const p of HANDSHAKE) core.packet(p);
  core.packet({ ts: 1.03, src: A, dst: '10.9.9.9', sport: 1234, dport: 80, flags: S, seq: 1 });
  core.advance(6.04);
  assert.equal(core.records.map((r) => r.connState), ['S0']);
  core.advance(301.01);
  assert.equal(core.records.map((r) => r.connState), ['S0']);
  core.advance(302.03);
  assert.equal(core.records.map((r) => r.connState), ['S0', 'S1']);
});

time('SYN retransmitted after the attempt delay starts a new S0 flow (Zeek)', () => {
  const { recs } = run([c2s(1, S, 1000), c2s(4, S, 1000), c2s(10, S, 1000)]);
  assert.equal(recs.map((r) => [r.connState, r.origPkts]), [['S0', 2], ['S0', 1]]);
});

time('a closed connection lingers for the close delay, then a new one starts', () => {
  const closed = [...HANDSHAKE, c2s(2, FA, 1001, 5001), s2c(2.1, FA, 5001, 1002), c2s(2.2, AK, 1002, 5002)];
  // stray ACK within the delay: same flow
  const a = run([...closed, c2s(6, AK, 1002, 5002)]).recs;
  assert.is(a.length, 1);
  assert.is(a[0]!.origPkts, 5);
  // after the delay: a new (partial) flow
  const b = run([...closed, c2s(7.2, AK, 1002, 5002)]).recs;
  assert.equal(b.map((r) => r.connState), ['SF', 'OTH']);
});

time('port reuse: a new SYN on a closed connection ends it at once', () => {
  const { core, recs } = run([
    ...HANDSHAKE, c2s(2, FA, 1001, 5001), s2c(2.1, FA, 5001, 1002), c2s(2.2, AK, 1002, 5002),
    c2s(3, S, 90000), s2c(3.01, SA, 70000, 90001),
  ]);
  assert.equal(recs.map((r) => [r.connState, r.endReason]), [['SF', END.REUSED], ['S1', END.FLUSHED]]);
  assert.is(core.counter('C_FLOWS_REUSED'), 1);
  assert.ok(recs[1]!.serial > recs[0]!.serial);
});

time('UDP to a DNS port ends after dns_session_timeout (Zeek DNS analyzer)', () => {
  const q = (ts: number): Pkt => ({ ts, src: A, dst: B, sport: 33000, dport: 53, proto: 'udp', len: 30 });
  const r = (ts: number): Pkt => ({ ts, src: B, dst: A, sport: 53, dport: 33000, proto: 'udp', len: 90 });
  assert.is(run([q(100), r(100.1), q(115), r(115.1)]).recs.length, 2);
  assert.is(run([q(100), r(100.1), q(108), r(108.1)]).recs.length, 1);
});

time('active timeout: interim records with cumulative counts, same serial', () => {
  const pk: Pkt[] = [];
  for (let t = 0; t <= 35; t += 1) pk.push({ ts: 1000 + t, src: A, dst: B, sport: 9000, dport: 9001, proto: 'udp', len: 10 });
  const { core, recs } = run(pk, { timeouts: [0, 0, 0, 0, 0, 10] });
  assert.is(recs.length, 4);
  assert.equal(recs.map((r) => r.origPkts), [11, 21, 31, 36]);
  assert.ok(recs.slice(0, 3).every((r) => r.flags & RF.INTERIM && r.endReason === END.ACTIVE_TIMEOUT));
  assert.is(recs[3]!.flags & RF.INTERIM, 0);
  assert.ok(recs.every((r) => r.serial === recs[0]!.serial));
  assert.is(core.counter('C_INTERIM_RECORDS'), 3);
  assert.is(core.counter('C_FLOW_RECORDS'), 4);
});

time('a clock jump of 2^62 s inside a flow: interim accounting ends at once (it counted the periods one by one: never)', () => {
  const p = (ts: number): Pkt => ({ ts, src: A, dst: B, sport: 9000, dport: 9001, proto: 'udp', len: 10 });
  const pk = [p(1000), p(1001), p(1000 + 2 ** 62), p(1000 + 2 ** 62 + 1), p(1000 + 2 ** 62 + 2), p(1000 + 2 ** 62 + 3)];
  const { recs } = run(pk, { timeouts: [0, 1e30, 0, 0, 0, 10] });
  // one interim record at the jump, none after it (past the count's cap every packet wrote one), then the final record
  assert.equal(recs.map((r) => [(r.flags & RF.INTERIM) !== 0, r.origPkts]), [[true, 3], [false, 6]]);
});

time('timestamps going backwards do not move the clock back', () => {
  const { recs } = run([
    { ts: 100, src: A, dst: B, sport: 1, dport: 2, proto: 'udp', len: 1 },
    { ts: 50, src: A, dst: B, sport: 1, dport: 2, proto: 'udp', len: 1 },
    { ts: 101, src: A, dst: B, sport: 1, dport: 2, proto: 'udp', len: 1 },
  ]);
  assert.is(recs.length, 1);
  assert.is(recs[0]!.origPkts, 3);
  assert.is(recs[0]!.lastTs, 101);
});

time.run();

// ---------------------------------------------------------------- pressure

const pressure = suite('table pressure');

pressure('SYN flood into a small table: bounded, counted, every flow reported once', () => {
  const core = new TestCore(16, 8);
  const n = 5000;
  for (let i = 0; i < n; i++) {
    core.packet({ ts: 1 + i * 1e-4, src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, dst: B, sport: 1024 + (i % 50000), dport: 80, flags: S, seq: i * 7919 });
    assert.ok(core.x.testActiveFlows() <= 16);
  }
  core.flush();
  assert.is(core.records.length, n);
  assert.is(new Set(core.records.map((r) => r.serial)).size, n);
  assert.is(core.counter('C_FLOWS_CREATED'), n);
  assert.is(core.counter('C_FLOWS_EVICTED') + core.counter('C_FLOWS_EXPIRED') + core.counter('C_FLOWS_FLUSHED'), n);
  assert.ok(core.counter('C_FLOWS_EVICTED') > n / 2);
  assert.is(core.counter('C_FLOW_RECORDS_DROPPED'), 0);
  assert.ok(core.records.every((r) => r.connState === 'S0'));
});

pressure('eviction prefers closed connections, then the least recently active', () => {
  const core = new TestCore(16, 64);
  const u = (i: number, ts: number): Pkt => ({ ts, src: A, dst: B, sport: 2000 + i, dport: 3000, proto: 'udp', len: 1 });
  for (let i = 0; i < 15; i++) core.packet(u(i, 1 + i));
  for (const p of [...HANDSHAKE, c2s(1.5, R, 1001)]) core.packet({ ...p, ts: p.ts + 37 }); // RST at 38.5: closing until 43.5
  core.packet(u(0, 40)); // refresh flow 0
  core.packet(u(100, 41)); // table full: the reset TCP flow goes first
  assert.equal(core.records.map((r) => [r.proto, r.connState, r.endReason]), [[6, 'RSTO', END.EVICTED]]);
  core.packet(u(101, 42)); // then the oldest: flow 1 (flow 0 was refreshed)
  assert.is(core.records[1]!.origP, 2001);
  assert.is(core.records[1]!.endReason, END.EVICTED);
});

pressure('output region: flowsReady keeps a reserve and the sweep resumes after a drain', () => {
  const core = new TestCore(1024, 8);
  for (let i = 0; i < 40; i++) core.packet({ ts: 1, src: A, dst: B, sport: 100 + i, dport: 9, proto: 'udp', len: 1 });
  assert.is(core.x.testAdvance(1000), 0, 'output low: stop');
  let rounds = 0;
  while (core.x.testAdvance(1000) === 0) { core.drain(); rounds++; }
  core.drain();
  assert.ok(rounds >= 5);
  assert.is(core.records.length, 40);
  assert.is(core.counter('C_FLOW_RECORDS_DROPPED'), 0);
});

pressure('flushAll is resumable', () => {
  const core = new TestCore(1024, 8);
  for (let i = 0; i < 30; i++) core.packet({ ts: 1, src: A, dst: B, sport: 100 + i, dport: 9, proto: 'udp', len: 1 });
  assert.is(core.x.flushAll(), 0);
  core.flush();
  assert.is(core.records.length, 30);
  assert.is(core.counter('C_FLOWS_FLUSHED'), 30);
  assert.is(core.counter('C_FLOWS_ACTIVE'), 0);
});

pressure('many flows through a table that is just large enough: no evictions, all found again', () => {
  const core = new TestCore(4096, 512);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 4096; i++) core.packet({ ts: 1 + round, src: `10.1.${i >> 8}.${i & 255}`, dst: B, sport: 40001, dport: 9999, proto: 'udp', len: 1 });
  }
  core.flush();
  assert.is(core.counter('C_FLOWS_EVICTED'), 0);
  assert.is(core.records.length, 4096);
  assert.ok(core.records.every((r) => r.origPkts === 3));
});

pressure('random churn (evictions, expiry, backward-shift deletes): no packet lost, no key live twice', () => {
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const core = new TestCore(256, 64);
  const nKeys = 700;
  let ts = 1000, sent = 0;
  for (let i = 0; i < 30000; i++) {
    ts += rnd() < 0.001 ? 70 : rnd() * 0.01; // now and then a gap longer than the UDP timeout
    const k = Math.floor(rnd() * rnd() * nKeys); // skewed: some keys hot
    const fwd = rnd() < 0.5;
    const a = `10.${k >> 8}.${k & 255}.1`, b = '10.200.0.1';
    core.packet(fwd ? { ts, src: a, dst: b, sport: 1000 + (k % 7), dport: 2000, proto: 'udp', len: 1 }
                    : { ts, src: b, dst: a, sport: 2000, dport: 1000 + (k % 7), proto: 'udp', len: 1 });
    sent++;
    assert.ok(core.x.testActiveFlows() <= 256);
  }
  core.flush();
  const recs = core.records;
  assert.is(recs.reduce((n, r) => n + r.origPkts + r.respPkts, 0), sent);
  assert.is(new Set(recs.map((r) => r.serial)).size, recs.length);
  const byKey = new Map<string, FlowRec[]>();
  for (const r of recs) {
    const key = [r.origH, r.respH].sort().join('|') + `|${r.origP + r.respP}`;
    byKey.set(key, [...(byKey.get(key) ?? []), r]);
  }
  for (const [key, list] of byKey) {
    list.sort((x, y) => x.ts - y.ts);
    for (let i = 1; i < list.length; i++) assert.ok(list[i]!.ts > list[i - 1]!.lastTs, `${key}: two flows live at once`);
  }
  assert.ok(core.counter('C_FLOWS_EVICTED') > 100);
  assert.ok(core.counter('C_FLOWS_EXPIRED') > 100);
});

pressure('a table larger than 2^21 flows is refused, not trapped', () => {
  assert.throws(() => new TestCore((1 << 21) + 1), /init failed/);
});

pressure.run();
