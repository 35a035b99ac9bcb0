// Connections in start-time order → their packets in capture-time order.
// Each connection is planned (packet-plan.ts) when it is added and sits in a
// heap keyed on its next packet's time until its last packet is handed on,
// so memory is the set of open connections, never the scenario. The same
// walk drives every renderer (capture, AWS and Azure flow logs), which is
// why they agree packet for packet.
//
// Times are integer nanoseconds after `baseSec` (the first connection's whole
// second), kept in doubles: exact for spans up to ~104 days, and immune to
// the ~0.2 µs rounding of epoch seconds held as one double.
import type { Conn } from './conn.ts';
import { planPackets, type PacketPlan } from './packet-plan.ts';

export interface OpenConn<S> {
  readonly conn: Conn;
  readonly plan: PacketPlan;
  /** order of add(): breaks ties between packets of the same nanosecond */
  readonly seq: number;
  /** conn.ts as ns after baseSec */
  readonly startNs: number;
  /** index of the next packet to hand on */
  next: number;
  /** what the renderer keeps per connection */
  readonly state: S;
}

export interface ScheduleHandler<S> {
  /** A connection starts (before any of its packets). */
  open(conn: Conn, plan: PacketPlan): S;
  /** Packet i of c, at tNs (ns after baseSec); calls come in capture-time order. */
  packet(c: OpenConn<S>, i: number, tNs: number): void;
  /** After c's last packet. */
  close(c: OpenConn<S>): void;
}

export class PacketSchedule<S> {
  /** whole second all times count from (the first connection's); NaN before any */
  baseSec = NaN;
  conns = 0;
  packets = 0;
  maxOpen = 0;
  private readonly heap: OpenConn<S>[] = [];
  private lastTs = -Infinity;

  constructor(private readonly h: ScheduleHandler<S>) {}

  get open(): number { return this.heap.length; }

  /** Add the next connection (ts not before the previous one's); hands on every packet earlier than conn.ts first. */
  add(conn: Conn): void {
    if (!(conn.ts >= this.lastTs)) throw new Error(`connections must come in start-time order: ${conn.ts} after ${this.lastTs}`);
    this.lastTs = conn.ts;
    if (Number.isNaN(this.baseSec)) this.baseSec = Math.floor(conn.ts);
    const startNs = Math.round((conn.ts - this.baseSec) * 1e9);
    this.drain(startNs);
    const plan = planPackets(conn);
    const c: OpenConn<S> = { conn, plan, seq: this.conns++, startNs, next: 0, state: this.h.open(conn, plan) };
    if (plan.n === 0) { this.h.close(c); return; }
    this.push(c);
    if (this.heap.length > this.maxOpen) this.maxOpen = this.heap.length;
  }

  /** Hand on every remaining packet. */
  finish(): void {
    this.drain(Infinity);
  }

  /** Hand on packets earlier than tNs. */
  private drain(tNs: number): void {
    const heap = this.heap;
    while (heap.length) {
      const c = heap[0]!;
      const t = c.startNs + c.plan.ns[c.next]!;
      if (t >= tNs) break;
      this.packets++;
      this.h.packet(c, c.next, t);
      if (++c.next < c.plan.n) this.siftDown(0);
      else {
        const last = heap.pop()!;
        if (heap.length) { heap[0] = last; this.siftDown(0); }
        this.h.close(c);
      }
    }
  }

  private static before<S>(a: OpenConn<S>, b: OpenConn<S>): boolean {
    const ta = a.startNs + a.plan.ns[a.next]!, tb = b.startNs + b.plan.ns[b.next]!;
    return ta < tb || (ta === tb && a.seq < b.seq);
  }

  private push(c: OpenConn<S>): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(c);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!PacketSchedule.before(c, heap[p]!)) break;
      heap[i] = heap[p]!;
      i = p;
    }
    heap[i] = c;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const c = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && PacketSchedule.before(heap[r]!, heap[l]!) ? r : l;
      if (!PacketSchedule.before(heap[m]!, c)) break;
      heap[i] = heap[m]!;
      i = m;
    }
    heap[i] = c;
  }
}
