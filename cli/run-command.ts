import { networkInterfaces } from 'node:os';
import { relative } from 'node:path';
import { endpointsFromEnv } from '../runtime/endpoints.js';
import { logger } from '../runtime/log.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { exitCodes } from '../runtime/ops/exit-codes.js';
import { opsServer, OpsServerError, opsServerSettings } from '../runtime/ops/ops-server.js';
import { embeddedStorePath } from '../sink/query/store-from-env.js';
import { optionProblems, parseOptions, type CliCommand } from './command.js';
import { detectArgOptions, detectOptionsOf, detectOptionsUsage } from './detect-options.js';
import { feedOptionUsage, loadFeedsOnce } from './feed-options.js';
import { runDemo, StoreOpenError } from './run/demo.js';

/** The stages `flowsentry run` can start on Kafka. */
export const stageNames = ['collect', 'enrich', 'detect', 'respond', 'sink', 'inventory'] as const;
export type StageName = (typeof stageNames)[number];

const usage = `flowsentry run [options]

Runs the whole pipeline. With no broker configured (neither KAFKA_BROKERS nor kafka.brokers in
the config file), every stage — collect, enrich, detect, respond, sink — runs in this process on
the in-process bus, and flows, alerts and actions go to the embedded store (SQLite, one file),
which 'flowsentry query' reads.

  --source demo (default)   a demo cluster (the stars demo of the Calico docs, kube-dns, Prometheus,
                            PostgreSQL) and an attack on it: a port scan, an address sweep, SSH to
                            the database, a known-bad address. Shows progress, then a summary with
                            the alerts, the quarantine a dry run would apply, and the next query to
                            ask; it finishes on its own in under a minute
  --source conntrack        this machine's connection table (root), until SIGTERM or SIGINT
  --source calico-file|vpc-file --file F   flow logs from files

With Kafka configured, it starts the stages named by --stages (or run.stages in the config file)
in this process, each exactly as 'flowsentry <stage>' would run it, with its options from the
config file's section of the same name; SIGTERM drains them all.

options:
  --source S               demo (default), conntrack, calico-file, vpc-file
  --follow                 demo: keep the cluster's traffic flowing in real time after the attack;
                           calico-file: keep reading as the file grows
  --store PATH             the embedded store (default $FLOWSENTRY_STORE_PATH or .flowsentry/store.db)
  --speed MS               demo: milliseconds of wall time per minute of the demo's event time (default 1000)
  --file PATH              calico-file, vpc-file: the input (repeatable)
  --local ADDR             conntrack: an address or CIDR of this machine (repeatable; default its interfaces' addresses)
  --interval SECONDS       conntrack: poll interval (default 10)
  --enable-accounting      conntrack: turn on nf_conntrack_acct (byte and packet counts) instead of failing when it is off
  --node NAME              the node name flows are reported from (default the host name)
${feedOptionUsage}
${detectOptionsUsage}
  --stages LIST            with Kafka: the stages to start, comma-separated, of ${stageNames.join(', ')}

exit codes: 0 finished (or stopped by SIGTERM/SIGINT after draining), 1 unexpected error, 2 bad options,
3 the source or a stage failed while running (see 'flowsentry --help')

examples:
  flowsentry run                                   # the demo, about 30 s
  flowsentry run --follow                          # the demo, then live traffic until Ctrl-C
  sudo flowsentry run --source conntrack --feed blocklist=https://www.spamhaus.org/drop/drop.txt
  KAFKA_BROKERS=kafka:9092 OPENSEARCH_URL=https://search:9200 flowsentry run --stages enrich,detect,sink`;

/** This machine's own addresses, as conntrack's `--local` (loopback left out). */
function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((addresses) => addresses ?? [])
    .filter((address) => !address.internal)
    .map((address) => address.address.split('%')[0]!);
}

/** How a person at this directory invokes the CLI, for the commands the summary suggests. */
function selfCommand(): string {
  const script = process.argv[1] ?? '';
  if (/bin[\\/]flowsentry\.js$/.test(script)) return `node ${relative(process.cwd(), script) || script}`;
  if (/cli[\\/]main\.ts$/.test(script)) return 'node bin/flowsentry.js';
  return 'flowsentry';
}

const detectOptionNames = Object.keys(detectArgOptions) as (keyof typeof detectArgOptions)[];

const options = {
  source: { type: 'string' },
  follow: { type: 'boolean' },
  store: { type: 'string' },
  speed: { type: 'string' },
  file: { type: 'string', multiple: true },
  local: { type: 'string', multiple: true },
  interval: { type: 'string' },
  'enable-accounting': { type: 'boolean' },
  node: { type: 'string' },
  feed: { type: 'string', multiple: true },
  stages: { type: 'string' },
  ...detectArgOptions,
} as const;

