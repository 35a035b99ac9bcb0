// What a device asks the DNS: learned from the answers the packet path sees
// (flows.ts hands every TCP/UDP payload on port 53 here).
//
// A DNS tunnel asks a stream of never-repeated, long, high-entropy names
// under one registered domain, often of type TXT or NULL; a DGA asks for
// many domains that do not exist. Neither needs a baseline: ordinary
// devices ask a few names under many domains, repeat them, and meet an
// NXDOMAIN now and then. The learner keeps, per device:
//   names    (device, name)              asked within the past hour?
//   domains  (device, registered domain) new names under it and TXT/NULL
//                                        questions, decayed over an hour
//   devices  device                      NXDOMAIN answers for domains new
//                                        to it, decayed over 10 minutes
// and each answer becomes a DNS observation (device = the asker, peer =
// the resolver) with the DNS features the models filter on.
//
// Only answers are learned: they carry the question too, and the rcode.
// Questions are told by their header (QR 0, one question) and only counted,
// not parsed. Anything else that does not parse is counted, never trusted.

import { count } from "../stats";
import { C_DNS_ANSWERS, C_DNS_MALFORMED, C_DNS_QUERIES, C_DNS_UNSOLICITED, C_LEARN_DNS_ASKER_EVICTIONS, C_LEARN_DNS_DOMAIN_EVICTIONS, C_LEARN_DNS_EVICTIONS } from "../counters";
import { isLocal } from "../localnets";
import { copyWords } from "../bytes";
import {
  DNS_PARTIAL, dnsIsResponse, dnsLongestLabel, dnsParse, dnsQname, dnsQnameHash, dnsQnameLen, dnsQtype, dnsRcode, dnsRegHash,
  dnsRegOffset, dnsSubEntropy, dnsSubLen,
} from "../dns";
import { COUNTER_BYTES, counterAdd } from "./damped";
import {
  FT_DNS_DOMAIN_NAMES, FT_DNS_DOMAIN_NEW, FT_DNS_DOMAIN_TXT, FT_DNS_LONGEST_LABEL, FT_DNS_NAME_NEW, FT_DNS_NX_DOMAINS, FT_DNS_QTYPE,
  FT_DNS_RCODE, FT_DNS_RESOLVER, FT_DNS_SUB_ENTROPY, FT_DNS_SUB_LEN, OBS_DNS, O_NAME,
} from "./observation";
import { commit, dev, orient, orientation, setF, side, since, takeObservation } from "./learner";
import { Table, tableCreated, tablesGrow } from "./table";

const HOUR: f64 = 3600;
const NX_HALF: f64 = 600;

// domains payload
const DM_NAMES_1H: usize = 0;
const DM_TXT_1H: usize = COUNTER_BYTES;
const DOMAIN_PAYLOAD: usize = 2 * COUNTER_BYTES;
// devices payload
const DV_NX_10M: usize = 0;
const DV_ANSWERED: usize = COUNTER_BYTES; // f64: when the device last answered a DNS question (it is a resolver)
const DEVICE_PAYLOAD: usize = COUNTER_BYTES + 8;
/** A device that answered DNS within this long counts as a resolver. */
const RESOLVER_FOR: f64 = 7 * 86400;

let names = new Table();
let domains = new Table();
let askers = new Table();
const key: usize = memory.data(32, 8);

/** The tables (once, after learnInit). False when memory cannot grow that far. */
export function dnsLearnInit(deviceCap: i32, nameCap: i32): bool {
  if (names.base != 0) return true;
  return names.init(<u32>nameCap, 24, 0, C_LEARN_DNS_EVICTIONS) &&
    domains.init(<u32>(nameCap >> 1), 24, DOMAIN_PAYLOAD, C_LEARN_DNS_DOMAIN_EVICTIONS) &&
    askers.init(<u32>deviceCap, 16, DEVICE_PAYLOAD, C_LEARN_DNS_ASKER_EVICTIONS);
}

/** Statistics of the DNS tables (names, domains, askers), 16 bytes each at out. */
export function dnsTableStats(out: usize): void {
  names.stats(out); domains.stats(out + 16); askers.stats(out + 32);
}

/**
 * A question is not learned (its answer carries it): a header with QR 0 and
 * one question says so before any parsing (after TCP's 2-byte prefix). The
 * packet path checks this before it logs a payload (learn-log.ts), so
 * questions cost neither the log's copies nor a replay.
 */
