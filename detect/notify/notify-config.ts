/**
 * Notifier config: named endpoints (where and how to send) and routes (which alerts go to which
 * endpoints, how fast, grouped how). Checked once at start by parseNotifyConfig, which reports
 * every problem at once and rejects unknown keys.
 */
import type { Severity } from '../../schemas/types.js';
import { NotifyConfigError } from './notify-errors.js';
import { webhookKey } from './standard-webhooks.js';

export const severities: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];
export const DEFAULT_PAGERDUTY_URL = 'https://events.pagerduty.com/v2/enqueue';

/** Alert fields a route may group by: the scalar ones that name a subject or a kind of detection. */
export const groupFields = [
  'detector',
  'severity',
  'technique',
  'fingerprint',
  'source_namespace',
  'source_workload',
  'source_name_aggr',
  'source_ip',
  'dest_namespace',
  'dest_workload',
  'dest_name_aggr',
  'dest_ip',
  'dest_port',
  'indicator',
  'feed',
] as const;
export type GroupField = (typeof groupFields)[number];

export interface RetryConfig {
  /** Attempts per delivery, the first included (default 6). */
  readonly maxAttempts?: number;
  /** Upper bound of the first back-off; it doubles per retry, with full jitter (default 500 ms). */
  readonly baseDelayMs?: number;
  /** Cap of one back-off (default 30 s); a longer Retry-After is honoured while it fits maxElapsedMs. */
  readonly maxDelayMs?: number;
  /** Time budget of one delivery from its first attempt; no retry starts past it (default 120 s). */
  readonly maxElapsedMs?: number;
}

interface EndpointCommon {
  /** Unique; metrics and dead letters name the endpoint by it (never by its URL, which may hold a token). */
  readonly name: string;
  /** Per attempt (default 10 s). */
  readonly timeoutMs?: number;
  /** Deliveries waiting for this endpoint; beyond it they are dead-lettered (default 1000). */
  readonly maxQueue?: number;
  readonly retry?: RetryConfig;
}

/** A receiver of Standard Webhooks: JSON body, signed with every secret listed (rotation). */
export interface WebhookEndpointConfig extends EndpointCommon {
  readonly type: 'webhook';
  readonly url: string;
  readonly secrets: readonly string[];
  /** Extra request headers (say, Authorization). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A Slack incoming webhook (the URL is the credential). */
export interface SlackEndpointConfig extends EndpointCommon {
  readonly type: 'slack';
  readonly url: string;
}

/** PagerDuty Events API v2: trigger with dedup_key = the alert's fingerprint, resolve when it resolves. */
export interface PagerDutyEndpointConfig extends EndpointCommon {
  readonly type: 'pagerduty';
  readonly routingKey: string;
  /** Default https://events.pagerduty.com/v2/enqueue. */
  readonly url?: string;
}

export type NotifyEndpointConfig = WebhookEndpointConfig | SlackEndpointConfig | PagerDutyEndpointConfig;
export type NotifyEndpointType = NotifyEndpointConfig['type'];

export interface RouteMatch {
  /** Alerts at this severity or above. */
  readonly minSeverity?: Severity;
  readonly detectors?: readonly string[];
  /** Alerts whose source or destination is in one of these namespaces. */
  readonly namespaces?: readonly string[];
}

export interface RateLimitConfig {
  /** Individual deliveries allowed per `perMs` (a token bucket of this size, refilled evenly). */
  readonly count: number;
  readonly perMs: number;
}

export interface RouteConfig {
  readonly name: string;
  /** Every condition given must hold; none given matches every alert. */
  readonly match?: RouteMatch;
  /** Names of endpoints. */
  readonly endpoints: readonly string[];
  readonly rateLimit?: RateLimitConfig;
  /** The fields whose values make a group (default: the whole route is one group). */
  readonly groupBy?: readonly GroupField[];
  /** Grouping is on when this is set: the first alert of a group is sent, the rest of the window goes into one digest. */
  readonly groupWindowMs?: number;
  /** Alerts a digest carries in full (the rest are counted), default 10. */
  readonly digestSampleSize?: number;
  /**
   * Whether the route also sends response actions (quarantines applied, refused, released), default
   * true. A route's `namespaces` match applies to the action's target; severity and detectors do not.
   */
  readonly actions?: boolean;
}

export interface NotifyConfig {
  readonly endpoints: readonly NotifyEndpointConfig[];
  readonly routes: readonly RouteConfig[];
  /** How long close() waits for queued deliveries before it dead-letters them (default 10 s). */
  readonly closeTimeoutMs?: number;
  /** Alerts each route remembers having sent, for updates and de-duplication (default 10 000, oldest forgotten first). */
  readonly trackedAlertsPerRoute?: number;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

class Checker {
  readonly problems: string[] = [];

