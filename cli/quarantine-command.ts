import { userInfo } from 'node:os';
import { QuarantineResponder, emptyResponsePolicy, QuarantineApiError, type ActiveQuarantine } from '../detect/quarantine/index.js';
import { createBus } from '../runtime/bus/select.js';
import { endpointsFromEnv } from '../runtime/endpoints.js';
import { kubeConfigFromEnv, KubernetesConfigError } from '../runtime/kubernetes/kube-config.js';
import { topics } from '../runtime/topics.js';
import { codecFor } from '../schemas/codec.js';
import type { ResponseAction } from '../schemas/types.js';
import { optionProblems, parseOptions, type CliCommand } from './command.js';

const usage = `flowsentry quarantine <list|release> [options]

The quarantines in place (pods carrying the label quarantine.flowsentry.io/id), and lifting one
by hand. The cluster is the record: what this shows is what every responder sees.
  list                     every quarantine: id, namespace/pod, backend, alert, applied, expires
  release <id>             lifts one: removes the label and annotations, puts back the labels the
                           networkpolicy backend took away, and prints the undo action (JSON)
Needs a Kubernetes API server: KUBERNETES_URL and KUBERNETES_TOKEN (and KUBERNETES_CA_FILE), the
pod's ServiceAccount when run in a pod, or KUBECONFIG. With KAFKA_BROKERS, a release's undo action
is also written to flowsentry.actions.v1, so the sink keeps it with every other action.

options:
  --namespace NS           only quarantines in this namespace (repeatable; default: all)
  --format FORMAT          list: table (default) or jsonl
  --by NAME                release: who lifts it, for the audit (default cli:<user>)

examples:
  flowsentry quarantine list --namespace payments
  flowsentry quarantine release q-3f9a0c2d41b7e85a90c1d2e3 --by alice`;

/**
 * A release by hand is audited like any other action: with KAFKA_BROKERS set it goes to the
 * actions topic (and from there to OpenSearch, CloudWatch and the notify routes' sink); without,
 * the printed JSON line is the only record, and a warning says so.
 */
async function auditActions(actions: readonly ResponseAction[]): Promise<void> {
  const endpoints = endpointsFromEnv();
  if (!endpoints.kafkaBrokers) {
    console.error('flowsentry quarantine release: KAFKA_BROKERS is not set, so the undo action is printed only, not written to the actions topic');
    return;
  }
  const bus = createBus(endpoints, { kind: 'kafka', clientId: 'flowsentry-quarantine' });
  try {
    const codec = codecFor('ResponseAction');
    await bus.producer().send(topics.actions, actions.map((action) => ({ key: action.action_id, value: codec.encode(action) })));
  } finally {
    await bus.close();
  }
}

const subcommands = ['list', 'release'] as const;
type Subcommand = (typeof subcommands)[number];

const time = (value: number | undefined) => (value === undefined ? '-' : new Date(value).toISOString().replace(/\.\d{3}Z$/, 'Z'));

/** The quarantines as an aligned table, a header first. */
export function quarantineTable(quarantines: readonly ActiveQuarantine[]): string {
  const rows = [
    ['ID', 'POD', 'BACKEND', 'ALERT', 'APPLIED', 'EXPIRES'],
    ...quarantines.map((q) => [q.id, `${q.namespace}/${q.pod}`, q.backend, q.alertId ?? '-', time(q.appliedAt), time(q.expiresAt)]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n') + '\n';
}

function defaultActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

export const quarantineCommand: CliCommand = {
  name: 'quarantine',
  summary: 'list the quarantines in place, or release one by hand',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    if (!subcommands.includes(sub as Subcommand)) {
      console.error(`flowsentry quarantine: ${sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub}'`}: one of ${subcommands.join(', ')}\n\n${usage}`);
      return 2;
    }
    const id = sub === 'release' && rest[0] !== undefined && !rest[0].startsWith('-') ? rest.shift() : undefined;
    const values = parseOptions(`quarantine ${sub}`, usage, rest, { namespace: { type: 'string', multiple: true }, format: { type: 'string' }, by: { type: 'string' } });
    if (!values) return 2;
    const problems: string[] = [];
    const format = values.format ?? 'table';
    if (sub === 'list' && format !== 'table' && format !== 'jsonl') problems.push(`--format: '${format}' is not one of table, jsonl`);
    if (sub !== 'list' && values.format !== undefined) problems.push('--format: only for list');
    if (sub !== 'release' && values.by !== undefined) problems.push('--by: only for release');
    if (sub === 'release' && id === undefined) problems.push('release: missing the quarantine id (see flowsentry quarantine list)');
    let responder: QuarantineResponder | undefined;
    try {
      const namespaces = values.namespace;
      responder = new QuarantineResponder({ kubeConfig: kubeConfigFromEnv(), policy: emptyResponsePolicy, ...(namespaces ? { namespaces } : {}) });
    } catch (error) {
      if (!(error instanceof KubernetesConfigError)) throw error;
      problems.push(error.message);
    }
    if (problems.length > 0 || !responder) {
      console.error(optionProblems(`quarantine ${sub}`, problems));
      return 2;
    }
    try {
      if (sub === 'list') {
        const quarantines = await responder.list();
        process.stdout.write(format === 'jsonl' ? quarantines.map((q) => `${JSON.stringify(q)}\n`).join('') : quarantineTable(quarantines));
        return 0;
      }
      const actions = await responder.release(id!, values.by ?? defaultActor());
      if (actions.length === 0) {
        console.error(`flowsentry quarantine release: no quarantine ${id} in place${values.namespace ? ` in ${values.namespace.join(', ')}` : ''}`);
        return 1;
      }
      for (const action of actions) process.stdout.write(`${JSON.stringify(action)}\n`);
      await auditActions(actions);
      return actions.every((action) => action.status !== 'failed') ? 0 : 1;
    } catch (error) {
      if (error instanceof QuarantineApiError) {
        console.error(`flowsentry quarantine ${sub}: ${error.code}: ${error.message}`);
        return 1;
      }
      throw error;
    }
  },
};
