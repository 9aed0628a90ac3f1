/**
 * The demo of `flowsentry run` on embedded defaults: the demo cluster's traffic through every
 * real stage in this process, into the embedded store; live progress, then a summary with the
 * alerts, the quarantine a dry run planned against the demo inventory, and the queries to ask
 * next (each checked against the store before it is suggested).
 */
import { FeedIndex } from '../../detect/feeds/feed-index.js';
import { parseFeed } from '../../detect/feeds/feed-parse.js';
import { InventoryQuarantineCluster } from '../../detect/quarantine/inventory-cluster.js';
import { QuarantineResponder, type QuarantinePlan } from '../../detect/quarantine/quarantine-responder.js';
import { parseResponsePolicy } from '../../detect/quarantine/response-policy.js';
import { inventoryEventOf } from '../../enrich/kubernetes-objects.js';
import {
  allDemoPods,
  attackSteps,
  compromisedPod,
  demoFeedText,
  demoInventoryObjects,
  demoResponsePolicyText,
  knownBadAddress,
  minuteMs,
  podObject,
} from '../../ingest/demo/demo-cluster.js';
import { DemoSource } from '../../ingest/demo/demo-source.js';
import type { DetectOptions } from '../../detect/detect-core.js';
import type { FeedMatcher } from '../../detect/detectors/ioc-detector.js';
import type { FlowSource } from '../../ingest/source.js';
import type { MetricsRegistry } from '../../runtime/metrics.js';
import type { Alert, InventoryEvent, ResponseAction } from '../../schemas/types.js';
import { EmbeddedStore } from '../../sink/embedded/embedded-store.js';
import { progressLine, summaryText, type DryRunPlan } from './demo-report.js';
import { InProcessPipeline } from './in-process-pipeline.js';

export interface DemoOptions {
  readonly storePath: string;
  readonly metrics: MetricsRegistry;
  /** Keep the cluster's traffic flowing in real time after the scripted part, until `stop` resolves. */
  readonly follow: boolean;
  /** Resolves when the process is asked to stop (SIGTERM, SIGINT). */
  readonly stop: Promise<void>;
  /** Where progress and the summary go. */
  readonly out: NodeJS.WritableStream & { isTTY?: boolean };
  /** Called once every stage takes input (the process is ready). */
  readonly onStarted?: () => void;
  /** Event-time minutes the detectors learn before the attack (default 12). */
  readonly learnMinutes?: number;
  /** Wall-clock milliseconds per minute of event time while the scripted part plays (default 1000). */
  readonly msPerMinute?: number;
  /** Requests per client per minute: the traffic's size (default 240). */
  readonly requestsPerMinute?: number;
  /** How the CLI is invoked, for the suggested commands (default `flowsentry`). */
  readonly command?: string;
  /**
   * A real source instead of the demo cluster (conntrack, flow-log files): no demo inventory,
   * feed or response policy; it runs until the source ends or `stop` resolves.
   */
  readonly live?: { readonly source: FlowSource; readonly node: string; readonly feeds?: FeedMatcher; readonly detect?: DetectOptions };
}

export interface DemoResult {
  readonly flows: number;
  readonly alerts: readonly Alert[];
  readonly actions: readonly ResponseAction[];
  readonly plans: readonly DryRunPlan[];
  readonly stored: { readonly flows: number; readonly alerts: number; readonly actions: number };
  readonly nextCommands: readonly string[];
  /** Bus messages no stage had processed when the run stopped (a drain cut short): 0 when all went through. */
  readonly unfinished: number;
  /** Input lines and records that went to the dead-letter topic. */
  readonly deadLetters: number;
}

/** The store could not be opened: a problem with `--store`, reported before anything ran. */
export class StoreOpenError extends Error {
  override readonly name = 'StoreOpenError';
}

/** The scripted part: learning, the attack's four steps, and a little calm after. */
const minutesAfterAttack = attackSteps.length + 3;

