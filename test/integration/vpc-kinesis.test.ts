/**
 * VPC Flow Logs through Kinesis on the emulator: CloudWatch Logs subscription payloads put on a
 * stream (as CloudWatch Logs writes them), and delivered by a real subscription filter, read by
 * the VPC Kinesis source into RawFlow records.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteLogGroupCommand,
  PutLogEventsCommand,
  PutSubscriptionFilterCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { DeleteStreamCommand, DescribeStreamSummaryCommand, KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import type { SourceBatch } from '../../ingest/source.js';
import { VpcKinesisSource, type VpcKinesisPosition } from '../../ingest/vpc-kinesis-source.js';
import { awsClientSettings } from '../../runtime/aws.js';
import { FileCheckpointStore } from '../../runtime/bus/file-checkpoint-store.js';
import type { KinesisBus } from '../../runtime/bus/kinesis-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { codecFor } from '../../schemas/codec.js';
import type { RawFlow } from '../../schemas/types.js';
import { freshDir, kinesisBus } from '../support/kinesis.js';
import { requiredEnv, uniqueName, waitFor } from '../support/wait.js';

const codec = codecFor('RawFlow');

const vpcLines = [
  '2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK',
  '2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK',
  '2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA',
  '2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK',
];

/** A subscription payload exactly as CloudWatch Logs writes it to Kinesis: gzip JSON. */
function payload(messageType: 'DATA_MESSAGE' | 'CONTROL_MESSAGE', lines: readonly string[]): Buffer {
  const control = messageType === 'CONTROL_MESSAGE';
  const body = {
    messageType,
    owner: control ? 'CloudwatchLogs' : '123456789010',
    logGroup: control ? '' : '/vpc/flow-logs',
    logStream: control ? '' : 'eni-1235b8ca123456789-all',
    subscriptionFilters: control ? [] : ['vpc-to-kinesis'],
    logEvents: control
      ? [{ id: '', timestamp: Date.now(), message: 'CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.' }]
      : lines.map((message, i) => ({ id: `${37_000_000 + i}`, timestamp: Date.now(), message })),
  };
  return gzipSync(JSON.stringify(body));
}

/** Reads the source in the background, committing each batch, until closed. */
function drain(source: VpcKinesisSource) {
  const batches: SourceBatch<VpcKinesisPosition>[] = [];
  const done = (async () => {
    for await (const batch of source.batches()) {
      batches.push(batch);
      await source.commit(batch.position);
    }
  })();
  const flows = (): RawFlow[] => batches.flatMap((batch) => batch.flows);
  /** For waitFor: true once `enough`; a problem read meanwhile is the error a timeout reports. */
  const until = (enough: () => boolean) => () => {
    const problem = batches.flatMap((batch) => batch.problems)[0];
    if (problem) throw new Error(problem.message);
    return enough();
  };
  return { batches, flows, until, done };
}

