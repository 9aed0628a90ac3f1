/**
 * One route's decisions, pure (time is passed in; the notifier owns the timers): which alerts the
 * route takes, which it sends on their own, and which it folds into a digest.
 *
 * - An alert matches when every condition of `match` holds. Once the route has sent an alert, it
 *   takes every later revision of it whether it still matches or not, so its resolution follows.
 * - A revision at or below the last one the route took is a duplicate (at-least-once input) and
 *   is dropped, counted.
 * - Grouping (`groupWindowMs`): the first alert of a group opens a window and is sent; alerts new
 *   to the route that arrive while it is open are held; at its end the held ones go out as one
 *   digest. Later revisions of held alerts keep going into digests (a window opens for them if
 *   none is open) and never page on their own.
 * - Rate limit: every alert sent on its own takes a token, except the resolution of an alert the
 *   route sent (it ends a page rather than starting one). Without a token the alert is held for
 *   the digest of its group; without grouping that window lasts `rateLimit.perMs`.
 * - Digests take no token: there is at most one per group and window.
 */
import type { Alert } from '../../schemas/types.js';
import { higherSeverity, severityAtLeast } from './alert-text.js';
import type { RouteConfig } from './notify-config.js';
import { alertEventType, type AlertNotification, type DigestNotification } from './notification.js';
import { TokenBucket } from './token-bucket.js';

export type OfferOutcome = 'unmatched' | 'duplicate' | 'sent' | 'grouped' | 'rate_limited';

export interface OfferResult {
  readonly outcome: OfferOutcome;
  /** Set when the outcome is `sent`. */
  readonly notification?: AlertNotification;
}

interface Tracked {
  readonly revision: number;
  /** sent: the route sent the alert on its own at least once; digest: only ever in digests. */
  readonly via: 'sent' | 'digest';
}

interface GroupWindow {
  readonly group: Readonly<Record<string, string>>;
  readonly start: number;
  readonly end: number;
  lead?: { readonly alert_id: string; readonly fingerprint: string };
  count: number;
  opened: number;
  updated: number;
  resolved: number;
  maxSeverity: Alert['severity'];
  readonly sample: Map<string, Alert>;
  omitted: number;
}

export const DEFAULT_DIGEST_SAMPLE_SIZE = 10;
export const DEFAULT_TRACKED_ALERTS = 10_000;

export class RouteGate {
  private readonly tracked = new Map<string, Tracked>();
  private readonly windows = new Map<string, GroupWindow>();
  private readonly bucket: TokenBucket | undefined;

  constructor(
    readonly route: RouteConfig,
    now: number,
    private readonly trackedLimit = DEFAULT_TRACKED_ALERTS,
  ) {
    this.bucket = route.rateLimit ? new TokenBucket(route.rateLimit.count, route.rateLimit.perMs, now) : undefined;
  }

  get name(): string {
    return this.route.name;
  }

  private get grouping(): boolean {
    return this.route.groupWindowMs !== undefined;
  }

  matches(alert: Alert): boolean {
    const { minSeverity, detectors, namespaces } = this.route.match ?? {};
    if (minSeverity && !severityAtLeast(alert.severity, minSeverity)) return false;
    if (detectors && !detectors.includes(alert.detector)) return false;
    if (namespaces && !namespaces.some((namespace) => namespace === alert.source_namespace || namespace === alert.dest_namespace)) return false;
    return true;
  }

  /** Decides what happens to one alert revision at `now`. */
  offer(alert: Alert, now: number): OfferResult {
    const tracked = this.tracked.get(alert.alert_id);
    if (tracked && (alert.revision ?? 0) <= tracked.revision) return { outcome: 'duplicate' };
    if (!tracked && !this.matches(alert)) return { outcome: 'unmatched' };
    if (tracked?.via === 'sent') {
      if (alert.status === 'resolved' || this.takeToken(now)) return this.send(alert, now);
      return this.hold(alert, now, 'rate_limited', 'sent');
    }
    if (tracked?.via === 'digest' && this.grouping) return this.hold(alert, now, 'grouped', 'digest');
    if (this.grouping) {
      const key = this.groupKey(alert);
      if (this.windows.has(key)) return this.hold(alert, now, 'grouped', 'digest');
      const window = this.openWindow(key, alert, now);
      if (!this.takeToken(now)) return this.hold(alert, now, 'rate_limited', 'digest');
      if (alert.status !== 'resolved') window.lead = { alert_id: alert.alert_id, fingerprint: alert.fingerprint };
      return this.send(alert, now);
    }
    if (this.takeToken(now)) return this.send(alert, now);
    return this.hold(alert, now, 'rate_limited', 'digest');
  }

