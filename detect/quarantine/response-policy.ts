/**
 * The response policy: which alerts quarantine their subject, with which backend, for how long,
 * and whether only as a dry run. Read from YAML once at start; every problem is reported at once
 * with its path. No rule, no quarantine: the default policy does nothing.
 *
 * ```yaml
 * rules:
 *   - name: scanners
 *     match: { detectors: [port_scan, ip_sweep], minSeverity: high }
 *     backend: calico
 *     ttl: 1h
 *   - name: lateral
 *     match: { techniques: [T1021], minSeverity: critical }
 *     backend: networkpolicy
 *     ttl: 30m
 *     dryRun: true
 * ```
 */
import { parseDocument } from 'yaml';
import type { Alert, Severity } from '../../schemas/types.js';
import { severities } from '../notify/notify-config.js';
import { ResponsePolicyError } from './quarantine-errors.js';

export const quarantineBackends = ['calico', 'adminnetworkpolicy', 'networkpolicy'] as const;
export type QuarantineBackend = (typeof quarantineBackends)[number];

export interface QuarantineRuleMatch {
  /** Any of these detectors (default: any). */
  readonly detectors?: readonly string[];
  /** This severity or above (default: any). */
  readonly minSeverity?: Severity;
  /** Any of these MITRE ATT&CK techniques; `T1021` also matches its sub-techniques (`T1021.002`). */
  readonly techniques?: readonly string[];
}

export interface QuarantineRule {
  readonly name: string;
  /** Every condition given must hold; none given matches every alert. */
  readonly match: QuarantineRuleMatch;
  readonly backend: QuarantineBackend;
  /** How long the quarantine lasts before releaseExpired() lifts it. */
  readonly ttlMs: number;
  /** Decide and plan, write nothing. */
  readonly dryRun: boolean;
}

export interface ResponsePolicy {
  /** The first rule that matches an alert decides; none matching, nothing is quarantined. */
  readonly rules: readonly QuarantineRule[];
}

export const emptyResponsePolicy: ResponsePolicy = { rules: [] };

export const DEFAULT_TTL_MS = 3_600_000;
/** A quarantine is a containment, not a verdict: it always ends, at the latest after a week. */
export const MAX_TTL_MS = 7 * 86_400_000;

const ttlUnits: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `30m`, `1h`, `2d` in milliseconds, or undefined. */
export function parseTtl(text: string): number | undefined {
  const match = /^(\d{1,7})(s|m|h|d)$/.exec(text.trim());
  return match ? Number(match[1]) * ttlUnits[match[2]!]! : undefined;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function checkKeys(value: Json, path: string, known: readonly string[], problems: string[]): void {
  for (const key of Object.keys(value)) if (!known.includes(key)) problems.push(`${path}.${key}: unknown key (known: ${known.join(', ')})`);
}

function stringList(value: unknown, path: string, problems: string[]): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`${path}: expected a non-empty list`);
    return undefined;
  }
  value.forEach((item, index) => {
    if (typeof item !== 'string' || item.length === 0) problems.push(`${path}[${index}]: expected a non-empty string`);
  });
  return value.filter((item): item is string => typeof item === 'string' && item.length > 0);
}

function readMatch(value: unknown, path: string, problems: string[]): QuarantineRuleMatch {
  if (value === undefined) return {};
  if (!isObject(value)) {
    problems.push(`${path}: expected an object`);
    return {};
  }
  checkKeys(value, path, ['detectors', 'minSeverity', 'techniques'], problems);
  const match: { -readonly [K in keyof QuarantineRuleMatch]: QuarantineRuleMatch[K] } = {};
  const detectors = stringList(value.detectors, `${path}.detectors`, problems);
  if (detectors) match.detectors = detectors;
  const techniques = stringList(value.techniques, `${path}.techniques`, problems);
  techniques?.forEach((technique, index) => {
    if (!/^T\d{4}(\.\d{3})?$/.test(technique)) problems.push(`${path}.techniques[${index}]: '${technique}' is not an ATT&CK technique id (T1046, T1021.002)`);
  });
  if (techniques) match.techniques = techniques;
  if (value.minSeverity !== undefined) {
    if (severities.includes(value.minSeverity as Severity)) match.minSeverity = value.minSeverity as Severity;
    else problems.push(`${path}.minSeverity: expected one of ${severities.join(', ')}, got ${JSON.stringify(value.minSeverity)}`);
  }
  return match;
}

