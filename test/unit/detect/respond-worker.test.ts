import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MemoryNotifier } from '../../../detect/notify/memory-notifier.js';
import { RespondWorker, type AlertResponder } from '../../../detect/respond-worker.js';
import type { IncomingMessage } from '../../../runtime/bus/bus.js';
import { MemoryBus } from '../../../runtime/bus/memory-bus.js';
import { MetricsRegistry } from '../../../runtime/metrics.js';
import { topics, topicSpecs } from '../../../runtime/topics.js';
import { codecFor } from '../../../schemas/codec.js';
import { sampleAlert } from '../../../schemas/samples.js';
import type { Alert, ResponseAction } from '../../../schemas/types.js';
import { waitFor } from '../../support/wait.js';

const alertCodec = codecFor('Alert');
const actionCodec = codecFor('ResponseAction');

const alertOf = (n: number): Alert => ({ ...sampleAlert, alert_id: `alert-${n}`, revision: 0, samples: [] });
const actionFor = (alert: Alert, status: ResponseAction['status'] = 'applied'): ResponseAction => ({
  action_id: `q-${alert.alert_id}`,
  alert_id: alert.alert_id,
  kind: 'quarantine',
  target: { kind: 'Pod', namespace: 'shop', name: `pod-${alert.alert_id}`, uid: null },
  dry_run: false,
  status,
  reason: null,
  requested_by: 'flowsentry',
  requested_at: 1,
  completed_at: 2,
  expires_at: null,
  undoes_action_id: null,
});

async function rig(t: TestContext, responder: AlertResponder, expiryCheckMs = 60_000) {
  const bus = new MemoryBus({ retryBackoffMs: 10 });
  await bus.ensureTopics(topicSpecs(2));
  const notifier = new MemoryNotifier();
  const worker = new RespondWorker({ bus, metrics: new MetricsRegistry(), notifier: () => notifier, responder, expiryCheckMs });
  await worker.start();
  const written: ResponseAction[] = [];
  const reader = bus.consumer({ groupId: 'test-actions', topics: [topics.actions] });
  await reader.start(async (batch) => {
    for (const message of batch.messages as readonly IncomingMessage[]) written.push(...actionCodec.decodeAll(message.value));
  });
  t.after(async () => {
    await reader.close();
    await worker.close();
    await bus.close();
  });
  const send = (alerts: readonly Alert[]) =>
    bus.producer().send(topics.alerts, alerts.map((alert) => ({ key: alert.alert_id, value: alertCodec.encode(alert) })));
  return { notifier, written, send };
}

describe('Detect > respond worker > responder', () => {
  it('hands every alert to the responder and writes its actions to the actions topic and the notifier', async (t) => {
    const responded: string[] = [];
    const { notifier, written, send } = await rig(t, {
      respond: async (alert) => {
        responded.push(alert.alert_id);
        return [actionFor(alert)];
      },
      releaseExpired: async () => [],
    });
    const alerts = [alertOf(1), alertOf(2), alertOf(3)];
    await send(alerts);
    await waitFor(() => written.length === 3);
    assert.deepEqual(responded.sort(), ['alert-1', 'alert-2', 'alert-3']);
    assert.deepEqual(written.map((action) => action.action_id).sort(), ['q-alert-1', 'q-alert-2', 'q-alert-3']);
    assert.deepEqual(notifier.actions.map((action) => action.action_id).sort(), ['q-alert-1', 'q-alert-2', 'q-alert-3']);
    assert.equal(notifier.alerts.length, 3);
  });

  it('writes the actions of a response that ends after its batch began to close', async (t) => {
    const { written, send } = await rig(t, {
      respond: async (alert) => {
        await new Promise((resolve) => setTimeout(resolve, 150));
        return [actionFor(alert)];
      },
      releaseExpired: async () => [],
    });
    await send([alertOf(5)]);
    await waitFor(() => written.length === 1);
    assert.deepEqual(written.map((action) => action.action_id), ['q-alert-5']);
  });

  it('reads the batch again when the responder could not decide, and writes its actions once it could', async (t) => {
    let attempts = 0;
    const { written, send } = await rig(t, {
      respond: async (alert) => {
        attempts += 1;
        if (attempts === 1) throw new Error('API server unreachable');
        return [actionFor(alert)];
      },
      releaseExpired: async () => [],
    });
    await send([alertOf(7)]);
    await waitFor(() => written.length > 0);
    assert.ok(attempts >= 2, `the alert was read again (${attempts} attempts)`);
    assert.deepEqual(written.map((action) => action.action_id), ['q-alert-7']);
  });

  it('releases expired responses on its own clock and writes what it released', async (t) => {
    let released = false;
    const release = { ...actionFor(alertOf(9), 'expired'), action_id: 'undo-q-alert-9', kind: 'undo' as const, undoes_action_id: 'q-alert-9' };
    const { notifier, written } = await rig(
      t,
      {
        respond: async () => [],
        releaseExpired: async () => {
          if (released) return [];
          released = true;
          return [release];
        },
      },
      20,
    );
    await waitFor(() => written.length === 1);
    assert.deepEqual(written, [release]);
    assert.deepEqual(notifier.actions, [release]);
  });
});