  /** When the earliest open window ends, if any is open. */
  nextWindowEnd(): number | undefined {
    let earliest: number | undefined;
    for (const window of this.windows.values()) if (earliest === undefined || window.end < earliest) earliest = window.end;
    return earliest;
  }

  /** Closes the windows that ended by `now`; the digests of those that held anything. */
  closeDueWindows(now: number): DigestNotification[] {
    return this.closeWindows(now, (window) => window.end <= now);
  }

  /** Closes every window now (at shutdown), so nothing held is lost. */
  closeAllWindows(now: number): DigestNotification[] {
    return this.closeWindows(now, () => true);
  }

  private closeWindows(now: number, due: (window: GroupWindow) => boolean): DigestNotification[] {
    const digests: DigestNotification[] = [];
    for (const [key, window] of this.windows) {
      if (!due(window)) continue;
      this.windows.delete(key);
      if (window.count > 0) digests.push(this.digestOf(window, now));
    }
    return digests;
  }

  private digestOf(window: GroupWindow, now: number): DigestNotification {
    return {
      kind: 'digest',
      route: this.route.name,
      group: window.group,
      windowStart: window.start,
      windowEnd: Math.min(window.end, now),
      count: window.count,
      opened: window.opened,
      updated: window.updated,
      resolved: window.resolved,
      maxSeverity: window.maxSeverity,
      alerts: [...window.sample.values()],
      omitted: window.omitted,
      ...(window.lead ? { lead: window.lead } : {}),
      createdAt: now,
    };
  }

  private takeToken(now: number): boolean {
    return this.bucket ? this.bucket.take(now) : true;
  }

  private track(alert: Alert, via: Tracked['via']): void {
    this.tracked.delete(alert.alert_id);
    this.tracked.set(alert.alert_id, { revision: alert.revision ?? 0, via });
    if (this.tracked.size > this.trackedLimit) this.tracked.delete(this.tracked.keys().next().value as string);
  }

  private send(alert: Alert, now: number): OfferResult {
    this.track(alert, 'sent');
    if (alert.status === 'resolved') {
      for (const window of this.windows.values()) if (window.lead?.alert_id === alert.alert_id) window.lead = undefined;
    }
    return { outcome: 'sent', notification: { kind: 'alert', route: this.route.name, alert, createdAt: now } };
  }

  private hold(alert: Alert, now: number, outcome: 'grouped' | 'rate_limited', via: Tracked['via']): OfferResult {
    this.track(alert, via);
    const key = this.groupKey(alert);
    const window = this.windows.get(key) ?? this.openWindow(key, alert, now);
    window.count += 1;
    const event = alertEventType(alert);
    if (event === 'alert.opened') window.opened += 1;
    else if (event === 'alert.updated') window.updated += 1;
    else window.resolved += 1;
    window.maxSeverity = window.count === 1 ? alert.severity : higherSeverity(window.maxSeverity, alert.severity);
    if (window.sample.has(alert.alert_id) || window.sample.size < (this.route.digestSampleSize ?? DEFAULT_DIGEST_SAMPLE_SIZE)) {
      window.sample.set(alert.alert_id, alert);
    } else window.omitted += 1;
    return { outcome };
  }

  private openWindow(key: string, alert: Alert, now: number): GroupWindow {
    const length = this.route.groupWindowMs ?? this.route.rateLimit?.perMs ?? 0;
    const window: GroupWindow = {
      group: this.groupOf(alert),
      start: now,
      end: now + length,
      count: 0,
      opened: 0,
      updated: 0,
      resolved: 0,
      maxSeverity: alert.severity,
      sample: new Map(),
      omitted: 0,
    };
    this.windows.set(key, window);
    return window;
  }

  private groupOf(alert: Alert): Record<string, string> {
    const fields = this.route.groupBy ?? [];
    return Object.fromEntries(fields.map((field) => [field, String(alert[field] ?? '')]));
  }

  private groupKey(alert: Alert): string {
    return JSON.stringify(Object.values(this.groupOf(alert)));
  }
}