function readRule(value: unknown, path: string, problems: string[]): QuarantineRule | undefined {
  if (!isObject(value)) {
    problems.push(`${path}: expected an object`);
    return undefined;
  }
  checkKeys(value, path, ['name', 'match', 'backend', 'ttl', 'dryRun'], problems);
  const before = problems.length;
  if (typeof value.name !== 'string' || value.name.length === 0) problems.push(`${path}.name: ${value.name === undefined ? 'missing' : 'expected a non-empty string'}`);
  const match = readMatch(value.match, `${path}.match`, problems);
  if (!quarantineBackends.includes(value.backend as QuarantineBackend)) {
    problems.push(`${path}.backend: ${value.backend === undefined ? 'missing' : `expected one of ${quarantineBackends.join(', ')}, got ${JSON.stringify(value.backend)}`}`);
  }
  let ttlMs = DEFAULT_TTL_MS;
  if (value.ttl !== undefined) {
    const parsed = typeof value.ttl === 'string' ? parseTtl(value.ttl) : undefined;
    if (parsed === undefined || parsed <= 0) problems.push(`${path}.ttl: expected a duration such as 90s, 30m, 1h or 2d, got ${JSON.stringify(value.ttl)}`);
    else if (parsed > MAX_TTL_MS) problems.push(`${path}.ttl: at most 7d, got ${JSON.stringify(value.ttl)}`);
    else ttlMs = parsed;
  }
  if (value.dryRun !== undefined && typeof value.dryRun !== 'boolean') problems.push(`${path}.dryRun: expected true or false, got ${JSON.stringify(value.dryRun)}`);
  if (problems.length > before) return undefined;
  return { name: value.name as string, match, backend: value.backend as QuarantineBackend, ttlMs, dryRun: value.dryRun === true };
}

/** The policy in a value already parsed (YAML or JSON), or every problem with it. */
export function responsePolicyProblems(value: unknown): { policy?: ResponsePolicy; problems: string[] } {
  const problems: string[] = [];
  if (value === null || value === undefined) return { policy: emptyResponsePolicy, problems };
  if (!isObject(value)) return { problems: ['policy: expected an object with rules'] };
  checkKeys(value, 'policy', ['rules'], problems);
  if (value.rules !== undefined && !Array.isArray(value.rules)) problems.push('policy.rules: expected a list');
  const list: unknown[] = Array.isArray(value.rules) ? value.rules : [];
  const rules = list.map((rule, index) => readRule(rule, `policy.rules[${index}]`, problems));
  const names = rules.map((rule) => rule?.name).filter((name): name is string => name !== undefined);
  for (const name of new Set(names.filter((name, index) => names.indexOf(name) !== index))) problems.push(`policy.rules: more than one rule named '${name}'`);
  return problems.length > 0 ? { problems } : { policy: { rules: rules as QuarantineRule[] }, problems };
}

/**
 * The policy in a YAML (or JSON) text; otherwise a ResponsePolicyError listing every problem,
 * each prefixed with `source` (the file name). An empty text is the empty policy.
 */
export function parseResponsePolicy(text: string, source: string): ResponsePolicy {
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) throw new ResponsePolicyError(document.errors.map((error) => `${source}: ${error.message.split('\n')[0]!.replace(/:$/, '')}`));
  const { policy, problems } = responsePolicyProblems(document.toJS());
  if (!policy) throw new ResponsePolicyError(problems.map((problem) => `${source}: ${problem}`));
  return policy;
}

const rank = (severity: Severity) => severities.indexOf(severity);

function techniqueMatches(listed: string, technique: string | null | undefined): boolean {
  return !!technique && (technique === listed || technique.startsWith(`${listed}.`));
}

export function ruleMatches(rule: QuarantineRule, alert: Alert): boolean {
  const { detectors, minSeverity, techniques } = rule.match;
  if (detectors && !detectors.includes(alert.detector)) return false;
  if (minSeverity && rank(alert.severity) < rank(minSeverity)) return false;
  if (techniques && !techniques.some((listed) => techniqueMatches(listed, alert.technique))) return false;
  return true;
}

/** The rule that decides an alert: the first that matches, if any. */
export function ruleFor(policy: ResponsePolicy, alert: Alert): QuarantineRule | undefined {
  return policy.rules.find((rule) => ruleMatches(rule, alert));
}
