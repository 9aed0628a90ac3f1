/**
 * Where each record goes: a log group per cluster, a log stream per node for flows, and streams
 * of their own for alerts, actions and EMF metrics. Pure.
 *
 * Names come from templates holding `{cluster}` (every name) and `{node}` (flow streams only:
 * EnrichedFlow.host, the node that observed the flow). Two presets:
 *
 * | preset | group | flow stream | alerts | actions | metrics |
 * | --- | --- | --- | --- | --- | --- |
 * | `default` | `/flowsentry/{cluster}/flows` | `{node}` | `flowsentry-alerts` | `flowsentry-actions` | `flowsentry-metrics` |
 * | `tigera` | `tigera-flowlogs-{cluster}` | `{node}_Flowlogs` | same | same | same |
 *
 * CloudWatch Logs allows in a group name only `A-Z a-z 0-9 . - _ / #`, and forbids `:` and `*` in
 * a stream name; both are 1–512 characters. A rendered name has every forbidden character
 * replaced by `_`, an empty value written as `_`, and a name over 512 characters cut to 503 and
 * followed by `-` and 8 hex digits of its SHA-256, so distinct long names stay distinct.
 */
import { createHash } from 'node:crypto';

export interface LogNaming {
  /** Template of the log group, `{cluster}` only. */
  readonly group: string;
  /** Template of a flow stream, `{cluster}` and `{node}`. */
  readonly flowStream: string;
  readonly alertStream: string;
  readonly actionStream: string;
  readonly metricsStream: string;
}

export type LogNamingPreset = 'default' | 'tigera';

const sharedStreams = { alertStream: 'flowsentry-alerts', actionStream: 'flowsentry-actions', metricsStream: 'flowsentry-metrics' };

export const logNamingPresets: Readonly<Record<LogNamingPreset, LogNaming>> = Object.freeze({
  default: { group: '/flowsentry/{cluster}/flows', flowStream: '{node}', ...sharedStreams },
  tigera: { group: 'tigera-flowlogs-{cluster}', flowStream: '{node}_Flowlogs', ...sharedStreams },
});

export const MAX_GROUP_NAME = 512;
export const MAX_STREAM_NAME = 512;

export type StreamKind = 'flow' | 'alert' | 'action' | 'metrics';

const placeholder = /\{([^{}]*)\}/g;

/** What is wrong with a naming (empty when nothing): unknown placeholders, `{node}` outside flow streams. */
export function namingProblems(naming: LogNaming): string[] {
  const problems: string[] = [];
  const check = (key: keyof LogNaming, allowed: readonly string[]) => {
    const template = naming[key];
    if (typeof template !== 'string' || template.length === 0) {
      problems.push(`naming.${key}: a non-empty template is required`);
      return;
    }
    for (const [, name] of template.matchAll(placeholder)) {
      if (!allowed.includes(name!)) problems.push(`naming.${key}: {${name}} is not allowed here (use ${allowed.map((a) => `{${a}}`).join(', ')})`);
    }
  };
  check('group', ['cluster']);
  check('flowStream', ['cluster', 'node']);
  check('alertStream', ['cluster']);
  check('actionStream', ['cluster']);
  check('metricsStream', ['cluster']);
  return problems;
}

function render(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(placeholder, (whole, name: string) => values[name] ?? whole);
}

function fitLength(name: string, max: number): string {
  if (name.length <= max) return name;
  const digest = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, max - 9)}-${digest}`;
}

export function sanitizeGroupName(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9._\-/#]/g, '_');
  return fitLength(clean === '' ? '_' : clean, MAX_GROUP_NAME);
}

export function sanitizeStreamName(name: string): string {
  const clean = name.replace(/[:*]/g, '_');
  return fitLength(clean === '' ? '_' : clean, MAX_STREAM_NAME);
}

export function logGroupName(naming: LogNaming, cluster: string): string {
  return sanitizeGroupName(render(naming.group, { cluster }));
}

/** The stream of a record kind; `node` matters for flows only. */
export function logStreamName(naming: LogNaming, kind: StreamKind, cluster: string, node = ''): string {
  const template = { flow: naming.flowStream, alert: naming.alertStream, action: naming.actionStream, metrics: naming.metricsStream }[kind];
  return sanitizeStreamName(render(template, { cluster, node: node === '' ? '_' : node }));
}
