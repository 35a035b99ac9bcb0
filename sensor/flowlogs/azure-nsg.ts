// Azure NSG flow logs, versions 1 and 2 (being retired in favour of VNet flow
// logs): one parsed JSON record of a PT1H.json blob → flow events. Pure, never
// throws on bad input; shared tuple pieces and decisions in azure-vnet.ts.
//
// Record: resourceId (the NSG), properties.Version 1|2,
// properties.flows[] = {rule, flows: [{mac, flowTuples: [...]}]}.
// v1 tuple: time,src,dst,sport,dport,proto(T/U),direction(I/O),decision(A/D)
// v2 tuple: v1 + state(B/C/E) + pkts→,bytes→,pkts←,bytes← (deltas; empty for B)
// Decision A → accept, D → reject. v1 tuples have no counters (zero-count
// events); every tuple, B included, becomes one event.
import { ACTION, SOURCE, type FlowEvent, type FlowEventSink } from './flow-event.ts';
import {
  azureReporter, isObj, newRecordStats, noStats, rejectRecord, runTuples, setTupleCounters, setTupleDirection, setTupleHead, setTupleProto,
  TupleFields, tupleError, tupleState, type FlowSpans, type RecordStats, type RecordWhere, type TupleError, type TupleState,
} from './azure-vnet.ts';

const FIELDS = new TupleFields();

/** Parse one NSG tuple of the given version into `ev` (already reset, reporter set). */
export function parseNsgTuple(text: string, version: 1 | 2, ev: FlowEvent): TupleState | TupleError {
  const f = FIELDS;
  const ok = f.split(text);
  if (!ok || (version === 1 ? f.n !== 8 : f.n !== 13 && f.n !== 9)) {
    return tupleError('bad_tuple', `${ok ? f.n : 'more than 16'} fields, expected ${version === 1 ? 8 : 13} for version ${version}`);
  }
  const err = setTupleHead(f, ev) ?? setTupleProto(f, 5, ev) ?? setTupleDirection(f, 6, ev);
  if (err) return err;
  if (f.is(7, 65)) ev.action = ACTION.accept; // A
  else if (f.is(7, 68)) ev.action = ACTION.reject; // D
  else return tupleError('bad_tuple', `unknown decision "${f.str(7)}"`);
  if (version === 1) return '';
  const state = tupleState(f, 8, false);
  if (state === null) return tupleError('bad_tuple', `unknown flow state "${f.str(8)}"`);
  if (f.n === 13) { const ce = setTupleCounters(f, 9, ev); if (ce) return ce; }
  if (state === 'B') noStats(ev);
  return state;
}

const parseV1 = (t: string, ev: FlowEvent) => parseNsgTuple(t, 1, ev);
const parseV2 = (t: string, ev: FlowEvent) => parseNsgTuple(t, 2, ev);

/** One NSG flow-log record (a parsed element of `records`) → events. */
export function parseNsgRecord(rec: unknown, ev: FlowEvent, sink: FlowEventSink, where: RecordWhere, spans: FlowSpans | null = null): RecordStats {
  const stats = newRecordStats();
  if (!isObj(rec)) return rejectRecord('bad_record', 'record is not an object', sink, where, stats);
  const props = rec.properties;
  if (!isObj(props)) return rejectRecord('bad_record', 'record has no properties object', sink, where, stats);
  const v = props.Version;
  const version = v === 1 || v === '1' ? 1 : v === 2 || v === '2' ? 2 : 0;
  if (version === 0) return rejectRecord('unknown_version', `NSG flow log Version ${JSON.stringify(v) ?? 'missing'} (known: 1, 2)`, sink, where, stats);
  const rules = props.flows;
  if (!Array.isArray(rules)) return rejectRecord('bad_record', 'properties.flows is not an array', sink, where, stats);
  const resource = typeof rec.resourceId === 'string' ? rec.resourceId : '';
  const parse = version === 1 ? parseV1 : parseV2;
  for (const rule of rules) {
    const groups = isObj(rule) ? rule.flows : undefined;
    if (!Array.isArray(groups)) { rejectRecord('bad_record', 'properties.flows[].flows is not an array', sink, where, stats); continue; }
    for (const g of groups) {
      if (!isObj(g)) { rejectRecord('bad_record', 'flows[].flows[] element is not an object', sink, where, stats); continue; }
      const mac = typeof g.mac === 'string' ? g.mac : '';
      runTuples(g.flowTuples, azureReporter(resource, mac), SOURCE.azure_nsg, parse, ev, sink, where, spans, stats);
    }
  }
  return stats;
}
