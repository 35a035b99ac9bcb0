// The inputs the evaluation renders a scenario into: captures (with and
// without VLANs and IPv6) and cloud flow logs.
import { join } from 'node:path';
import type { Source } from './attacks.ts';
import type { Scenario, ScenarioOptions } from './generate.ts';
import { renderPcap } from './render-pcap.ts';
import { renderAwsFlowLogs, renderAzureFlowLogs } from './render-flowlogs.ts';

export interface Variant {
  name: string;
  source: Source;
  /** scenario options this variant sets (VLANs, IPv6) */
  scenario: Partial<ScenarioOptions>;
  /** write the scenario's input into dir; returns the analyze inputs and format */
  render(s: Scenario, dir: string): { inputs: string[]; format?: 'aws-vpc' | 'azure' };
}

export const VARIANTS: Variant[] = [
  {
    name: 'pcap', source: 'pcap', scenario: { vlans: true, ipv6Share: 0.15 },
    render: (s, dir) => { const p = join(dir, 'scenario.pcap'); renderPcap(p, s.conns()); return { inputs: [p] }; },
  },
  {
    name: 'pcap-v4', source: 'pcap', scenario: { vlans: false, ipv6Share: 0 },
    render: (s, dir) => { const p = join(dir, 'scenario-v4.pcapng'); renderPcap(p, s.conns(), { format: 'pcapng' }); return { inputs: [p] }; },
  },
  {
    // VPC flow logs: per interface, per direction, per 60 s window; start/end are the window's bounds
    name: 'aws', source: 'flows', scenario: { vlans: false, ipv6Share: 0.15 },
    render: (s, dir) => { const p = join(dir, 'scenario-vpc.log'); renderAwsFlowLogs(p, s.conns()); return { inputs: [p], format: 'aws-vpc' }; },
  },
  {
    // VNet flow logs: per NIC, B/C/E tuples, one blob per hour
    name: 'azure', source: 'flows', scenario: { vlans: false, ipv6Share: 0.15 },
    render: (s, dir) => { const p = join(dir, 'azure'); renderAzureFlowLogs(p, s.conns(), { hourly: true }); return { inputs: [p], format: 'azure' }; },
  },
];

