// The detection flags analyze and run share: --breaches, --learning, --models.
import { loadDetectionConfig, type DetectionConfig } from '../models/detector.ts';
import { ModelError } from '../models/model.ts';
import { numberFlag, UsageError } from './args.ts';
import { parseAddress } from '../flows/ip-address.ts';

export const DETECTION_OPTIONS = {
  breaches: { type: 'string' },
  learning: { type: 'string' },
  models: { type: 'string' },
  similar: { type: 'string' },
  'inline-detection': { type: 'boolean' },
} as const;

export const DETECTION_HELP = `  --breaches FILE|-           learn each device's pattern of life and write
                              model breaches as JSON lines ("-" = stdout)
  --learning S                capture seconds of learning before models other
                              than compliance ones alert (default 86400; 0 =
                              off, for a short capture: scans, brute force and
                              floods alert at once)
  --models FILE               detection config (JSON): models and meta models
                              merged into the built-in ones by id ("enabled":
                              false turns one off), and device tags
                              ({"tags": {"security-scanner": ["10.0.0.5"]}})
  --similar IP,…              list in the summary the devices that behave most
                              like these (peer groups: ports, hours, role)
  --inline-detection          learn and judge in the packet thread instead of a
                              detection thread (the same breaches; for one core)
`;

export interface DetectionFlags {
  breachesTo?: string;
  learningS?: number;
  config?: DetectionConfig;
  similar?: string[];
  inlineDetection?: boolean;
}

/** Validate the detection flags (usage errors name the flag); the config is read only when --breaches is given. */
export function detectionFlags(values: Record<string, unknown>, flowsTo: string | undefined): DetectionFlags {
  const breachesTo = values.breaches as string | undefined;
  if (breachesTo === '-' && flowsTo === '-') throw new UsageError('--flows and --breaches cannot both go to stdout');
  for (const flag of ['learning', 'models', 'similar', 'inline-detection'] as const) {
    if (values[flag] !== undefined && !breachesTo) throw new UsageError(`--${flag} is about detection: it needs --breaches`);
  }
  const learningS = numberFlag(values.learning as string | undefined, 'learning', { min: 0 });
  let config: DetectionConfig | undefined;
  try { config = breachesTo ? loadDetectionConfig(values.models as string | undefined) : undefined; } catch (e) {
    if (e instanceof ModelError) throw new UsageError(`--models: ${e.message}`);
    throw e;
  }
  const similar = (values.similar as string | undefined)?.split(',').map((x) => x.trim()).filter(Boolean);
  for (const ip of similar ?? []) if (!parseAddress(ip)) throw new UsageError(`--similar: "${ip}" is not an IP address`);
  return { breachesTo, learningS, config, similar, inlineDetection: values['inline-detection'] === true };
}
