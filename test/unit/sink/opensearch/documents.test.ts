import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codecFor } from '../../../../schemas/codec.js';
import { sampleResponseAction } from '../../../../schemas/samples.js';
import type { Alert, ResponseAction } from '../../../../schemas/types.js';
import { actionDocument, alertDocument, bodyOf, flowDocument, indexNameOf, indexPeriodOf, labelPairs } from '../../../../sink/opensearch/documents.js';
import { indexTemplateOf, mappingsOf } from '../../../../sink/opensearch/index-templates.js';
import { expiredIndices } from '../../../../sink/opensearch/opensearch-setup.js';
import { deploymentPod, enrichedFlow, publicAddress } from '../../../support/enriched-flows.js';

const at = Date.UTC(2026, 10, 27, 23, 59, 59, 500);
const flow = enrichedFlow(deploymentPod('shop', 'frontend', '10.0.1.5'), publicAddress('203.0.113.9'), { at, port: 443, bytesOut: 1200 });

const alert = (revision: number): Alert => ({
  alert_id: `port_scan:abc123:${Date.UTC(2026, 9, 31, 23, 58)}`,
  fingerprint: 'port_scan:abc123',
  detector: 'port_scan',
  severity: 'high',
  start_time: Date.UTC(2026, 10, 1, 0, 0),
  end_time: Date.UTC(2026, 10, 1, 0, 1),
  revision,
  summary: 'scan',
  count: 10,
});

describe('Sink > OpenSearch > documents', () => {
  it('gives a flow the same id whether it was decoded from Avro or built in code, and another id when any value differs', () => {
    const decoded = codecFor('EnrichedFlow').decode(codecFor('EnrichedFlow').encode(flow));
    const sparse = Object.fromEntries(Object.entries(flow).filter(([, value]) => value !== null && !(Array.isArray(value) && value.length === 0))) as typeof flow;
    assert.ok(Object.keys(sparse).length < Object.keys(decoded).length, 'decoding fills in what the sparse record leaves out');
    assert.equal(flowDocument(decoded).id, flowDocument(sparse).id);
    const relabelled = { ...flow, source_labels: { tier: 'web', app: 'frontend' } };
    assert.equal(flowDocument(relabelled).id, flowDocument({ ...flow, source_labels: { app: 'frontend', tier: 'web' } }).id, 'label order does not matter');
    assert.equal(bodyOf(flowDocument(decoded)).flow_id, flowDocument(decoded).id);
    assert.notEqual(flowDocument({ ...flow, bytes_out: flow.bytes_out + 1 }).id, flowDocument(flow).id);
    assert.notEqual(flowDocument({ ...flow, reporter: 'dst' }).id, flowDocument(flow).id);
  });

  it('puts a flow in the UTC day of its end, with totals, label pairs and its id as a field', () => {
    const document = flowDocument(flow);
    const body = bodyOf(document);
    assert.equal(document.index, 'flowsentry-flows-2026.11.27');
    assert.equal(body['@timestamp'], at);
    assert.equal(body.flow_id, document.id);
    assert.equal(body.bytes, flow.bytes_in + flow.bytes_out);
    assert.deepEqual(body.source_label, ['app=frontend']);
    assert.deepEqual(labelPairs({ z: '1', a: 'b=c' }), ['a=b=c', 'z=1']);
  });

  it('keeps every revision of an alert episode in one document of the month it opened, versioned by revision', () => {
    const first = alertDocument(alert(0));
    const later = alertDocument(alert(3));
    assert.equal(first.index, 'flowsentry-alerts-2026.10');
    assert.equal(later.index, first.index);
    assert.equal(later.id, first.id);
    assert.deepEqual([first.version, later.version], [0, 3]);
  });

  it('gives an action stated again with fresh timestamps the same id, and another outcome of it another id', () => {
    const first: ResponseAction = { ...sampleResponseAction, status: 'skipped', requested_at: Date.UTC(2026, 10, 27, 12), completed_at: Date.UTC(2026, 10, 27, 12) };
    const again = { ...first, requested_at: first.requested_at + 5_000, completed_at: first.requested_at + 5_100 };
    assert.equal(actionDocument(again).id, actionDocument(first).id);
    assert.notEqual(actionDocument({ ...first, status: 'applied' }).id, actionDocument(first).id);
    assert.notEqual(actionDocument({ ...first, action_id: `${first.action_id}:undo` }).id, actionDocument(first).id);
    assert.equal(actionDocument(first).index, 'flowsentry-actions-2026.11');
  });

  it('reads the period back from an index name, and only from names of its kind', () => {
    assert.deepEqual(indexPeriodOf('flow', 'flowsentry-flows-2026.02.28'), { start: Date.UTC(2026, 1, 28), end: Date.UTC(2026, 2, 1) });
    assert.deepEqual(indexPeriodOf('alert', 'flowsentry-alerts-2026.12'), { start: Date.UTC(2026, 11, 1), end: Date.UTC(2027, 0, 1) });
    assert.equal(indexPeriodOf('flow', 'flowsentry-flows-2026.02.30'), undefined);
    assert.equal(indexPeriodOf('flow', 'flowsentry-alerts-2026.02'), undefined);
    assert.equal(indexPeriodOf('flow', 'other-flows-2026.02.01'), undefined);
    assert.equal(indexNameOf('action', Date.UTC(2026, 0, 31), { prefix: 'fs' }), 'fs-actions-2026.01');
  });

  it('expires an index only once its whole period is older than the retention', () => {
    const now = Date.UTC(2026, 10, 27, 12);
    const names = ['flowsentry-flows-2026.11.12', 'flowsentry-flows-2026.11.13', 'flowsentry-flows-2026.11.14', 'flowsentry-flows-junk'];
    assert.deepEqual(expiredIndices('flow', names, now, 14), ['flowsentry-flows-2026.11.12']);
  });

  it('maps addresses as ip, names as keyword, times as dates and counters as long, for every field a flow document has', () => {
    const properties = mappingsOf.flow;
    assert.equal(properties.source_ip?.type, 'ip');
    assert.equal(properties.dest_namespace?.type, 'keyword');
    assert.equal(properties.start_time?.type, 'date');
    assert.equal(properties.bytes_out?.type, 'long');
    const unmapped = Object.keys(bodyOf(flowDocument(codecFor('EnrichedFlow').decode(codecFor('EnrichedFlow').encode(flow))))).filter((field) => !(field in properties));
    assert.deepEqual(unmapped, []);
    const unmappedAlert = Object.keys(bodyOf(alertDocument(codecFor('Alert').decode(codecFor('Alert').encode(alert(1)))))).filter((field) => !(field in mappingsOf.alert));
    assert.deepEqual(unmappedAlert, []);
    assert.deepEqual(indexTemplateOf('flow').index_patterns, ['flowsentry-flows-*']);
  });
});
