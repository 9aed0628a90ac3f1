import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { Notifier } from '../detect/notify/notifier.js';
import { notifyConfigProblems, parseNotifyConfig, type NotifyConfig } from '../detect/notify/notify-config.js';
import { RespondWorker } from '../detect/respond-worker.js';
import { createBus } from '../runtime/bus/select.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { topicSpecs } from '../runtime/topics.js';
import { optionProblems, parseOptions, type CliCommand } from './command.js';
import { kafkaStageSettings, runUntilStopped } from './stage-process.js';

const usage = `flowsentry respond --notify FILE [options]

Consumes Alert records from flowsentry.alerts.v1 and notifies on-call: signed webhooks (Standard
Webhooks), Slack, PagerDuty, by the routes of the notify file. A batch of alerts is committed
only once every delivery it started was delivered or kept as a dead letter. Runs until SIGTERM or
SIGINT, then finishes the batch in hand, commits and exits 0. Needs KAFKA_BROKERS.

options:
  --notify FILE            endpoints and routes, YAML or JSON (see detect/README.md, "Notifiers")
  --group NAME             consumer group (default flowsentry-respond)
  --partitions N           partitions of topics it creates when missing (default 6)

example:
  KAFKA_BROKERS=localhost:9092 flowsentry respond --notify notify.yaml`;

/** The notify file, or every problem with it. */
export function readNotifyConfig(file: string): { config?: NotifyConfig; problems: string[] } {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    return { problems: [`${file}: ${(error as Error).message}`] };
  }
  const problems = notifyConfigProblems(value).map((problem) => `${file}: ${problem}`);
  return problems.length > 0 ? { problems } : { config: parseNotifyConfig(value), problems };
}

export const respondCommand: CliCommand = {
  name: 'respond',
  summary: 'notify on-call of alerts (signed webhooks, Slack, PagerDuty), on the bus',
  usage,
  async run(args) {
    const values = parseOptions('respond', usage, args, { notify: { type: 'string' }, group: { type: 'string' }, partitions: { type: 'string' } });
    if (!values) return 2;
    const problems: string[] = [];
    const notify = values.notify ? readNotifyConfig(values.notify) : { problems: ['--notify: missing'] };
    problems.push(...notify.problems);
    const { partitions, endpoints } = kafkaStageSettings('respond', values.partitions, problems);
    if (problems.length > 0 || !notify.config) {
      console.error(optionProblems('respond', problems));
      return 2;
    }
    const config = notify.config;
    const metrics = new MetricsRegistry();
    const bus = createBus(endpoints, { kind: 'kafka', clientId: 'flowsentry-respond' });
    const worker = new RespondWorker({
      bus,
      metrics,
      notifier: (onDeadLetter) => new Notifier({ config, onDeadLetter, metrics }),
      ...(values.group ? { groupId: values.group } : {}),
    });
    return runUntilStopped({
      name: 'respond',
      bus,
      metrics,
      start: async () => {
        await bus.ensureTopics(topicSpecs(partitions));
        await worker.start();
      },
      started: () => `taking alerts (${config.routes.length} routes, ${config.endpoints.length} endpoints)`,
      close: () => worker.close(),
    });
  },
};
