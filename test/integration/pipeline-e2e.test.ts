/**
 * The whole pipeline, each stage its own `flowsentry` process on Kafka: a collector reads the stars
 * scenario's VPC Flow Log files → enrich (the inventory on its compacted topic) → detect → respond
 * (a signed webhook to a receiver in this test) and sink (OpenSearch, and CloudWatch Logs on moto).
 *
 * Mid-run, while the sink writes the first file's flows, the sink and enrich are killed with SIGKILL
 * and started again in their groups; the second file (the rollout and the attack) goes through the
 * new workers only. What the run gives must still be what `flowsentry replay` gives over the same
 * files with the same settings:
 *
 * - OpenSearch: one document per flow with the id replay's record has (ids hash the enriched
 *   record, so a flow enriched differently, or twice, would show) and no other; one document per
 *   alert, at its last revision;
 * - the receiver: every revision of every alert, each with a valid signature (checked here from
 *   the Standard Webhooks specification), the same alert replay raised; the four alerts the
 *   scenario is built to raise, each opened once;
 * - CloudWatch Logs: the Calico line of every flow, in the stream of the interface that logged it,
 *   and every alert revision; a line twice only where the killed sink had it in hand (CloudWatch
 *   Logs does not de-duplicate, and the sink writes such a batch again).
 *
 * The stages have no option for their topic names, so each process is started with a module that
 * prefixes them (`test/support/pipeline-topics.ts`): the run has topics of its own, as it has its own
 * groups, indices and log group, and can run beside other tests on the same broker.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CloudWatchLogsClient, DeleteLogGroupCommand, DescribeLogStreamsCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { Kafka, logLevel } from 'kafkajs';
import { parseInventory } from '../../enrich/inventory-files.js';
import { awsClientSettings } from '../../runtime/aws.js';
import { KafkaBus } from '../../runtime/bus/kafka-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { topicSpecs } from '../../runtime/topics.js';
import { codecFor } from '../../schemas/codec.js';
import { fromJson } from '../../schemas/json.js';
import { flowIdOf } from '../../sink/opensearch/documents.js';
import { openSearchClient } from '../../sink/opensearch/opensearch-client.js';
import { stageProcess, type StageProcess } from '../support/cli.js';
import { movedStarsScenario } from '../support/pipeline-scenario.js';
import { prefixedTopics, prefixedTopicsEnv } from '../support/pipeline-topics.js';
import { newWebhookSecret, SignedWebhookReceiver } from '../support/signed-webhook-receiver.js';
import { feedText, knownBad, pods } from '../support/stars-scenario.js';
import { requiredEnv, uniqueName, waitFor } from '../support/wait.js';

interface AlertJson {
  readonly alert_id: string;
  readonly revision: number;
  readonly status: string;
  readonly detector: string;
  readonly source_namespace: string | null;
  readonly source_name: string | null;
  readonly dest_ip: string | null;
  readonly start_time: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const tail = (text: string, chars = 3_000) => (text.length > chars ? `…${text.slice(-chars)}` : text);
const alive = (handle: StageProcess) => handle.child.exitCode === null && handle.child.signalCode === null;

/**
 * The processes of the run. A stage that exits unasked fails every wait at once; every wait has a
 * deadline, and its error carries what the processes said.
 */
class Processes {
  private readonly entries: { name: string; handle: StageProcess; stopping: boolean }[] = [];
  private failEarly: (error: Error) => void = () => undefined;
  private readonly exitedEarly = new Promise<never>((_, reject) => (this.failEarly = reject));

  constructor(private readonly env: NodeJS.ProcessEnv) {
    this.exitedEarly.catch(() => undefined);
  }

  /** A long-running stage. */
  start(name: string, args: readonly string[]): StageProcess {
    const handle = stageProcess(args, this.env);
    const entry = { name, handle, stopping: false };
    this.entries.push(entry);
    void handle.exited.then((code) => {
      if (!entry.stopping) this.failEarly(new Error(`${name} exited (${code}) before it was stopped`));
    });
    return handle;
  }

