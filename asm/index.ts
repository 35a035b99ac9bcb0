// The Wasm core's exports: everything JS may call. JS drives it in batches:
//   init → configure → beginCapture(format) → repeat { copy a chunk into the
//   input region; feed(len, offset, final); drain the output region }
//   → flushAll until it returns 1 → drain.
// Memory only grows inside init(); JS re-creates its views after init.
import { NUM_COUNTERS } from "./counters";
import { counters, errFirst, errLast, resetStats } from "./stats";
import { captureInit, inputPtr as capInputPtr, inputCapacity as capInputCapacity, beginCapture as capBegin, feed as capFeed, captureStatus, lastTs as capLastTs, ingestFrame as capIngestFrame, ingestSampledFrame as capIngestSampled } from "./capture";
import { decodeInit } from "./decode";
import { eventsInit, configureEvents as evConfigure, eventsPtr as evPtr, eventsCapacity as evCap, ingestEvents as evIngest, eventsFlush as evFlush, eventFlowsPending as evPending, advanceEventClock as evAdvance, eventClock as evClock } from "./flowevents";
import { awsInit, awsText as awsTextPtr, awsTextCapacity as awsTextCap, awsScratch as awsScratchPtr, awsSetFormat as awsFormat, awsAddReporter as awsReporter, awsParse as awsParseLines, awsPos as awsStop, awsPending as awsPend, awsLines as awsLinesTaken } from "./awsvpc";
import { nfInit, nfSetRegion as nfSetPtr, nfSetCapacity as nfSetCap, nfOpKinds as nfKindsPtr, nfOpOffs as nfOffsPtr, nfOpLens as nfLensPtr, nfSamplers as nfSamplersPtr, nfMaxOps as nfOpsMax, nfMaxSamplers as nfSamplersMax, nfSetProgram as nfProgram, nfSetContext as nfContext, nfDecode as nfDecodeSet, nfPos as nfStop, nfPending as nfPend, nfTaken as nfRecords } from "./nfdata";
import { flowsInit, configureFlows, outputPtr as flowOutputPtr, outputCount as flowOutputCount, outputCapacity as flowOutputCapacity, outputClear as flowOutputClear, flushAll as flowFlushAll, flowsReady } from "./flows";

import { dnsLearnInit, dnsTableStats } from "./learn/dns-learner";
import { tablesReserveScratch } from "./learn/table";
import {
  learnDeviceInfo as lDeviceInfo, learnTableStats, learnExportDevices as lExportDevices, learnExportPorts as lExportPorts, learnExportNext as lExportNext, learnExportInventory as lExportInventory,
  learnInit as lInit, learnConfigure as lConfigure, learnRecords as lRecords, observationsPtr as lObsPtr, observationCount as lObsCount, observationCapacity as lObsCap, observationsClear as lObsClear, learnScratch as lScratch, learnFirstTs as lFirstTs } from "./learn/learner";
import { logInit, logPtr, logUsed, logCapacity, logClear, logLoaded, logReplay } from "./learn/learn-log";
import { modelsPtr as gModels, clausesPtr as gClauses, setsPtr as gSets, setProgram as gProgram, MAX_MODELS, MAX_CLAUSES, MAX_SETS } from "./learn/gate";
import { addNet, clearNets, localNetsInit } from "./localnets";

export const ABI_VERSION: i32 = 9;

/**
 * Allocate every table once. Returns 0, or -1 when memory cannot grow that far.
 * flowCapacity: flow table slots (rounded up to a power of two);
 * fragCapacity: IP fragment table slots; inputBytes: input region size;
 * outputRecords: flow records per output batch.
 */
export function init(flowCapacity: i32, fragCapacity: i32, inputBytes: i32, outputRecords: i32): i32 {
  resetStats();
  if (!captureInit(inputBytes)) return -1;
  if (!decodeInit(fragCapacity)) return -1;
  if (!flowsInit(flowCapacity, outputRecords)) return -1;
  return 0;
}

/**
 * The flow-event merger (flowevents.ts) for flow-record sources: pending-flow
 * capacity and events per batch. Separate from init() so a packet-only run
 * does not pay for it. Returns 0, or -1 when memory cannot grow that far.
 */