@inline export function isQuestion(at: usize, cap: u32, proto: u32): bool {
  const pre: u32 = proto == 6 ? 2 : 0;
  const hdr = at + <usize>pre;
  return cap >= pre + 12 && (load<u8>(hdr + 2) & 0x80) == 0 && load<u8>(hdr + 4) == 0 && load<u8>(hdr + 5) == 1;
}

/**
 * A TCP/UDP payload on port 53 of the packet src → dst (16-byte addresses),
 * captured bytes at [at, at + cap). serial/flowTs name its flow.
 */
export function learnDnsPacket(ts: f64, src: usize, dst: usize, sport: u32, dport: u32, proto: u32, at: usize, cap: u32, serial: f64, flowTs: f64, asked: bool): void {
  tablesGrow();
  if (isQuestion(at, cap, proto)) { count(C_DNS_QUERIES); return; } // (the packet path logs none: a foreign log might)
  const st = dnsParse(at, cap, proto == 6);
  if (st < 0) { count(C_DNS_MALFORMED); return; }
  if (!dnsIsResponse()) { count(C_DNS_QUERIES); return; }
  // An answer nobody asked for (the asker sent nothing in this flow: spoofed,
  // or the question was not captured) teaches nothing about the device it reaches.
  if (!asked) { count(C_DNS_UNSOLICITED); return; }
  count(C_DNS_ANSWERS);
  if (st == DNS_PARTIAL) count(C_DNS_MALFORMED); // the question is sound, the answers are not: learn the question
  // A local device answering: a resolver (its own questions upstream are its clients')
  if (isLocal(src)) {
    const r = askers.upsert(src, ts);
    store<f64>(askers.payload(r) + DV_ANSWERED, ts);
    askers.touch(r, ts);
  }
  // the asker is the answer's destination; learn only for a local asker
  if (!orient(dst, src, dport, sport) || side != 1) return;
  const obs = takeObservation(OBS_DNS, ts, serial, flowTs, proto);
  const qtype = dnsQtype();
  const rcode = dnsRcode();

  // the name: asked within the past hour?
  copyWords(key, dev, 16);
  store<u32>(key + 16, dnsQnameHash());
  store<u32>(key + 20, dnsRegHash());
  const n = names.upsert(key, ts);
  const nameNew = tableCreated || since(ts, names.last(n)) > HOUR;
  names.touch(n, ts);

  // the registered domain
  store<u32>(key + 16, dnsRegHash());
  store<u32>(key + 20, 0);
  const d = domains.upsert(key, ts);
  const domainNew = tableCreated;
  const dp = domains.payload(d);
  const newNames = counterAdd(dp + DM_NAMES_1H, ts, HOUR, nameNew ? 1 : 0);
  const txt = counterAdd(dp + DM_TXT_1H, ts, HOUR, qtype == 16 || qtype == 10 ? 1 : 0);
  domains.touch(d, ts);

  // the device: NXDOMAIN for domains it never asked before
  const a = askers.upsert(dev, ts);
  const nx = counterAdd(askers.payload(a) + DV_NX_10M, ts, NX_HALF, rcode == 3 && domainNew ? 1 : 0);
  const answered = load<f64>(askers.payload(a) + DV_ANSWERED);
  askers.touch(a, ts);

  orientation(obs, proto);
  setF(obs, FT_DNS_QTYPE, <f64>qtype);
  setF(obs, FT_DNS_RCODE, <f64>rcode);
  setF(obs, FT_DNS_SUB_LEN, <f64>dnsSubLen());
  setF(obs, FT_DNS_SUB_ENTROPY, dnsSubEntropy());
  setF(obs, FT_DNS_LONGEST_LABEL, <f64>dnsLongestLabel());
  setF(obs, FT_DNS_NAME_NEW, nameNew ? 1 : 0);
  setF(obs, FT_DNS_DOMAIN_NEW, domainNew ? 1 : 0);
  setF(obs, FT_DNS_DOMAIN_NAMES, newNames);
  setF(obs, FT_DNS_DOMAIN_TXT, txt);
  setF(obs, FT_DNS_NX_DOMAINS, nx);
  setF(obs, FT_DNS_RESOLVER, answered > 0 && since(ts, answered) < RESOLVER_FOR ? 1 : 0);
  // the registered domain, for the breach's explanation (the observation was zeroed: NUL-padded)
  const reg = dnsRegOffset();
  const len = dnsQnameLen() > reg ? min<u32>(dnsQnameLen() - reg, 64) : 0;
  memory.copy(obs + O_NAME, dnsQname() + <usize>reg, <usize>len);
  commit(obs);
}
