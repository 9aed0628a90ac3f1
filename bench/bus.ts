/**
 * `npm run bench -- bus [flows]`: flows through the Kafka bus, produce and consume, beside
 * Kafka's own kafka-producer-perf-test / kafka-consumer-perf-test on the same broker, in the
 * same run, with the same bytes per flow. Uses KAFKA_BROKERS, or starts the test broker.
 *
 * Payloads are encoded before the clock starts, as the Java tools send ready-made bytes: this
 * measures the transport, not the codec (that is `npm run bench -- schemas`). Both producers use
 * acks=all, no compression, and the bus's batch size and linger.
 */
import { join } from 'node:path';
import { defaultBatching, KafkaBus } from '../runtime/bus/kafka-bus.js';
import type { OutgoingMessage } from '../runtime/bus/bus.js';
import { endpointsFromEnv } from '../runtime/endpoints.js';
import { codecFor } from '../schemas/codec.js';
import { sampleRawFlow } from '../schemas/samples.js';
import type { RecordTypes } from '../schemas/types.js';
import { runCommand } from '../services/exec.js';
import { javaCommand } from '../services/java.js';
import { kafkaClasspath, kafkaService } from '../services/kafka/service.js';
import { down, up } from '../services/manager.js';
import { cacheRoot } from '../services/paths.js';
import { report, withBaseline, type Figure } from './report.js';

const totalFlows = Number(process.argv[2] ?? 300_000);
const partitions = 3;
const nodes = 12;
const mib = 2 ** 20;

type RawFlow = RecordTypes['RawFlow'];

function flowsOfNode(node: number, count: number): RawFlow[] {
  return Array.from({ length: count }, (_, i) => ({
    ...sampleRawFlow,
    host: `ip-10-0-${node}-1.ec2.internal`,
    source_port: 1024 + (i % 60_000),
    start_time: sampleRawFlow.start_time + i * 1000,
    end_time: sampleRawFlow.end_time + i * 1000,
    bytes_out: sampleRawFlow.bytes_out + i,
  }));
}

/** The bus messages for all flows: `flowsPerMessage` flows (an Avro array) per message, keyed by node. */
function messagesFor(flowsPerMessage: number): { messages: OutgoingMessage[]; bytesPerFlow: number } {
  const codec = codecFor('RawFlow');
  const messages: OutgoingMessage[] = [];
  let bytes = 0;
  const perNode = Math.ceil(totalFlows / nodes);
  for (let node = 0; node < nodes; node++) {
    const flows = flowsOfNode(node, perNode);
    for (let i = 0; i < flows.length; i += flowsPerMessage) {
      const chunk = flows.slice(i, i + flowsPerMessage);
      const value = flowsPerMessage === 1 ? codec.encode(chunk[0]!) : codec.encodeBatch(chunk);
      bytes += value.length;
      messages.push({ key: `node-${node}`, value });
    }
  }
  return { messages, bytesPerFlow: bytes / (perNode * nodes) };
}

async function busRun(bus: KafkaBus, flowsPerMessage: number, label: string) {
  const { messages, bytesPerFlow } = messagesFor(flowsPerMessage);
  const flows = Math.ceil(totalFlows / nodes) * nodes;
  const topic = `bench-bus-${label}-${Date.now().toString(36)}`;
  await bus.ensureTopics([{ name: topic, partitions, replicationFactor: 1 }]);

  const producer = bus.producer();
  const began = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < messages.length; i += 500) sends.push(producer.send(topic, messages.slice(i, i + 500)));
  await Promise.all(sends);
  const produceSeconds = (performance.now() - began) / 1000;
  await producer.close();

  let received = 0;
  let first = 0;
  let last = 0;
  const consumer = bus.consumer({ groupId: `${topic}-group`, topics: [topic], maxBatchMessages: 2_000 });
  const done = new Promise<void>((resolveDone) => {
    void consumer.start(async (batch) => {
      first ||= performance.now();
      received += batch.messages.length;
      last = performance.now();
      if (received >= messages.length) resolveDone();
    });
  });
  await done;
  await consumer.close();
  const consumeSeconds = (last - first) / 1000;
  return { bytesPerFlow, flows, produceSeconds, consumeSeconds };
}

