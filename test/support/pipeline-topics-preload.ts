/**
 * Loaded before `flowsentry <stage>` (see `pipeline-topics.ts`): renames every topic the process
 * uses to `<prefix>.<name>`. The stages read the names from `runtime/topics.ts` when they need them,
 * so nothing else changes.
 */
import { topics } from '../../runtime/topics.js';
import { prefixedTopics, topicPrefixVariable, type TopicNames } from './pipeline-topics.js';

const prefix = process.env[topicPrefixVariable];
if (prefix) Object.assign(topics as TopicNames, prefixedTopics(prefix, { ...topics }));
