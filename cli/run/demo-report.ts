/**
 * What `flowsentry run` shows a person: a progress line while the pipeline runs and the summary
 * at the end. Pure: facts in, text out.
 */
import type { Alert, ResponseAction } from '../../schemas/types.js';

export interface ProgressFacts {
  readonly seconds: number;
  readonly flows: number;
  /** Flows per second over the last interval. */
  readonly rate: number;
  readonly stored: number;
  readonly alerts: number;
  /** What the traffic is doing now ("learning", "attack: port scan", ...). */
  readonly phase: string;
}

const count = (value: number) => Math.round(value).toLocaleString('en-US');

export function progressLine(facts: ProgressFacts): string {
  return `  ${facts.seconds.toFixed(1).padStart(5)} s  flows ${count(facts.flows).padStart(7)} (${count(facts.rate).padStart(6)}/s)  stored ${count(facts.stored).padStart(7)}  alerts ${String(facts.alerts).padStart(2)}  ${facts.phase}`;
}

export interface DryRunPlan {
  readonly action: ResponseAction;
  /** The exact API requests the quarantine would send, as JSON text. */
  readonly requests: string;
}

export interface SummaryFacts {
  /** `flowsentry demo`, `flowsentry run (conntrack)`, ... */
  readonly title: string;
  /** Says what the response stage was set up to do; no response section without it. */
  readonly responseNote?: string;
  readonly seconds: number;
  readonly flowsCollected: number;
  readonly stored: { readonly flows: number; readonly alerts: number; readonly actions: number };
  readonly deadLetters: number;
  /** Bus messages no stage had processed at the stop. */
  readonly unfinished?: number;
  /** Every alert revision seen; the summary lists each alert once, as last revised. */
  readonly alerts: readonly Alert[];
  readonly actions: readonly ResponseAction[];
  readonly plans: readonly DryRunPlan[];
  readonly storePath: string;
  /** The commands a person would type next, each already known to answer. */
  readonly nextCommands: readonly string[];
}

const party = (namespace: string | null | undefined, name: string | null | undefined, ip: string | null | undefined) =>
  namespace && name ? `${namespace}/${name}` : (name ?? ip ?? '?');

/** One line per alert (its latest revision), in the order they were raised. */
export function alertLines(alerts: readonly Alert[]): string[] {
  const latest = new Map<string, Alert>();
  for (const alert of alerts) {
    const known = latest.get(alert.alert_id);
    if (!known || (alert.revision ?? 0) >= (known.revision ?? 0)) latest.set(alert.alert_id, alert);
  }
  return [...latest.values()]
    .sort((a, b) => a.start_time - b.start_time || a.alert_id.localeCompare(b.alert_id))
    .map((alert) => {
      const subject = party(alert.source_namespace, alert.source_name, alert.source_ip);
      return `  ${alert.severity.padEnd(8)} ${alert.detector.padEnd(16)} ${subject}  →  ${alert.summary}`;
    });
}

/** One line per kind of decision on a pod, with how many alerts led to it. */
export function actionLines(actions: readonly ResponseAction[]): string[] {
  const groups = new Map<string, { action: ResponseAction; alerts: number }>();
  for (const action of actions) {
    const key = [action.status, action.dry_run, action.kind, action.target.namespace, action.target.name].join('|');
    const group = groups.get(key);
    if (group) group.alerts++;
    else groups.set(key, { action, alerts: 1 });
  }
  return [...groups.values()].map(({ action, alerts }) => {
    const target = `${action.target.namespace ?? '?'}/${action.target.name}`;
    const reason = action.reason ? ` — ${action.reason.replace(/ until [^\s;]+/, '')}` : '';
    return `  ${action.status}${action.dry_run ? ' (dry run)' : ''}: ${action.kind} of pod ${target}, for ${alerts} alert revision${alerts === 1 ? '' : 's'}${reason}`;
  });
}

export function summaryText(facts: SummaryFacts): string {
  const lines = [
    '',
    `${facts.title}: done in ${facts.seconds.toFixed(1)} s`,
    `  flows collected ${count(facts.flowsCollected)}${facts.deadLetters > 0 ? `; ${count(facts.deadLetters)} records dead-lettered (unreadable input, refused records)` : ''}`,
    `  the store now holds ${count(facts.stored.flows)} flows, ${count(facts.stored.alerts)} alerts and ${count(facts.stored.actions)} actions (${facts.storePath})`,
    ...((facts.unfinished ?? 0) > 0 ? [`  ${count(facts.unfinished!)} bus messages were not processed before the stop: their flows are not in the store`] : []),
    '',
    `alerts raised (${new Set(facts.alerts.map((alert) => alert.alert_id)).size}):`,
    ...(facts.alerts.length > 0 ? alertLines(facts.alerts) : ['  none']),
  ];
  if (facts.responseNote !== undefined) lines.push('', `response (${facts.responseNote}):`, ...(facts.actions.length > 0 ? actionLines(facts.actions) : ['  none']));
  const plan = facts.plans[0];
  if (plan) {
    lines.push('', `the quarantine that would be applied to ${plan.action.target.namespace}/${plan.action.target.name} (the exact API requests):`);
    lines.push(...plan.requests.split('\n').map((line) => `  ${line}`));
  }
  lines.push('', 'next: ask the store what happened', ...facts.nextCommands.map((command) => `  ${command}`), '');
  return lines.join('\n');
}
