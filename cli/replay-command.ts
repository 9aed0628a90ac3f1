import { existsSync } from 'node:fs';
import { replayWithDetection } from '../detect/detect-replay.js';
import { flowFileFormats, replayFiles, type FlowFileFormat, type ReplaySummary } from '../enrich/replay.js';
import type { EnrichedFlow } from '../schemas/types.js';
import { optionProblems, parseOptions, type CliCommand } from './command.js';
import { detectArgOptions, detectOptionsOf, detectOptionsUsage } from './detect-options.js';
import { enrichArgOptions, enrichCoreOptionsOf, enrichOptionsUsage } from './enrich-options.js';
import { loadFeedsOnce } from './feed-options.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { ReplayOutputs } from '../sink/replay-outputs.js';
import { outletOptionSpecs, outletsFromOptions, outletUsage } from './outlet-options.js';

const usage = `flowsentry replay --flows FILE... [--format auto|calico|calico-json|vpc|conntrack] [--inventory FILE...] --enriched-out FILE
                  [--alerts-out FILE [--feed FILE|URL...] [--learn DURATION] [detection options]]
                  [--calico-out FILE] [--opensearch URL] [--cloudwatch CLUSTER] [outlet options]

Runs ingest and enrich over files in event time (backfill, retro-hunting, tests) and writes
EnrichedFlow records as JSON lines; with --alerts-out, also detection: the first --learn of event
time only trains baselines, and alerts (every revision) are written as Alert JSON lines. Same
input, same output. The enriched flows (and alerts) can also go where the sink stage writes them:
a Calico flow-log file, OpenSearch, CloudWatch Logs.

options:
  --flows FILE             flow file (repeatable): Calico text or JSON, VPC Flow Logs (plain or
                           gzip), or 'conntrack -E -o timestamp' output
  --format F               format of the flow files (default auto: from each file's first line)
  --inventory FILE         Kubernetes inventory (repeatable): recorded watch events, one JSON object
                           per line ({"ts", "type", "object"}), or a 'kubectl get -A -o json' list
  --enriched-out FILE      where the EnrichedFlow JSON lines go
  --dead-letter-out FILE   where lines that could not be read go, as DeadLetter JSON lines
                           (default: the enriched file's name + .deadletter.jsonl)
  --node NAME              node name for Calico and conntrack files (default: each file's name)
${enrichOptionsUsage}

detection (with --alerts-out):
  --alerts-out FILE        where alerts go, one Alert JSON object per line
  --feed FILE|URL          a threat feed (repeatable): addresses and CIDRs, plain text or CSV
${detectOptionsUsage}

outputs (besides --enriched-out and --alerts-out):
  --calico-out FILE        the enriched flows as Calico flow-log lines, as the CloudWatch sink writes them
  --rejected-out FILE      records an outlet refused, as DeadLetter JSON lines
                           (default: the enriched file's name + .rejected.jsonl)
${outletUsage}

examples:
  flowsentry replay --flows node-a.flowlogs --inventory pods.json --inventory watch.jsonl --enriched-out enriched.jsonl
  flowsentry replay --flows vpc.log.gz --inventory watch.jsonl --enriched-out enriched.jsonl \\
    --feed blocklist.txt --learn 30m --alerts-out alerts.jsonl
  flowsentry replay --flows node-a.flowlogs --enriched-out enriched.jsonl --calico-out node-a.calico \
    --opensearch http://localhost:9200 --cloudwatch prod`;

