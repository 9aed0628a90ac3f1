import { KafkaBus } from '../../runtime/bus/kafka-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { busContract } from '../support/bus-contract.js';

busContract({
  name: 'Kafka',
  create: async () =>
    new KafkaBus({
      brokers: endpointsFromEnv().kafkaBrokers ?? [],
      clientId: 'flowsentry-contract',
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 500,
      retryBackoffMs: 50,
      logLevel: 'nothing',
    }),
  partitions: 3,
  timeoutMs: 60_000,
});
