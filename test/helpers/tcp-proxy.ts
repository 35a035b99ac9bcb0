// A TCP proxy on loopback for the network-failure tests: it listens on
// 127.0.0.1 (a free port) and forwards every connection to a target
// host:port, and the test can make the network between them stall
// (stall()/resume()) or break (cut()).
//
// What a stall is here: nothing gets through in either direction, on the
// connections already open and on new ones, and no socket is closed or
// reset — no FIN, no RST, no error, exactly as when a link or a route dies
// or a firewall starts dropping packets silently. Each end only finds out
// by its own timers (keepalive, application timeouts).
//
// The bytes are HELD, not dropped. On a real black-holed path, TCP's
// segments are dropped but TCP is a reliable byte stream: what was sent
// stays unacknowledged in the sender's buffers and is retransmitted, in
// order, once the path comes back (a stall of seconds is far inside TCP's
// retransmission give-up time of many minutes). An application therefore
// never sees a hole in the stream — dropping bytes here would cut HTTP/2
// frames in half, which no network can do to a TCP connection, and would
// test a failure that does not exist. So the held bytes go on, in order,
// at resume(); so does an end (a FIN) that came meanwhile: a sender that
// gave up and closed during the stall has its last bytes and its FIN
// delivered late, as a kernel does for a closed socket's unsent data.
// Held bytes are kept here up to HOLD_LIMIT per direction and connection;
// beyond that the sending side is no longer read, so TCP's own flow
// control pushes back on the sender as a full send buffer would.
//
// New connections during a stall are accepted (the client's connect()
// returns) but not connected onward until resume(): for the target they
// do not exist yet. One whose client gave up and closed before resume() is
// never connected onward at all — like a SYN that never got through, the
// target never hears of it.
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Bytes held per direction of one connection before its sender is no longer read. */
const HOLD_LIMIT = 1 << 20;

export interface TcpProxyStats {
  /** connections accepted from clients, in all */
  accepted: number;
  /** of those, accepted while stalled */
  acceptedWhileStalled: number;
  /** connections open now (the client's side or the target's still open) */
  open: number;
  /** connections to the target opened */
  upstreamOpened: number;
  /** connections whose client closed during a stall before they ever reached the target (never forwarded) */
  neverForwarded: number;
  /** connections destroyed by cut() */
  cut: number;
  /** bytes forwarded client → target and target → client */
  bytesUp: number;
  bytesDown: number;
  /** bytes held now (both directions, all connections) */
  heldBytes: number;
  stalls: number;
}

/** One direction of one connection: from `src` to `dst`. */
interface Flow {
  src: Socket;
  dst: Socket | null;
  held: Buffer[];
  heldBytes: number;
  /** src ended (or closed): dst is ended once what is held went */
  ended: boolean;
  /** dst.end() was called */
  endSent: boolean;
  /** a 'drain' listener is waiting on dst */
  waitingDrain: boolean;
  /** client → target */
  up: boolean;
}

interface Conn {
  client: Socket;
  upstream: Socket | null;
  up: Flow;
  down: Flow | null;
  clientClosed: boolean;
  upstreamClosed: boolean;
  done: boolean;
}

export class TcpProxy {
  private readonly server: Server;
  private readonly conns = new Set<Conn>();
  private stalledNow = false;
  private closing = false;
  private readonly counters = { accepted: 0, acceptedWhileStalled: 0, upstreamOpened: 0, neverForwarded: 0, cut: 0, bytesUp: 0, bytesDown: 0, stalls: 0 };
  port = 0;

