// The learner's observations as JS reads them: the mirror of
// asm/learn/observation.ts (test/detection.test.ts checks the two agree). One
// observation per connection start (CONN) or finished flow (END) of a
// local device, with the learned features the models filter on.
import { formatAddress, isV4Mapped } from '../flows/ip-address.ts';

export const OBS_SIZE = 512;
/** Byte offsets in an observation (asm/learn/observation.ts O_*). */
export const OBS_LAYOUT = { KIND: 0, MODELS_LO: 4, MODELS_HI: 8, TS: 16, SERIAL: 24, FLOW_TS: 32, DEVICE: 40, PEER: 56, DEVICE_PORT: 72, PEER_PORT: 74, PROTO: 76, FEATURES: 80, NAME: 448 } as const;
const O = OBS_LAYOUT;

export const OBS_KIND = { conn: 1, end: 2, dns: 3 } as const;
export type ObservationKind = keyof typeof OBS_KIND;

/**
 * Feature names in their core order (asm/learn/observation.ts FT_*), with
 * what each means: the model catalogue refers to them by name, breaches
 * explain them in these words.
 */
export const FEATURES = [
  ['direction', 'outbound 1, internal 2, inbound 3'],
  ['peer_external', '1 when the peer is outside the local networks'],
  ['peer_rarity', "0–100: share of the network's active devices that did not contact the peer recently"],
  ['peer_age_s', 'seconds since the network first saw the peer'],
  ['peer_devices', 'other devices that contacted the peer recently'],
  ['channel_age_s', 'seconds since the device first used this peer, port and protocol'],
  ['channel_gap_s', 'seconds since the device last used this peer, port and protocol'],
  ['port_age_s', 'seconds since the device first used this port as a client'],
  ['pair_gap_s', 'seconds since the device last contacted the peer'],
  ['device_age_s', 'seconds since the device was first seen'],
  ['port', "the responder's port"],
  ['proto', 'IP protocol number'],
  ['failed', '1 when the connection failed (no answer, rejected, reset before data)'],
  ['bytes_out', 'IP bytes the device sent'],
  ['bytes_in', 'IP bytes the device received'],
  ['duration', 'seconds the connection lasted'],
  ['bytes_out_z', "bytes sent against the device's own history, in standard deviations"],
  ['pkts_out', 'packets the device sent'],
  ['conn_state', 'Zeek conn_state code'],
  ['device_conn_rate', 'connections of the device, decayed over a minute'],
  ['device_fail_ratio', "failed share of the device's connections over the last hour"],
  ['device_server', 'share of connections the device answered rather than made'],
  ['pair_conns', 'connections between device and peer over the last hour'],
  ['originator', '1 when the device made the connection'],
  ['pair_fresh', 'ports of this peer the device newly tried in the last minute or so'],
  ['port_fresh', 'hosts the device newly tried on this port in the last minute or so'],
  ['beacon_score', '0–100: how regular (periodic, same-sized, sustained) the device\'s connections to the peer are'],
  ['beacon_period_s', 'median seconds between the device\'s connections to the peer'],
  ['beacon_events', 'connections to the peer the periodicity rests on'],
  ['internal_volume', 'bytes the device moved with internal hosts lately (1 h half-life)'],
  ['internal_volume_ratio', "that volume against the device's busiest past hours"],
  ['external_out_volume', 'bytes the device sent outside lately (1 h half-life)'],
  ['external_out_ratio', "that volume against the device's busiest past hours"],
  ['dns_qtype', "DNS: the question's type (1 A, 16 TXT, 28 AAAA …)"],
  ['dns_rcode', "DNS: the answer's rcode (3 NXDOMAIN)"],
  ['dns_sub_len', 'DNS: length of the name before its registered domain'],
  ['dns_sub_entropy', 'DNS: entropy of that part, bits per character'],
  ['dns_longest_label', 'DNS: longest label of the name'],
  ['dns_name_new', 'DNS: 1 when the device had not asked this name within the past hour'],
  ['dns_domain_new', 'DNS: 1 when the device had never asked under this registered domain'],
  ['dns_domain_names', 'DNS: names under the registered domain new to the device lately (1 h half-life)'],
  ['dns_domain_txt', 'DNS: TXT/NULL questions under the registered domain lately (1 h half-life)'],
  ['dns_nx_domains', 'DNS: NXDOMAIN answers for domains new to the device lately (10 min half-life)'],
  ['beacon_age_s', "seconds since the device's first connection to the peer"],
  ['hour_share', "how usual this hour of the week is for the device: 1 an average hour, 0 never active then"],
  ['dns_resolver', 'DNS: 1 when the asking device itself answers DNS (a resolver asking for its clients)'],
] as const;
export type FeatureName = (typeof FEATURES)[number][0];
export const FEATURE_INDEX: Readonly<Record<FeatureName, number>> = Object.fromEntries(FEATURES.map(([n], i) => [n, i])) as Record<FeatureName, number>;
export const NEVER = 1e12;

