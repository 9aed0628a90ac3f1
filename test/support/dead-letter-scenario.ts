/**
 * The dead-letter path, run against any bus: a stage that decodes RawFlow meets a corrupt
 * message and one with an unknown writer fingerprint between good ones. The bad ones land on
 * the dead-letter topic with reason, original bytes and source offset; the good ones go on.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Bus, IncomingMessage } from '../../runtime/bus/bus.js';
import { MetricsRegistry } from '../../runtime/metrics.js';
import { StageRunner } from '../../runtime/stage-runner.js';
import { codecFor } from '../../schemas/codec.js';
import { sampleRawFlow } from '../../schemas/samples.js';
import type { RecordTypes } from '../../schemas/types.js';
import { uniqueName, waitFor } from './wait.js';

const fixture = (name: string) => readFileSync(new URL(`../unit/schemas/fixtures/${name}`, import.meta.url));

export async function deadLetterScenario(bus: Bus, timeoutMs: number): Promise<void> {
  const input = uniqueName('raw');
  const output = uniqueName('out');
  const deadLetterTopic = uniqueName('dead');
  await bus.ensureTopics([input, output, deadLetterTopic].map((name) => ({ name, partitions: 1 })));
  const rawCodec = codecFor('RawFlow');
  const corrupt = fixture('corrupt-body.bin');
  const unknown = fixture('unknown-fingerprint.bin');
  const inputs = [
    rawCodec.encode({ ...sampleRawFlow, source_port: 1 }),
    corrupt,
    unknown,
    rawCodec.encode({ ...sampleRawFlow, source_port: 2 }),
  ];
  const producer = bus.producer();
  await producer.send(input, inputs.map((value) => ({ key: 'node-1', value })));

  const metrics = new MetricsRegistry();
  const runner = new StageRunner({
    stage: 'enrich',
    bus,
    groupId: uniqueName('stage'),
    inputTopics: [input],
    deadLetterTopic,
    recordType: 'RawFlow',
    metrics,
    handler: (message) => {
      const flow = rawCodec.decode(message.value);
      return [{ topic: output, key: message.key, value: Buffer.from(String(flow.source_port)) }];
    },
  });
  const collect = (topic: string) => {
    const seen: IncomingMessage[] = [];
    const consumer = bus.consumer({ groupId: uniqueName('check'), topics: [topic] });
    return { seen, consumer, started: consumer.start(async (batch) => void seen.push(...batch.messages)) };
  };
  const outputs = collect(output);
  const letters = collect(deadLetterTopic);
  await Promise.all([runner.start(), outputs.started, letters.started]);
  try {
    await waitFor(() => outputs.seen.length >= 2 && letters.seen.length >= 2, { timeoutMs, description: 'outputs and dead letters' });
    assert.deepEqual(outputs.seen.map((message) => message.value.toString()), ['1', '2'], 'the stream went on past the bad messages');

    const deadLetterCodec = codecFor('DeadLetter');
    const decoded: RecordTypes['DeadLetter'][] = letters.seen.map((message) => deadLetterCodec.decode(message.value));
    assert.deepEqual(decoded.map((letter) => letter.reason), ['SCHEMA_CORRUPT_PAYLOAD', 'SCHEMA_UNKNOWN_FINGERPRINT']);
    assert.deepEqual(decoded.map((letter) => Buffer.from(letter.original)), [corrupt, unknown], 'original bytes kept');
    for (const [i, letter] of decoded.entries()) {
      assert.equal(letter.stage, 'enrich');
      assert.equal(letter.record_type, 'RawFlow');
      assert.deepEqual({ ...letter.source }, { topic: input, partition: 0, offset: i + 1, position: String(i + 1), file: null, line: null });
      assert.ok(letter.message.length > 0);
    }
    const counter = metrics.counter('flowsentry_dead_letters_total', '');
    assert.equal(counter.get({ stage: 'enrich', reason: 'SCHEMA_CORRUPT_PAYLOAD' }), 1);
    assert.equal(counter.get({ stage: 'enrich', reason: 'SCHEMA_UNKNOWN_FINGERPRINT' }), 1);
    assert.match(metrics.render(), /flowsentry_stage_records_total\{outcome="ok",stage="enrich"\} 2/);
  } finally {
    await Promise.all([runner.close(), outputs.consumer.close(), letters.consumer.close(), producer.close()]);
  }
}
