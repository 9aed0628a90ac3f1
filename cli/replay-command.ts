import { existsSync } from 'node:fs';
import { flowFileFormats, replayFiles, type FlowFileFormat } from '../enrich/replay.js';
import { optionProblems, parseOptions, type CliCommand } from './command.js';
import { enrichArgOptions, enrichCoreOptionsOf, enrichOptionsUsage } from './enrich-options.js';

const usage = `flowsentry replay --flows FILE... [--format auto|calico|calico-json|vpc|conntrack] [--inventory FILE...] --enriched-out FILE

Runs ingest and enrich over files in event time (backfill, retro-hunting, tests) and writes
EnrichedFlow records as JSON lines. Same input, same output.

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

example:
  flowsentry replay --flows node-a.flowlogs --inventory pods.json --inventory watch.jsonl --enriched-out enriched.jsonl`;

export const replayCommand: CliCommand = {
  name: 'replay',
  summary: 'run ingest and enrich over flow and inventory files, writing EnrichedFlow JSON lines',
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
      ...enrichArgOptions,
    });
    if (!values) return 2;
    if (!values.flows?.length) problems.push('--flows: give at least one flow file');
    if (!values['enriched-out']) problems.push('--enriched-out: missing');
    const format = (values.format ?? 'auto') as FlowFileFormat;
    if (!flowFileFormats.includes(format)) problems.push(`--format: '${values.format}' is not one of ${flowFileFormats.join(', ')}`);
    const core = enrichCoreOptionsOf(values, problems);
    for (const file of [...(values.flows ?? []), ...(values.inventory ?? [])]) {
      if (!existsSync(file)) problems.push(`${file}: no such file`);
    }
    if (problems.length > 0) {
      console.error(optionProblems('replay', problems));
      return 2;
    }
    const enrichedOut = values['enriched-out']!;
    const summary = await replayFiles({
      ...core,
      flows: values.flows!,
      format,
      inventory: values.inventory ?? [],
      enrichedOut,
      deadLetterOut: values['dead-letter-out'] ?? `${enrichedOut}.deadletter.jsonl`,
      ...(values.node ? { node: values.node } : {}),
    });
    console.error(
      `replay: ${summary.flowsIn} flows in, ${summary.recordsOut} enriched records out, ` +
        `${summary.inventoryEvents} inventory events (${summary.inventorySkipped} of other kinds skipped), ` +
        `${summary.deadLetters} dead letters, ${summary.unknownEnds} unknown ends, ${summary.conflicts} address conflicts`,
    );
    return 0;
  },
};
