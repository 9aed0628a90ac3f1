import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { AlertNotifier } from '../detect/notify/alert-notifier.js';
import { Notifier } from '../detect/notify/notifier.js';
import { notifyConfigProblems, parseNotifyConfig, type NotifyConfig } from '../detect/notify/notify-config.js';
import { QuarantineResponder, type QuarantinePlan } from '../detect/quarantine/index.js';
import { RespondWorker } from '../detect/respond-worker.js';
import { createBus } from '../runtime/bus/select.js';
import { kubeConfigFromEnv } from '../runtime/kubernetes/kube-config.js';
import { logger } from '../runtime/log.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { topicSpecs } from '../runtime/topics.js';
import { optionProblems, parseOptions, type CliCommand } from './command.js';
import { quarantineOptionSpecs, quarantineOptionsUsage, quarantineSettingsOf } from './quarantine-options.js';
import { kafkaStageSettings, runUntilStopped } from './stage-process.js';

const usage = `flowsentry respond [--notify FILE] [--quarantine FILE] [options]

Consumes Alert records from flowsentry.alerts.v1 and responds: notifies on-call (signed webhooks
per Standard Webhooks, Slack, PagerDuty) by the routes of the notify file, and quarantines the
alert's source pod when the response policy says so, within the safety rules. Every quarantine
applied, refused or released is a ResponseAction on flowsentry.actions.v1 (the sink keeps it in
OpenSearch and CloudWatch) and goes to the notify routes. A batch of alerts is committed only once
every delivery and quarantine it started has ended. Runs until SIGTERM or SIGINT, then finishes
the batch in hand, commits and exits 0. Needs KAFKA_BROKERS, and at least one of the two files.

options:
  --notify FILE            endpoints and routes, YAML or JSON (see detect/README.md, "Notifiers")
${quarantineOptionsUsage}
  --group NAME             consumer group (default flowsentry-respond)
  --partitions N           partitions of topics it creates when missing (default 6)

example:
  KAFKA_BROKERS=localhost:9092 flowsentry respond --notify notify.yaml --quarantine policy.yaml`;

/** Notifies no one: respond with a response policy and no notify file. */
const silentNotifier: AlertNotifier = { notify: () => undefined, notifyAction: () => undefined, drain: async () => undefined, close: async () => undefined };

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

const respondOptions = {
  notify: { type: 'string' },
  group: { type: 'string' },
  partitions: { type: 'string' },
  ...quarantineOptionSpecs,
} as const;

export const respondCommand: CliCommand = {
  name: 'respond',
  summary: 'notify on-call of alerts (signed webhooks, Slack, PagerDuty) and quarantine their pods, on the bus',
  usage,
  options: respondOptions,
  async run(args) {
    const values = parseOptions('respond', usage, args, respondOptions);
    if (!values) return 2;
    const problems: string[] = [];
    const notify = values.notify ? readNotifyConfig(values.notify) : { problems: [] };
    problems.push(...notify.problems);
    const quarantine = quarantineSettingsOf(values, problems);
    if (!values.notify && !values.quarantine) problems.push('give --notify FILE, --quarantine FILE or both: there is nothing to do');
    let kubeConfig;
    if (quarantine) {
      try {
        kubeConfig = kubeConfigFromEnv();
      } catch (error) {
        problems.push(`--quarantine: ${(error as Error).message}`);
      }
    }
    const { partitions, endpoints } = kafkaStageSettings('respond', values.partitions, problems);
    if (problems.length > 0) {
      console.error(optionProblems('respond', problems));
      return 2;
    }
    const config = notify.config;
    const metrics = new MetricsRegistry();
    const bus = createBus(endpoints, { kind: 'kafka', clientId: 'flowsentry-respond' });
    // A dry-run decision logs the exact requests it would have sent.
    const log = logger('respond');
    const onDryRun = (plan: QuarantinePlan) =>
      log.info('quarantine dry run', { event: 'quarantine.dry_run', action_id: plan.actions[0]?.action_id, target: plan.actions[0]?.target, requests: JSON.parse(plan.text) as unknown });
    const responder = quarantine && kubeConfig ? new QuarantineResponder({ kubeConfig, policy: quarantine.policy, safety: quarantine.safety, onDryRun }) : undefined;
    const worker = new RespondWorker({
      bus,
      metrics,
      notifier: (onDeadLetter) => (config ? new Notifier({ config, onDeadLetter, metrics }) : silentNotifier),
      ...(responder ? { responder, expiryCheckMs: quarantine!.expiryCheckMs } : {}),
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
      started: () =>
        `taking alerts (${config ? `${config.routes.length} routes, ${config.endpoints.length} endpoints` : 'no notify routes'}${
          quarantine ? `; quarantine rules: ${quarantine.policy.rules.map((rule) => `${rule.name} → ${rule.backend}${rule.dryRun ? ' (dry run)' : ''}`).join(', ') || 'none'}` : ''
        })`,
      close: () => worker.close(),
    });
  },
};
