import { readFile } from 'node:fs/promises';
import type { ParseProblem } from '../ingest/source.js';
import type { InventoryEvent } from '../schemas/types.js';
import { inventoryEventOf, listObservedTime } from './kubernetes-objects.js';

/** Inventory read from files, with what could not be read and what was skipped. */
export interface InventoryFile {
  readonly events: InventoryEvent[];
  readonly problems: ParseProblem[];
  /** Objects of kinds the identity table does not use. */
  readonly skipped: number;
}


const problem = (source: string, line: number, reason: string, message: string, original: string): ParseProblem => ({
  location: { source, line },
  reason,
  message: `${source}:${line}: ${message}`,
  original: Buffer.from(original),
});

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

function readList(source: string, list: Record<string, unknown>): InventoryFile {
  const events: InventoryEvent[] = [];
  const problems: ParseProblem[] = [];
  let skipped = 0;
  const listKind = typeof list['kind'] === 'string' ? list['kind'] : '';
  const kindHint = listKind.endsWith('List') && listKind !== 'List' ? listKind.slice(0, -'List'.length) : undefined;
  const items = Array.isArray(list['items']) ? list['items'] : [];
  items.forEach((item, index) => {
    try {
      const event = inventoryEventOf('ADDED', item, listObservedTime, kindHint);
      if (event) events.push(event);
      else skipped++;
    } catch (error) {
      problems.push(problem(source, 1, 'ENRICH_BAD_OBJECT', `items[${index}]: ${messageOf(error)}`, JSON.stringify(item)));
    }
  });
  return { events, problems, skipped };
}

/** One watch event per line: `{"ts": "<RFC3339>", "type": "ADDED"|"MODIFIED"|"DELETED", "object": {…}}`. */
function readWatchLines(source: string, text: string): InventoryFile {
  const events: InventoryEvent[] = [];
  const problems: ParseProblem[] = [];
  let skipped = 0;
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const lineNumber = index + 1;
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      problems.push(problem(source, lineNumber, 'ENRICH_BAD_LINE', `not JSON: ${messageOf(error)}`, line));
      return;
    }
    const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
    const time = typeof record['ts'] === 'string' ? Date.parse(record['ts']) : Number.NaN;
    if (!Number.isFinite(time)) {
      problems.push(problem(source, lineNumber, 'ENRICH_BAD_TIME', `ts: expected an RFC 3339 time, found ${JSON.stringify(record['ts'])}`, line));
      return;
    }
    if (record['type'] === 'BOOKMARK') {
      // A watch bookmark carries only a resourceVersion: nothing for the table.
      skipped++;
      return;
    }
    try {
      const event = inventoryEventOf(String(record['type']), record['object'], time);
      if (event) events.push(event);
      else skipped++;
    } catch (error) {
      problems.push(problem(source, lineNumber, 'ENRICH_BAD_OBJECT', messageOf(error), line));
    }
  });
  return { events, problems, skipped };
}

/** Parses inventory text: a Kubernetes list (`{"kind": "…List", "items": […]}`) or recorded watch events, one per line. */
export function parseInventory(source: string, text: string): InventoryFile {
  if (text.trimStart().startsWith('{')) {
    try {
      const whole: unknown = JSON.parse(text);
      if (typeof whole === 'object' && whole !== null && Array.isArray((whole as Record<string, unknown>)['items'])) {
        return readList(source, whole as Record<string, unknown>);
      }
      if (typeof whole === 'object' && whole !== null && 'metadata' in whole && 'kind' in whole) {
        // One object (`kubectl get pod x -o json`): a list of one.
        return readList(source, { items: [whole] });
      }
    } catch {
      // not one JSON document: read it as watch lines
    }
  }
  return readWatchLines(source, text);
}

/** Reads inventory files; events of all files in observed-time order (stable for equal times). */
export async function readInventoryFiles(paths: readonly string[]): Promise<InventoryFile> {
  const events: InventoryEvent[] = [];
  const problems: ParseProblem[] = [];
  let skipped = 0;
  for (const path of paths) {
    const file = parseInventory(path, await readFile(path, 'utf8'));
    events.push(...file.events);
    problems.push(...file.problems);
    skipped += file.skipped;
  }
  events.sort((a, b) => a.observed_time - b.observed_time);
  return { events, problems, skipped };
}
