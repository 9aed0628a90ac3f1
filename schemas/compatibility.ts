/**
 * BACKWARD_TRANSITIVE compatibility: the current schema must read data written with every
 * released version. A structural comparison names the exact field and reason; avsc's resolver
 * is asked as well, so nothing it refuses can pass.
 */
import type { types } from 'avsc';
import type { AvroType } from './avro-type.js';
import type { SchemaEntry } from './registry.js';

/** Writer → reader promotions the Avro specification allows. */
const PROMOTIONS: Readonly<Record<string, readonly string[]>> = {
  int: ['long', 'float', 'double'],
  long: ['float', 'double'],
  float: ['double'],
  string: ['bytes'],
  bytes: ['string'],
};

function isUnion(type: AvroType): type is types.UnwrappedUnionType {
  return type.typeName.startsWith('union');
}

function label(type: AvroType): string {
  if (isUnion(type)) return `[${type.types.map(label).join(', ')}]`;
  if (type.typeName === 'array') return `array<${label((type as types.ArrayType).itemsType)}>`;
  if (type.typeName === 'map') return `map<${label((type as types.MapType).valuesType as AvroType)}>`;
  return type.name ?? type.typeName;
}

function sameName(writer: AvroType, reader: AvroType): boolean {
  return writer.name === reader.name || (reader.aliases ?? []).includes(writer.name ?? '');
}

class Comparison {
  readonly problems: string[] = [];
  private readonly seen = new Set<string>();

  compare(writer: AvroType, reader: AvroType, path: string): void {
    if (isUnion(reader)) return this.intoUnion(writer, reader, path);
    if (isUnion(writer)) return this.fromUnion(writer, reader, path);
    if (writer.typeName !== reader.typeName) {
      if (!PROMOTIONS[writer.typeName]?.includes(reader.typeName)) this.add(path, `type changed from ${label(writer)} to ${label(reader)}`);
      return;
    }
    switch (reader.typeName) {
      case 'record':
        return this.records(writer as types.RecordType, reader as types.RecordType, path);
      case 'enum':
        return this.enums(writer as types.EnumType, reader as types.EnumType, path);
      case 'fixed':
        if (!sameName(writer, reader)) this.add(path, `fixed renamed from ${writer.name} to ${reader.name}`);
        if ((writer as types.FixedType).size !== (reader as types.FixedType).size) this.add(path, 'fixed size changed');
        return;
      case 'array':
        return this.compare((writer as types.ArrayType).itemsType, (reader as types.ArrayType).itemsType, `${path}[]`);
      case 'map':
        return this.compare((writer as types.MapType).valuesType as AvroType, (reader as types.MapType).valuesType as AvroType, `${path}{}`);
      default:
        return;
    }
  }

  private add(path: string, detail: string): void {
    this.problems.push(path ? `field '${path}' ${detail}` : detail);
  }

  /** Problems of reading writer as reader, without recording them. */
  private trial(writer: AvroType, reader: AvroType, path: string): string[] {
    const trial = new Comparison();
    trial.compare(writer, reader, path);
    return trial.problems;
  }

  private intoUnion(writer: AvroType, reader: types.UnwrappedUnionType, path: string): void {
    const branches = isUnion(writer) ? writer.types : [writer];
    for (const branch of branches) {
      const attempts = reader.types.map((candidate) => this.trial(branch, candidate, path));
      if (attempts.some((problems) => problems.length === 0)) continue;
      const close = reader.types.findIndex((candidate) => candidate.typeName === branch.typeName);
      if (close >= 0) this.problems.push(...(attempts[close] as string[]));
      else this.add(path, `${label(branch)} values can no longer be read (reader type ${label(reader)})`);
    }
  }

  private fromUnion(writer: types.UnwrappedUnionType, reader: AvroType, path: string): void {
    for (const branch of writer.types) {
      const problems = this.trial(branch, reader, path);
      if (problems.length > 0) this.add(path, `changed from ${label(writer)} to ${label(reader)}: ${label(branch)} values can no longer be read`);
    }
  }

  private records(writer: types.RecordType, reader: types.RecordType, path: string): void {
    if (!sameName(writer, reader)) return this.add(path, `record renamed from ${writer.name} to ${reader.name}`);
    const key = `${writer.name}|${path}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    for (const field of reader.fields) {
      const fieldPath = path ? `${path}.${field.name}` : field.name;
      const source = [field.name, ...field.aliases].map((name) => writer.field(name)).find((found) => found !== undefined);
      if (source) this.compare(source.type, field.type, fieldPath);
      else if (field.defaultValue() === undefined) this.add(fieldPath, `(${label(field.type)}) was added without a default`);
    }
  }

  private enums(writer: types.EnumType, reader: types.EnumType, path: string): void {
    if (!sameName(writer, reader)) return this.add(path, `enum renamed from ${writer.name} to ${reader.name}`);
    const removed = writer.symbols.filter((symbol) => !reader.symbols.includes(symbol));
    const fallback = (reader as unknown as { default?: string }).default;
    if (removed.length > 0 && fallback === undefined) this.add(path, `lost enum symbol(s) ${removed.join(', ')} (and the enum has no default)`);
  }
}

/** Why `reader` cannot read data written with `writer`: one precise line per problem, or none. */
export function readProblems(writer: AvroType, reader: AvroType): string[] {
  const comparison = new Comparison();
  comparison.compare(writer, reader, '');
  if (comparison.problems.length === 0) {
    try {
      reader.createResolver(writer);
    } catch (error) {
      comparison.problems.push(`avsc cannot resolve the schemas: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return comparison.problems;
}

export interface VersionCompatibility {
  readonly name: string;
  readonly version: number;
  readonly problems: readonly string[];
}

/** The current schema against every released version (BACKWARD_TRANSITIVE). */
export function checkBackwardTransitive(entry: SchemaEntry, reader: AvroType = entry.current.type): VersionCompatibility[] {
  return entry.history.map((version) => ({
    name: entry.name,
    version: version.version,
    problems: readProblems(version.type, reader),
  }));
}