async function kafkaToolsRun(brokers: string, recordSize: number, records: number) {
  const topic = `bench-tools-${Date.now().toString(36)}`;
  const classpath = kafkaClasspath(join(cacheRoot(), 'kafka'));
  const java = javaCommand();
  const bus = new KafkaBus({ brokers: [brokers], logLevel: 'nothing' });
  await bus.ensureTopics([{ name: topic, partitions, replicationFactor: 1 }]);
  await bus.close();
  const produced = await runCommand(java, [
    '-Xmx512m', '-cp', classpath, 'org.apache.kafka.tools.ProducerPerformance',
    '--topic', topic, '--num-records', String(records), '--record-size', String(recordSize), '--throughput', '-1',
    // The same batching as the bus: batches up to defaultBatching.maxBatchBytes, the same linger.
    '--command-property', `bootstrap.servers=${brokers}`, 'acks=all', 'compression.type=none',
    `batch.size=${defaultBatching.maxBatchBytes}`, `linger.ms=${defaultBatching.lingerMs}`,
  ]);
  // "300000 records sent, 182481.751825 records/sec (35.23 MB/sec), ..."
  const producerLine = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(produced);
  if (!producerLine) throw new Error(`unexpected producer perf output:\n${produced}`);
  const consumed = await runCommand(java, [
    '-Xmx512m', '-cp', classpath, 'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server', brokers, '--topic', topic, '--num-records', String(records), '--timeout', '60000',
  ]);
  // header: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const row = consumed.trim().split('\n').at(-1)!.split(',').map((cell) => cell.trim());
  const fetchRecordsPerSecond = Number(row[9]);
  if (!Number.isFinite(fetchRecordsPerSecond)) throw new Error(`unexpected consumer perf output:\n${consumed}`);
  return { produceRecordsPerSecond: Number(producerLine[2]), consumeRecordsPerSecond: fetchRecordsPerSecond };
}

async function main(): Promise<void> {
  const given = endpointsFromEnv().kafkaBrokers;
  const started = given ? [] : [kafkaService];
  if (!given) await up(started, (line) => console.error(`# ${line}`));
  const brokers = given?.[0] ?? kafkaService.env.KAFKA_BROKERS!;
  try {
    const bus = new KafkaBus({ brokers: [brokers], logLevel: 'nothing', producer: { compression: 'none' } });
    const batched = await busRun(bus, 250, 'batched');
    const single = await busRun(bus, 1, 'single');
    await bus.close();
    const tools = await kafkaToolsRun(brokers, Math.round(batched.bytesPerFlow), batched.flows);
    const flowRate = (run: typeof batched, seconds: number) => run.flows / seconds;
    const mbRate = (run: typeof batched, flowsPerSecond: number) => (flowsPerSecond * run.bytesPerFlow) / mib;
    const toolMb = (recordsPerSecond: number) => (recordsPerSecond * Math.round(batched.bytesPerFlow)) / mib;
    const figures: Figure[] = [];
    for (const [label, run] of [['250 flows/msg', batched], ['1 flow/msg', single]] as const) {
      const produce = flowRate(run, run.produceSeconds);
      const consume = flowRate(run, run.consumeSeconds);
      figures.push(
        withBaseline(`produce ${label}`, produce, 'flows/s', 'kafka-producer-perf-test', tools.produceRecordsPerSecond),
        withBaseline(`produce ${label}`, mbRate(run, produce), 'MiB/s', 'kafka-producer-perf-test', toolMb(tools.produceRecordsPerSecond)),
        withBaseline(`consume ${label}`, consume, 'flows/s', 'kafka-consumer-perf-test', tools.consumeRecordsPerSecond),
        withBaseline(`consume ${label}`, mbRate(run, consume), 'MiB/s', 'kafka-consumer-perf-test', toolMb(tools.consumeRecordsPerSecond)),
      );
    }
    report('bus', figures, {
      flows: batched.flows,
      bytesPerFlow: batched.bytesPerFlow,
      partitions,
      compression: 'none',
      acks: 'all',
      batchBytes: defaultBatching.maxBatchBytes,
      lingerMs: defaultBatching.lingerMs,
    });
  } finally {
    if (started.length > 0) await down(started, (line) => console.error(`# ${line}`));
  }
}

await main();
