// The observation layout: what the learner hands JS for each connection it
// judged (CONN, when the connection starts) or finished flow (END), with the
// learned features the model engine filters on. JS mirrors this in
// sensor/learn/observation.ts (test/detection.test.ts compares names, offsets and size).

export const OBS_SIZE: usize = 512; // O_FEATURES + 8 × NUM_FEATURES + the name

export const O_KIND: usize = 0;       // u32 OBS_CONN / OBS_END
export const O_MODELS_LO: usize = 4;  // u32 models 0–31 whose filters this observation passed
export const O_MODELS_HI: usize = 8;  // u32 models 32–63
export const O_TS: usize = 16;        // f64 capture time of the observation
export const O_SERIAL: usize = 24;    // f64 flow serial (uid) of the connection
export const O_FLOW_TS: usize = 32;   // f64 the flow's first packet time (uid)
export const O_DEVICE: usize = 40;    // 16 bytes: the internal device (v4-mapped)
export const O_PEER: usize = 56;      // 16 bytes: the other end
export const O_DEVICE_PORT: usize = 72; // u16
export const O_PEER_PORT: usize = 74; // u16
export const O_PROTO: usize = 76;     // u8
export const O_FEATURES: usize = 80;  // f64 × NUM_FEATURES
export const O_NAME: usize = 448;     // 64 bytes, DNS: the registered domain asked about (ASCII, NUL-padded, cut at 64)

export const OBS_CONN: u32 = 1;
export const OBS_END: u32 = 2;
export const OBS_DNS: u32 = 3;

// Features, f64 each. Seconds ages are capture-clock seconds; NEVER where
// there is nothing before (a first sighting).
export const FT_DIRECTION: i32 = 0;        // 1 outbound (device → external), 2 internal, 3 inbound (external → device)
export const FT_PEER_EXTERNAL: i32 = 1;    // 1 when the peer is outside the local networks
export const FT_PEER_RARITY: i32 = 2;      // 0–100: share of the network's active devices that did not contact the peer within the retention (100: none did)
export const FT_PEER_AGE_S: i32 = 3;       // since the network first saw the peer (0: now)
export const FT_PEER_DEVICES: i32 = 4;     // other devices that contacted the peer within the retention
export const FT_CHANNEL_AGE_S: i32 = 5;    // since this device first used (peer, port, proto) (END: 0 when forgotten)
export const FT_CHANNEL_GAP_S: i32 = 6;    // since this device last used (peer, port, proto); NEVER if first
export const FT_PORT_AGE_S: i32 = 7;       // since this device first used this (port, proto) as a client
export const FT_PAIR_GAP_S: i32 = 8;       // since this device last contacted the peer at all; NEVER if first
export const FT_DEVICE_AGE_S: i32 = 9;     // since the device was first seen
export const FT_PORT: i32 = 10;            // the responder's port (the service)
export const FT_PROTO: i32 = 11;           // IP protocol
export const FT_FAILED: i32 = 12;          // END: 1 when the connection failed (no answer, rejected, reset before data)
export const FT_BYTES_OUT: i32 = 13;       // END: IP bytes device → peer
export const FT_BYTES_IN: i32 = 14;        // END: IP bytes peer → device
export const FT_DURATION: i32 = 15;        // END: seconds
export const FT_BYTES_OUT_Z: i32 = 16;     // END: bytes out against the device's own per-connection history (standard deviations; 0 without history)
export const FT_PKTS_OUT: i32 = 17;        // END: packets device → peer
export const FT_CONN_STATE: i32 = 18;      // END: conn_state code (asm/flowrecord.ts CS_*)
export const FT_DEVICE_CONN_RATE: i32 = 19;// connections the device made or took, decayed with a 60 s half-life
export const FT_DEVICE_FAIL_RATIO: i32 = 20;// failed share of the device's connections, decayed (1 h)
export const FT_DEVICE_SERVER: i32 = 21;   // share of the device's connections it answered rather than made (1 day)
export const FT_PAIR_CONNS: i32 = 22;      // connections between device and peer, decayed (1 h half-life)
export const FT_ORIGINATOR: i32 = 23;      // 1 when the device made the connection, 0 when it answered
export const FT_PAIR_FRESH: i32 = 24;      // channels to this peer not used in the past hour, opened lately (60 s half-life): ports being tried
export const FT_PORT_FRESH: i32 = 25;      // channels on this port (as a client) not used in the past hour, opened lately (60 s half-life): hosts being tried
export const FT_BEACON_SCORE: i32 = 26;   // END, outbound: 0–100 periodicity of the device's connections to the peer (beacon.ts)
export const FT_BEACON_PERIOD_S: i32 = 27; // END, outbound: median gap between those connections
export const FT_BEACON_EVENTS: i32 = 28;  // END, outbound: connections (events) to the peer the score rests on
export const FT_INTERNAL_VOLUME: i32 = 29; // END, internal: bytes the device moved with internal peers lately (1 h half-life)
export const FT_INTERNAL_VOLUME_RATIO: i32 = 30; // END, internal: that against the device's busiest past hours (damped.ts volume)
export const FT_EXTERNAL_OUT_VOLUME: i32 = 31;  // END, outbound: bytes the device sent outside lately (1 h half-life)
export const FT_EXTERNAL_OUT_RATIO: i32 = 32;   // END, outbound: that against the device's busiest past hours
export const FT_DNS_QTYPE: i32 = 33;        // DNS: the question's type (1 A, 16 TXT, 28 AAAA …)
export const FT_DNS_RCODE: i32 = 34;        // DNS: the answer's rcode (3 NXDOMAIN)
export const FT_DNS_SUB_LEN: i32 = 35;      // DNS: length of the name before its registered domain
export const FT_DNS_SUB_ENTROPY: i32 = 36;  // DNS: Shannon entropy of that part, bits per character
export const FT_DNS_LONGEST_LABEL: i32 = 37; // DNS: longest label of the name
export const FT_DNS_NAME_NEW: i32 = 38;     // DNS: 1 when the device had not asked this name within the past hour
export const FT_DNS_DOMAIN_NEW: i32 = 39;   // DNS: 1 when the device had never asked under this registered domain (as far as the table remembers)
export const FT_DNS_DOMAIN_NAMES: i32 = 40; // DNS: names under the registered domain new to the device lately (1 h half-life)
export const FT_DNS_DOMAIN_TXT: i32 = 41;   // DNS: TXT/NULL questions under the registered domain lately (1 h half-life)
export const FT_DNS_NX_DOMAINS: i32 = 42;   // DNS: NXDOMAIN answers for domains new to the device lately (10 min half-life)
export const FT_BEACON_AGE_S: i32 = 43;    // END, outbound: since the device's first connection to the peer (as the beacon table remembers)
export const FT_HOUR_SHARE: i32 = 44;      // 168 × the device's share of its connections in this hour of the week (1 average, 0 never; 1 without two weeks' worth)
export const FT_DNS_RESOLVER: i32 = 45;    // DNS: 1 when the asking device itself answers DNS (a resolver forwarding its clients' questions)
export const NUM_FEATURES: i32 = 46;

export const NEVER: f64 = 1e12;
