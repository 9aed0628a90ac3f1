/**
 * The CloudWatch Logs outlet's options, their defaults, and the check run once at start: every
 * problem is reported at once, in a CloudWatchConfigError, before any connection is opened.
 */
import type { BackoffPolicy } from '../../runtime/backoff.js';
import { sleep } from '../../runtime/backoff.js';
import type { Endpoints } from '../../runtime/endpoints.js';
import type { MetricsRegistry } from '../../runtime/metrics.js';
import { flowLineFormats, type FlowLineFormat } from './flow-lines.js';
import { cloudWatchBatchLimits, type BatchLimits } from './log-batches.js';
import { logNamingPresets, namingProblems, type LogNaming, type LogNamingPreset } from './log-names.js';

export interface CloudWatchOutletOptions {
  /** The cluster's name, in the log group's name (`{cluster}`). Required. */
  readonly cluster: string;
  /** Where AWS is; default: from the environment (`endpointsFromEnv`). */
  readonly endpoints?: Endpoints;
  /** Naming preset, default `default`: group `/flowsentry/{cluster}/flows`, stream `{node}`. */
  readonly naming?: LogNamingPreset;
  /** Templates replacing the preset's, one by one. */
  readonly names?: Partial<LogNaming>;
  /** Retention set on each group once per process, in days (a value CloudWatch accepts); null leaves it alone. Default 30. */
  readonly retentionDays?: number | null;
  /** Flow line format, default `calico`. */
  readonly format?: FlowLineFormat;
  /** Also write per-minute, per-namespace EMF metrics to the metrics stream. Default false. */
  readonly emf?: boolean;
  /** PutLogEvents limits; defaults are the service's. */
  readonly limits?: Partial<BatchLimits>;
  /** Streams written at the same time, default 4 (one call in flight per stream, always). */
  readonly concurrency?: number;
  /** Back-off between attempts, default 200 ms doubling up to 20 s, with full jitter. */
  readonly backoff?: BackoffPolicy;
  /** Read the stream back before retrying after an ambiguous failure, default true. */
  readonly readBack?: boolean;
  /** Pages of GetLogEvents (10 000 events each) a read-back may take, default 3. */
  readonly readBackPages?: number;
  readonly metrics?: MetricsRegistry;
  /** Injectable for tests. */
  readonly random?: () => number;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly now?: () => number;
}

export interface ResolvedCloudWatchOptions {
  readonly cluster: string;
  readonly naming: LogNaming;
  readonly retentionDays: number | null;
  readonly format: FlowLineFormat;
  readonly emf: boolean;
  readonly limits: BatchLimits;
  readonly concurrency: number;
  readonly backoff: BackoffPolicy;
  readonly readBack: boolean;
  readonly readBackPages: number;
  readonly random: () => number;
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly now: () => number;
}

/** Retention periods CloudWatch Logs accepts (PutRetentionPolicy), in days. */
export const retentionDayValues: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export const defaultCloudWatchOptions = {
  naming: 'default' as LogNamingPreset,
  retentionDays: 30,
  format: 'calico' as FlowLineFormat,
  emf: false,
  concurrency: 4,
  backoff: { baseDelayMs: 200, maxDelayMs: 20_000 },
  readBack: true,
  readBackPages: 3,
} as const;

export class CloudWatchConfigError extends Error {
  override readonly name = 'CloudWatchConfigError';
  readonly code = 'CLOUDWATCH_CONFIG';
  constructor(readonly problems: readonly string[]) {
    super(`cloudwatch outlet options: ${problems.join('; ')}`);
  }
}

const positiveInteger = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value) && value > 0;

/** The options with their defaults; throws a CloudWatchConfigError naming every problem. */
export function resolveCloudWatchOptions(options: CloudWatchOutletOptions): ResolvedCloudWatchOptions {
  const problems: string[] = [];
  if (typeof options.cluster !== 'string' || options.cluster.trim() === '') problems.push('cluster: a cluster name is required');
  const preset = options.naming ?? defaultCloudWatchOptions.naming;
  const base = logNamingPresets[preset];
  if (!base) problems.push(`naming: '${String(preset)}' is not one of ${Object.keys(logNamingPresets).join(', ')}`);
  const naming: LogNaming = { ...(base ?? logNamingPresets.default), ...options.names };
  problems.push(...namingProblems(naming));
  const retentionDays = options.retentionDays === undefined ? defaultCloudWatchOptions.retentionDays : options.retentionDays;
  if (retentionDays !== null && !retentionDayValues.includes(retentionDays)) {
    problems.push(`retentionDays: ${String(retentionDays)} is not a retention CloudWatch accepts (${retentionDayValues.join(', ')}) or null`);
  }
  const format = options.format ?? defaultCloudWatchOptions.format;
  if (!flowLineFormats.includes(format)) problems.push(`format: '${String(format)}' is not one of ${flowLineFormats.join(', ')}`);
  const limits: BatchLimits = { ...cloudWatchBatchLimits, ...options.limits };
  for (const [key, value] of Object.entries(limits)) {
    const allowed = key === 'eventOverheadBytes' ? Number.isSafeInteger(value) && value >= 0 : positiveInteger(value);
    if (!allowed) problems.push(`limits.${key}: ${String(value)} is not a ${key === 'eventOverheadBytes' ? 'non-negative' : 'positive'} integer`);
    else if (value > (cloudWatchBatchLimits as unknown as Record<string, number>)[key]!) problems.push(`limits.${key}: ${value} is over the service's ${(cloudWatchBatchLimits as unknown as Record<string, number>)[key]}`);
  }
  const concurrency = options.concurrency ?? defaultCloudWatchOptions.concurrency;
  if (!positiveInteger(concurrency)) problems.push(`concurrency: ${String(concurrency)} is not a positive integer`);
  const backoff = options.backoff ?? defaultCloudWatchOptions.backoff;
  if (!positiveInteger(backoff.baseDelayMs) || !positiveInteger(backoff.maxDelayMs) || backoff.maxDelayMs < backoff.baseDelayMs) {
    problems.push('backoff: baseDelayMs and maxDelayMs must be positive integers, maxDelayMs >= baseDelayMs');
  }
  const readBackPages = options.readBackPages ?? defaultCloudWatchOptions.readBackPages;
  if (!positiveInteger(readBackPages)) problems.push(`readBackPages: ${String(readBackPages)} is not a positive integer`);
  if (problems.length > 0) throw new CloudWatchConfigError(problems);
  return {
    cluster: options.cluster,
    naming,
    retentionDays,
    format,
    emf: options.emf ?? defaultCloudWatchOptions.emf,
    limits,
    concurrency,
    backoff,
    readBack: options.readBack ?? defaultCloudWatchOptions.readBack,
    readBackPages,
    random: options.random ?? Math.random,
    sleep: options.sleep ?? sleep,
    now: options.now ?? Date.now,
  };
}
