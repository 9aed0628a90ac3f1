/**
 * Checking a value against its type: a value from the YAML file as it is, and an environment
 * variable's text parsed by the type first. Every problem says what was expected and what was
 * found (`expected a list of strings, got 12`), a list item's problem also where it is (`[1]`).
 */
import type { ConfigValue, ScalarType, ValueType } from './schema-types.js';

/** A problem with a value; `at` is empty for the value itself, `[i]` for a list item. */
export interface ValueProblem {
  readonly at: string;
  readonly message: string;
}

export interface CheckedValue {
  /** The value, when it has no problem. */
  readonly value?: ConfigValue;
  readonly problems: readonly ValueProblem[];
}

const durationPattern = /^\s*\d+(?:\.\d+)?\s*[smhd]?\s*$/;

/** `a list of strings`, `an integer from 0 to 3`, `one of es, aoss`: what a type accepts, in words. */
export function describeType(type: ValueType): string {
  if (type.kind === 'list') return `a list of ${describeItems(type.item)}`;
  switch (type.kind) {
    case 'string':
      return type.shape ?? 'a string';
    case 'integer':
      return `an integer${range(type.min, type.max)}`;
    case 'number':
      return `a number${type.above !== undefined ? ` > ${type.above}` : range(type.min, undefined)}`;
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${type.values.join(', ')}`;
    case 'url':
      return 'an http(s) URL';
    case 'duration':
      return 'a duration (seconds, or a number with s, m, h or d)';
  }
}

function describeItems(item: ScalarType): string {
  switch (item.kind) {
    case 'string':
      return item.shape ? `${item.shape} strings` : 'strings';
    case 'integer':
      return `integers${range(item.min, item.max)}`;
    case 'enum':
      return `words, each one of ${item.values.join(', ')}`;
    default:
      return `items, each ${describeType(item)}`;
  }
}

function range(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` ≥ ${min}`;
  if (max !== undefined) return ` ≤ ${max}`;
  return '';
}

/** A found value as a message shows it: `12`, `'a,b'`, `a list`, `a mapping`. */
export function shown(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function checkScalar(type: ScalarType, value: unknown): string | undefined {
  const expected = `expected ${describeType(type)}, got ${shown(value)}`;
  switch (type.kind) {
    case 'string':
      if (typeof value !== 'string') return typeof value === 'number' || typeof value === 'boolean' ? `${expected} (quote it to make it a string)` : expected;
      return type.pattern && !type.pattern.test(value) ? expected : undefined;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return expected;
      return (type.min !== undefined && value < type.min) || (type.max !== undefined && value > type.max) ? expected : undefined;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return expected;
      return (type.min !== undefined && value < type.min) || (type.above !== undefined && value <= type.above) ? expected : undefined;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : expected;
    case 'enum':
      return typeof value === 'string' && type.values.includes(value) ? undefined : expected;
    case 'url':
      return typeof value === 'string' && isHttpUrl(value) ? undefined : expected;
    case 'duration':
      if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? undefined : expected;
      return typeof value === 'string' && durationPattern.test(value) ? undefined : expected;
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** A duration keeps its text (`24h`); a number of seconds becomes its text too (`90`). */
function normalized(type: ScalarType, value: string | number | boolean): string | number | boolean {
  return type.kind === 'duration' ? String(value) : value;
}

/** A value from the file (YAML already parsed), checked against its type. */
export function checkValue(type: ValueType, value: unknown): CheckedValue {
  if (type.kind !== 'list') {
    const message = checkScalar(type, value);
    return message ? { problems: [{ at: '', message }] } : { value: normalized(type, value as string | number | boolean), problems: [] };
  }
  if (!Array.isArray(value)) return { problems: [{ at: '', message: `expected ${describeType(type)}, got ${shown(value)}` }] };
  const problems: ValueProblem[] = [];
  const items: (string | number)[] = [];
  value.forEach((item: unknown, index) => {
    const message = checkScalar(type.item, item);
    if (message) problems.push({ at: `[${index}]`, message });
    else items.push(normalized(type.item, item as string | number) as string | number);
  });
  return problems.length > 0 ? { problems } : { value: items, problems };
}

/** An environment variable's text as the type's value: numbers and booleans parsed, words of an enum in any case. */
function fromText(type: ScalarType, text: string): unknown {
  const trimmed = text.trim();
  switch (type.kind) {
    case 'integer':
    case 'number':
      return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : text;
    case 'boolean': {
      const word = trimmed.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(word)) return true;
      if (['false', '0', 'no', 'off'].includes(word)) return false;
      return text;
    }
    case 'enum':
      return type.values.find((word) => word.toLowerCase() === trimmed.toLowerCase()) ?? trimmed;
    default:
      return trimmed;
  }
}

/** A variable's text checked against its type: `a:9092,b:9092` for a list (split), `true`/`1`/`yes` for a boolean. */
export function checkEnvText(type: ValueType, text: string): CheckedValue {
  if (type.kind !== 'list') return checkValue(type, fromText(type, text));
  const items = text
    .split(type.separator ?? ',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map((item) => fromText(type.item, item));
  return checkValue(type, items);
}
