/**
 * One stage of the `pipeline-kafka` bench as a process of its own (started with `fork`, config as
 * JSON in argv[2]). It composes the stage as `flowsentry enrich|detect|sink` does
 * (cli/*-command.ts): the Kafka bus from KAFKA_BROKERS, the CLI's own option parsing for the
 * core options, feeds and outlets, and `runUntilStopped` — but on the bench's own topics and
 * consumer group, which the commands do not let one choose.
 *
 * Over the IPC channel it says `started` once the stage takes input, and answers `stats` with
 * its metrics (Prometheus text) and CPU time. SIGTERM stops it as it stops the command: the batch
 * in hand finishes and commits, then it exits 0.
 */
import { detectOptionsOf } from '../../cli/detect-options.js';
import { enrichCoreOptionsOf } from '../../cli/enrich-options.js';
import { startFeeds } from '../../cli/feed-options.js';
import { outletsFromOptions } from '../../cli/outlet-options.js';
import { runUntilStopped, type StageProcess } from '../../cli/stage-process.js';
import { DetectWorker } from '../../detect/detect-worker.js';
import { EnrichWorker } from '../../enrich/enrich-worker.js';
import { createBus } from '../../runtime/bus/select.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { MetricsRegistry } from '../../runtime/metrics.js';
import type { topics } from '../../runtime/topics.js';
import { SinkWorker } from '../../sink/sink-worker.js';

export type StageName = 'enrich' | 'detect' | 'sink';

export interface StageConfig {
  readonly stage: StageName;
  readonly groupId: string;
  readonly topics: Record<keyof typeof topics, string>;
  /** detect: the feed file, `--learn` and `--window`. */
  readonly feedFile?: string;
  readonly learn?: string;
  readonly window?: string;
  /** sink: `--index-prefix` and `--replicas`. */
  readonly indexPrefix?: string;
  readonly replicas?: number;
}

/** What the stage process sends its parent. */
export type StageReport =
  | { readonly type: 'started' }
  | { readonly type: 'stats'; readonly metrics: string; readonly cpuMicros: number };

/** What the parent sends. */
export type StageRequest = { readonly type: 'stats' };

function send(report: StageReport): void {
  process.send?.(report);
}

async function stageProcess(config: StageConfig, metrics: MetricsRegistry): Promise<StageProcess> {
  const problems: string[] = [];
  const bus = createBus(endpointsFromEnv(), { kind: 'kafka', clientId: `flowsentry-${config.stage}` });
  const { topics: names, groupId } = config;
  const started = () => {
    send({ type: 'started' });
    return `taking input from the bench's topics (group ${groupId})`;
  };
  const check = () => {
    if (problems.length > 0) throw new Error(`${config.stage}: ${problems.join('; ')}`);
  };
  switch (config.stage) {
    case 'enrich': {
      const core = enrichCoreOptionsOf({}, problems);
      check();
      const worker = new EnrichWorker({ ...core, bus, metrics, groupId, topics: { flowsRaw: names.flowsRaw, inventory: names.inventory, flowsEnriched: names.flowsEnriched, deadLetters: names.deadLetters } });
      return { name: 'enrich', bus, metrics, start: () => worker.start(), started, close: () => worker.close() };
    }
    case 'detect': {
      const options = detectOptionsOf({ ...(config.learn ? { learn: config.learn } : {}), ...(config.window ? { window: config.window } : {}) }, problems);
      check();
      const feeds = config.feedFile ? await startFeeds([`blocklist=${config.feedFile}`], 600_000, metrics) : undefined;
      const worker = new DetectWorker({
        ...options,
        bus,
        metrics,
        ...(feeds ? { feeds: () => feeds.current() } : {}),
        groupId,
        topics: { flowsEnriched: names.flowsEnriched, alerts: names.alerts, detectState: names.detectState, deadLetters: names.deadLetters },
      });
      return {
        name: 'detect',
        bus,
        metrics,
        start: () => worker.start(),
        started,
        close: async () => {
          await worker.close();
          await feeds?.close();
        },
      };
    }
    case 'sink': {
      const outlets = outletsFromOptions({ ...(config.indexPrefix ? { 'index-prefix': config.indexPrefix } : {}), ...(config.replicas !== undefined ? { replicas: String(config.replicas) } : {}) }, problems, metrics, true);
      if (outlets.outlets.length === 0) problems.push('no outlet: OPENSEARCH_URL is not set');
      check();
      const worker = new SinkWorker({ bus, metrics, outlets: outlets.outlets, groupId, topics: { flowsEnriched: names.flowsEnriched, alerts: names.alerts, actions: names.actions, deadLetters: names.deadLetters } });
      return {
        name: 'sink',
        bus,
        metrics,
        start: async () => {
          await outlets.start();
          await worker.start();
        },
        started,
        close: () => worker.close(),
      };
    }
  }
}

async function main(): Promise<number> {
  const config = JSON.parse(process.argv[2] ?? '{}') as StageConfig;
  const metrics = new MetricsRegistry();
  process.on('message', (request: StageRequest) => {
    if (request.type === 'stats') {
      const cpu = process.cpuUsage();
      send({ type: 'stats', metrics: metrics.render(), cpuMicros: cpu.user + cpu.system });
    }
  });
  // The parent going away ends the stage as a stop does.
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  return runUntilStopped(await stageProcess(config, metrics));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
