// Which flow-log format a file holds, from its first bytes (after gunzip).
// Only where it is unambiguous: anything else needs --format. Captures are
// recognised by capture-format.ts before this is asked.

export type FlowLogFormat = 'aws-vpc' | 'azure' | 'gcp-vpc' | 'zeek-conn';

/** AWS field names as S3 delivery writes them in the header line. */
const AWS_FIELDS = new Set([
  'version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'bytes',
  'start', 'end', 'action', 'log-status', 'vpc-id', 'subnet-id', 'instance-id', 'tcp-flags', 'type', 'pkt-srcaddr',
  'pkt-dstaddr', 'region', 'az-id', 'sublocation-type', 'sublocation-id', 'pkt-src-aws-service', 'pkt-dst-aws-service',
  'flow-direction', 'traffic-path', 'ecs-cluster-arn', 'ecs-cluster-name', 'ecs-container-instance-arn',
  'ecs-container-instance-id', 'ecs-container-id', 'ecs-second-container-id', 'ecs-service-name',
  'ecs-task-definition-arn', 'ecs-task-arn', 'ecs-task-id', 'reject-reason',
]);

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
  const tokens = first.split(/\s+/);
  if (tokens.length >= 3 && tokens.every((t) => AWS_FIELDS.has(t))) return 'aws-vpc';
  // headerless default format: version 2 and 14 fields
  if (tokens.length === 14 && tokens[0] === '2' && /^(ACCEPT|REJECT|-)$/.test(tokens[12]!) && /^(OK|NODATA|SKIPDATA)$/.test(tokens[13]!)) return 'aws-vpc';
  return null;
}