export const replayCommand: CliCommand = {
  name: 'replay',
  summary: 'run ingest, enrich and (with --alerts-out) detection over flow and inventory files',
  usage,
  async run(args) {
    const problems: string[] = [];
    const values = parseOptions('replay', usage, args, {
      flows: { type: 'string', multiple: true },
      format: { type: 'string' },
      inventory: { type: 'string', multiple: true },
      'enriched-out': { type: 'string' },
      'dead-letter-out': { type: 'string' },
      node: { type: 'string' },
      'alerts-out': { type: 'string' },
      feed: { type: 'string', multiple: true },
      'calico-out': { type: 'string' },
      'rejected-out': { type: 'string' },
      ...outletOptionSpecs,
      ...enrichArgOptions,
      ...detectArgOptions,
    });
    if (!values) return 2;
    if (!values.flows?.length) problems.push('--flows: give at least one flow file');
    if (!values['enriched-out']) problems.push('--enriched-out: missing');
    const format = (values.format ?? 'auto') as FlowFileFormat;
    if (!flowFileFormats.includes(format)) problems.push(`--format: '${values.format}' is not one of ${flowFileFormats.join(', ')}`);
    const core = enrichCoreOptionsOf(values, problems);
    const detect = detectOptionsOf(values, problems);
    const alertsOut = values['alerts-out'];
    const detectionOnly = Object.keys(detectArgOptions).filter((name) => values[name as keyof typeof detectArgOptions] !== undefined);
    if (!alertsOut) for (const name of [...detectionOnly, ...(values.feed ? ['feed'] : [])]) problems.push(`--${name}: detection options need --alerts-out`);
    for (const file of [...(values.flows ?? []), ...(values.inventory ?? [])]) {
      if (!existsSync(file)) problems.push(`${file}: no such file`);
    }
    const outlets = outletsFromOptions(values, problems, new MetricsRegistry(), false);
    if (problems.length > 0) {
      console.error(optionProblems('replay', problems));
      await Promise.all(outlets.outlets.map((outlet) => outlet.close()));
      return 2;
    }
    const enrichedOut = values['enriched-out']!;
    const replay = {
      ...core,
      flows: values.flows!,
      format,
      inventory: values.inventory ?? [],
      enrichedOut,
      deadLetterOut: values['dead-letter-out'] ?? `${enrichedOut}.deadletter.jsonl`,
      ...(values.node ? { node: values.node } : {}),
    };
    const feeds = alertsOut ? await loadFeedsOnce(values.feed ?? []) : undefined;
    if (feeds && feeds.problems.length > 0) {
      console.error(optionProblems('replay', feeds.problems));
      await Promise.all(outlets.outlets.map((outlet) => outlet.close()));
      return 2;
    }
    await outlets.start();
    const outputs = new ReplayOutputs({
      outlets: outlets.outlets,
      ...(values['calico-out'] ? { calicoOut: values['calico-out'] } : {}),
      rejectedOut: values['rejected-out'] ?? `${enrichedOut}.rejected.jsonl`,
    });
    try {
      const onOutput = (records: readonly EnrichedFlow[]) => outputs.flows(records);
      if (!alertsOut) {
        report(await replayFiles({ ...replay, onOutput }));
        return 0;
      }
      const summary = await replayWithDetection({
        ...replay,
        onOutput,
        onAlerts: (alerts) => outputs.alerts(alerts),
        detect,
        ...(feeds?.index ? { feeds: feeds.index } : {}),
        alertsOut,
      });
      report(summary);
      const opened = Object.entries(summary.detection.alerts).filter(([, count]) => count > 0);
      console.error(
        `detect: ${summary.alertRecords} alert records (${opened.map(([name, count]) => `${count} ${name}`).join(', ') || 'no alerts'}), ` +
          `${summary.detection.late} late flows${summary.detection.learning ? ', still learning at the end' : ''}`,
      );
      return 0;
    } finally {
      await outputs.close();
      if (outlets.outlets.length > 0) console.error(`sink: ${outputs.summary()}`);
    }
  },
};

function report(summary: ReplaySummary): void {
  console.error(
    `replay: ${summary.flowsIn} flows in, ${summary.recordsOut} enriched records out, ` +
      `${summary.inventoryEvents} inventory events (${summary.inventorySkipped} of other kinds skipped), ` +
      `${summary.deadLetters} dead letters, ${summary.unknownEnds} unknown ends, ${summary.conflicts} address conflicts`,
  );
}