  /** A command that ends by itself: its exit code, and what it said. */
  async run(name: string, args: readonly string[], timeoutMs: number, env = this.env): Promise<{ code: number | null | 'timeout'; stderr: string }> {
    const handle = stageProcess(args, env);
    this.entries.push({ name, handle, stopping: true });
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([handle.exited, new Promise<'timeout'>((resolveLate) => (timer = setTimeout(() => resolveLate('timeout'), timeoutMs)))]);
    clearTimeout(timer);
    if (code === 'timeout') await this.stop(handle, 'SIGKILL', 10_000);
    return { code, stderr: handle.stderr() };
  }

  /** Sends the signal; the exit code, or 'timeout' (then it is killed) when it does not exit in time. */
  async stop(handle: StageProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<number | null | 'timeout'> {
    const entry = this.entries.find((candidate) => candidate.handle === handle)!;
    entry.stopping = true;
    if (alive(handle)) handle.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([handle.exited, new Promise<'timeout'>((resolveLate) => (timer = setTimeout(() => resolveLate('timeout'), timeoutMs)))]);
    clearTimeout(timer);
    if (code === 'timeout' && alive(handle)) {
      handle.child.kill('SIGKILL');
      await handle.exited;
    }
    return code;
  }

  /** SIGKILL to every process still running. */
  async killAll(): Promise<void> {
    await Promise.all(this.entries.filter(({ handle }) => alive(handle)).map(({ handle }) => this.stop(handle, 'SIGKILL', 10_000)));
  }

  said(): string {
    return this.entries.map(({ name, handle }) => `--- ${name} (pid ${handle.child.pid}) said:\n${tail(handle.stderr())}`).join('\n');
  }

  async until<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, description: string, timeoutMs: number, intervalMs = 200): Promise<T> {
    try {
      return await Promise.race([waitFor(probe, { description, timeoutMs, intervalMs }), this.exitedEarly]);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${this.said()}`);
    }
  }
}

/** A counter from the metrics a stage logs on its way out; diagnostics only (the log's form is not part of the test). */
function loggedMetric(stderr: string, name: string, labels: readonly string[] = []): string {
  let total: number | undefined;
  for (const match of stderr.matchAll(new RegExp(`${name}(\\{[^}]*\\})? (\\d+)`, 'g'))) {
    const text = (match[1] ?? '').replace(/\\"/g, '"');
    if (labels.every((label) => text.includes(label))) total = (total ?? 0) + Number(match[2]);
  }
  return total === undefined ? 'n/a' : String(total);
}

describe('Pipeline > end to end, every stage its own process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-pipeline-e2e-'));
  const run = uniqueName('pe2e');
  const names = prefixedTopics(run);
  const indexPrefix = `fs-${run}`;
  const cluster = run;
  const logGroup = `/flowsentry/${cluster}/flows`;
  const groups = { enrich: `${run}-enrich`, detect: `${run}-detect`, respond: `${run}-respond`, sink: `${run}-sink` };
  const processes = new Processes(prefixedTopicsEnv(run));
  const brokers = endpointsFromEnv().kafkaBrokers ?? [];
  const admin = new Kafka({ clientId: 'pipeline-e2e-test', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  const bus = new KafkaBus({ brokers, clientId: 'pipeline-e2e-test', logLevel: 'nothing' });
  const search = openSearchClient({ url: requiredEnv('OPENSEARCH_URL') });
  const logs = new CloudWatchLogsClient(awsClientSettings(endpointsFromEnv()));
  let receiver: SignedWebhookReceiver | undefined;

  after(async () => {
    await processes.killAll();
    await receiver?.close();
    await bus.close();
    await admin.connect().catch(() => undefined);
    await admin.deleteTopics({ topics: Object.values(names), timeout: 10_000 }).catch(() => undefined);
    await admin.deleteGroups(Object.values(groups)).catch(() => undefined);
    await admin.disconnect();
    await search.indices.delete({ index: `${indexPrefix}-*`, ignore_unavailable: true } as never).catch(() => undefined);
    for (const word of ['flows', 'alerts', 'actions']) await search.indices.deleteIndexTemplate({ name: `${indexPrefix}-${word}` }, { ignore: [404] }).catch(() => undefined);
    await search.close();
    await logs.send(new DeleteLogGroupCommand({ logGroupName: logGroup })).catch(() => undefined);
    logs.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lands every flow once in OpenSearch, raises the expected alerts once each, delivers them signed and writes CloudWatch Logs, though enrich and the sink are killed mid-run', async (t) => {
    const began = Date.now();
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${seconds(Date.now() - began).padStart(7)}  ${what}`);