  problem(path: string, detail: string): void {
    this.problems.push(`${path}: ${detail}`);
  }

  object(value: unknown, path: string, known: readonly string[]): Json | undefined {
    if (!isObject(value)) {
      this.problem(path, 'expected an object');
      return undefined;
    }
    for (const key of Object.keys(value)) if (!known.includes(key)) this.problem(`${path}.${key}`, `unknown key (known: ${known.join(', ')})`);
    return value;
  }

  string(value: unknown, path: string, required: boolean): void {
    if (value === undefined) {
      if (required) this.problem(path, 'missing');
    } else if (typeof value !== 'string' || value.length === 0) this.problem(path, 'expected a non-empty string');
  }

  url(value: unknown, path: string, required: boolean): void {
    this.string(value, path, required);
    if (typeof value !== 'string' || value.length === 0) return;
    let protocol: string | undefined;
    try {
      protocol = new URL(value).protocol;
    } catch {
      this.problem(path, 'not a URL');
      return;
    }
    if (protocol !== 'https:' && protocol !== 'http:') this.problem(path, `expected an http(s) URL, got ${protocol}`);
  }

  positive(value: unknown, path: string, integer = true): void {
    if (value === undefined) return;
    const ok = typeof value === 'number' && value > 0 && (integer ? Number.isSafeInteger(value) : Number.isFinite(value));
    if (!ok) this.problem(path, `expected a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`);
  }

