// The flow event: what every flow-record source (AWS/Azure/GCP flow logs,
// NetFlow/IPFIX, sFlow, Zeek conn.log) turns one source record into. It is
// the packet path's flow record seen from the other side: the same fields,
// `src` as originator, plus where it came from (source, reporter) and how
// coarse it is (time span, sampling, one or both directions).
//
// Parsers fill ONE reused FlowEvent and hand it to a FlowEventSink, which
// copies it (encodeFlowEvent writes the core's record layout). Reusing the
// scratch keeps parsers allocation-free per record; the cost is that a sink
// must never keep a reference to the event it is given.
import { CONN_STATES, NO_VLAN, R, REC_SIZE, type ConnState } from '../core/flow-record.ts';

/** `source` codes; order is part of the record layout (asm/flowrecord.ts SRC_*). */
export const SOURCES = ['packets', 'aws_vpc', 'azure_vnet', 'azure_nsg', 'gcp_vpc', 'netflow_v5', 'netflow_v9', 'ipfix', 'sflow', 'zeek_conn'] as const;
export type SourceName = (typeof SOURCES)[number];
export const SOURCE: { readonly [K in SourceName]: number } = Object.fromEntries(SOURCES.map((s, i) => [s, i])) as never;

export const ACTIONS = ['', 'accept', 'reject'] as const;
export const ACTION = { none: 0, accept: 1, reject: 2 } as const;
/** Direction of the record relative to its reporter (AWS flow-direction, Azure/GCP inbound/outbound). */
export const DIRECTIONS = ['', 'ingress', 'egress'] as const;
export const DIRECTION = { unknown: 0, ingress: 1, egress: 2 } as const;

export class FlowEvent {
  source = 0;
  /** who saw it: AWS interface-id, Azure NSG/VNet resource + MAC, GCP reporter VM, NetFlow exporter "ip/domain" */
  reporter = '';
  /** seconds since the Unix epoch (fractions allowed); end ≥ start */
  start = 0;
  end = 0;
  ipVersion: 4 | 6 = 4;
  /** 16 bytes each, IPv4 v4-mapped (::ffff:a.b.c.d); use setV4/parse helpers */
  readonly src = new Uint8Array(16);
  readonly dst = new Uint8Array(16);
  srcPort = 0;
  dstPort = 0;
  /** IP protocol number; ICMP: srcPort = type, dstPort = code (as Zeek) */
  proto = 0;
  /** src → dst packets and IP-layer bytes, ALREADY multiplied by `sampling` */
  pkts = 0;
  bytes = 0;
  /** dst → src, meaningful only when `bidir` */
  revPkts = 0;
  revBytes = 0;
  /** the source reported both directions in this one record (Azure, Zeek, IPFIX biflow) */
  bidir = false;
  /** transport payload bytes when the source knows them (Zeek orig_bytes/resp_bytes); -1 unknown */
  payloadBytes = -1;
  revPayloadBytes = -1;
  action = 0;
  direction = 0;
  /** OR of TCP flags seen src → dst / dst → src (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32) */
  tcpFlags = 0;
  revTcpFlags = 0;
  /** 1-in-N packet sampling already applied to the counts; 1 = every packet */
  sampling = 1;
  /** conn_state when the source states it (Zeek conn.log); null otherwise */
  connState: ConnState | null = null;
  /** Zeek history letters when the source has them */
  history = '';
  vlan = NO_VLAN;

  reset(source: number): this {
    this.source = source;
    this.reporter = '';
    this.start = 0; this.end = 0;
    this.ipVersion = 4;
    this.src.fill(0); this.dst.fill(0);
    this.srcPort = 0; this.dstPort = 0; this.proto = 0;
    this.pkts = 0; this.bytes = 0; this.revPkts = 0; this.revBytes = 0;
    this.bidir = false;
    this.payloadBytes = -1; this.revPayloadBytes = -1;
    this.action = 0; this.direction = 0;
    this.tcpFlags = 0; this.revTcpFlags = 0;
    this.sampling = 1;
    this.connState = null;
    this.history = '';
    this.vlan = NO_VLAN;
    return this;
  }
}