    // The scenario as a backlog that ended two minutes ago, in two deliveries: minutes 0-10 (learning), then 10-30 (rollout, attack).
    const scenario = movedStarsScenario(began - 120_000, [10]);
    const [first, second] = scenario.parts as [(typeof scenario.parts)[0], (typeof scenario.parts)[0]];
    const flowStream = 'eni-0a1b2c3d4e5f60718';
    const files = {
      all: join(dir, 'all.log'),
      first: join(dir, `${flowStream}.1.log`),
      second: join(dir, `${flowStream}.2.log`),
      inventory: join(dir, 'watch.jsonl'),
      feed: join(dir, 'blocklist.txt'),
      notify: join(dir, 'notify.yaml'),
    };
    writeFileSync(files.all, `${scenario.flows.join('\n')}\n`);
    writeFileSync(files.first, `${first.lines.join('\n')}\n`);
    writeFileSync(files.second, `${second.lines.join('\n')}\n`);
    writeFileSync(files.inventory, `${scenario.inventory.join('\n')}\n`);
    writeFileSync(files.feed, feedText);
    const secret = newWebhookSecret();
    receiver = await SignedWebhookReceiver.start(secret);
    writeFileSync(
      files.notify,
      ['endpoints:', '  - name: soc', '    type: webhook', `    url: ${receiver.url('/flowsentry')}`, `    secrets: ["${secret}"]`, 'routes:', '  - name: all', '    endpoints: [soc]', ''].join('\n'),
    );
    // Level 0: one record per flow, and what detection wants (detect/README.md, "Who is blamed").
    const enrichSettings = ['--allowed-level', '0', '--denied-level', '0'];
    const detectSettings = ['--feed', files.feed, '--learn', `${scenario.learnMinutes}m`];

    // The run's topics, and the inventory on its compacted topic as the inventory publisher writes it: InventoryEvents keyed by uid.
    await bus.ensureTopics(topicSpecs().map((spec) => ({ ...spec, name: `${run}.${spec.name}` })));
    const inventory = parseInventory(files.inventory, readFileSync(files.inventory, 'utf8'));
    assert.deepEqual(inventory.problems, []);
    const producer = bus.producer();
    await producer.send(names.inventory, inventory.events.map((event) => ({ key: event.uid, value: codecFor('InventoryEvent').encode(event) })));
    await producer.close();
    await admin.connect();
    mark(`topics created; ${inventory.events.length} inventory events published`);

    const args = {
      enrich: ['enrich', '--group', groups.enrich, ...enrichSettings],
      detect: ['detect', '--group', groups.detect, ...detectSettings],
      respond: ['respond', '--group', groups.respond, '--notify', files.notify],
      sink: ['sink', '--group', groups.sink, '--opensearch', requiredEnv('OPENSEARCH_URL'), '--index-prefix', indexPrefix, '--replicas', '0', '--cloudwatch', cluster],
    };
    const stage = {
      enrich: processes.start('enrich', args.enrich),
      detect: processes.start('detect', args.detect),
      respond: processes.start('respond', args.respond),
      sink: processes.start('sink', args.sink),
    };
    /** The same command in the same group, as a supervisor would start it again. */
    const restart = (name: 'enrich' | 'sink') => (stage[name] = processes.start(`${name} (restarted)`, args[name]));
    const collect = async (label: string, path: string) => {
      const result = await processes.run(`collect ${label}`, ['collect', '--source', 'vpc-file', '--file', path, '--node', 'node-a', '--flows-per-message', '10'], 120_000);
      assert.equal(result.code, 0, `collect ${label}:\n${result.stderr}`);
      mark(`collector published ${label}`);
    };

