/**
 * FeedSpecs checked once, before anything is read: every problem reported together, unknown
 * fields rejected. Also which source reads a location.
 */
import { FeedConfigError } from './feed-errors.js';
import type { FeedSource } from './feed-source.js';
import type { FeedSpec } from './feed.js';
import { FileFeedSource } from './file-feed-source.js';
import { HttpFeedSource } from './http-feed-source.js';

const specFields = new Set(['name', 'location', 'format', 'refreshMs']);
const formats = new Set(['text', 'csv', 'auto']);
/** The longest delay a Node timer keeps (about 24.8 days). */
const maxRefreshMs = 2 ** 31 - 1;

const isHttp = (location: string) => /^https?:\/\//i.test(location);
/** `scheme://` other than http(s) and file. */
const otherScheme = (location: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !isHttp(location) && !/^file:/i.test(location);

/** The specs, typed, or a FeedConfigError naming every problem of every spec. */
export function checkFeedSpecs(specs: readonly unknown[]): FeedSpec[] {
  const problems: string[] = [];
  const names = new Set<string>();
  specs.forEach((spec, i) => {
    const where = `feeds[${i}]`;
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      problems.push(`${where}: expected an object with name and location`);
      return;
    }
    const fields = spec as Record<string, unknown>;
    for (const key of Object.keys(fields)) if (!specFields.has(key)) problems.push(`${where}: unknown field '${key}' (known: ${[...specFields].join(', ')})`);
    const { name, location, format, refreshMs } = fields;
    if (typeof name !== 'string' || name.trim() === '' || name !== name.trim() || /[\p{Cc}]/u.test(name)) {
      problems.push(`${where}.name: expected a non-empty name without surrounding blanks or control characters`);
    } else if (names.has(name)) {
      problems.push(`${where}.name: '${name}' is already the name of another feed`);
    } else {
      names.add(name);
    }
    if (typeof location !== 'string' || location.trim() === '') problems.push(`${where}.location: expected a file path or an http(s) URL`);
    else if (otherScheme(location)) problems.push(`${where}.location: '${location}': only http:, https: and file: URLs (or a path) are read`);
    else if (isHttp(location) && !URL.canParse(location)) problems.push(`${where}.location: '${location}' is not a valid URL`);
    if (format !== undefined && !(typeof format === 'string' && formats.has(format))) problems.push(`${where}.format: expected one of text, csv, auto`);
    if (refreshMs !== undefined && !(typeof refreshMs === 'number' && Number.isInteger(refreshMs) && refreshMs >= 0 && refreshMs <= maxRefreshMs)) {
      problems.push(`${where}.refreshMs: expected a whole number of milliseconds from 0 (read once) to ${maxRefreshMs}`);
    }
  });
  if (problems.length > 0) throw new FeedConfigError(problems);
  return specs as FeedSpec[];
}

export interface FeedSourceOptions {
  /** HTTP: limit on the request and the body together. Default 30 s. */
  readonly timeoutMs?: number;
  /** Largest feed accepted. Default 256 MiB. */
  readonly maxBytes?: number;
}

/** The source that reads a spec's location: HTTP for http(s) URLs, a file otherwise. */
export function feedSourceOf(spec: FeedSpec, options: FeedSourceOptions = {}): FeedSource {
  if (isHttp(spec.location)) return new HttpFeedSource(spec.name, spec.location, options);
  return new FileFeedSource(spec.name, spec.location, options);
}
