import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Bus, IncomingBatch, IncomingMessage } from '../runtime/bus/bus.js';
import { readToEnd } from '../runtime/bus/read-to-end.js';
import type { MetricsRegistry } from '../runtime/metrics.js';
import { StageRunner, type StageOutput } from '../runtime/stage-runner.js';
import { topics as defaultTopics } from '../runtime/topics.js';
import { codecFor } from '../schemas/codec.js';
import type { Alert } from '../schemas/types.js';
import { latestEnd } from '../enrich/enrich-core.js';
import { DetectCore, type DetectOptions } from './detect-core.js';
import type { StateChange } from './detector-state.js';
import type { FeedMatcher } from './detectors/ioc-detector.js';

export interface DetectWorkerOptions extends DetectOptions {
  readonly bus: Bus;
  readonly metrics: MetricsRegistry;
  /** The current threat-feed index (swapped on refresh), if feeds are configured. */
  readonly feeds?: () => FeedMatcher | undefined;
  /** Consumer group of the flow input. Default `flowsentry-detect`. */
  readonly groupId?: string;
  readonly topics?: Partial<Record<WorkerTopic, string>>;
  /** How long (event time) a message is remembered to drop an identical one delivered again upstream, milliseconds. Default 15 minutes. */
  readonly duplicateWindowMs?: number;
  /** Longest a restore from the changelog may take, milliseconds. Default 5 minutes. */
  readonly restoreTimeoutMs?: number;
  readonly maxBatchMessages?: number;
  /** Wall clock, for dead-letter times and restore timeouts only: detection runs on event time. */
  readonly now?: () => number;
  /** Called with each alert record sent (after the bus acknowledged it). */
  readonly onAlerts?: (alerts: readonly Alert[]) => void;
}

type WorkerTopic = 'flowsEnriched' | 'alerts' | 'detectState' | 'deadLetters';

const enrichedFlows = codecFor('EnrichedFlow');
const alertCodec = codecFor('Alert');

/** A partition's detector, and the last input offset its state includes. */
interface PartitionCore {
  readonly core: DetectCore;
  offset: number;
  /** A batch's outputs were handed to the runner and not yet acknowledged. */
  unconfirmed: boolean;
}

/**
 * The changelog key of a unit: the consumer group, the input partition it belongs to, then the
 * unit's own key. The group is part of it because the changelog topic is shared: a detector in
 * another group (a second pipeline, a re-run from the start) must not restore this one's state
 * and input offset, or it would skip messages it never saw.
 */
const changelogPrefix = (group: string, topic: string, partition: number) => `${group}|${topic}:${partition}/`;
const offsetUnit = 'input/offset';

/**
 * The detect stage on the bus: one detector core per input partition (flows are keyed by source
 * workload, so a partition holds whole workloads). After each batch the changed state units go
 * to the compacted changelog with the batch's alerts, and the input offset is committed only once
 * both were acknowledged. A partition this worker did not hold before — at start, after a
 * rebalance, or after a gap in its offsets — is restored from the changelog first; messages the
 * restored state already includes (a batch delivered again after a crash) are skipped, so a
 * restart neither forgets nor alerts twice.
 */
export class DetectWorker {
  private readonly topics: Record<WorkerTopic, string>;
  private readonly cores = new Map<number, PartitionCore>();
  private runner: StageRunner | undefined;
  private readonly now: () => number;
  private readonly metrics;
  /** Alerts of the batch being handled, per partition. */
  private readonly pending = new Map<number, Alert[]>();

  /** The input's consumer group, also the first part of every changelog key. */
  private readonly groupId: string;

  constructor(private readonly options: DetectWorkerOptions) {
    this.groupId = options.groupId ?? 'flowsentry-detect';
    this.topics = {
      flowsEnriched: options.topics?.flowsEnriched ?? defaultTopics.flowsEnriched,
      alerts: options.topics?.alerts ?? defaultTopics.alerts,
      detectState: options.topics?.detectState ?? defaultTopics.detectState,
      deadLetters: options.topics?.deadLetters ?? defaultTopics.deadLetters,
    };
    this.now = options.now ?? Date.now;
    const m = options.metrics;
    this.metrics = {
      alerts: m.counter('flowsentry_detect_alerts_total', 'Alert records sent, by detector and status.'),
      restores: m.counter('flowsentry_detect_restores_total', 'Partitions restored from the state changelog.'),
      skipped: m.counter('flowsentry_detect_skipped_messages_total', 'Messages delivered again that the restored state already included.'),
      duplicates: m.counter('flowsentry_detect_duplicate_messages_total', 'Messages identical to one seen recently (an upstream retry wrote it twice), dropped.'),
      units: m.gauge('flowsentry_detect_state_units', 'Detector state units held, by input partition.'),
      changes: m.counter('flowsentry_detect_state_changes_total', 'State units written to the changelog.'),
    };
  }

  async start(): Promise<void> {
    this.runner = new StageRunner({
      stage: 'detect',
      bus: this.options.bus,
      groupId: this.groupId,
      inputTopics: [this.topics.flowsEnriched],
      deadLetterTopic: this.topics.deadLetters,
      handler: (message) => this.detectMessage(message),
      batchDone: (batch) => this.batchDone(batch),
      batchSent: (batch) => this.batchSent(batch),
      recordType: 'EnrichedFlow',
      metrics: this.options.metrics,
      ...(this.options.maxBatchMessages ? { maxBatchMessages: this.options.maxBatchMessages } : {}),
      now: this.now,
    });
    await this.runner.start();
  }

  async close(): Promise<void> {
    await this.runner?.close();
  }

