/** Times and durations as people write them on a command line or in a URL. Pure. */

const units: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `5m`, `1h`, `2d`, `1w`, `250ms` in milliseconds, or undefined. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,9})(ms|s|m|h|d|w)$/.exec(text.trim());
  return match ? Number(match[1]) * units[match[2]!]! : undefined;
}

/**
 * A time in epoch ms, or undefined: ISO 8601 (`2026-11-27T12:00:00Z`, `2026-11-27`; without a
 * zone it is UTC), epoch milliseconds, `now`, or relative to now (`-1h`, `now-30m`, `now+5m`).
 */
export function parseTime(text: string, now: number): number | undefined {
  const value = text.trim();
  if (value === 'now') return now;
  const relative = /^(?:now)?([+-])(\d{1,9}(?:ms|s|m|h|d|w))$/.exec(value);
  if (relative) return now + (relative[1] === '-' ? -1 : 1) * parseDuration(relative[2]!)!;
  if (/^\d{1,15}$/.test(value)) return Number(value);
  const iso = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/.exec(value);
  if (!iso) return undefined;
  const [, day, time, zone] = iso;
  const parsed = Date.parse(time === undefined ? `${day}T00:00:00Z` : `${day}T${time}${zone ?? 'Z'}`);
  return Number.isFinite(parsed) ? parsed : undefined;
}

export const timeForms = 'ISO 8601 (2026-11-27T12:00:00Z), epoch ms, now, or relative (-1h, now-30m)';
