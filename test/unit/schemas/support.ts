import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSchemasDir } from '../../../schemas/registry.js';

export function fixture(name: string): Buffer {
  return readFileSync(fileURLToPath(new URL(`fixtures/${name}`, import.meta.url)));
}

interface AvroRecordSchema {
  fields: { name: string; type: unknown; default?: unknown }[];
  [key: string]: unknown;
}

/** A throw-away copy of schemas/ (the .avsc files and history only). */
export class TempSchemas {
  readonly dir = mkdtempSync(join(tmpdir(), 'flowsentry-schemas-'));

  constructor() {
    cpSync(join(defaultSchemasDir, 'avro'), join(this.dir, 'avro'), { recursive: true });
    cpSync(join(defaultSchemasDir, 'history'), join(this.dir, 'history'), { recursive: true });
  }

  /** Rewrites an .avsc file, e.g. `avro/alert.avsc` or `history/Alert/v1.avsc`. */
  edit(file: string, change: (schema: AvroRecordSchema) => void): void {
    const path = join(this.dir, file);
    const schema = JSON.parse(readFileSync(path, 'utf8')) as AvroRecordSchema;
    change(schema);
    writeFileSync(path, JSON.stringify(schema, null, 2));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