  private async partitionCore(message: IncomingMessage): Promise<PartitionCore> {
    const held = this.cores.get(message.partition);
    const offset = Number(message.offset);
    // Held, its last batch acknowledged, and contiguous (or delivered again): go on. A batch that
    // was never acknowledged left state the changelog lacks; a gap means someone else handled
    // messages meanwhile. Either way, the changelog is the truth.
    if (held && !held.unconfirmed && offset <= held.offset + 1) return held;
    // One read of the changelog restores this partition and every other assigned one not held
    // yet, so a start or a rebalance reads it once, not once per partition. A partition restored
    // ahead of its first message is checked like any held one: a gap restores it again.
    const assigned = (this.runner?.assignment() ?? []).filter((tp) => tp.topic === message.topic && !this.cores.has(tp.partition)).map((tp) => tp.partition);
    const restored = await this.restore(message.topic, new Set([message.partition, ...assigned]));
    for (const [partition, core] of restored) {
      this.cores.set(partition, core);
      this.pending.delete(partition);
    }
    return restored.get(message.partition)!;
  }

  /** Cores of the given input partitions, from the changelog read once to its end. */
  private async restore(topic: string, partitions: ReadonlySet<number>): Promise<Map<number, PartitionCore>> {
    const changes = new Map([...partitions].map((partition) => [partition, new Map<string, StateChange>()]));
    const prefixes = [...partitions].map((partition) => [changelogPrefix(this.groupId, topic, partition), changes.get(partition)!] as const);
    await readToEnd({
      bus: this.options.bus,
      topic: this.topics.detectState,
      groupId: `flowsentry-detect-restore-${hostname()}-${process.pid}-${this.now().toString(36)}`,
      timeoutMs: this.options.restoreTimeoutMs ?? 300_000,
      now: this.now,
      onBatch: (batch: IncomingBatch) => {
        for (const message of batch.messages) {
          const found = prefixes.find(([prefix]) => message.key.startsWith(prefix));
          if (!found) continue;
          const key = message.key.slice(found[0].length);
          found[1].set(key, { key, value: message.value.length === 0 ? null : message.value.toString('utf8') });
        }
      },
    });
    const cores = new Map<number, PartitionCore>();
    for (const [partition, units] of changes) {
      const core = new DetectCore(this.options, this.options.feeds);
      const offsetChange = units.get(offsetUnit);
      units.delete(offsetUnit);
      core.restore(units.values());
      this.metrics.restores.inc({ topic, partition: String(partition) });
      cores.set(partition, { core, offset: offsetChange?.value ? Number(JSON.parse(offsetChange.value)) : -1, unconfirmed: false });
    }
    return cores;
  }

  private async detectMessage(message: IncomingMessage): Promise<StageOutput[]> {
    const held = await this.partitionCore(message);
    const offset = Number(message.offset);
    if (offset <= held.offset) {
      this.metrics.skipped.inc();
      return [];
    }
    // A corrupt message is handled too: decoding throws, the runner dead-letters it with the reason.
    held.offset = offset;
    // At-least-once upstream: a producer retry or a restarted enrich worker may write a message
    // twice. Counts (denied flows, bytes) must not double, so an identical message seen within
    // the duplicate window is dropped; the digests are state, restored like the rest.
    const seen = held.core.state.table<number>('input.seen', (time) => time);
    const digest = createHash('sha256').update(message.value).digest('base64url').slice(0, 22);
    if (seen.get(digest) !== undefined) {
      this.metrics.duplicates.inc();
      return [];
    }
    const flows = enrichedFlows.decodeAll(message.value);
    seen.touch(digest, latestEnd(flows));
    const alerts = held.core.process(flows);
    const forgetBefore = held.core.watermark - (this.options.duplicateWindowMs ?? 15 * 60_000);
    seen.takeDue((time) => time < forgetBefore);
    if (alerts.length > 0) {
      const list = this.pending.get(message.partition) ?? [];
      list.push(...alerts);
      this.pending.set(message.partition, list);
    }
    return alerts.map((alert) => ({ topic: this.topics.alerts, key: alert.fingerprint, value: alertCodec.encode(alert) }));
  }

  /**
   * The batch's state changes, then the offset they include, for the changelog: written after
   * the batch's alerts were acknowledged, the offset last. (A batch whose units landed but whose
   * offset did not is applied again on retry: closing that needs Kafka transactions.)
   */
  private batchDone(batch: IncomingBatch): StageOutput[][] {
    const held = this.cores.get(batch.partition);
    if (!held) return [];
    const prefix = changelogPrefix(this.groupId, batch.topic, batch.partition);
    const changes = held.core.takeChanges();
    this.metrics.changes.inc({}, changes.length);
    this.metrics.units.set(held.core.state.size, { partition: String(batch.partition) });
    const units: StageOutput[] = changes.map((change) => ({
      topic: this.topics.detectState,
      key: `${prefix}${change.key}`,
      value: change.value === null ? Buffer.alloc(0) : Buffer.from(change.value),
    }));
    const offset: StageOutput = { topic: this.topics.detectState, key: `${prefix}${offsetUnit}`, value: Buffer.from(JSON.stringify(held.offset)) };
    held.unconfirmed = true;
    return [units, [offset]];
  }

  private batchSent(batch: IncomingBatch): void {
    const held = this.cores.get(batch.partition);
    if (held) held.unconfirmed = false;
    const alerts = this.pending.get(batch.partition) ?? [];
    this.pending.delete(batch.partition);
    for (const alert of alerts) this.metrics.alerts.inc({ detector: alert.detector, status: alert.status ?? 'open' });
    if (alerts.length > 0) this.options.onAlerts?.(alerts);
  }
}