const metricTotal = (metrics: MetricsRegistry, name: string, help: string) => metrics.counter(name, help);

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const learnMinutes = options.learnMinutes ?? 12;
  const attackMinute = learnMinutes + 1;
  const minutes = attackMinute + minutesAfterAttack;
  const msPerMinute = options.msPerMinute ?? 1_000;
  // Event time: the scripted minutes end about now, so the store's times read as recent.
  const start = Math.floor(Date.now() / minuteMs) * minuteMs - minutes * minuteMs;
  const observedAt = start - 10 * minuteMs;
  const objects = demoInventoryObjects(observedAt);
  const inventory = objects.map((object) => inventoryEventOf('ADDED', object, observedAt)).filter((event): event is InventoryEvent => event !== undefined);

  const plans: DryRunPlan[] = [];
  const onDryRun = (plan: QuarantinePlan) => plans.push({ action: plan.actions[0]!, requests: plan.text });
  const responder = new QuarantineResponder({
    policy: parseResponsePolicy(demoResponsePolicyText, 'the demo response policy'),
    cluster: new InventoryQuarantineCluster(allDemoPods.map((pod) => podObject(pod, observedAt))),
    safety: { selfNamespace: 'flowsentry' },
    onDryRun,
  });
  const feeds = FeedIndex.build([parseFeed('demo-blocklist', demoFeedText, 'text')]);
  // WAL with NORMAL sync: a crash of this process loses nothing committed; only a power cut may lose the last commits.
  let store: EmbeddedStore;
  try {
    store = EmbeddedStore.open(options.storePath, { synchronous: 'normal' });
  } catch (error) {
    throw new StoreOpenError(`--store ${options.storePath}: ${error instanceof Error ? error.message : String(error)}`);
  }
  // The latest revision of each alert, and the latest actions: bounded however long it follows.
  const latestAlerts = new Map<string, Alert>();
  const actions: ResponseAction[] = [];
  const maxActionsKept = 10_000;
  const { live } = options;
  const source = live?.source ?? new DemoSource({ start, attackMinute, requestsPerMinute: options.requestsPerMinute ?? 240, fastMinutes: minutes, msPerMinute, ...(options.follow ? {} : { minutes }) });
  const pipeline = new InProcessPipeline({
    source,
    node: live?.node ?? 'ip-10-0-0-21.ec2.internal',
    // Source ports aggregated away, pods kept: detection and the quarantine's subject need the pod.
    enrich: { levels: { allowed: 1, denied: 1 } },
    ...(live ? { detect: live.detect ?? {} } : { inventory, detect: { learnMs: learnMinutes * minuteMs }, responder }),
    feeds: () => (live ? live.feeds : feeds),
    outlets: [store.outlet()],
    metrics: options.metrics,
    onAlert: (alert) => {
      const known = latestAlerts.get(alert.alert_id);
      if (!known || (alert.revision ?? 0) >= (known.revision ?? 0)) latestAlerts.set(alert.alert_id, alert);
    },
    onAction: (action) => {
      actions.push(action);
      if (actions.length > maxActionsKept) actions.splice(0, actions.length - maxActionsKept);
    },
  });
  const flowsIn = metricTotal(options.metrics, 'flowsentry_ingest_flows_total', 'Flows published, by source.');
  const began = Date.now();
  const phase = () => {
    if (live) return `watching ${live.source.name} (Ctrl-C stops)`;
    const minute = Math.floor((Date.now() - began) / msPerMinute);
    if (minute < learnMinutes) return `learning the cluster (minute ${minute + 1} of ${learnMinutes})`;
    const step = minute - attackMinute;
    if (step >= 0 && step < attackSteps.length) return `attack: ${attackSteps[step]} from ${compromisedPod.namespace}/${compromisedPod.name}`;
    return minute >= minutes ? 'live traffic (Ctrl-C stops)' : 'normal traffic';
  };
  let last = { at: began, flows: 0 };
  const report = () => {
    const now = Date.now();
    const flows = flowsIn.get({ source: source.name });
    const rate = ((flows - last.flows) * 1000) / Math.max(1, now - last.at);
    last = { at: now, flows };
    const line = progressLine({ seconds: (now - began) / 1000, flows, rate, stored: store.counts().flows, alerts: latestAlerts.size, phase: phase() });
    options.out.write(options.out.isTTY ? `\r\x1b[2K${line}` : `${line}\n`);
  };
  const ticker = setInterval(report, options.out.isTTY ? 500 : 2_000);
  let stopped = false;
  void options.stop.then(() => {
    stopped = true;
    void source.close();
  });
  let unfinished = 0;
  try {
    await pipeline.start();
    options.onStarted?.();
    try {
      await pipeline.collect();
    } finally {
      // Everything collected (or the source failed): every stage finishes what it has; after a
      // stop, for at most 10 s. What is still on the bus then is counted, never dropped silently.
      let timer: NodeJS.Timeout | undefined;
      const bound = options.stop.then(() => new Promise<void>((resolveLater) => (timer = setTimeout(resolveLater, 10_000))));
      await Promise.race([pipeline.idle(), bound]).finally(() => clearTimeout(timer));
      unfinished = await pipeline.backlog();
    }
    report();
    if (options.out.isTTY) options.out.write('\n');
  } finally {
    clearInterval(ticker);
    await pipeline.close();
  }
  const stored = store.counts();
  const flowStore = store.flowStore();
  const attackAt = start + attackMinute * minuteMs;
  const command = options.command ?? 'flowsentry';
  const candidates: { text: string; check: () => Promise<boolean> }[] = live
    ? [
        { text: `${command} query top-talkers --from -1h --by pair --key ip`, check: async () => (await flowStore.flows({ from: began - 3_600_000 }, { limit: 1 })).flows.length > 0 },
        { text: `${command} query flows --from -1h --limit 20`, check: async () => (await flowStore.flows({ from: began - 3_600_000 }, { limit: 1 })).flows.length > 0 },
      ]
    : [
    {
      text: `${command} query timeline --pod ${compromisedPod.namespace}/${compromisedPod.name} --at ${new Date(attackAt).toISOString()} --before 2m --after 5m`,
      check: async () => (await flowStore.timeline({ pod: { namespace: compromisedPod.namespace, name: compromisedPod.name }, at: attackAt, before: 2 * minuteMs, after: 5 * minuteMs }, { limit: 1 })).flows.length > 0,
    },
    { text: `${command} query who-talked-to --ip ${knownBadAddress} --from -1h`, check: async () => (await flowStore.whoTalkedTo(knownBadAddress, { from: Date.now() - 3_600_000 })).length > 0 },
    { text: `${command} query graph --from -1h --namespace stars --format table`, check: async () => (await flowStore.serviceGraph({ from: Date.now() - 3_600_000, any: [{ namespace: ['stars'] }] }, 'workload')).length > 0 },
      ];
  const nextCommands: string[] = [];
  for (const candidate of candidates) if (await candidate.check().catch(() => false)) nextCommands.push(candidate.text);
  await flowStore.close();
  store.close();
  const alerts = [...latestAlerts.values()];
  const deadLetters = options.metrics.counter('flowsentry_dead_letters_total', '').total() + options.metrics.counter('flowsentry_ingest_problems_total', '').total();
  const result = { flows: flowsIn.get({ source: source.name }), alerts, actions, plans, stored, nextCommands, unfinished, deadLetters };
  options.out.write(
    summaryText({
      title: live ? `flowsentry run (${source.name})` : 'flowsentry demo',
      ...(live ? {} : { responseNote: 'the demo policy quarantines in dry run, against the demo inventory: nothing is written' }),
      seconds: (Date.now() - began) / 1000,
      flowsCollected: result.flows,
      stored,
      deadLetters,
      unfinished,
      alerts,
      actions,
      plans,
      storePath: options.storePath,
      nextCommands: stopped && nextCommands.length === 0 ? ['(stopped before the store had flows to ask about)'] : nextCommands,
    }),
  );
  return result;
}
