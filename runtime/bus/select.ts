import type { Endpoints } from '../endpoints.js';
import type { Bus } from './bus.js';
import { KafkaBus } from './kafka-bus.js';
import { KinesisBus } from './kinesis-bus.js';
import { MemoryBus } from './memory-bus.js';

export const busKinds = ['kafka', 'kinesis', 'memory'] as const;
export type BusKind = (typeof busKinds)[number];

export interface BusSelection {
  readonly kind?: BusKind;
  /** Kinesis consumers keep their checkpoints and leases here. */
  readonly checkpointDir?: string;
  readonly clientId?: string;
}

/** Kafka when brokers are configured, else the in-process bus; Kinesis only when asked for. */
export function defaultBusKind(endpoints: Endpoints): BusKind {
  return endpoints.kafkaBrokers ? 'kafka' : 'memory';
}

export function createBus(endpoints: Endpoints, selection: BusSelection = {}): Bus {
  const kind = selection.kind ?? defaultBusKind(endpoints);
  switch (kind) {
    case 'kafka':
      if (!endpoints.kafkaBrokers) throw new Error('the Kafka bus needs KAFKA_BROKERS');
      return new KafkaBus({ brokers: endpoints.kafkaBrokers, clientId: selection.clientId ?? 'flowsentry', logLevel: 'warn' });
    case 'kinesis':
      return new KinesisBus({ checkpoints: selection.checkpointDir ?? '.flowsentry/kinesis-checkpoints' });
    case 'memory':
      return new MemoryBus();
  }
}
