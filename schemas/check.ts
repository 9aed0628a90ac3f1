/**
 * `flowsentry schemas check`: for every schema, the current version must read each released
 * version (BACKWARD_TRANSITIVE), each golden payload must decode with the current reader, and
 * the live file must be released.
 */
import { checkBackwardTransitive } from './compatibility.js';
import { fingerprintHex } from './fingerprint.js';
import { goldenProblems } from './golden.js';
import type { SchemaEntry, SchemaRegistry } from './registry.js';

export interface CheckLine {
  readonly ok: boolean;
  readonly text: string;
}

function safely(run: () => string[]): string[] {
  try {
    return run();
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
}

function checkEntry(registry: SchemaRegistry, entry: SchemaEntry): CheckLine[] {
  const current = entry.current;
  const lines = checkBackwardTransitive(entry).map(({ version, problems }): CheckLine => {
    const released = entry.history[version - 1];
    const all =
      problems.length > 0
        ? problems.map((problem) => `current v${current.version} cannot read v${version} data: ${problem}`)
        : safely(() => (released ? goldenProblems(registry, released) : []));
    return all.length === 0
      ? { ok: true, text: `ok    ${entry.name} v${version}: read by current v${current.version}, golden payload decodes` }
      : { ok: false, text: `FAIL  ${entry.name} v${version}: ${all.join('; ')}` };
  });
  if (current.released) {
    lines.push({ ok: true, text: `ok    ${entry.name} v${current.version} is current (fingerprint ${fingerprintHex(current.fingerprint)})` });
  } else {
    lines.push({
      ok: false,
      text: `FAIL  ${entry.name}: ${current.file} is not released (${current.version === 1 ? 'no released version yet' : `it differs from v${current.version - 1}`}); run 'flowsentry schemas release ${entry.name}'`,
    });
  }
  return lines;
}

export function checkSchemas(registry: SchemaRegistry): CheckLine[] {
  return [...registry.entries.values()].flatMap((entry) => checkEntry(registry, entry));
}
