import { KafkaBus, type KafkaBusOptions } from '../../runtime/bus/kafka-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { busContract } from '../support/bus-contract.js';

const kafkaBus = (options: Partial<KafkaBusOptions> = {}) =>
  new KafkaBus({
    brokers: endpointsFromEnv().kafkaBrokers ?? [],
    clientId: 'flowsentry-contract',
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 500,
    retryBackoffMs: 50,
    logLevel: 'nothing',
    ...options,
  });

busContract({ name: 'Kafka', create: async () => kafkaBus(), partitions: 3, timeoutMs: 60_000 });

// The idempotent producer is off by default; this keeps the evidence that it works when enabled.
busContract({ name: 'Kafka, idempotent producer', create: async () => kafkaBus({ idempotent: true }), partitions: 3, timeoutMs: 60_000 });