export function initEvents(capacity: i32, inputEvents: i32): i32 { return eventsInit(capacity, inputEvents) && awsInit() && nfInit() ? 0 : -1; }

// NetFlow v9 / IPFIX data records decoded in the core (nfdata.ts): JS copies
// a data set into the set region, its template's actions into the op
// arrays, and decodes only the records the core leaves (no address).
export function nfSetRegion(): usize { return nfSetPtr(); }
export function nfSetCapacity(): i32 { return nfSetCap(); }
export function nfOpKinds(): usize { return nfKindsPtr(); }
export function nfOpOffs(): usize { return nfOffsPtr(); }
export function nfOpLens(): usize { return nfLensPtr(); }
export function nfSamplers(): usize { return nfSamplersPtr(); }
export function nfMaxOps(): i32 { return nfOpsMax(); }
export function nfMaxSamplers(): i32 { return nfSamplersMax(); }
/** The n actions in the op arrays, records of `length` bytes. Returns 0, or -1 (not a program the core runs). */
export function nfSetProgram(n: i32, length: i32): i32 { return nfProgram(n, length); }
/** The set's export time (s) and v9 uptime (ms, -1 for IPFIX); the domain's sysInit (ms, -1), default rate, reporter id; the event source; nSamp (id, rate) f64 pairs at nfSamplers. */
export function nfSetContext(exportTime: f64, uptime: f64, sysInitMs: f64, defaultRate: f64, reporter: i32, source: i32, nSamp: i32): void {
  nfContext(exportTime, uptime, sysInitMs, defaultRate, reporter, source, nSamp);
}
/**
 * Decode whole records of set[start, end) into event slots from `pending`.
 * Returns 0 (done), 1 (event region full: ingest, call again from nfPos()
 * with pending 0) or 2 (the record at nfPos() is for JS).
 */
export function nfDecode(start: i32, end: i32, pending: i32): i32 { return nfDecodeSet(start, end, pending); }
export function nfPos(): i32 { return nfStop(); }
export function nfPending(): i32 { return nfPend(); }
export function nfTaken(): i32 { return nfRecords(); }

// AWS VPC flow-log lines parsed in the core (awsvpc.ts): JS copies blocks
// of complete lines into the text region; lines the fast parser does not
// take come back to JS one at a time.
export function awsScratch(): usize { return awsScratchPtr(); }
export function awsText(): usize { return awsTextPtr(); }
export function awsTextCapacity(): i32 { return awsTextCap(); }
/** Column kinds at awsScratch()[0, n), reporter columns after them. Returns 0, or -1. */
export function awsSetFormat(n: i32, nRep: i32): i32 { return awsFormat(n, nRep); }
/** Reporter bytes at awsScratch()[0, n) have the interned id `id`. Returns 0, or -1 (not kept: such lines stay with JS). */
export function awsAddReporter(n: i32, id: i32): i32 { return awsReporter(n, <u32>id); }
/**
 * Parse the complete lines of text[start, end) into event slots from
 * `pending`. Returns 0 (all taken), 1 (event region full: ingest, call again
 * from awsPos() with pending 0) or 2 (the line at awsPos() is for JS).
 */
export function awsParse(start: i32, end: i32, pending: i32, maxLine: i32): i32 { return awsParseLines(start, end, pending, maxLine); }
/** Text-region offset where awsParse stopped. */
export function awsPos(): i32 { return awsStop(); }
/** Events in the region after awsParse. */
export function awsPending(): i32 { return awsPend(); }
/** Lines awsParse took. */
export function awsLines(): i32 { return awsLinesTaken(); }
/** Seconds: lateness window, idle gap that ends a flow, active timeout (interim records). */
export function configureEvents(lateness: f64, gap: f64, activeTimeout: f64): void { evConfigure(lateness, gap, activeTimeout); }
export function eventsPtr(): usize { return evPtr(); }
export function eventsCapacity(): i32 { return evCap(); }
/** Merge events [start, start + n) of the event region; returns how many were taken (fewer: drain, call again). */
export function ingestEvents(start: i32, n: i32): i32 { return evIngest(start, n); }
/** Write every pending event flow; 0 when the output filled first (drain, call again). */
export function flushEvents(): i32 { return evFlush() ? 1 : 0; }
export function eventFlowsPending(): i32 { return evPending(); }
/** Live: advance the event clock to wall time `now`; 0 when the output filled first (drain, call again). */
export function advanceEventClock(now: f64): i32 { return evAdvance(now) ? 1 : 0; }
export function eventClock(): f64 { return evClock(); }
/**
 * Live: advance the packet clock to `now` when no packet has (a quiet link),
 * writing flows that timed out. 0 when the output filled first (drain, call again).
 */