  private constructor(private readonly targetHost: string, private readonly targetPort: number) {
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (s) => this.accept(s));
  }

  /** A proxy to targetHost:targetPort, listening on 127.0.0.1 at a free port. */
  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const p = new TcpProxy(targetHost, targetPort);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, '127.0.0.1', () => { p.server.off('error', reject); resolve(); });
    });
    p.port = (p.server.address() as { port: number }).port;
    return p;
  }

  /** host:port to give clients */
  get address(): string { return `127.0.0.1:${this.port}`; }

  get stalled(): boolean { return this.stalledNow; }

  stats(): TcpProxyStats {
    let heldBytes = 0;
    for (const c of this.conns) heldBytes += c.up.heldBytes + (c.down?.heldBytes ?? 0);
    return { ...this.counters, open: this.conns.size, heldBytes };
  }

  /** Stop forwarding anything, both ways, on every connection (and new ones), closing none. */
  stall(): void {
    if (this.stalledNow) return;
    this.stalledNow = true;
    this.counters.stalls++;
  }

  /** Forward again: what was held first, in order, then ends that came meanwhile. */
  resume(): void {
    if (!this.stalledNow) return;
    this.stalledNow = false;
    for (const c of [...this.conns]) {
      if (!c.upstream) {
        if (c.clientClosed || c.up.ended) {
          // the client gave up before it ever got through: the target never hears of it
          this.counters.neverForwarded++;
          c.client.destroy();
          this.finish(c);
          continue;
        }
        this.openUpstream(c);
        continue;
      }
      this.pump(c.up);
      if (c.down) this.pump(c.down);
    }
  }

  /** Destroy every connection, both sides, now (what is held is lost): a connection reset. */
  cut(): void {
    for (const c of [...this.conns]) {
      this.counters.cut++;
      c.client.destroy();
      c.upstream?.destroy();
      c.up.held = []; c.up.heldBytes = 0;
      if (c.down) { c.down.held = []; c.down.heldBytes = 0; }
      this.finish(c);
    }
  }

  /** Stop listening and cut every connection. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.cut();
    await closed;
  }

  // ---- connections

  private accept(client: Socket): void {
    if (this.closing) { client.destroy(); return; }
    this.counters.accepted++;
    if (this.stalledNow) this.counters.acceptedWhileStalled++;
    client.setNoDelay(true);
    const c: Conn = {
      client, upstream: null, down: null, clientClosed: false, upstreamClosed: false, done: false,
      up: { src: client, dst: null, held: [], heldBytes: 0, ended: false, endSent: false, waitingDrain: false, up: true },
    };
    this.conns.add(c);
    this.watch(c, c.up, () => { c.clientClosed = true; });
    if (!this.stalledNow) this.openUpstream(c);
  }

  private openUpstream(c: Conn): void {
    const upstream = connect({ host: this.targetHost, port: this.targetPort, allowHalfOpen: true });
    upstream.setNoDelay(true);
    this.counters.upstreamOpened++;
    c.upstream = upstream;
    c.down = { src: upstream, dst: c.client, held: [], heldBytes: 0, ended: false, endSent: false, waitingDrain: false, up: false };
    this.watch(c, c.down, () => { c.upstreamClosed = true; });
    c.up.dst = upstream; // held until it is connected (pump() looks at .connecting)
    upstream.once('connect', () => this.pump(c.up));
  }

  /** Reads from flow.src: forwarded, or held while stalled (or while its destination is not connected yet). */
  private watch(c: Conn, flow: Flow, onClose: () => void): void {
    const s = flow.src;
    s.on('data', (chunk: Buffer) => {
      flow.held.push(chunk);
      flow.heldBytes += chunk.length;
      this.pump(flow);
      // too much held: stop reading, the sender's TCP buffers fill up as on a real stalled path
      if (flow.heldBytes >= HOLD_LIMIT) s.pause();
    });
    s.on('end', () => { flow.ended = true; this.pump(flow); });
    // ECONNRESET, EPIPE, ECONNREFUSED: the socket closes next ('close')
    s.on('error', () => {});
    s.on('close', () => {
      onClose();
      flow.ended = true;
      this.pump(flow);
      this.settle(c);
    });
  }

  /** Forward what flow holds, then its end; nothing while stalled or while its destination is not connected. */
  private pump(flow: Flow): void {
    const dst = flow.dst;
    if (this.stalledNow || !dst || dst.connecting) return;
    if (dst.destroyed || dst.writableEnded) {
      // that side has gone: what is held for it is lost with it
      flow.held = []; flow.heldBytes = 0;
      return;
    }
    for (const chunk of flow.held) {
      if (flow.up) this.counters.bytesUp += chunk.length; else this.counters.bytesDown += chunk.length;
      dst.write(chunk);
    }
    flow.held = []; flow.heldBytes = 0;
    if (flow.ended) {
      if (!flow.endSent) { flow.endSent = true; dst.end(); }
    } else if (dst.writableNeedDrain) {
      // the destination's buffer is full: read no more from the source until it drains
      flow.src.pause();
      if (!flow.waitingDrain) {
        flow.waitingDrain = true;
        dst.once('drain', () => { flow.waitingDrain = false; this.pump(flow); });
      }
    } else {
      flow.src.resume();
    }
  }

  /** Both sides closed: forget the connection. */
  private settle(c: Conn): void {
    if (c.clientClosed && c.upstream !== null && c.upstreamClosed) this.finish(c);
  }

  private finish(c: Conn): void {
    if (c.done) return;
    c.done = true;
    this.conns.delete(c);
  }
}
