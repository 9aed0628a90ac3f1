/**
 * Topics of its own for a run of the stage processes. The stages have no option for their topic
 * names, and every `flowsentry` process on one broker otherwise shares them (and the detect state
 * changelog), so an end-to-end test running beside other tests would read their records and they
 * its. `pipeline-topics-preload.ts`, loaded into a stage process before `flowsentry` starts
 * (`--import`, through NODE_OPTIONS), renames every topic of `runtime/topics.ts` to
 * `<prefix>.<name>` when the variable below is set.
 */
import { topics } from '../../runtime/topics.js';

export const topicPrefixVariable = 'PIPELINE_TEST_TOPIC_PREFIX';

export type TopicNames = { -readonly [K in keyof typeof topics]: string };

/** The names the stages use under `prefix`. */
export function prefixedTopics(prefix: string, base: Readonly<TopicNames> = topics): TopicNames {
  const names = {} as TopicNames;
  for (const key of Object.keys(base) as (keyof TopicNames)[]) names[key] = `${prefix}.${base[key]}`;
  return names;
}

/** What a stage process needs in its environment to use the topics under `prefix`. */
export function prefixedTopicsEnv(prefix: string, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const preload = new URL('./pipeline-topics-preload.ts', import.meta.url).href;
  return { ...env, [topicPrefixVariable]: prefix, NODE_OPTIONS: [env.NODE_OPTIONS, '--import tsx', `--import ${preload}`].filter(Boolean).join(' ') };
}
