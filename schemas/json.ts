/**
 * The one JSON form of every record (files, CLI output, webhooks, OpenSearch documents), derived
 * from the schema: longs stay numbers (avsc only produces safe integers), bytes become base64,
 * null-unions are plain values or null, fields with defaults are always written, NaN and
 * infinities of float/double become the strings "NaN", "Infinity", "-Infinity".
 */
import type { types } from 'avsc';
import { type AvroType, invalidValues } from './avro-type.js';
import { InvalidRecordError } from './errors.js';
import { schemaRegistry, type SchemaRegistry } from './registry.js';
import type { RecordTypes, SchemaName } from './types.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

type ToJson = (value: unknown) => JsonValue;
type FromJson = (json: unknown, path: string, problems: string[]) => unknown;

interface Converter {
  readonly to: ToJson;
  readonly from: FromJson;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const SPECIAL_FLOATS: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

function problem(problems: string[], path: string, detail: string): undefined {
  problems.push(`${path || '(record)'}: ${detail}`);
  return undefined;
}

function checked(typeName: string, accepts: (json: unknown) => boolean): Converter {
  return {
    to: (value) => value as JsonValue,
    from: (json, path, problems) => (accepts(json) ? json : problem(problems, path, `expected ${typeName}, got ${JSON.stringify(json)}`)),
  };
}

const bytesConverter: Converter = {
  to: (value) => (value as Buffer).toString('base64'),
  from: (json, path, problems) =>
    typeof json === 'string' && BASE64.test(json) ? Buffer.from(json, 'base64') : problem(problems, path, 'expected base64 bytes'),
};

const floatConverter: Converter = {
  to: (value) => (Number.isFinite(value) ? (value as number) : String(value)),
  from: (json, path, problems) => {
    if (typeof json === 'number') return json;
    if (typeof json === 'string' && json in SPECIAL_FLOATS) return SPECIAL_FLOATS[json];
    return problem(problems, path, `expected a number, got ${JSON.stringify(json)}`);
  },
};

function isPlainObject(json: unknown): json is Record<string, unknown> {
  return typeof json === 'object' && json !== null && !Array.isArray(json) && !Buffer.isBuffer(json);
}

function arrayConverter(items: Converter): Converter {
  return {
    to: (value) => (value as unknown[]).map(items.to),
    from: (json, path, problems) =>
      Array.isArray(json) ? json.map((item, index) => items.from(item, `${path}[${index}]`, problems)) : problem(problems, path, 'expected an array'),
  };
}

function mapConverter(values: Converter): Converter {
  const convert = (input: Record<string, unknown>, each: (value: unknown, key: string) => unknown) =>
    Object.fromEntries(Object.entries(input).map(([key, value]) => [key, each(value, key)]));
  return {
    to: (value) => convert(value as Record<string, unknown>, (item) => values.to(item)) as JsonObject,
    from: (json, path, problems) =>
      isPlainObject(json) ? convert(json, (item, key) => values.from(item, `${path}.${key}`, problems)) : problem(problems, path, 'expected an object'),
  };
}

function unionConverter(type: types.UnwrappedUnionType, memo: Map<AvroType, Converter>): Converter {
  const branches = type.types.map((branch) => ({ type: branch, converter: converterOf(branch, memo) }));
  return {
    to: (value) => {
      const branch = branches.find((candidate) => candidate.type.isValid(value));
      return branch ? branch.converter.to(value) : (value as JsonValue);
    },
    from: (json, path, problems) => {
      for (const branch of branches) {
        const attempt: string[] = [];
        const value = branch.converter.from(json, path, attempt);
        if (attempt.length === 0) return value;
      }
      return problem(problems, path, `${JSON.stringify(json)} matches no branch of ${JSON.stringify(type.schema())}`);
    },
  };
}

function recordConverter(type: types.RecordType, memo: Map<AvroType, Converter>): Converter {
  const fields: { name: string; converter: Converter; fallback: () => unknown }[] = [];
  const known = new Set(type.fields.map((field) => field.name));
  const converter: Converter = {
    to: (value) => {
      const record = value as Record<string, unknown>;
      const json: JsonObject = {};
      for (const field of fields) {
        const value = record[field.name];
        json[field.name] = field.converter.to(value === undefined ? field.fallback() : value);
      }
      return json;
    },
    from: (json, path, problems) => {
      if (!isPlainObject(json)) return problem(problems, path, 'expected an object');
      for (const key of Object.keys(json)) if (!known.has(key)) problem(problems, path ? `${path}.${key}` : key, 'unknown field');
      const record: Record<string, unknown> = {};
      for (const field of fields) {
        const fieldPath = path ? `${path}.${field.name}` : field.name;
        const value = json[field.name];
        if (value !== undefined) record[field.name] = field.converter.from(value, fieldPath, problems);
        else if (field.fallback() !== undefined) record[field.name] = field.fallback();
        else problem(problems, fieldPath, 'missing (no default)');
      }
      return record;
    },
  };
  memo.set(type, converter); // before the fields, so a recursive record finds itself
  for (const field of type.fields) {
    fields.push({ name: field.name, converter: converterOf(field.type, memo), fallback: () => field.defaultValue() as unknown });
  }
  return converter;
}

function converterOf(type: AvroType, memo = new Map<AvroType, Converter>()): Converter {
  const known = memo.get(type);
  if (known) return known;
  switch (type.typeName) {
    case 'null':
      return checked('null', (json) => json === null);
    case 'boolean':
      return checked('a boolean', (json) => typeof json === 'boolean');
    case 'int':
    case 'long':
      return checked(`an integer (${type.typeName})`, (json) => Number.isSafeInteger(json) && type.isValid(json));
    case 'float':
    case 'double':
      return floatConverter;
    case 'string':
      return checked('a string', (json) => typeof json === 'string');
    case 'enum':
      return checked(`one of ${(type as types.EnumType).symbols.join('|')}`, (json) => type.isValid(json));
    case 'bytes':
    case 'fixed':
      return bytesConverter;
    case 'array':
      return arrayConverter(converterOf((type as types.ArrayType).itemsType, memo));
    case 'map':
      return mapConverter(converterOf((type as types.MapType).valuesType as AvroType, memo));
    case 'union:unwrapped':
      return unionConverter(type as types.UnwrappedUnionType, memo);
    case 'record':
      return recordConverter(type as types.RecordType, memo);
    default:
      throw new Error(`no JSON mapping for Avro type '${type.typeName}'`);
  }
}

const converters = new WeakMap<AvroType, Converter>();

function cachedConverter(type: AvroType): Converter {
  let converter = converters.get(type);
  if (!converter) {
    converter = converterOf(type);
    converters.set(type, converter);
  }
  return converter;
}

/** JSON form of a value of any Avro type (records are validated first). */
export function avroToJson(type: AvroType, value: unknown, label = type.name ?? type.typeName): JsonValue {
  const problems = invalidValues(type, value);
  if (problems.length > 0) throw new InvalidRecordError(label, problems);
  return cachedConverter(type).to(value);
}

/** The inverse of avroToJson: every problem is reported at once. */
export function avroFromJson(type: AvroType, json: unknown, label = type.name ?? type.typeName): unknown {
  const problems: string[] = [];
  const value = cachedConverter(type).from(json, '', problems);
  if (problems.length === 0) problems.push(...invalidValues(type, value));
  if (problems.length > 0) throw new InvalidRecordError(label, problems);
  return value;
}

/** JSON form of a record, with the current schema of its type. */
export function toJson<N extends SchemaName>(name: N, record: RecordTypes[N], registry: SchemaRegistry = schemaRegistry()): JsonObject {
  return avroToJson(registry.entry(name).current.type, record, name) as JsonObject;
}

/** A record from its JSON form; defaults fill absent optional fields, unknown fields are errors. */
export function fromJson<N extends SchemaName>(name: N, json: unknown, registry: SchemaRegistry = schemaRegistry()): RecordTypes[N] {
  return avroFromJson(registry.entry(name).current.type, json, name) as RecordTypes[N];
}