    const flowIndex = `${indexPrefix}-flows-*`;
    const flowCount = async () => {
      await search.indices.refresh({ index: flowIndex, ignore_unavailable: true, allow_no_indices: true } as never);
      return ((await search.count({ index: flowIndex, ignore_unavailable: true, allow_no_indices: true } as never)).body as { count: number }).count;
    };
    /** Messages of the topic the group has not committed yet. */
    const uncommitted = async (groupId: string, topic: string) => {
      const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
      const done = new Map(committed!.partitions.map(({ partition, offset }) => [partition, Math.max(0, Number(offset))]));
      return ends.reduce((sum, { partition, high }) => sum + Number(high) - (done.get(partition) ?? 0), 0);
    };

    // The first delivery. As soon as its first flows are searchable, while the sink writes the rest,
    // the sink and enrich are killed, and started again in their groups; the second delivery then
    // goes through the new workers only.
    const collectingFirst = collect(`file 1 (${first.lines.length} flows, minutes ${first.from}-${first.to})`, files.first);
    collectingFirst.catch(() => undefined); // awaited below
    const enrichedOnBus = async () => (await admin.fetchTopicOffsets(names.flowsEnriched)).reduce((sum, { high }) => sum + Number(high), 0);
    await processes.until(async () => (await enrichedOnBus()) > 0, 'the first enriched flows on the bus', 90_000);
    const visible = await processes.until(async () => (await flowCount()) || undefined, 'the first flows in OpenSearch', 30_000, 20);
    const [sinkBehind, enrichBehind] = await Promise.all([uncommitted(groups.sink, names.flowsEnriched), uncommitted(groups.enrich, names.flowsRaw)]);
    assert.deepEqual(await Promise.all([processes.stop(stage.sink, 'SIGKILL', 10_000), processes.stop(stage.enrich, 'SIGKILL', 10_000)]), [null, null]);
    mark(`sink and enrich killed (SIGKILL) with ${visible} of ${first.lines.length} flows in OpenSearch; ${sinkBehind} enriched and ${enrichBehind} raw messages not committed`);
    restart('sink');
    restart('enrich');
    await collectingFirst;
    const collecting = collect(`file 2 (${second.lines.length} flows, minutes ${second.from}-${second.to})`, files.second);
    collecting.catch(() => undefined); // awaited below

    // The oracle: replay over the same files with the same settings, in its own process, while the
    // groups wait for the killed members' sessions to time out.
    const oracle = { enriched: join(dir, 'replay.enriched.jsonl'), alerts: join(dir, 'replay.alerts.jsonl'), calico: join(dir, 'replay.calico') };
    const replayed = processes.run(
      'replay',
      ['replay', '--flows', files.all, '--inventory', files.inventory, '--enriched-out', oracle.enriched, '--alerts-out', oracle.alerts, '--calico-out', oracle.calico, ...enrichSettings, ...detectSettings],
      120_000,
      process.env,
    );
    await collecting;

    // What the stages must give.
    const replay = await replayed;
    assert.equal(replay.code, 0, replay.stderr);
    const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter((line) => line !== '');
    const expectedIds = lines(oracle.enriched).map((line) => flowIdOf(fromJson('EnrichedFlow', JSON.parse(line))));
    const expectedAlerts = lines(oracle.alerts).map((line) => JSON.parse(line) as AlertJson);
    const expectedLines = lines(oracle.calico);
    const lastRevisions = new Map(expectedAlerts.map((alert) => [alert.alert_id, alert]));
    const expectedDeliveries = expectedAlerts.map((alert) => `${alert.alert_id}.${alert.revision}`);
    assert.equal(new Set(expectedIds).size, scenario.flows.length, 'every flow of the scenario is a record of its own');
    assert.equal(expectedLines.length, scenario.flows.length);
    // The alerts the scenario is built to raise: each on the compromised frontend pod, once the attack began, resolved by its end.
    const opened = expectedAlerts.filter((alert) => alert.revision === 0);
    assert.deepEqual(opened.map((alert) => alert.detector).sort(), ['ioc', 'ip_sweep', 'lateral_movement', 'port_scan']);
    for (const alert of opened) {
      assert.equal(`${alert.source_namespace}/${alert.source_name}`, `stars/${pods.frontend.name}`, alert.detector);
      assert.ok(alert.start_time >= scenario.attackAt, `${alert.detector} opened before the attack`);
    }
    assert.equal(opened.find((alert) => alert.detector === 'ioc')!.dest_ip, knownBad);
    assert.ok([...lastRevisions.values()].every((alert) => alert.status === 'resolved'));