export function advanceClock(now: f64): i32 { return flowsReady(now) ? 1 : 0; }

/** Timeouts in seconds of capture time. Defaults are Zeek's (see flows.ts). */
export function configure(tcpInactivity: f64, udpInactivity: f64, icmpInactivity: f64, otherInactivity: f64, tcpCloseDelay: f64, activeTimeout: f64): void {
  configureFlows(tcpInactivity, udpInactivity, icmpInactivity, otherInactivity, tcpCloseDelay, activeTimeout);
}

export function abiVersion(): i32 { return ABI_VERSION; }
export function inputPtr(): usize { return capInputPtr(); }
export function inputCapacity(): i32 { return capInputCapacity(); }
export function outputPtr(): usize { return flowOutputPtr(); }
export function outputCount(): i32 { return flowOutputCount(); }
export function outputCapacity(): i32 { return flowOutputCapacity(); }
export function outputClear(): void { flowOutputClear(); }
export function countersPtr(): usize { return counters; }
export function errorFirstPtr(): usize { return errFirst; }
export function errorLastPtr(): usize { return errLast; }
export function numCounters(): i32 { return NUM_COUNTERS; }

/** Start a new capture stream: 1 = classic pcap, 2 = pcapng. Flows carry over between captures. */
export function beginCapture(format: i32): void { capBegin(format); }

/**
 * Process input[0, len). `baseOffset` is the stream offset of input[0] (for
 * error reports); `final` = no more bytes will follow. Returns the number of
 * bytes consumed; JS keeps the rest and prepends it to the next chunk.
 * Then status(): 0 = wants more input, 1 = output full (drain and call again
 * with the unconsumed rest), 2 = the capture is unusable (bad file header).
 */
export function feed(len: i32, baseOffset: f64, final: i32): i32 { return capFeed(len, baseOffset, final != 0); }
export function status(): i32 { return captureStatus(); }

/** Emit every open flow (end of input). Returns 1 when done, 0 when the output filled first (drain, call again). */
export function flushAll(): i32 { return flowFlushAll() ? 1 : 0; }

/** Capture time of the latest packet (the core's clock). */
export function lastTs(): f64 { return capLastTs(); }

/**
 * Decode and account one frame that JS placed at input[0, capLen), outside
 * any capture file (sFlow samples, tests). Returns 1 if it was accounted to a
 * flow, 0 if not (non-IP or malformed: see counters), 2 if the output is full.
 */
export function ingestFrame(capLen: i32, wireLen: i32, linktype: i32, ts: f64): i32 { return capIngestFrame(capLen, wireLen, linktype, ts); }
/**
 * ingestFrame for a frame sampled 1-in-rate (sFlow, IPFIX packet sections):
 * credited as `rate` packets of its size; its flow's records carry `source`
 * (SRC_* in flowrecord.ts) and the sampling.
 */
export function ingestSampledFrame(capLen: i32, wireLen: i32, linktype: i32, ts: f64, rate: f64, source: i32): i32 {
  return capIngestSampled(capLen, wireLen, linktype, ts, rate >= 1 && rate <= 4294967295 ? <u32>rate : 1, <u8>source);
}

// ---- pattern of life (learn/) ----
// learnInit once (after init), addLocalNet per local network, learnProgram
// with the models' compiled filters; then after every feed/ingest and
// before draining the flow records: learnOutput until it returns 1,
// draining the observation region in between. The packet path writes what
// it learns from into the learning log (learn/learn-log.ts), which
// learnOutput replays first.
//
// A core whose learning runs in a detection thread calls only learnLogInit:
// JS ships the log (learnLogPtr/Used, then learnLogClear) and the output
// records to the thread's core, which copies them in (learnLogLoaded) and
// learns them with learnBatch.

