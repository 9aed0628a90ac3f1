import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import avro from 'avsc';
import { Kafka, logLevel } from 'kafkajs';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { uniqueName, waitFor } from '../support/wait.js';

describe('Services > Kafka', () => {
  const brokers = endpointsFromEnv().kafkaBrokers;
  const kafka = new Kafka({ clientId: 'flowsentry-smoke', brokers: [...(brokers ?? [])], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();

  before(async () => {
    assert.ok(brokers, 'KAFKA_BROKERS must be set');
    await admin.connect();
  });
  after(async () => {
    await admin.disconnect();
  });

  it('carries an Avro-encoded record from a producer to a consumer group', async () => {
    const topic = uniqueName('smoke');
    const type = avro.Type.forSchema({
      type: 'record',
      name: 'SmokeFlow',
      fields: [
        { name: 'source_ip', type: 'string' },
        { name: 'dest_port', type: 'int' },
        { name: 'bytes_out', type: 'long' },
      ],
    });
    const record = { source_ip: '10.0.3.7', dest_port: 443, bytes_out: 12_345 };
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'node-1', value: type.toBuffer(record) }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: uniqueName('smoke-group') });
    const received: unknown[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        assert.equal(message.key?.toString(), 'node-1');
        received.push({ ...type.fromBuffer(message.value as Buffer) });
      },
    });
    try {
      await waitFor(() => received.length > 0, { description: 'the record to arrive', timeoutMs: 60_000 });
      assert.deepEqual(received, [record]);
    } finally {
      await consumer.disconnect();
      await admin.deleteTopics({ topics: [topic] });
    }
  });
});
