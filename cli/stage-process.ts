import type { Bus } from '../runtime/bus/bus.js';
import { endpointsFromEnv, type Endpoints } from '../runtime/endpoints.js';
import type { MetricsRegistry } from '../runtime/metrics.js';

/** What a stage on Kafka needs from its options and the environment: problems are added to `problems`. */
export function kafkaStageSettings(stage: string, partitionsOption: string | undefined, problems: string[]): { partitions: number; endpoints: Endpoints } {
  const partitions = Number(partitionsOption ?? 6);
  if (!Number.isInteger(partitions) || partitions < 1) problems.push(`--partitions: '${partitionsOption}' is not a positive integer`);
  const endpoints = endpointsFromEnv();
  if (!endpoints.kafkaBrokers) problems.push(`KAFKA_BROKERS is not set: ${stage} runs on Kafka (flowsentry run runs every stage in one process)`);
  return { partitions, endpoints };
}

export interface StageProcess {
  readonly name: string;
  readonly bus: Bus;
  readonly metrics: MetricsRegistry;
  /** Starts the stage; resolves once it takes input. */
  readonly start: () => Promise<void>;
  /** Said once started. */
  readonly started?: () => string;
  /** Stops taking input, finishes what is in hand and commits. */
  readonly close: () => Promise<void>;
}

/**
 * Runs one stage as a process until SIGTERM or SIGINT: a stop during the start ends the start
 * too; then the stage closes (the batch in hand finishes and commits), the bus closes, and the
 * metrics are printed. Exit code 0.
 */
export async function runUntilStopped(stage: StageProcess): Promise<number> {
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolveStop) => (stop = resolveStop));
  process.once('SIGTERM', stop).once('SIGINT', stop);
  try {
    const started = await Promise.race([stage.start().then(() => true), stopped.then(() => false)]);
    if (started) {
      console.error(`${stage.name}: ${stage.started?.() ?? 'running'}`);
      await stopped;
    }
  } finally {
    process.off('SIGTERM', stop).off('SIGINT', stop);
    await stage.close();
    await stage.bus.close();
    console.error(stage.metrics.render().trim());
  }
  return 0;
}