describe('Ingest > VPC flow logs > Kinesis on the emulator', () => {
  let bus: KinesisBus;
  let checkpoints: FileCheckpointStore;
  let kinesis: KinesisClient;
  const streams: string[] = [];
  before(async () => {
    requiredEnv('AWS_ENDPOINT_URL');
    checkpoints = new FileCheckpointStore(await freshDir());
    bus = await kinesisBus({ checkpoints });
    kinesis = new KinesisClient(awsClientSettings(endpointsFromEnv()));
  });
  after(async () => {
    await bus.close();
    for (const StreamName of streams) await kinesis.send(new DeleteStreamCommand({ StreamName })).catch(() => undefined);
    kinesis.destroy();
  });

  async function freshStream(): Promise<string> {
    const stream = uniqueName('vpc-flows');
    streams.push(stream);
    await bus.ensureTopics([{ name: stream, partitions: 1 }]);
    return stream;
  }

  it('reads a subscription envelope put on the stream into RawFlow records, skipping the control message', async () => {
    const stream = await freshStream();
    for (const data of [payload('CONTROL_MESSAGE', []), payload('DATA_MESSAGE', vpcLines)]) {
      await kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'vpc', Data: data }));
    }
    const groupId = uniqueName('vpc');
    const source = new VpcKinesisSource({ bus, streams: [stream], groupId });
    const read = drain(source);
    await waitFor(read.until(() => source.counts.records >= 2), { timeoutMs: 30_000, description: 'both records' });
    await source.close();
    await read.done;

    const flows = read.flows();
    for (const flow of flows) codec.encode(flow);
    assert.deepEqual(
      flows.map((flow) => [flow.source_ip, flow.dest_ip, flow.source_port, flow.dest_port, flow.action, flow.bytes_out, flow.packets_out]),
      [
        ['172.31.16.139', '172.31.16.21', 20641, 22, 'allow', 4249, 20],
        ['172.31.9.69', '172.31.9.12', 49761, 3389, 'deny', 4249, 20],
        ['2001:db8:1234:a100:8d6e:3477:df66:f105', '2001:db8:1234:a102:3304:8879:34cf:4071', 34892, 22, 'allow', 8855, 54],
      ],
    );
    assert.deepEqual(flows[0], { ...flows[0], origin: 'vpc', host: 'eni-1235b8ca123456789', proto: 6, reporter: 'src' });
    assert.deepEqual([flows[0]!.start_time, flows[0]!.end_time], [1418530010000, 1418530070000]);
    assert.deepEqual([source.counts.controlMessages, source.counts.noData, source.counts.problems], [1, 1, 0]);
    assert.equal(read.batches.flatMap((batch) => batch.problems).length, 0);

    // Committed: the next reader of the group starts after these records.
    await kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'vpc', Data: payload('DATA_MESSAGE', [vpcLines[1]!]) }));
    const next = new VpcKinesisSource({ bus, streams: [stream], groupId });
    const again = drain(next);
    await waitFor(again.until(() => next.counts.records >= 1), { timeoutMs: 30_000, description: 'the new record' });
    await next.close();
    await again.done;
    assert.deepEqual(again.flows().map((flow) => flow.source_port), [49761]);
  });

  it('reads what a CloudWatch Logs subscription filter delivers to the stream', async () => {
    const stream = await freshStream();
    const { StreamDescriptionSummary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    const logs = new CloudWatchLogsClient(awsClientSettings(endpointsFromEnv()));
    const logGroupName = uniqueName('/vpc/flow-logs');
    const logStreamName = 'eni-1235b8ca123456789-all';
    try {
      await logs.send(new CreateLogGroupCommand({ logGroupName }));
      await logs.send(new CreateLogStreamCommand({ logGroupName, logStreamName }));
      await logs.send(
        new PutSubscriptionFilterCommand({
          logGroupName,
          filterName: 'vpc-to-kinesis',
          filterPattern: '',
          destinationArn: StreamDescriptionSummary!.StreamARN!,
          roleArn: 'arn:aws:iam::123456789012:role/cwl-to-kinesis',
        }),
      );
      const now = Date.now();
      await logs.send(
        new PutLogEventsCommand({ logGroupName, logStreamName, logEvents: vpcLines.map((message, i) => ({ message, timestamp: now + i })) }),
      );
      const source = new VpcKinesisSource({ bus, streams: [stream], groupId: uniqueName('vpc') });
      const read = drain(source);
      await waitFor(read.until(() => source.counts.lines >= vpcLines.length), { timeoutMs: 30_000, description: 'the delivered log events' });
      await source.close();
      await read.done;
      assert.deepEqual(source.counts.problems, 0);
      assert.deepEqual(
        read.flows().map((flow) => [flow.host, flow.source_ip, flow.dest_port, flow.action]),
        [
          ['eni-1235b8ca123456789', '172.31.16.139', 22, 'allow'],
          ['eni-1235b8ca123456789', '172.31.9.69', 3389, 'deny'],
          ['eni-1235b8ca123456789', '2001:db8:1234:a100:8d6e:3477:df66:f105', 22, 'allow'],
        ],
      );
      assert.equal(source.counts.noData, 1);
    } finally {
      await logs.send(new DeleteLogGroupCommand({ logGroupName })).catch(() => undefined);
      logs.destroy();
    }
  });
});
