// UDP collector for NetFlow v5/v9, IPFIX and sFlow: one socket, the protocol
// sniffed per datagram (so one port can take them all). Each datagram is
// decoded synchronously in the 'message' handler, so nothing queues in the
// process: under a flood the kernel's socket buffer drops, and every cache
// the decoder keeps (templates, held data, sequence state) is capped.
import { createSocket, type Socket } from 'node:dgram';
import type { FlowEventSink } from '../flowlogs/flow-event.ts';
import type { NetflowLimits, NetflowStats, SampledFrame } from './common.ts';
import { NetflowDecoder } from './datagram.ts';
import type { DataSetAccelerator } from './templates.ts';
import type { SflowCounters } from './sflow.ts';

export interface NetflowCollectorOptions {
  /** udp://HOST:PORT — IPv4 or [IPv6]; port 0 picks a free port (reported as `port`) */
  url: string;
  sink: FlowEventSink;
  /** sFlow raw packet headers and IPFIX packet sections, for the packet decoder */
  onSflow?: (f: SampledFrame) => void;
  /** sFlow interface counters */
  onCounters?: (c: SflowCounters) => void;
  limits?: Partial<NetflowLimits>;
  /** SO_RCVBUF in bytes (the kernel may cap it); default: the system's */
  receiveBufferSize?: number;
  /** clock for receive times, seconds since the epoch (tests) */
  now?: () => number;
  /** decodes v9/IPFIX data records in the Wasm core (their events bypass `sink`) */
  dataSets?: DataSetAccelerator;
  /** after each datagram: the flow records it yielded */
  onDatagram?: (records: number) => void;
}

export interface NetflowCollector {
  /** bound port */
  readonly port: number;
  /** bound address */
  readonly address: string;
  /** live counters: datagrams, records, rejections by kind, … */
  readonly stats: NetflowStats;
  readonly decoder: NetflowDecoder;
  close(): Promise<void>;
}

/** Parse udp://host:port (host may be [v6]). */
export function parseUdpUrl(url: string): { host: string; port: number; family: 4 | 6 } {
  const m = /^udp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/\[\]]+):(\d+)\/?$/.exec(url);
  if (m === null) throw new Error(`collector url ${JSON.stringify(url)}: expected udp://HOST:PORT`);
  let host = m[1]!;
  const port = Number(m[2]);
  if (!(port >= 0 && port <= 65535)) throw new Error(`collector url ${JSON.stringify(url)}: port out of range`);
  const v6 = host.startsWith('[');
  if (v6) host = host.slice(1, -1);
  return { host, port, family: v6 || host.includes(':') ? 6 : 4 };
}

/** Bind a UDP socket and decode what arrives. Resolves once bound. */
export async function startNetflowCollector(opts: NetflowCollectorOptions): Promise<NetflowCollector> {
  const { host, port, family } = parseUdpUrl(opts.url);
  const decoderOpts: ConstructorParameters<typeof NetflowDecoder>[0] = { sink: opts.sink };
  if (opts.onSflow !== undefined) decoderOpts.onSflow = opts.onSflow;
  if (opts.onCounters !== undefined) decoderOpts.onCounters = opts.onCounters;
  if (opts.limits !== undefined) decoderOpts.limits = opts.limits;
  if (opts.dataSets !== undefined) decoderOpts.dataSets = opts.dataSets;
  const decoder = new NetflowDecoder(decoderOpts);
  const now = opts.now ?? (() => Date.now() / 1000);
  const sock: Socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: false });

  const onDatagram = opts.onDatagram;
  sock.on('message', (msg, rinfo) => {
    const records = decoder.decode(msg, rinfo.address, now());
    onDatagram?.(records);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => { sock.close(); reject(e); };
    sock.once('error', onError);
    sock.bind(port, host, () => {
      sock.off('error', onError);
      resolve();
    });
  });
  // After binding, socket errors (rare for UDP) are counted, never thrown.
  sock.on('error', (e) => decoder.ctx.reject('decoder_error', opts.url, `socket error: ${e.message}`));
  if (opts.receiveBufferSize !== undefined) {
    try { sock.setRecvBufferSize(opts.receiveBufferSize); } catch { /* kernel limit; keep the default */ }
  }
  const bound = sock.address();
  let closed: Promise<void> | null = null;
  return {
    port: bound.port,
    address: bound.address,
    stats: decoder.stats,
    decoder,
    close(): Promise<void> {
      if (closed === null) closed = new Promise<void>((resolve) => sock.close(() => resolve()));
      return closed;
    },
  };
}
