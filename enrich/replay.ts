import type { WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { once } from 'node:events';
import { calicoJsonParser } from '../ingest/calico-json.js';
import { calicoTextParser } from '../ingest/calico-text.js';
import { ConntrackFileSource } from '../ingest/conntrack-file-source.js';
import { LineFileSource } from '../ingest/line-file-source.js';
import { deadLetterOfProblem } from '../ingest/problems.js';
import type { FlowSource, ParseProblem } from '../ingest/source.js';
import { VpcFileSource } from '../ingest/vpc-file-source.js';
import { toJson } from '../schemas/json.js';
import type { EnrichedFlow, InventoryEvent, RawFlow } from '../schemas/types.js';
import { EnrichCore, latestEnd, type EnrichCoreOptions } from './enrich-core.js';
import { readInventoryFiles } from './inventory-files.js';

export const flowFileFormats = ['auto', 'calico', 'calico-json', 'vpc', 'conntrack'] as const;
export type FlowFileFormat = (typeof flowFileFormats)[number];

export interface ReplayOptions extends EnrichCoreOptions {
  readonly flows: readonly string[];
  readonly format?: FlowFileFormat;
  readonly inventory?: readonly string[];
  /** EnrichedFlow, one JSON object per line. */
  readonly enrichedOut: string;
  /** Lines and objects that could not be read, as DeadLetter JSON lines. */
  readonly deadLetterOut: string;
  /** Node name for formats that do not carry one (Calico, conntrack); default: the file's name. */
  readonly node?: string;
  /**
   * Sees every run of enriched flows before aggregation (every address and port kept), in event
   * order, and is awaited: detection hooks in here.
   */
  readonly onEnriched?: (records: readonly EnrichedFlow[]) => Promise<void> | void;
  /** Sees every run of records as written to `enrichedOut` (after aggregation), and is awaited: outlets hook in here. */
  readonly onOutput?: (records: readonly EnrichedFlow[]) => Promise<void> | void;
}

export interface ReplaySummary {
  readonly flowsIn: number;
  readonly recordsOut: number;
  readonly inventoryEvents: number;
  readonly inventorySkipped: number;
  readonly deadLetters: number;
  readonly unknownEnds: number;
  readonly conflicts: number;
}

/** Replay keeps ended claims a day by default: backfills span hours, and memory is not the constraint offline. */
export const replayRetentionMs = 24 * 3_600_000;

/** The format of a flow file, from its name and first line. */
export async function detectFlowFormat(path: string): Promise<Exclude<FlowFileFormat, 'auto'>> {
  if (path.endsWith('.gz')) return 'vpc';
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
    const first = buffer.subarray(0, bytesRead).toString('utf8').split('\n').find((line) => line.trim() !== '') ?? '';
    if (first.trimStart().startsWith('{')) return 'calico-json';
    if (/^\s*\[\d+\.\d+\]/.test(first) || /^\s*(\[(NEW|UPDATE|DESTROY)\]\s+)?(ipv4|ipv6)\s+\d+\s/.test(first)) return 'conntrack';
    if (/^version\s/.test(first) || /^\d\s+\S+\s+eni-/.test(first) || /^\d\s/.test(first)) return 'vpc';
    return 'calico';
  } finally {
    await handle.close();
  }
}

const nodeOf = (path: string, node: string | undefined) => node ?? basename(path).replace(/\.[^.]*$/, '');

function sourceFor(path: string, format: Exclude<FlowFileFormat, 'auto'>, node: string | undefined): FlowSource {
  const host = nodeOf(path, node);
  switch (format) {
    case 'calico':
      return new LineFileSource({ path, parse: calicoTextParser({ host }), follow: false });
    case 'calico-json':
      return new LineFileSource({ path, parse: calicoJsonParser({ host }), follow: false });
    case 'vpc':
      return new VpcFileSource({ paths: [path], name: 'vpc-file' });
    case 'conntrack':
      return new ConntrackFileSource({ path, host });
  }
}

async function write(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function closeStream(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolveEnd, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolveEnd())));
}

/** Bounds the memory of one huge interval: it is enriched (and aggregated) in runs of this many flows. */
const maxRunFlows = 10_000;

const intervalOf = (flow: RawFlow) => `${flow.host}|${flow.start_time}|${flow.end_time}`;

/**
 * Ingest → enrich over files, in event time: the offline mode used for backfills and tests.
 * Inventory files are read first (a list is valid from the beginning of time, watch lines from
 * their `ts`); each run of flows of one node interval is enriched once the inventory is applied
 * up to its end plus the grace, so a pod seen a little after its first flows still counts.
 * Same input, same output.
 */
export async function replayFiles(options: ReplayOptions): Promise<ReplaySummary> {
  const core = new EnrichCore({ retentionMs: replayRetentionMs, ...options });
  const inventory = await readInventoryFiles(options.inventory ?? []);
  // Opened before anything is written, so a path that cannot be written fails here, with its name.
  const enrichedOut = (await open(options.enrichedOut, 'w')).createWriteStream();
  const deadLetterOut = (await open(options.deadLetterOut, 'w')).createWriteStream();
  let flowsIn = 0;
  let recordsOut = 0;
  let deadLetters = 0;
  let nextEvent = 0;
  const events: readonly InventoryEvent[] = inventory.events;
  const writeProblems = async (problems: readonly ParseProblem[], stage?: string, recordType?: string) => {
    for (const problem of problems) {
      await write(deadLetterOut, `${JSON.stringify(toJson('DeadLetter', deadLetterOfProblem(problem, 0, stage, recordType)))}\n`);
      deadLetters++;
    }
  };
  const enrichRun = async (flows: readonly RawFlow[]) => {
    if (flows.length === 0) return;
    const until = latestEnd(flows) + core.graceMs;
    while (nextEvent < events.length && events[nextEvent]!.observed_time <= until) core.applyInventory(events[nextEvent++]!);
    const detailed = core.enrichEach(flows);
    await options.onEnriched?.(detailed);
    const records = core.aggregate(detailed);
    recordsOut += records.length;
    await write(enrichedOut, records.map((record) => `${JSON.stringify(toJson('EnrichedFlow', record))}\n`).join(''));
    await options.onOutput?.(records);
  };
  try {
    await writeProblems(inventory.problems, 'enrich', 'InventoryEvent');
    for (const path of options.flows) {
      const format = !options.format || options.format === 'auto' ? await detectFlowFormat(path) : options.format;
      const source = sourceFor(path, format, options.node);
      // Consecutive flows of one node interval are enriched together (they aggregate together);
      // a run is enriched when the next interval begins, it reaches maxRunFlows, or the file ends.
      let run: RawFlow[] = [];
      let runInterval = '';
      try {
        for await (const batch of source.batches()) {
          await writeProblems(batch.problems);
          flowsIn += batch.flows.length;
          for (const flow of batch.flows) {
            const interval = intervalOf(flow);
            if ((interval !== runInterval || run.length >= maxRunFlows) && run.length > 0) {
              await enrichRun(run);
              run = [];
            }
            runInterval = interval;
            run.push(flow);
          }
        }
        await enrichRun(run);
      } finally {
        await source.close();
      }
    }
  } finally {
    await closeStream(enrichedOut);
    await closeStream(deadLetterOut);
  }
  const stats = core.stats;
  return {
    flowsIn,
    recordsOut,
    inventoryEvents: events.length,
    inventorySkipped: inventory.skipped,
    deadLetters,
    unknownEnds: stats.ends.unknown,
    conflicts: stats.table.conflicts,
  };
}
