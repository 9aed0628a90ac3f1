import { detectorNames, type DetectorName } from '../detect/detection.js';
import { defaultLimits, type DetectOptions } from '../detect/detect-core.js';
import { defaultSensitivePorts } from '../detect/detectors/lateral-movement-detector.js';

/** The detection options `detect`, `replay` and `run` share, for parseArgs. */
export const detectArgOptions = {
  learn: { type: 'string' },
  window: { type: 'string' },
  lateness: { type: 'string' },
  'resolve-after': { type: 'string' },
  detectors: { type: 'string' },
  threshold: { type: 'string', multiple: true },
  'sensitive-ports': { type: 'string' },
  'internal-network': { type: 'string', multiple: true },
} as const;

export const detectOptionsUsage = `  --learn DURATION         event time from the first flow that only trains baselines (default 1h);
                           DURATION is seconds, or a number with s, m, h or d
  --window DURATION        window of port_scan, ip_sweep, denied_spike, exfiltration (default 60s)
  --lateness DURATION      how late a flow may arrive before its window closes (default 30s)
  --resolve-after DURATION how long without evidence before an alert resolves (default 3 windows)
  --detectors LIST         detectors that run, comma-separated (default all: ${detectorNames.join(', ')})
  --threshold NAME=VALUE   the least value that may alert (repeatable): port_scan=${defaultLimits.portScan.minimum} (ports, probes
                           count twice), ip_sweep=${defaultLimits.ipSweep.minimum} (addresses), denied_spike=${defaultLimits.deniedSpike.minimum} (flows),
                           exfiltration=${defaultLimits.exfiltration.minimum} (bytes), per window
  --sensitive-ports LIST   ports whose new edges are lateral movement (default ${defaultSensitivePorts.join(',')})
  --internal-network NAME  a named network that is not public, for exfiltration (repeatable)`;

type Values = { [K in keyof typeof detectArgOptions]?: (typeof detectArgOptions)[K] extends { multiple: true } ? string[] : string };

const units: Readonly<Record<string, number>> = { '': 1_000, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration as milliseconds: `90` (seconds), `90s`, `30m`, `2h`, `1d`; undefined (with a problem) when it is none. */
export function parseDuration(text: string | undefined, option: string, problems: string[]): number | undefined {
  if (text === undefined) return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$/.exec(text);
  if (!match) {
    problems.push(`${option}: '${text}' is not a duration (seconds, or a number with s, m, h or d)`);
    return undefined;
  }
  return Math.round(Number(match[1]) * units[match[2] ?? '']!);
}

const thresholdKeys = { port_scan: 'portScan', ip_sweep: 'ipSweep', denied_spike: 'deniedSpike', exfiltration: 'exfiltration' } as const;

export function detectOptionsOf(values: Values, problems: string[]): DetectOptions {
  const options: { -readonly [K in keyof DetectOptions]: DetectOptions[K] } = {};
  const duration = (name: 'learn' | 'window' | 'lateness' | 'resolve-after') => parseDuration(values[name], `--${name}`, problems);
  const learnMs = duration('learn');
  const windowMs = duration('window');
  const latenessMs = duration('lateness');
  const resolveAfterMs = duration('resolve-after');
  if (learnMs !== undefined) options.learnMs = learnMs;
  if (windowMs !== undefined) {
    if (windowMs < 1_000) problems.push(`--window: at least 1s, found '${values.window}'`);
    options.windowMs = windowMs;
  }
  if (latenessMs !== undefined) options.allowedLatenessMs = latenessMs;
  if (resolveAfterMs !== undefined) options.resolveAfterMs = resolveAfterMs;
  if (values.detectors !== undefined) {
    const names = values.detectors.split(',').map((name) => name.trim()).filter((name) => name !== '');
    const unknown = names.filter((name) => !(detectorNames as readonly string[]).includes(name));
    if (unknown.length > 0) problems.push(`--detectors: unknown ${unknown.map((name) => `'${name}'`).join(', ')}; detectors are ${detectorNames.join(', ')}`);
    options.detectors = names.filter((name): name is DetectorName => (detectorNames as readonly string[]).includes(name));
  }
  for (const entry of values.threshold ?? []) {
    const [name, value] = entry.split('=', 2);
    const key = thresholdKeys[name as keyof typeof thresholdKeys];
    const minimum = Number(value);
    if (!key) problems.push(`--threshold: '${name}' has no threshold; give one of ${Object.keys(thresholdKeys).join(', ')}`);
    else if (value === undefined || !Number.isFinite(minimum) || minimum <= 0) problems.push(`--threshold: '${entry}' needs a positive number after '='`);
    else options[key] = { minimum };
  }
  if (values['sensitive-ports'] !== undefined) {
    const ports = values['sensitive-ports'].split(',').map((port) => Number(port.trim()));
    if (ports.some((port) => !Number.isInteger(port) || port < 1 || port > 65_535)) problems.push(`--sensitive-ports: '${values['sensitive-ports']}' is not a list of ports`);
    else options.lateralMovement = { sensitivePorts: ports };
  }
  if (values['internal-network']?.length) options.internalNetworks = values['internal-network'];
  return options;
}