/** Write an IPv4 address given as a 32-bit number (a.b.c.d = a<<24|…) into 16 bytes, v4-mapped. */
export function setV4(target: Uint8Array, addr: number): void {
  target.fill(0, 0, 10);
  target[10] = 0xff; target[11] = 0xff;
  target[12] = (addr >>> 24) & 0xff; target[13] = (addr >>> 16) & 0xff;
  target[14] = (addr >>> 8) & 0xff; target[15] = addr & 0xff;
}

/** Where a source reports a record it could not use. Kinds are snake_case and stable (they are counted). */
export interface FlowRejection {
  kind: string;
  /** file, stream or exporter the record came from */
  input: string;
  message: string;
  /** byte offset in the input, or line number, when known */
  offset?: number;
  line?: number;
}

/** What a reader hands its events to. `emit` must copy what it keeps: the event is reused. */
export interface FlowEventSink {
  emit(ev: FlowEvent): void;
  reject(r: FlowRejection): void;
}

// ---- the record layout the core consumes (extension of the packet path's) ----

export const SF_BIDIR = 1;      // resp counters are the source's own (not from pairing)
export const SF_PAIRED = 2;     // made of records from both directions
export const SF_DEDUPED = 4;    // another reporter's copy of the same traffic was dropped
export const SF_LATE = 8;       // arrived after the lateness window; emitted unmerged
export const SF_STATED = 16;    // conn_state was given by the source (Zeek), not derived
/**
 * ICMP record whose source has no type/code (AWS, Azure and GCP log ports 0/0):
 * the core must not read port 0 as "echo reply" (which would key each
 * direction as a reply to the other and never pair them).
 */
export const SF_NO_ICMP_TYPE = 32;
/** Sources whose ICMP records carry no type/code. */
const NO_ICMP_TYPE_SOURCES = new Set<number>([SOURCE.aws_vpc, SOURCE.azure_vnet, SOURCE.azure_nsg, SOURCE.gcp_vpc]);

/** Reporter ids a run hands out (the writer's name table holds as many: asm/json/tables.ts MAX_REPORTERS). */
export const MAX_REPORTERS = 1 << 16;
/** Records whose reporter did not fit in the table carry this id (named "(other)"). */
const OVERFLOW_ID = 1;

/** Interns reporter strings as the u32 ids the records carry (0 = none, 1 = table full). */
export class ReporterIds {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = ['', '(other)'];
  private lastName = '';
  private lastId = 0;
  id(name: string): number {
    if (name === '') return 0;
    // records come in runs from one interface/exporter: skip the map lookup
    if (name === this.lastName) return this.lastId;
    let id = this.ids.get(name);
    if (id === undefined) {
      // Bounded: a hostile or broken source inventing names cannot grow this without limit.
      if (this.names.length >= MAX_REPORTERS) return OVERFLOW_ID;
      id = this.names.length; this.names.push(name); this.ids.set(name, id);
    }
    this.lastName = name; this.lastId = id;
    return id;
  }
  /** The id of a name already interned, else -1 (interns nothing). */
  lookup(name: string): number {
    if (name === '') return 0;
    if (name === this.lastName) return this.lastId;
    return this.ids.get(name) ?? -1;
  }
  name(id: number): string { return this.names[id] ?? ''; }
  /** The names by id (a snapshot keeps them: the core's tables hold these ids). */
  saveState(): string[] { return this.names.slice(2); }
  /**
   * Carry on with the ids of a snapshot (before any name is interned): a
   * restored core's reporter table and flows hold them, so a name must get
   * its old id again, not the next free one.
   */
  loadState(names: readonly string[]): void {
    if (this.names.length > 2) throw new Error('reporter ids: restored after names were interned');
    for (const n of names) { this.ids.set(n, this.names.length); this.names.push(n); }
  }
  /** ids handed out so far + 1 (id 0 is "none") */
  get size(): number { return this.names.length; }
  /** [id, name] for ids ≥ from */
  entriesFrom(from: number): [number, string][] {
    const out: [number, string][] = [];
    for (let i = Math.max(1, from); i < this.names.length; i++) out.push([i, this.names[i]!]);
    return out;
  }
}

