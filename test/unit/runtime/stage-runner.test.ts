import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../../runtime/bus/memory-bus.js';
import { MetricsRegistry } from '../../../runtime/metrics.js';
import { positionFields, StageRunner } from '../../../runtime/stage-runner.js';
import { deadLetterScenario } from '../../support/dead-letter-scenario.js';
import { waitFor } from '../../support/wait.js';

describe('Runtime > stage runner', () => {
  it('routes undecodable messages to the dead-letter topic with reason, bytes and offset, and goes on', async () => {
    const bus = new MemoryBus();
    await deadLetterScenario(bus, 5_000);
    await bus.close();
  });

  it('retries a batch on a retriable error instead of dead-lettering it', async () => {
    const bus = new MemoryBus({ retryBackoffMs: 1 });
    await bus.ensureTopics(['in', 'out', 'dead'].map((name) => ({ name, partitions: 1 })));
    await bus.producer().send('in', [{ key: 'k', value: Buffer.from('x') }]);
    let attempts = 0;
    const runner = new StageRunner({
      stage: 'sink',
      bus,
      groupId: 'g',
      inputTopics: ['in'],
      deadLetterTopic: 'dead',
      metrics: new MetricsRegistry(),
      handler: (message) => {
        attempts += 1;
        if (attempts < 3) throw Object.assign(new Error('outlet down'), { retriable: true });
        return [{ topic: 'out', key: message.key, value: message.value }];
      },
    });
    const seen: string[] = [];
    const dead: string[] = [];
    await runner.start();
    await bus.consumer({ groupId: 'o', topics: ['out'] }).start(async (batch) => void seen.push(...batch.messages.map((m) => m.value.toString())));
    await bus.consumer({ groupId: 'd', topics: ['dead'] }).start(async (batch) => void dead.push(...batch.messages.map((m) => m.value.toString())));
    await waitFor(() => seen.length === 1, { timeoutMs: 5_000 });
    assert.equal(attempts, 3);
    assert.deepEqual(dead, []);
    await runner.close();
    await bus.close();
  });

  it('keeps a position as written, and as a long only when it fits one (Kinesis sequence numbers do not)', () => {
    assert.deepEqual(positionFields('42'), { offset: 42, position: '42' });
    const sequence = '49590338271490256608559692538361571095921575989136588898';
    assert.deepEqual(positionFields(sequence), { offset: null, position: sequence });
    assert.deepEqual(positionFields(undefined), { offset: null, position: null });
  });
});