    // Wait for each outlet to have it all.
    const deliveredIds = () => new Set(receiver!.delivered.map((delivery) => delivery.id));
    await processes
      .until(() => expectedDeliveries.every((id) => deliveredIds().has(id)), `the ${expectedDeliveries.length} alert revisions at the receiver`, 90_000)
      .catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\nreceived: ${[...deliveredIds()].join(', ')}\nexpected: ${expectedDeliveries.join(', ')}`);
      });
    mark(`every alert revision at the receiver`);
    await processes.until(async () => (await flowCount()) >= expectedIds.length, `${expectedIds.length} flows in OpenSearch`, 90_000);
    mark('every flow in OpenSearch');
    const readStream = async (stream: string) => {
      const messages: string[] = [];
      let token: string | undefined;
      for (;;) {
        const page = await logs.send(new GetLogEventsCommand({ logGroupName: logGroup, logStreamName: stream, startFromHead: true, ...(token ? { nextToken: token } : {}) }));
        const events = page.events ?? [];
        messages.push(...events.map((event) => event.message ?? ''));
        if (events.length === 0 || !page.nextForwardToken || page.nextForwardToken === token) return messages;
        token = page.nextForwardToken;
      }
    };
    const revisionOf = (line: string) => `${(JSON.parse(line) as AlertJson).alert_id}.${(JSON.parse(line) as AlertJson).revision}`;
    await processes.until(
      async () => {
        const [flowLines, alertLines] = await Promise.all([readStream(flowStream).then((found) => new Set(found)), readStream('flowsentry-alerts').then((found) => new Set(found.map(revisionOf)))]);
        return expectedLines.every((line) => flowLines.has(line)) && expectedDeliveries.every((id) => alertLines.has(id));
      },
      `the ${expectedLines.length} Calico lines and ${expectedDeliveries.length} alert revisions in CloudWatch Logs`,
      90_000,
    );
    mark('every Calico line and alert revision in CloudWatch Logs');

    // Every stage stops cleanly on SIGTERM; then what they wrote is looked at as it stays.
    const codes = await Promise.all(Object.values(stage).map((handle) => processes.stop(handle, 'SIGTERM', 30_000)));
    mark('stages stopped');
    for (const line of timeline) t.diagnostic(line);
    const rewritten = Number(loggedMetric(stage.sink.stderr(), 'flowsentry_sink_records_total', ['kind="flow"', 'outlet="opensearch"'])) - second.lines.length;
    t.diagnostic(
      `the restarted sink handled ${Number.isNaN(rewritten) ? 'an unknown number of' : rewritten} flows of the first file again; ` +
        `detect dropped ${loggedMetric(stage.detect.stderr(), 'flowsentry_detect_duplicate_messages_total').replace('n/a', 'no')} duplicate messages`,
    );
    assert.deepEqual(codes, [0, 0, 0, 0], `enrich, detect, respond and sink exit 0 on SIGTERM (in this order)\n${processes.said()}`);

    // OpenSearch: the documents replay's records make, once each, and nothing else.
    const flowDocs = await search.search({ index: flowIndex, body: { size: 5_000, _source: false, query: { match_all: {} } } });
    const foundIds = (flowDocs.body.hits.hits as { _id: string }[]).map((hit) => hit._id);
    assert.equal(await flowCount(), expectedIds.length, 'one document per flow, no more');
    assert.deepEqual([...foundIds].sort(), [...expectedIds].sort(), 'each flow enriched as replay enriches it');
    await search.indices.refresh({ index: `${indexPrefix}-alerts-*` });
    const alertDocs = await search.search({ index: `${indexPrefix}-alerts-*`, body: { size: 100, version: true, query: { match_all: {} } } });
    const summary = (id: string, version: number, alert: AlertJson) => ({ id, version, revision: alert.revision, status: alert.status, detector: alert.detector });
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    assert.deepEqual(
      (alertDocs.body.hits.hits as { _id: string; _version: number; _source: AlertJson }[]).map((hit) => summary(hit._id, hit._version, hit._source)).sort(byId),
      [...lastRevisions.values()].map((alert) => summary(alert.alert_id, alert.revision, alert)).sort(byId),
      'one document per alert, at its last revision',
    );

    // The receiver: every revision, signed, as replay raised it; a webhook-id delivered again carries the same message.
    assert.deepEqual(receiver.refused, [], 'every delivery carries a valid signature');
    const bodies = new Map<string, Set<string>>();
    for (const delivery of receiver.delivered) bodies.set(delivery.id, (bodies.get(delivery.id) ?? new Set()).add(delivery.body));
    assert.deepEqual([...bodies.keys()].sort(), [...expectedDeliveries].sort(), 'every revision of every alert, nothing else');
    for (const alert of expectedAlerts) {
      const id = `${alert.alert_id}.${alert.revision}`;
      assert.equal(bodies.get(id)!.size, 1, `${id} delivered again with another body`);
      const event = JSON.parse([...bodies.get(id)!][0]!) as { type: string; data: AlertJson };
      assert.equal(event.type, alert.revision === 0 ? 'alert.opened' : alert.status === 'resolved' ? 'alert.resolved' : 'alert.updated', id);
      assert.deepEqual(event.data, alert, `${id} as replay raised it`);
    }

    // CloudWatch Logs: the flow lines in the interface's stream and the alerts in theirs, nothing else.
    // CloudWatch Logs keeps what it is sent twice: the batches the killed sink had in hand when it
    // died are written again by its successor (at least once, sink/README.md); the second file's
    // lines, which went through no crash, and the alerts, are there once.
    const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: logGroup }));
    assert.deepEqual((streams.logStreams ?? []).map((stream) => stream.logStreamName).sort(), [flowStream, 'flowsentry-alerts'].sort());
    const stored = await readStream(flowStream);
    const times = new Map<string, number>();
    for (const line of stored) times.set(line, (times.get(line) ?? 0) + 1);
    const expectedLineSet = new Set(expectedLines);
    assert.deepEqual(stored.filter((line) => !expectedLineSet.has(line)), [], 'no line but the Calico lines of the scenario');
    const secondFrom = (scenario.t0 + second.from * 60_000) / 1000;
    const inSecond = (line: string) => Number(line.split(' ')[0]) >= secondFrom;
    assert.equal(expectedLines.filter(inSecond).length, second.lines.length);
    const count = (line: string) => times.get(line) ?? 0;
    assert.deepEqual(expectedLines.filter((line) => inSecond(line) && count(line) !== 1), [], 'every line of the second file, once');
    assert.deepEqual(expectedLines.filter((line) => !inSecond(line) && (count(line) < 1 || count(line) > 2)), [], 'every line of the first file, once, or twice when in hand at the kill');
    const storedAlerts = await readStream('flowsentry-alerts');
    assert.deepEqual(storedAlerts.map(revisionOf).sort(), [...expectedDeliveries].sort(), 'every alert revision once');
    t.diagnostic(
      `receiver: ${receiver.delivered.length} deliveries of ${bodies.size} webhook-ids; CloudWatch Logs: ${stored.length} flow lines for ${expectedLines.length} flows ` +
        `(${stored.length - times.size} of the first file written again), ${storedAlerts.length} alert lines for ${expectedDeliveries.length} revisions`,
    );
  });
});