const CS_INDEX = new Map<string, number>(CONN_STATES.map((s, i) => [s, i]));
const CS_OTH = CS_INDEX.get('OTH')!;

/** Where events are encoded: views on one memory, `off` 8-byte aligned (the core's event region). */
export interface EventTarget { readonly u8: Uint8Array; readonly dv: DataView; readonly f64: Float64Array }

/** Encode `ev` as one REC_SIZE-byte record at `off` (orig = src; off 8-byte aligned). */
export function encodeFlowEvent(ev: FlowEvent, reporters: ReporterIds, t: EventTarget, off: number): void {
  const { u8, dv, f64 } = t;
  u8.fill(0, off, off + REC_SIZE);
  const o8 = off >> 3; // the f64 fields by index: cheaper than DataView calls
  f64[o8 + (R.TS >> 3)] = ev.start;
  f64[o8 + (R.LAST_TS >> 3)] = ev.end;
  f64[o8 + (R.ORIG_BYTES >> 3)] = ev.payloadBytes;
  f64[o8 + (R.RESP_BYTES >> 3)] = ev.revPayloadBytes;
  f64[o8 + (R.ORIG_IP_BYTES >> 3)] = ev.bytes;
  f64[o8 + (R.RESP_IP_BYTES >> 3)] = ev.bidir ? ev.revBytes : 0;
  f64[o8 + (R.ORIG_PKTS >> 3)] = ev.pkts;
  f64[o8 + (R.RESP_PKTS >> 3)] = ev.bidir ? ev.revPkts : 0;
  u8.set(ev.src, off + R.ORIG_H);
  u8.set(ev.dst, off + R.RESP_H);
  dv.setUint16(off + R.ORIG_P, ev.srcPort, true);
  dv.setUint16(off + R.RESP_P, ev.dstPort, true);
  u8[off + R.PROTO] = ev.proto;
  u8[off + R.IP_VERSION] = ev.ipVersion;
  u8[off + R.CONN_STATE] = ev.connState === null ? CS_OTH : CS_INDEX.get(ev.connState) ?? CS_OTH;
  dv.setUint16(off + R.VLAN, ev.vlan, true);
  dv.setUint16(off + R.INNER_VLAN, NO_VLAN, true);
  const hl = ev.history === '' ? 0 : Math.min(ev.history.length, 24);
  for (let i = 0; i < hl; i++) u8[off + R.HISTORY + i] = ev.history.charCodeAt(i) & 0x7f;
  u8[off + R.HISTORY_LEN] = hl;
  u8[off + R.SOURCE] = ev.source;
  u8[off + R.ACTION] = ev.action;
  u8[off + R.DIRECTION] = ev.direction;
  dv.setUint32(off + R.REPORTER, reporters.id(ev.reporter), true);
  dv.setUint32(off + R.SAMPLING, ev.sampling, true);
  u8[off + R.ORIG_TCP_FLAGS] = ev.tcpFlags;
  u8[off + R.RESP_TCP_FLAGS] = ev.revTcpFlags;
  const icmpUntyped = (ev.proto === 1 || ev.proto === 58) && NO_ICMP_TYPE_SOURCES.has(ev.source);
  u8[off + R.SOURCE_FLAGS] = (ev.bidir ? SF_BIDIR : 0) | (ev.connState !== null ? SF_STATED : 0) | (icmpUntyped ? SF_NO_ICMP_TYPE : 0);
  dv.setUint32(off + R.RECORDS, 1, true);
}
