/** An AlertNotifier that keeps what it is given, for tests of the stages that notify. */
import type { Alert, ResponseAction } from '../../schemas/types.js';
import type { AlertNotifier } from './alert-notifier.js';

export class MemoryNotifier implements AlertNotifier {
  readonly alerts: Alert[] = [];
  readonly actions: ResponseAction[] = [];
  closed = false;

  notify(alert: Alert): void {
    this.alerts.push(alert);
  }

  notifyAction(action: ResponseAction): void {
    this.actions.push(action);
  }

  async drain(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }
}
