import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logGroupName, logNamingPresets, logStreamName, namingProblems, sanitizeGroupName, sanitizeStreamName } from '../../../../sink/cloudwatch/log-names.js';

const { default: standard, tigera } = logNamingPresets;

describe('Sink > CloudWatch > Log names', () => {
  it('default: a group per cluster, a stream per node, alerts and actions in streams of their own', () => {
    assert.equal(logGroupName(standard, 'prod-eu'), '/flowsentry/prod-eu/flows');
    assert.equal(logStreamName(standard, 'flow', 'prod-eu', 'ip-10-0-1-23.ec2.internal'), 'ip-10-0-1-23.ec2.internal');
    assert.equal(logStreamName(standard, 'alert', 'prod-eu'), 'flowsentry-alerts');
    assert.equal(logStreamName(standard, 'action', 'prod-eu'), 'flowsentry-actions');
    assert.equal(logStreamName(standard, 'metrics', 'prod-eu'), 'flowsentry-metrics');
  });

  it('tigera: the names Calico Enterprise uses', () => {
    assert.equal(logGroupName(tigera, 'prod-eu'), 'tigera-flowlogs-prod-eu');
    assert.equal(logStreamName(tigera, 'flow', 'prod-eu', 'ip-10-0-1-23.ec2.internal'), 'ip-10-0-1-23.ec2.internal_Flowlogs');
  });

  it('renders templates with {cluster} and {node}', () => {
    const naming = { ...standard, group: 'flows/{cluster}', flowStream: '{cluster}.{node}', alertStream: '{cluster}-alerts' };
    assert.deepEqual(namingProblems(naming), []);
    assert.equal(logGroupName(naming, 'c1'), 'flows/c1');
    assert.equal(logStreamName(naming, 'flow', 'c1', 'n1'), 'c1.n1');
    assert.equal(logStreamName(naming, 'alert', 'c1'), 'c1-alerts');
  });

  it('reports unknown placeholders, {node} outside flow streams and empty templates, all at once', () => {
    assert.deepEqual(namingProblems({ ...standard, group: '/x/{node}', alertStream: '{clustr}', actionStream: '' }), [
      'naming.group: {node} is not allowed here (use {cluster})',
      'naming.alertStream: {clustr} is not allowed here (use {cluster})',
      'naming.actionStream: a non-empty template is required',
    ]);
  });

  it('replaces the characters CloudWatch forbids: `:` and `*` in streams, anything but [A-Za-z0-9._-/#] in groups', () => {
    assert.equal(sanitizeStreamName('node:1*a b/ü'), 'node_1_a b/ü');
    assert.equal(sanitizeGroupName('/flowsentry/prod eu:1/flows'), '/flowsentry/prod_eu_1/flows');
    assert.equal(logStreamName(standard, 'flow', 'c', ''), '_');
    assert.equal(sanitizeStreamName(''), '_');
  });

  it('cuts names to 512 characters, keeping long names distinct', () => {
    const a = sanitizeStreamName(`${'n'.repeat(600)}a`);
    const b = sanitizeStreamName(`${'n'.repeat(600)}b`);
    assert.equal(a.length, 512);
    assert.equal(b.length, 512);
    assert.notEqual(a, b);
    assert.match(a, /^n{503}-[0-9a-f]{8}$/);
    assert.equal(logGroupName(standard, 'c'.repeat(600)).length, 512);
    assert.equal(sanitizeStreamName('n'.repeat(512)), 'n'.repeat(512));
  });
});