export interface Observation {
  kind: ObservationKind;
  ts: number;
  serial: number;
  flowTs: number;
  device: string;
  peer: string;
  devicePort: number;
  peerPort: number;
  proto: number;
  features: Float64Array;
  /** DNS observations: the registered domain asked about ('' otherwise) */
  name: string;
}

/**
 * One observation of a batch, read in place: the engine sees hundreds of
 * thousands, so nothing is allocated per observation but the address
 * strings (measured: decoding each into arrays of its own cost ~30 µs per
 * observation in allocation and garbage collection). snapshot() makes the
 * copy a breach keeps.
 */
export class ObservationView {
  private dv: DataView = new DataView(new ArrayBuffer(OBS_SIZE));
  private bytes: Uint8Array = new Uint8Array(OBS_SIZE);
  private at = 0;

  /** Point at observation i of a batch (the core's region: valid during the batch call). */
  select(bytes: Uint8Array, dv: DataView, i: number): this {
    this.bytes = bytes;
    this.dv = dv;
    this.at = i * OBS_SIZE;
    return this;
  }

  get kind(): ObservationKind {
    const k = this.dv.getUint32(this.at + O.KIND, true);
    return k === OBS_KIND.conn ? 'conn' : k === OBS_KIND.dns ? 'dns' : 'end';
  }
  /** models 0–31 / 32–63 whose filters passed (bit i = model i) */
  get modelsLo(): number { return this.dv.getUint32(this.at + O.MODELS_LO, true); }
  get modelsHi(): number { return this.dv.getUint32(this.at + O.MODELS_HI, true); }
  get ts(): number { return this.dv.getFloat64(this.at + O.TS, true); }
  get serial(): number { return this.dv.getFloat64(this.at + O.SERIAL, true); }
  get flowTs(): number { return this.dv.getFloat64(this.at + O.FLOW_TS, true); }
  get devicePort(): number { return this.dv.getUint16(this.at + O.DEVICE_PORT, true); }
  get peerPort(): number { return this.dv.getUint16(this.at + O.PEER_PORT, true); }
  get proto(): number { return this.bytes[this.at + O.PROTO]!; }
  device(): string { return address(this.bytes, this.at + O.DEVICE); }
  /** The device's (peer: false) or peer's address as 4 big-endian words into out at `to`. */
  addressWords(peer: boolean, out: Uint32Array, to: number): void {
    const from = this.at + (peer ? O.PEER : O.DEVICE);
    for (let w = 0; w < 4; w++) out[to + w] = this.dv.getUint32(from + 4 * w, false);
  }
  peer(): string { return address(this.bytes, this.at + O.PEER); }
  feature(i: number): number { return this.dv.getFloat64(this.at + O.FEATURES + i * 8, true); }
  /** DNS: the registered domain (ASCII, NUL-padded in the core; other bytes shown as \xNN) */
  name(): string {
    let s = '';
    for (let i = 0; i < 64; i++) {
      const c = this.bytes[this.at + O.NAME + i]!;
      if (c === 0) break;
      s += c >= 0x21 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
    }
    return s;
  }

  snapshot(): Observation {
    const features = new Float64Array(FEATURES.length);
    for (let f = 0; f < FEATURES.length; f++) features[f] = this.feature(f);
    return {
      kind: this.kind, ts: this.ts, serial: this.serial, flowTs: this.flowTs, device: this.device(), peer: this.peer(),
      devicePort: this.devicePort, peerPort: this.peerPort, proto: this.proto, features, name: this.kind === 'dns' ? this.name() : '',
    };
  }
}

function address(b: Uint8Array, at: number): string {
  return formatAddress(b.subarray(at, at + 16), isV4Mapped(b, at) ? 4 : 6);
}
