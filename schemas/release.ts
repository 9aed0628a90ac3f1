/**
 * Releasing a schema version: the live file is copied to history/<Name>/v<N+1>.avsc and a golden
 * payload is written with it. Refused when nothing changed or when the live schema cannot read
 * every released version.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { checkBackwardTransitive } from './compatibility.js';
import { ReleaseRefusedError } from './errors.js';
import { writeGolden } from './golden.js';
import { historyDir, historyFile, loadEntry, type SchemaVersion } from './registry.js';
import { samples } from './samples.js';
import type { SchemaName } from './types.js';

export interface Release {
  readonly version: SchemaVersion;
  readonly files: readonly string[];
}

export function releaseSchema(dir: string, name: SchemaName, sample: unknown = samples[name]): Release {
  const before = loadEntry(dir, name);
  if (before.current.released) {
    throw new ReleaseRefusedError(name, `the live schema is identical to the released v${before.current.version}`);
  }
  const problems = checkBackwardTransitive(before).flatMap((check) => check.problems.map((problem) => `v${check.version}: ${problem}`));
  if (problems.length > 0) throw new ReleaseRefusedError(name, problems.join('; '));
  mkdirSync(historyDir(dir, name), { recursive: true });
  const file = historyFile(dir, name, before.current.version);
  copyFileSync(before.current.file, file);
  const version = loadEntry(dir, name).history.at(-1) as SchemaVersion;
  const golden = writeGolden(dir, version, sample);
  return { version, files: [file, golden.bin, golden.json] };
}