/** Learning tables, observation region and learning log. Returns 0, or -1 when memory cannot grow that far. */
export function learnInit(devices: i32, endpoints: i32, pairs: i32, channels: i32, ports: i32, beacons: i32, dnsNames: i32, observations: i32, logBytes: i32): i32 {
  return localNetsInit() && lInit(devices, endpoints, pairs, channels, ports, beacons, observations) && dnsLearnInit(devices, dnsNames) && tablesReserveScratch() && logInit(logBytes) ? 0 : -1;
}
/** The learning log alone (learning runs in another core). 0, or -1 when memory cannot grow that far. */
export function learnLogInit(bytes: i32): i32 { return logInit(bytes) ? 0 : -1; }
export function learnLogPtr(): usize { return logPtr(); }
export function learnLogUsed(): i32 { return logUsed(); }
export function learnLogCapacity(): i32 { return logCapacity(); }
export function learnLogClear(): void { logClear(); }
/** n bytes of another core's log were copied to learnLogPtr(): 0, or -1 if they cannot be replayed. */
export function learnLogLoaded(n: i32): i32 { return logLoaded(n) ? 0 : -1; }
/** Replay the log, then learn the n records at base (another core's, copied in): as learnOutput. Call outputClear() once it returns 1. */
export function learnBatch(base: i32, n: i32): i32 { return logReplay() && lRecords(<usize>base, n) ? 1 : 0; }
const tableStats = memory.data(16 * 9, 8);
/** The learning tables' capacity, entry bytes, entries in use and active slots (u32 × 4 each): devices, endpoints, pairs, channels, client ports, beacons, DNS names, DNS domains, DNS askers. */
export function learnTables(): usize {
  learnTableStats(tableStats);
  dnsTableStats(tableStats + 96);
  return tableStats;
}
/** Device rows (128 bytes) into the observation region from table slot `start`; -1 if the region is not drained. learnExportNext(): the slot to go on from (-1: done). */
export function learnExportDevices(start: i32, minConns: f64): i32 { return lExportDevices(start, minConns); }
/** Client-port rows (24 bytes: device, u16 port, u8 proto) likewise, of the devices exported. */
export function learnExportPorts(start: i32, minConns: f64): i32 { return lExportPorts(start, minConns); }
export function learnExportNext(): i32 { return lExportNext(); }
/** Device inventory rows (56 bytes: address, first and last seen, MAC, interface, week connections) likewise, every device. */
export function learnExportInventory(start: i32): i32 { return lExportInventory(start); }
export function learnConfigure(retentionS: f64, recountS: f64, emitAll: i32): void { lConfigure(retentionS, recountS, emitAll != 0); }
/** 64 bytes for arguments: a local network (16-byte network, 16-byte mask) before addLocalNet. */
export function learnScratch(): usize { return lScratch(); }
export function addLocalNet(): i32 { return addNet(lScratch()); }
export function clearLocalNets(): void { clearNets(); }
export function gateModels(): usize { return gModels(); }
export function gateClauses(): usize { return gClauses(); }
export function gateSets(): usize { return gSets(); }
export function learnProgram(nModels: i32, nClauses: i32): i32 { return gProgram(nModels, nClauses); }
/** The gate's room: models, clauses, port sets (JS checks a program against these before writing it). */
export function gateMaxModels(): i32 { return MAX_MODELS; }
export function gateMaxClauses(): i32 { return MAX_CLAUSES; }
export function gateMaxSets(): i32 { return MAX_SETS; }
/** Capture time of the first connection learned (NaN before): where the learning period starts. */
export function learnFirstTs(): f64 { return lFirstTs(); }
/** The device at the address JS wrote to learnScratch(): 1 and its MAC (u64, bit 63 when known) at scratch + 16 and cloud interface id (u32) at + 24; 0 when not learned. */
export function learnDeviceInfo(): i32 { return lDeviceInfo() ? 1 : 0; }
/** Replay the learning log, then learn the flow records in the output region not learned yet: 1 when done, 0 when the observation region filled (drain it, call again). */
export function learnOutput(): i32 { return learnBatch(<i32>flowOutputPtr(), flowOutputCount()); }
export function observationsPtr(): usize { return lObsPtr(); }
export function observationCount(): i32 { return lObsCount(); }
export function observationCapacity(): i32 { return lObsCap(); }
export function observationsClear(): void { lObsClear(); }
