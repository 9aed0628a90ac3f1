import { readFileSync } from 'node:fs';
import { checkSchemas } from '../schemas/check.js';
import { decodeMessage } from '../schemas/codec.js';
import { SchemaError } from '../schemas/errors.js';
import { fingerprintHex } from '../schemas/fingerprint.js';
import { toJson } from '../schemas/json.js';
import { defaultSchemasDir, loadRegistry, type SchemaRegistry } from '../schemas/registry.js';
import { releaseSchema } from '../schemas/release.js';
import { type SchemaName, schemaNames } from '../schemas/types.js';
import type { CliCommand } from './command.js';

const usage = [
  'flowsentry schemas <check|list|release NAME|decode FILE> [--dir DIR]',
  '',
  '  check         the current schemas read every released version (BACKWARD_TRANSITIVE),',
  '                golden payloads decode, live files are released; exit 1 otherwise',
  '  list          every schema version with its fingerprint',
  '  release NAME  copy schemas/avro/<name>.avsc to schemas/history/NAME/v<N+1>.avsc with a golden payload',
  '  decode FILE   print the records of a single-object encoded message as JSON lines',
  '  --dir DIR     the schemas folder (default: the one beside this program)',
  '',
  'Checks, lists and releases the Avro schemas every stage writes, and decodes a message by hand.',
  '',
  'examples:',
  '  flowsentry schemas check',
  '  flowsentry schemas list',
  '  flowsentry schemas release EnrichedFlow',
  '  flowsentry schemas decode message.bin',
].join('\n');

interface Parsed {
  readonly words: string[];
  readonly dir: string;
}

function parse(args: readonly string[]): Parsed | string {
  const words: string[] = [];
  let dir = defaultSchemasDir;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--dir') {
      const value = args[++i];
      if (value === undefined) return '--dir needs a folder';
      dir = value;
    } else if (arg.startsWith('-')) {
      return `unknown option '${arg}'`;
    } else {
      words.push(arg);
    }
  }
  return { words, dir };
}

function check(registry: SchemaRegistry): number {
  const lines = checkSchemas(registry);
  for (const line of lines) (line.ok ? console.log : console.error)(line.text);
  const failed = lines.filter((line) => !line.ok).length;
  console.log(failed === 0 ? 'schemas check: all compatible' : `schemas check: ${failed} problem(s)`);
  return failed === 0 ? 0 : 1;
}

function list(registry: SchemaRegistry): number {
  for (const entry of registry.entries.values()) {
    for (const version of entry.history) {
      const current = version.fingerprint === entry.current.fingerprint ? '  (current)' : '';
      console.log(`${entry.name} v${version.version}  ${fingerprintHex(version.fingerprint)}  batch ${fingerprintHex(version.batchFingerprint)}${current}`);
    }
    if (!entry.current.released) console.log(`${entry.name} v${entry.current.version}  ${fingerprintHex(entry.current.fingerprint)}  (unreleased)`);
  }
  return 0;
}

function release(dir: string, name: string | undefined): number {
  if (!schemaNames.includes(name as SchemaName)) {
    console.error(`flowsentry schemas release: name one of ${schemaNames.join(', ')}`);
    return 2;
  }
  const released = releaseSchema(dir, name as SchemaName);
  console.log(`released ${name} v${released.version.version} (fingerprint ${fingerprintHex(released.version.fingerprint)})`);
  for (const file of released.files) console.log(`  wrote ${file}`);
  return 0;
}

function decode(registry: SchemaRegistry, file: string | undefined): number {
  if (file === undefined) {
    console.error('flowsentry schemas decode: name a file');
    return 2;
  }
  const message = decodeMessage(readFileSync(file), registry);
  for (const record of message.records) console.log(JSON.stringify(toJson(message.name, record, registry)));
  return 0;
}

function dispatch(words: readonly string[], dir: string): number {
  const [sub, argument] = words;
  switch (sub) {
    case 'check':
      return check(loadRegistry(dir));
    case 'list':
      return list(loadRegistry(dir));
    case 'release':
      return release(dir, argument);
    case 'decode':
      return decode(loadRegistry(dir), argument);
    default:
      console.error(`flowsentry schemas: ${sub === undefined ? 'missing' : `unknown`} subcommand${sub ? ` '${sub}'` : ''}\n\nusage: ${usage}`);
      return 2;
  }
}

export const schemasCommand: CliCommand = {
  name: 'schemas',
  summary: 'check schema compatibility, list and release schema versions, decode messages',
  usage,
  async run(args) {
    const parsed = parse(args);
    if (typeof parsed === 'string') {
      console.error(`flowsentry schemas: ${parsed}\n\nusage: ${usage}`);
      return 2;
    }
    try {
      return dispatch(parsed.words, parsed.dir);
    } catch (error) {
      if (!(error instanceof SchemaError)) throw error;
      console.error(`flowsentry schemas: ${error.message}`);
      return 1;
    }
  },
};
