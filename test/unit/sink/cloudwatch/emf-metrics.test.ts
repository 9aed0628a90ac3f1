import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SinkRecord } from '../../../../sink/outlet.js';
import { emfDocuments, emfLogEvents } from '../../../../sink/cloudwatch/emf-metrics.js';
import { deploymentPod, enrichedFlow, publicAddress } from '../../../support/enriched-flows.js';

const minute = 1_700_000_040_000; // a whole minute
const web = deploymentPod('shop', 'web', '10.64.0.10');
const db = deploymentPod('data', 'db', '10.64.0.20');

const flow = (source: typeof web, at: number, action: 'allow' | 'deny', bytesOut = 100): SinkRecord => ({
  kind: 'flow',
  record: { ...enrichedFlow(source, db, { at, port: 5432, action, bytesOut }), num_flows: 2 },
});

describe('Sink > CloudWatch > EMF metrics', () => {
  it('sums flows, bytes and denied flows per minute and source namespace, and counts alerts', () => {
    const records: SinkRecord[] = [
      flow(web, minute + 1_000, 'allow'),
      flow(web, minute + 59_999, 'deny'),
      flow(web, minute + 60_000, 'allow'),
      flow(publicAddress('203.0.113.9'), minute + 5_000, 'deny'),
      {
        kind: 'alert',
        record: { alert_id: 'a', fingerprint: 'f', detector: 'd', severity: 'low', start_time: minute, end_time: minute + 2_000, source_namespace: 'shop', summary: 's', count: 1 },
      },
      {
        kind: 'action',
        record: { action_id: 'r', kind: 'notify', target: { kind: 'Pod', name: 'p' }, dry_run: false, status: 'applied', requested_at: minute },
      },
    ];
    const documents = emfDocuments(records);
    const bytes = (records[0]!.record as { bytes_in: number; bytes_out: number }).bytes_in + 100;
    assert.deepEqual(
      documents.map(({ _aws, ...values }) => ({ at: _aws.Timestamp, ...values })),
      [
        { at: minute, Namespace: '-', Flows: 2, Bytes: bytes, DeniedFlows: 2, Alerts: 0 },
        { at: minute, Namespace: 'shop', Flows: 4, Bytes: 2 * bytes, DeniedFlows: 2, Alerts: 1 },
        { at: minute + 60_000, Namespace: 'shop', Flows: 2, Bytes: bytes, DeniedFlows: 0, Alerts: 0 },
      ],
    );
  });

  it('writes EMF documents CloudWatch can extract: _aws with namespace, dimension and metric units', () => {
    const [event] = emfLogEvents([flow(web, minute + 1, 'allow')]);
    assert.equal(event!.timestamp, minute);
    const document = JSON.parse(event!.message) as Record<string, unknown>;
    assert.deepEqual(document['_aws'], {
      Timestamp: minute,
      CloudWatchMetrics: [
        {
          Namespace: 'Flowsentry',
          Dimensions: [['Namespace']],
          Metrics: [
            { Name: 'Flows', Unit: 'Count' },
            { Name: 'Bytes', Unit: 'Bytes' },
            { Name: 'DeniedFlows', Unit: 'Count' },
            { Name: 'Alerts', Unit: 'Count' },
          ],
        },
      ],
    });
    for (const name of ['Namespace', 'Flows', 'Bytes', 'DeniedFlows', 'Alerts']) assert.ok(name in document, `${name} at the top level`);
  });

  it('writes nothing for no records', () => {
    assert.deepEqual(emfLogEvents([]), []);
  });
});