export const runCommand: CliCommand = {
  name: 'run',
  summary: 'run the whole pipeline: the demo on embedded defaults, or the configured stages on Kafka',
  usage,
  async run(args) {
    const values = parseOptions('run', usage, args, options);
    if (!values) return 2;
    const problems: string[] = [];
    const endpoints = endpointsFromEnv();
    if (endpoints.kafkaBrokers) {
      for (const name of Object.keys(values)) {
        if (name !== 'stages') problems.push(`--${name}: not used on Kafka, where run starts the stages the config names (each takes its options from its own section); unset KAFKA_BROKERS for the in-process pipeline`);
      }
      const stages = (values.stages ?? 'enrich,detect,sink').split(',').map((name) => name.trim()).filter((name) => name !== '');
      const unknown = stages.filter((name) => !(stageNames as readonly string[]).includes(name));
      if (unknown.length > 0 || stages.length === 0) problems.push(`--stages: '${values.stages}' is not a list of ${stageNames.join(', ')}`);
      if (problems.length > 0) {
        console.error(optionProblems('run', problems));
        return 2;
      }
      // Loaded only here: the stage commands bring every client library with them.
      const { runStages } = await import('./run/stage-set.js');
      return runStages(stages as StageName[]);
    }
    opsServerSettings(process.env, problems);
    if (values.stages !== undefined) problems.push('--stages: needs Kafka (KAFKA_BROKERS or kafka.brokers in the config file); without it every stage runs here');
    const source = values.source ?? 'demo';
    const speed = Number(values.speed ?? 1_000);
    if (!Number.isFinite(speed) || speed < 10) problems.push(`--speed: '${values.speed}' is not a number of milliseconds ≥ 10`);
    const detect = detectOptionsOf(values, problems);
    let live: Parameters<typeof runDemo>[0]['live'];
    if (source !== 'demo') {
      const collectArgs = ['--source', source, '--bus', 'stdout'];
      for (const file of values.file ?? []) collectArgs.push('--file', file);
      for (const local of values.local ?? (source === 'conntrack' ? localAddresses() : [])) collectArgs.push('--local', local);
      if (values.interval) collectArgs.push('--interval', values.interval);
      if (values['enable-accounting']) collectArgs.push('--enable-accounting');
      if (values.node) collectArgs.push('--node', values.node);
      if (values.follow) collectArgs.push('--follow');
      const { CollectConfigError, planCollect } = await import('./collect-command.js');
      try {
        const plan = planCollect(collectArgs, process.env, { configSection: false });
        const feeds = await loadFeedsOnce(values.feed ?? []);
        problems.push(...feeds.problems);
        const { sourceTypes } = await import('../ingest/source-registry.js');
        if (problems.length === 0) live = { source: sourceTypes[source]!.create(plan.settings), node: plan.settings.node, detect, ...(feeds.index ? { feeds: feeds.index } : {}) };
      } catch (error) {
        if (!(error instanceof CollectConfigError)) throw error;
        problems.push(...error.problems);
      }
    } else {
      for (const name of ['file', 'local', 'interval', 'enable-accounting', 'feed', 'node', ...detectOptionNames] as const) {
        if (values[name] !== undefined) problems.push(`--${name}: not used by the demo, whose cluster and detection are fixed (give --source for your own flows)`);
      }
    }
    if (problems.length > 0) {
      console.error(optionProblems('run', problems));
      return 2;
    }
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolveStop) => (stop = resolveStop));
    process.once('SIGTERM', stop).once('SIGINT', stop);
    // /metrics, /healthz and /readyz as for every stage; on a machine where the port is taken the
    // demo still runs (a person trying it out should not have to free a port first).
    const metrics = new MetricsRegistry();
    const state = { ready: false };
    const server = opsServer();
    const unregister = server.register({ name: 'run', metrics, ready: () => state.ready });
    try {
      await server.listen(opsServerSettings());
    } catch (error) {
      if (!(error instanceof OpsServerError)) throw error;
      logger('run').warn(`${error.message}: /metrics, /healthz and /readyz are not served`, { code: error.code });
    }
    void stopped.then(() => (state.ready = false));
    let code: number = exitCodes.ok;
    try {
      const result = await runDemo({
        storePath: values.store ?? embeddedStorePath(process.env),
        metrics,
        onStarted: () => (state.ready = true),
        follow: values.follow === true && source === 'demo',
        stop: stopped,
        out: process.stdout,
        msPerMinute: speed,
        command: selfCommand(),
        ...(live ? { live } : {}),
      }).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof StoreOpenError) {
          console.error(optionProblems('run', [message]));
          code = exitCodes.usage;
          return undefined;
        }
        // The source or a stage failed for good (conntrack unreadable, accounting off, a store refusing every write).
        const hint = /accounting is off/.test(message) ? ' (flowsentry run --enable-accounting turns it on)' : '';
        logger('run').error(`the pipeline stopped: ${message}${hint}`, { error, exit_code: exitCodes.stageFailed });
        code = exitCodes.stageFailed;
        return undefined;
      });
      if (result && result.unfinished > 0) {
        logger('run').error(`${result.unfinished} bus messages were not processed before the stop`, { unfinished: result.unfinished, exit_code: exitCodes.stageFailed });
        code = exitCodes.stageFailed;
      }
    } finally {
      process.off('SIGTERM', stop).off('SIGINT', stop);
      unregister();
      await server.close();
    }
    return code;
  },
};