  strings(value: unknown, path: string, allowed?: readonly string[]): void {
    if (value === undefined) return;
    if (!Array.isArray(value) || value.length === 0) {
      this.problem(path, 'expected a non-empty list');
      return;
    }
    value.forEach((item, index) => {
      if (typeof item !== 'string' || item.length === 0) this.problem(`${path}[${index}]`, 'expected a non-empty string');
      else if (allowed && !allowed.includes(item)) this.problem(`${path}[${index}]`, `'${item}' is not one of ${allowed.join(', ')}`);
    });
  }
}

const commonKeys = ['name', 'type', 'timeoutMs', 'maxQueue', 'retry'];
const endpointKeys: Record<NotifyEndpointType, readonly string[]> = {
  webhook: [...commonKeys, 'url', 'secrets', 'headers'],
  slack: [...commonKeys, 'url'],
  pagerduty: [...commonKeys, 'routingKey', 'url'],
};

function checkEndpoint(check: Checker, value: unknown, path: string): void {
  const type = isObject(value) ? value.type : undefined;
  if (typeof type !== 'string' || !(type in endpointKeys)) {
    check.problem(`${path}.type`, `expected one of ${Object.keys(endpointKeys).join(', ')}, got ${JSON.stringify(type)}`);
    return;
  }
  const endpoint = check.object(value, path, endpointKeys[type as NotifyEndpointType]);
  if (!endpoint) return;
  check.string(endpoint.name, `${path}.name`, true);
  check.positive(endpoint.timeoutMs, `${path}.timeoutMs`);
  check.positive(endpoint.maxQueue, `${path}.maxQueue`);
  if (endpoint.retry !== undefined) {
    const retry = check.object(endpoint.retry, `${path}.retry`, ['maxAttempts', 'baseDelayMs', 'maxDelayMs', 'maxElapsedMs']);
    if (retry) for (const key of Object.keys(retry)) check.positive(retry[key], `${path}.retry.${key}`);
  }
  if (type === 'pagerduty') {
    check.string(endpoint.routingKey, `${path}.routingKey`, true);
    check.url(endpoint.url, `${path}.url`, false);
    return;
  }
  check.url(endpoint.url, `${path}.url`, true);
  if (type === 'webhook') checkSigning(check, endpoint, path);
}

/** A webhook's secrets (each usable as a key) and extra headers (never the signature's own). */
function checkSigning(check: Checker, endpoint: Json, path: string): void {
  if (endpoint.secrets === undefined) check.problem(`${path}.secrets`, 'missing (at least one secret; two while rotating)');
  check.strings(endpoint.secrets, `${path}.secrets`);
  const secrets: unknown[] = Array.isArray(endpoint.secrets) ? endpoint.secrets : [];
  secrets.forEach((secret, index) => {
    if (typeof secret !== 'string' || secret.length === 0) return;
    try {
      webhookKey(secret);
    } catch (error) {
      check.problem(`${path}.secrets[${index}]`, (error as Error).message);
    }
  });
  if (endpoint.headers !== undefined && !isObject(endpoint.headers)) check.problem(`${path}.headers`, 'expected an object');
  for (const [name, header] of Object.entries(isObject(endpoint.headers) ? endpoint.headers : {})) {
    if (typeof header !== 'string') check.problem(`${path}.headers.${name}`, 'expected a string');
    if (name.toLowerCase().startsWith('webhook-')) check.problem(`${path}.headers.${name}`, 'webhook-* headers are set by the signer');
  }
}

function checkRoute(check: Checker, value: unknown, path: string, endpointNames: ReadonlySet<string>): void {
  const known = ['name', 'match', 'endpoints', 'rateLimit', 'groupBy', 'groupWindowMs', 'digestSampleSize', 'actions'];
  const route = check.object(value, path, known);
  if (!route) return;
  check.string(route.name, `${path}.name`, true);
  if (route.match !== undefined) {
    const match = check.object(route.match, `${path}.match`, ['minSeverity', 'detectors', 'namespaces']);
    if (match?.minSeverity !== undefined && !severities.includes(match.minSeverity as Severity)) {
      check.problem(`${path}.match.minSeverity`, `expected one of ${severities.join(', ')}, got ${JSON.stringify(match.minSeverity)}`);
    }
    check.strings(match?.detectors, `${path}.match.detectors`);
    check.strings(match?.namespaces, `${path}.match.namespaces`);
  }
  if (route.endpoints === undefined) check.problem(`${path}.endpoints`, 'missing');
  check.strings(route.endpoints, `${path}.endpoints`);
  if (Array.isArray(route.endpoints)) {
    route.endpoints.forEach((name, index) => {
      if (typeof name === 'string' && name.length > 0 && !endpointNames.has(name)) check.problem(`${path}.endpoints[${index}]`, `no endpoint named '${name}'`);
    });
  }
  if (route.rateLimit !== undefined) {
    const rateLimit = check.object(route.rateLimit, `${path}.rateLimit`, ['count', 'perMs']);
    if (rateLimit) {
      if (rateLimit.count === undefined || rateLimit.perMs === undefined) check.problem(`${path}.rateLimit`, 'needs both count and perMs');
      check.positive(rateLimit.count, `${path}.rateLimit.count`);
      check.positive(rateLimit.perMs, `${path}.rateLimit.perMs`);
    }
  }
  check.strings(route.groupBy, `${path}.groupBy`, groupFields);
  check.positive(route.groupWindowMs, `${path}.groupWindowMs`);
  check.positive(route.digestSampleSize, `${path}.digestSampleSize`);
  if (route.actions !== undefined && typeof route.actions !== 'boolean') check.problem(`${path}.actions`, `expected true or false, got ${JSON.stringify(route.actions)}`);
  if (route.groupBy !== undefined && route.groupWindowMs === undefined) check.problem(`${path}.groupBy`, 'has no effect without groupWindowMs');
}

function duplicates(names: readonly unknown[]): string[] {
  const seen = new Set<unknown>();
  return [...new Set(names.filter((name) => typeof name === 'string' && (seen.has(name) || !seen.add(name))))] as string[];
}

/** Every problem of a notifier config, `path: problem`; empty when it is valid. */
export function notifyConfigProblems(value: unknown): string[] {
  const check = new Checker();
  const config = check.object(value, 'notify', ['endpoints', 'routes', 'closeTimeoutMs', 'trackedAlertsPerRoute']);
  if (!config) return check.problems;
  check.positive(config.closeTimeoutMs, 'notify.closeTimeoutMs');
  check.positive(config.trackedAlertsPerRoute, 'notify.trackedAlertsPerRoute');
  const endpoints = Array.isArray(config.endpoints) ? config.endpoints : [];
  const routes = Array.isArray(config.routes) ? config.routes : [];
  if (!Array.isArray(config.endpoints)) check.problem('notify.endpoints', 'expected a list');
  if (!Array.isArray(config.routes)) check.problem('notify.routes', 'expected a list');
  endpoints.forEach((endpoint, index) => checkEndpoint(check, endpoint, `notify.endpoints[${index}]`));
  const endpointNames = endpoints.map((endpoint) => (isObject(endpoint) ? endpoint.name : undefined));
  for (const name of duplicates(endpointNames)) check.problem('notify.endpoints', `more than one endpoint named '${name}'`);
  const known = new Set(endpointNames.filter((name): name is string => typeof name === 'string'));
  routes.forEach((route, index) => checkRoute(check, route, `notify.routes[${index}]`, known));
  for (const name of duplicates(routes.map((route) => (isObject(route) ? route.name : undefined)))) check.problem('notify.routes', `more than one route named '${name}'`);
  return check.problems;
}

/** The config itself once it is valid; otherwise a NotifyConfigError listing every problem. */
export function parseNotifyConfig(value: unknown): NotifyConfig {
  const problems = notifyConfigProblems(value);
  if (problems.length > 0) throw new NotifyConfigError(problems);
  return value as NotifyConfig;
}
