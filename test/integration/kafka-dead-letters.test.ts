import { describe, it } from 'node:test';
import { KafkaBus } from '../../runtime/bus/kafka-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { deadLetterScenario } from '../support/dead-letter-scenario.js';

describe('Runtime > stage runner > Kafka', () => {
  it('routes undecodable messages to the dead-letter topic with reason, bytes and offset, and goes on', async () => {
    const bus = new KafkaBus({ brokers: endpointsFromEnv().kafkaBrokers ?? [], logLevel: 'nothing', heartbeatIntervalMs: 500 });
    try {
      await deadLetterScenario(bus, 60_000);
    } finally {
      await bus.close();
    }
  });
});
