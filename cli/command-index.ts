/**
 * The commands as `flowsentry --help` lists them, each loaded only when it runs: a command's
 * module brings its client libraries (Kafka, OpenSearch, AWS, Kubernetes), and loading them all
 * for every invocation would cost seconds of start-up. `cli/commands.ts` holds the loaded list;
 * a test keeps the two in step.
 */
import type { CliCommand } from './command.js';

export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<CliCommand>;
}

export const commandIndex: readonly CommandEntry[] = [
  { name: 'run', summary: 'run the whole pipeline: the demo on embedded defaults, or the configured stages on Kafka', load: async () => (await import('./run-command.js')).runCommand },
  { name: 'collect', summary: 'read flows from a node or AWS source and publish RawFlow records to the bus', load: async () => (await import('./collect-command.js')).collectCommand },
  { name: 'enrich', summary: 'join flows with the Kubernetes identity of both ends at the flow time, on the bus', load: async () => (await import('./enrich-command.js')).enrichCommand },
  { name: 'inventory', summary: 'publish the Kubernetes inventory (list + watch) to the inventory topic, one leader at a time', load: async () => (await import('./inventory-command.js')).inventoryCommand },
  { name: 'detect', summary: 'flag threat-feed hits, scans, sweeps, lateral movement, denied spikes and exfiltration, on the bus', load: async () => (await import('./detect-command.js')).detectCommand },
  { name: 'respond', summary: 'notify on-call of alerts (signed webhooks, Slack, PagerDuty) and quarantine their pods, on the bus', load: async () => (await import('./respond-command.js')).respondCommand },
  { name: 'quarantine', summary: 'list the quarantines in place, or release one by hand', load: async () => (await import('./quarantine-command.js')).quarantineCommand },
  { name: 'sink', summary: 'write flows, alerts and actions to OpenSearch and CloudWatch Logs, from the bus', load: async () => (await import('./sink-command.js')).sinkCommand },
  { name: 'replay', summary: 'run ingest, enrich and (with --alerts-out) detection over flow and inventory files', load: async () => (await import('./replay-command.js')).replayCommand },
  { name: 'query', summary: 'forensic questions over stored flows (flows, timeline, top talkers, graph, who talked to), or serve them over HTTP', load: async () => (await import('./query-command.js')).queryCommand },
  { name: 'schemas', summary: 'check schema compatibility, list and release schema versions, decode messages', load: async () => (await import('./schemas-command.js')).schemasCommand },
  { name: 'config', summary: 'check the configuration file and FLOWSENTRY_* variables, or print the reference or an example', load: async () => (await import('./config-command.js')).configCommand },
];
