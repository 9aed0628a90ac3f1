/**
 * Golden payloads: for every released version, history/<Name>/v<N>.golden.bin holds one record
 * written with that version (single-object encoding) and v<N>.golden.json its JSON form. They
 * are written once, at release, and must decode with the current reader for ever after.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { codecFor, MAGIC } from './codec.js';
import { SchemaLoadError } from './errors.js';
import { fingerprintBytes, fingerprintHex } from './fingerprint.js';
import { avroToJson, type JsonObject, toJson } from './json.js';
import { historyDir, type SchemaRegistry, type SchemaVersion } from './registry.js';

export interface GoldenFiles {
  readonly bin: string;
  readonly json: string;
}

export function goldenFiles(dir: string, version: SchemaVersion): GoldenFiles {
  const base = join(historyDir(dir, version.name), `v${version.version}.golden`);
  return { bin: `${base}.bin`, json: `${base}.json` };
}

/** Writes the golden payload of a released version from a sample record. */
export function writeGolden(dir: string, version: SchemaVersion, sample: unknown): GoldenFiles {
  const files = goldenFiles(dir, version);
  const body = version.type.toBuffer(sample);
  const written = version.type.fromBuffer(body) as unknown;
  writeFileSync(files.bin, Buffer.concat([MAGIC, fingerprintBytes(version.fingerprint), body]));
  writeFileSync(files.json, `${JSON.stringify(avroToJson(version.type, written), null, 2)}\n`);
  return files;
}

function readGolden(files: GoldenFiles): { bin: Buffer; json: JsonObject } {
  for (const file of [files.bin, files.json]) {
    if (!existsSync(file)) throw new SchemaLoadError(file, 'golden payload missing');
  }
  return { bin: readFileSync(files.bin), json: JSON.parse(readFileSync(files.json, 'utf8')) as JsonObject };
}

/**
 * True when every value the old writer wrote comes back unchanged. Fields a later version added
 * (with their defaults) may appear beside them, in nested records too.
 */
function readsBackAsWritten(decoded: unknown, written: unknown): boolean {
  if (Array.isArray(written)) {
    return Array.isArray(decoded) && decoded.length === written.length && written.every((value, i) => readsBackAsWritten(decoded[i], value));
  }
  if (written !== null && typeof written === 'object') {
    if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) return false;
    const record = decoded as Record<string, unknown>;
    return Object.entries(written).every(([key, value]) => readsBackAsWritten(record[key], value));
  }
  return isDeepStrictEqual(decoded, written);
}

/**
 * Problems found decoding a version's golden payload with the current reader: every field the
 * old writer wrote must come back unchanged, and the header must carry that version's fingerprint.
 */
export function goldenProblems(registry: SchemaRegistry, version: SchemaVersion): string[] {
  const golden = readGolden(goldenFiles(registry.dir, version));
  const written = golden.bin.length >= 10 ? fingerprintHex(golden.bin.readBigUInt64LE(2)) : '?';
  if (written !== fingerprintHex(version.fingerprint)) {
    return [`golden payload was written with fingerprint ${written}, but v${version.version}.avsc has ${fingerprintHex(version.fingerprint)}: released history must not change`];
  }
  let decoded: JsonObject;
  try {
    decoded = toJson(version.name, codecFor(version.name, registry).decode(golden.bin), registry);
  } catch (error) {
    return [`golden payload does not decode with the current reader: ${error instanceof Error ? error.message : String(error)}`];
  }
  return Object.keys(golden.json)
    .filter((field) => !readsBackAsWritten(decoded[field], golden.json[field]))
    .map((field) => `golden field '${field}' reads back as ${JSON.stringify(decoded[field])}, written as ${JSON.stringify(golden.json[field])}`);
}
