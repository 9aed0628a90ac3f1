import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteLogGroupCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { awsClientSettings } from '../../runtime/aws.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { uniqueName, waitFor } from '../support/wait.js';

const settings = awsClientSettings(endpointsFromEnv());

describe('Services > AWS emulator', () => {
  it('CloudWatch Logs: PutLogEvents then GetLogEvents returns the same lines in order', async () => {
    assert.ok(settings.endpoint, 'AWS_ENDPOINT_URL must be set');
    const logs = new CloudWatchLogsClient(settings);
    const logGroupName = uniqueName('/flowsentry/smoke');
    const logStreamName = 'node-1';
    await logs.send(new CreateLogGroupCommand({ logGroupName }));
    try {
      await logs.send(new CreateLogStreamCommand({ logGroupName, logStreamName }));
      const now = Date.now();
      const lines = ['first flow line', 'second flow line'];
      await logs.send(
        new PutLogEventsCommand({
          logGroupName,
          logStreamName,
          logEvents: lines.map((message, i) => ({ message, timestamp: now + i })),
        }),
      );
      const got = await logs.send(new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: true }));
      assert.deepEqual(
        got.events?.map((event) => event.message),
        lines,
      );
    } finally {
      await logs.send(new DeleteLogGroupCommand({ logGroupName }));
      logs.destroy();
    }
  });

  it('Kinesis: PutRecords then GetRecords returns the records with their partition keys', async () => {
    const kinesis = new KinesisClient(settings);
    const StreamName = uniqueName('smoke-stream');
    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    try {
      const description = await waitFor(
        async () => {
          const { StreamDescription } = await kinesis.send(new DescribeStreamCommand({ StreamName }));
          return StreamDescription?.StreamStatus === 'ACTIVE' ? StreamDescription : undefined;
        },
        { description: 'the stream to become active' },
      );
      const payloads = ['flow-a', 'flow-b', 'flow-c'];
      const put = await kinesis.send(
        new PutRecordsCommand({
          StreamName,
          Records: payloads.map((data, i) => ({ Data: Buffer.from(data), PartitionKey: `node-${i}` })),
        }),
      );
      assert.equal(put.FailedRecordCount, 0);

      const { ShardIterator } = await kinesis.send(
        new GetShardIteratorCommand({
          StreamName,
          ShardId: description.Shards?.[0]?.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const got = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
      assert.deepEqual(
        got.Records?.map((record) => [Buffer.from(record.Data ?? []).toString(), record.PartitionKey]),
        payloads.map((data, i) => [data, `node-${i}`]),
      );
    } finally {
      await kinesis.send(new DeleteStreamCommand({ StreamName }));
      kinesis.destroy();
    }
  });
});
