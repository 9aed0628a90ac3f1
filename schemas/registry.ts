/**
 * Loads every schema: the live files in schemas/avro/ (the current versions, which producers
 * write with) and every released version in schemas/history/<Name>/v<N>.avsc (which consumers
 * must still read). Each version is indexed by the CRC-64-AVRO fingerprint of its parsing
 * canonical form, for single records and for batches.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AvroType, batchSchemaOf, canonicalForm, parseSchema } from './avro-type.js';
import { SchemaLoadError } from './errors.js';
import { crc64Avro, fingerprintBytes } from './fingerprint.js';
import { type SchemaName, schemaNames } from './types.js';

export const defaultSchemasDir = fileURLToPath(new URL('.', import.meta.url));

export const liveFiles: Readonly<Record<SchemaName, string>> = {
  RawFlow: 'raw-flow.avsc',
  InventoryEvent: 'inventory-event.avsc',
  EnrichedFlow: 'enriched-flow.avsc',
  Alert: 'alert.avsc',
  ResponseAction: 'response-action.avsc',
  DeadLetter: 'dead-letter.avsc',
};

export interface SchemaVersion {
  readonly name: SchemaName;
  /** Released versions count from 1; an unreleased live schema gets latest + 1. */
  readonly version: number;
  readonly released: boolean;
  readonly file: string;
  readonly schema: unknown;
  readonly type: AvroType;
  readonly canonical: string;
  readonly fingerprint: bigint;
  readonly batchType: AvroType;
  readonly batchFingerprint: bigint;
}

export interface SchemaEntry {
  readonly name: SchemaName;
  /** Released versions, v1 first. */
  readonly history: readonly SchemaVersion[];
  /** The live file; equal to the last history entry once released. */
  readonly current: SchemaVersion;
}

/** What a fingerprint in a message header stands for. */
export interface WriterVersion {
  readonly version: SchemaVersion;
  readonly batch: boolean;
}

export interface SchemaRegistry {
  readonly dir: string;
  readonly entries: ReadonlyMap<SchemaName, SchemaEntry>;
  entry(name: SchemaName): SchemaEntry;
  /** Looks a header fingerprint up by its 8 wire bytes (as a latin1 string key). */
  writer(fingerprintKey: string): WriterVersion | undefined;
}

export function historyDir(dir: string, name: SchemaName): string {
  return join(dir, 'history', name);
}

export function historyFile(dir: string, name: SchemaName, version: number): string {
  return join(historyDir(dir, name), `v${version}.avsc`);
}

export function readSchemaFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (error) {
    throw new SchemaLoadError(file, error instanceof Error ? error.message : String(error), { cause: error });
  }
}

function buildVersion(name: SchemaName, version: number, released: boolean, file: string): SchemaVersion {
  const schema = readSchemaFile(file);
  let type: AvroType;
  let batchType: AvroType;
  try {
    type = parseSchema(schema);
    batchType = parseSchema(batchSchemaOf(schema));
  } catch (error) {
    throw new SchemaLoadError(file, `not a valid Avro schema: ${String(error)}`, { cause: error });
  }
  if (type.name !== `io.flowsentry.v1.${name}`) {
    throw new SchemaLoadError(file, `declares record '${type.name}', expected 'io.flowsentry.v1.${name}'`);
  }
  const canonical = canonicalForm(type);
  return {
    name,
    version,
    released,
    file,
    schema,
    type,
    canonical,
    fingerprint: crc64Avro(canonical),
    batchType,
    batchFingerprint: crc64Avro(canonicalForm(batchType)),
  };
}

/** Released version numbers found in history/<Name>/, checked to run 1, 2, ... without gaps. */
export function releasedVersions(dir: string, name: SchemaName): number[] {
  const folder = historyDir(dir, name);
  if (!existsSync(folder)) return [];
  const versions = readdirSync(folder)
    .map((file) => /^v(\d+)\.avsc$/.exec(file)?.[1])
    .filter((match): match is string => match !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  versions.forEach((version, index) => {
    if (version !== index + 1) throw new SchemaLoadError(folder, `versions must run v1, v2, ... without gaps; found v${version}`);
  });
  return versions;
}

export function loadEntry(dir: string, name: SchemaName): SchemaEntry {
  const history = releasedVersions(dir, name).map((version) =>
    buildVersion(name, version, true, historyFile(dir, name, version)),
  );
  const latest = history.at(-1);
  const live = buildVersion(name, (latest?.version ?? 0) + 1, false, join(dir, 'avro', liveFiles[name]));
  const current = latest && latest.canonical === live.canonical ? { ...live, version: latest.version, released: true } : live;
  return { name, history, current };
}

export function fingerprintKey(fingerprint: bigint): string {
  return fingerprintBytes(fingerprint).toString('latin1');
}

export function loadRegistry(dir: string = defaultSchemasDir): SchemaRegistry {
  const entries = new Map(schemaNames.map((name) => [name, loadEntry(dir, name)] as const));
  const writers = new Map<string, WriterVersion>();
  for (const entry of entries.values()) {
    for (const version of [...entry.history, entry.current]) {
      writers.set(fingerprintKey(version.fingerprint), { version, batch: false });
      writers.set(fingerprintKey(version.batchFingerprint), { version, batch: true });
    }
  }
  return {
    dir,
    entries,
    entry: (name) => entries.get(name) as SchemaEntry,
    writer: (key) => writers.get(key),
  };
}

let defaultRegistry: SchemaRegistry | undefined;

/** The registry of this checkout's schemas/ folder, loaded once. */
export function schemaRegistry(): SchemaRegistry {
  defaultRegistry ??= loadRegistry();
  return defaultRegistry;
}
