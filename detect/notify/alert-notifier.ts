/** The notify contract the detect worker uses: hand over alerts, never wait on delivery. */
import type { Alert, ResponseAction } from '../../schemas/types.js';

export interface AlertNotifier {
  /** Takes one alert revision; returns at once and never throws. */
  notify(alert: Alert): void;
  /** Takes one response action (a quarantine applied, refused or released); returns at once and never throws. */
  notifyAction(action: ResponseAction): void;
  /** Resolves once every queued delivery has finished (delivered or dead-lettered); open group windows are not waited for. */
  drain(): Promise<void>;
  /** Sends what group windows hold, waits a bounded time for the queues, dead-letters the rest. */
  close(): Promise<void>;
}
