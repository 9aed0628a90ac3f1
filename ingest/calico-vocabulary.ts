/**
 * The words Calico has used in its flow logs over the years, mapped to the canonical ones of
 * RawFlow, and the field checks the text and JSON parsers share. Every check throws an
 * IngestError naming the field; none of them backtracks, so each runs in time linear in its input.
 */
import { isIP } from 'node:net';
import type { EndpointType, FlowAction, Labels, Reporter } from '../schemas/types.js';
import { IngestError } from './problems.js';
import { protocolNumbers } from './protocols.js';

/** Codes of the errors the Calico parsers throw (ParseProblem.reason). */
export const calicoProblemCodes = {
  /** The line as a whole is wrong: field count, not a JSON object. */
  badLine: 'INGEST_BAD_LINE',
  /** The line is not JSON at all. */
  badJson: 'INGEST_BAD_JSON',
  /** One field holds a value of the wrong shape; the message names the field. */
  badField: 'INGEST_BAD_FIELD',
  /** A field a flow cannot do without is absent. */
  missingField: 'INGEST_MISSING_FIELD',
} as const;

const PREVIEW = 40;

/** A short, printable view of a bad value for an error message. */
export function preview(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(typeof value);
  }
  const cut = text.length > PREVIEW ? `${text.slice(0, PREVIEW)}…` : text;
  return JSON.stringify(cut);
}

export function badField(field: string, expected: string, value: unknown): IngestError {
  return new IngestError(calicoProblemCodes.badField, `field ${field}: expected ${expected}, got ${preview(value)}`);
}

export function missingField(field: string): IngestError {
  return new IngestError(calicoProblemCodes.missingField, `field ${field} is missing`);
}

/** An endpoint type in any vocabulary: `pvt`/`pub` as a type (older Calico) is a `net` endpoint of that network. */
export interface EndpointKind {
  readonly type: EndpointType | null;
  readonly network: string | null;
}

const endpointKinds: ReadonlyMap<string, EndpointKind> = new Map([
  ['-', { type: null, network: null }],
  ['wep', { type: 'wep', network: null }],
  ['hep', { type: 'hep', network: null }],
  ['ns', { type: 'ns', network: null }],
  ['net', { type: 'net', network: null }],
  ['pvt', { type: 'net', network: 'pvt' }],
  ['pub', { type: 'net', network: 'pub' }],
]);

const reporters: ReadonlyMap<string, Reporter> = new Map([
  ['src', 'src'],
  ['out', 'src'],
  ['o', 'src'],
  ['dst', 'dst'],
  ['in', 'dst'],
  ['i', 'dst'],
]);

const actions: ReadonlyMap<string, FlowAction> = new Map([
  ['allow', 'allow'],
  ['a', 'allow'],
  ['deny', 'deny'],
  ['d', 'deny'],
]);

const SHORT_WORD = 12;

/** The word as written, else in lower case (short words only). */
function lookUp<T>(words: ReadonlyMap<string, T>, token: string): T | undefined {
  return words.get(token) ?? (token.length <= SHORT_WORD ? words.get(token.toLowerCase()) : undefined);
}

export function endpointKindOf(token: string, field: string): EndpointKind {
  const kind = lookUp(endpointKinds, token);
  if (!kind) throw badField(field, 'an endpoint type (wep, hep, ns, net, pvt, pub or -)', token);
  return kind;
}

export function reporterOf(token: string, field: string): Reporter {
  const reporter = lookUp(reporters, token);
  if (!reporter) throw badField(field, 'a reporter (out/in, src/dst or O/I)', token);
  return reporter;
}

export function actionOf(token: string, field: string): FlowAction {
  const action = lookUp(actions, token);
  if (!action) throw badField(field, 'an action (allow/deny or A/D)', token);
  return action;
}

const MAX_DIGITS = 16;

/** The value of 1–16 ASCII digits, else NaN. */
export function digitsValue(token: string): number {
  if (token.length === 0 || token.length > MAX_DIGITS) return NaN;
  let value = 0;
  for (let i = 0; i < token.length; i++) {
    const digit = token.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return NaN;
    value = value * 10 + digit;
  }
  return value;
}

/** True when `token` is 1–16 ASCII digits. */
export const isDigits = (token: string): boolean => !Number.isNaN(digitsValue(token));

/** A non-negative safe integer written in decimal digits. */
export function countOf(token: string, field: string): number {
  const value = digitsValue(token);
  if (!Number.isSafeInteger(value)) throw badField(field, 'a non-negative integer', token);
  return value;
}

/** Seconds since the epoch (digits) as epoch milliseconds. */
export function millisOfSeconds(token: string, field: string): number {
  const millis = countOf(token, field) * 1000;
  if (!Number.isSafeInteger(millis)) throw badField(field, 'epoch seconds', token);
  return millis;
}

/** An IANA protocol number 0–255, or a protocol name (tcp, udp, icmp, ...). */
export function protoOf(token: string, field: string): number {
  const value = digitsValue(token);
  if (value <= 255) return value;
  const named = lookUp(protocolNumbers, token);
  if (named === undefined) throw badField(field, 'a protocol number 0-255 or name (tcp, udp, icmp, ...)', token);
  return named;
}

/** A port 0–65535; `-` is null. */
export function portOf(token: string, field: string): number | null {
  if (token === '-') return null;
  const value = digitsValue(token);
  if (!(value <= 65535)) throw badField(field, 'a port 0-65535 or -', token);
  return value;
}

const MAX_IP = 64;

/** An IPv4 or IPv6 address; `-` is null. */
export function ipOf(token: string, field: string): string | null {
  if (token === '-') return null;
  if (token.length > MAX_IP || isIP(token) === 0) throw badField(field, 'an IP address or -', token);
  return token;
}

/** A plain text field: `-` (or empty) is null. */
export function textOf(token: string): string | null {
  return token === '-' || token === '' ? null : token;
}

/** Labels from `k=v` entries (Calico writes them sorted, keys unique). */
export function labelsOfEntries(entries: readonly unknown[], field: string): Labels {
  const pairs: [string, string][] = [];
  for (const entry of entries) {
    const equals = typeof entry === 'string' ? entry.indexOf('=') : -1;
    if (equals <= 0) throw badField(field, 'labels as key=value', entry);
    const text = entry as string;
    pairs.push([text.slice(0, equals), text.slice(equals + 1)]);
  }
  // fromEntries defines own properties: a `__proto__` label key stays a label.
  return Object.fromEntries(pairs);
}

/** Labels in the text format: `[k=v,k2=v2]`, `[]` for none; `-` is null. */
export function labelsOfText(token: string, field: string): Labels | null {
  if (token === '-') return null;
  if (token.length < 2 || token[0] !== '[' || token[token.length - 1] !== ']') {
    throw badField(field, 'labels as [key=value,...] or -', token);
  }
  const inner = token.slice(1, -1);
  return labelsOfEntries(inner === '' ? [] : inner.split(','), field);
}

/**
 * The text format's one name field: a name without `*` is an endpoint's own name as well as its
 * aggregated one; a `net` endpoint's name is its network (an old `pvt`/`pub` type names it).
 */
export function namesOf(kind: EndpointKind, token: string): { name: string | null; aggregated: string | null } {
  if (kind.network !== null) return { name: null, aggregated: kind.network };
  const aggregated = textOf(token);
  if (aggregated === null || kind.type === 'net' || aggregated.includes('*')) return { name: null, aggregated };
  return { name: aggregated, aggregated };
}
