/** Turning schema JSON into avsc types whose decoded records are plain objects. */
import avsc from 'avsc';
import type { Type, types } from 'avsc';

export type AvroType = Type;

/**
 * avsc decodes records into instances of a generated class. Pointing that class's prototype at
 * Object.prototype makes decoded records plain objects (what JSON, spread and deep equality
 * expect) at no cost; reading, writing and validation do not use the prototype.
 */
function usePlainRecords(type: Type, seen: Set<Type>): void {
  if (seen.has(type)) return;
  seen.add(type);
  switch (type.typeName) {
    case 'record':
    case 'error': {
      const record = type as types.RecordType;
      (record.recordConstructor as { prototype: object }).prototype = Object.prototype;
      for (const field of record.fields) usePlainRecords(field.type, seen);
      return;
    }
    case 'array':
      return usePlainRecords((type as types.ArrayType).itemsType, seen);
    case 'map':
      return usePlainRecords((type as types.MapType).valuesType as Type, seen);
    case 'union:unwrapped':
    case 'union:wrapped':
      for (const branch of (type as types.UnwrappedUnionType).types) usePlainRecords(branch, seen);
      return;
    default:
      return;
  }
}

/** Parses a schema (JSON value of an .avsc file). Unions of null and one type read as `T | null`. */
export function parseSchema(schema: unknown): Type {
  const type = avsc.Type.forSchema(schema as Parameters<typeof avsc.Type.forSchema>[0], {
    omitRecordMethods: true,
    wrapUnions: 'auto',
  });
  usePlainRecords(type, new Set());
  return type;
}

/** The schema for a batch of records: an Avro array of the record. */
export function batchSchemaOf(schema: unknown): unknown {
  return { type: 'array', items: schema };
}

/**
 * Parsing canonical form (Avro specification): full names, only the attributes that matter for
 * reading, fixed key order, no whitespace. avsc's `schema()` produces exactly that form.
 */
export function canonicalForm(type: Type): string {
  return JSON.stringify(type.schema());
}

/** Every invalid value in `value`, as `path: reason` (empty when valid). */
export function invalidValues(type: Type, value: unknown): string[] {
  const problems: string[] = [];
  type.isValid(value, {
    errorHook: (path, invalid, invalidType) => {
      const shown = Buffer.isBuffer(invalid) ? '<bytes>' : (JSON.stringify(invalid) ?? 'undefined');
      problems.push(`${path.join('.') || '(record)'}: ${shown} is not a valid ${invalidType.typeName}`);
    },
  });
  return problems;
}
