// Which flow-log format a file holds, from its first bytes (after gunzip).
// Only where it is unambiguous: anything else needs --format. Captures are
// recognised by capture-format.ts before this is asked.
import { isAwsHeaderLine, parseAwsFormat } from './aws-vpc.ts';

export type FlowLogFormat = 'aws-vpc' | 'azure' | 'gcp-vpc' | 'zeek-conn';

/** @param head the first few KiB of the (decompressed) file */
export function sniffFlowLog(head: Uint8Array): FlowLogFormat | null {
  const text = Buffer.from(head.subarray(0, 64 << 10)).toString('latin1');
  const body = text.replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  if (body.startsWith('#separator') || body.startsWith('#fields') || body.startsWith('#path')) return 'zeek-conn';
  if (body.startsWith('{') || body.startsWith('[')) {
    if (/"(flowLogVersion|flowRecords|flowLogGUID|macAddress)"/.test(body) || (/"records"\s*:/.test(body) && /"flows"\s*:/.test(body))) return 'azure';
    if (/"jsonPayload"\s*:/.test(body) && /"connection"\s*:/.test(body)) return 'gcp-vpc';
    if (/"id\.orig_h"\s*:/.test(body)) return 'zeek-conn';
    return null;
  }
  const first = body.split('\n', 1)[0]!.trim();
  // an S3-style header line, as the AWS reader recognises and accepts one (field names, at least half known, with both addresses)
  const line = Buffer.from(first, 'latin1');
  if (isAwsHeaderLine(line, 0, line.length) && parseAwsFormat(first, false).ok) return 'aws-vpc';
  const tokens = first.split(/\s+/);
  // headerless default format: version 2 and 14 fields
  if (tokens.length === 14 && tokens[0] === '2' && /^(ACCEPT|REJECT|-)$/.test(tokens[12]!) && /^(OK|NODATA|SKIPDATA)$/.test(tokens[13]!)) return 'aws-vpc';
  return null;
}
