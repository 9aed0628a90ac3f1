import type { TopicSpec } from './bus/bus.js';

/** The pipeline's topics (versioned: a breaking change of a topic's contract gets a new name). */
export const topics = {
  flowsRaw: 'flowsentry.flows.raw.v1',
  inventory: 'flowsentry.k8s.inventory.v1',
  flowsEnriched: 'flowsentry.flows.enriched.v1',
  alerts: 'flowsentry.alerts.v1',
  actions: 'flowsentry.actions.v1',
  detectState: 'flowsentry.detect.state.v1',
  deadLetters: 'flowsentry.deadletter.v1',
} as const;

const day = 24 * 3600 * 1000;

/** How each topic is provisioned; partitions are the unit of scale-out of the stage that reads it. */
export function topicSpecs(partitions = 6): TopicSpec[] {
  return [
    { name: topics.flowsRaw, partitions, retentionMs: 3 * day },
    { name: topics.inventory, partitions, compacted: true },
    { name: topics.flowsEnriched, partitions, retentionMs: 3 * day },
    { name: topics.alerts, partitions, retentionMs: 30 * day },
    { name: topics.actions, partitions, retentionMs: 30 * day },
    { name: topics.detectState, partitions, compacted: true },
    { name: topics.deadLetters, partitions: 1, retentionMs: 30 * day },
  ];
}
