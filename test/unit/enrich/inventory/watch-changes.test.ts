import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inventoryEventOf } from '../../../../enrich/kubernetes-objects.js';
import { listedChanges, vanishedObjects, watchBatchChanges } from '../../../../enrich/inventory/watch-changes.js';
import type { InventoryEvent } from '../../../../schemas/types.js';

const podObject = (uid: string, resourceVersion: string, labels: Record<string, string> = {}, ip = '10.1.0.1') => ({
  metadata: { name: `pod-${uid}`, namespace: 'shop', uid, resourceVersion, labels },
  spec: { nodeName: 'node-a' },
  status: { phase: 'Running', podIP: ip },
});

const published = (uid: string, resourceVersion: string, labels: Record<string, string> = {}): InventoryEvent => inventoryEventOf('ADDED', podObject(uid, resourceVersion, labels), 1_000, 'Pod')!;

const knownOf = (...events: InventoryEvent[]) => new Map(events.map((event) => [event.uid, event]));
const summary = (events: readonly InventoryEvent[]) => events.map((event) => `${event.type} ${event.uid}@${event.resource_version}`);

describe('Enrich > inventory > relist diff', () => {
  const known = knownOf(published('a', '10'), published('b', '11', { app: 'web' }), published('c', '12'));

  it('publishes new objects as ADDED and changed ones as MODIFIED, nothing for objects at the resourceVersion published', () => {
    const seen = new Set<string>();
    const { events, problems } = listedChanges(known, [podObject('a', '10'), podObject('b', '20', { app: 'web', tier: 'front' }), podObject('d', '21')], 'Pod', 5_000, seen);
    assert.deepEqual(summary(events), ['MODIFIED b@20', 'ADDED d@21']);
    assert.deepEqual(events[0]!.labels, { app: 'web', tier: 'front' });
    assert.ok(events.every((event) => event.observed_time === 5_000 && event.kind === 'Pod'));
    assert.deepEqual(problems, []);
    assert.deepEqual([...seen].sort(), ['a', 'b', 'd']);
  });

  it('publishes DELETED, as last published, for objects the complete list no longer shows', () => {
    const seen = new Set(['a', 'b', 'd']);
    const deleted = vanishedObjects(known, seen, 5_000);
    assert.deepEqual(summary(deleted), ['DELETED c@12']);
    assert.equal(deleted[0]!.observed_time, 5_000);
    assert.deepEqual(deleted[0]!.ips, ['10.1.0.1']);
  });

  it('collects the uids of every page before anything counts as gone', () => {
    const seen = new Set<string>();
    listedChanges(known, [podObject('a', '10')], 'Pod', 5_000, seen);
    listedChanges(known, [podObject('c', '12')], 'Pod', 5_000, seen);
    assert.deepEqual(summary(vanishedObjects(known, seen, 5_000)), ['DELETED b@11']);
  });

  it('lists everything as ADDED when nothing was published', () => {
    const { events } = listedChanges(new Map(), [podObject('a', '10'), podObject('b', '11')], 'Pod', 5_000, new Set());
    assert.deepEqual(summary(events), ['ADDED a@10', 'ADDED b@11']);
  });

  it('skips an object that cannot be read and says why, keeping the rest', () => {
    const broken = { metadata: { name: 'nameless-uid', resourceVersion: '30' } };
    const { events, problems } = listedChanges(new Map(), [broken, podObject('e', '31')], 'Pod', 5_000, new Set());
    assert.deepEqual(summary(events), ['ADDED e@31']);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /uid missing/);
  });
});

describe('Enrich > inventory > watch batches', () => {
  const known = knownOf(published('a', '10'), published('b', '11'));

  it('turns each event into an InventoryEvent at the observed time and resumes after the last resourceVersion', () => {
    const batch = [
      { type: 'MODIFIED', object: podObject('a', '40', { v: '2' }) },
      { type: 'ADDED', object: podObject('n', '41') },
      { type: 'DELETED', object: podObject('b', '42') },
    ];
    const changes = watchBatchChanges(known, batch, 'Pod', 9_000, '30');
    assert.deepEqual(summary(changes.events), ['MODIFIED a@40', 'ADDED n@41', 'DELETED b@42']);
    assert.deepEqual(changes.events[0]!.labels, { v: '2' });
    assert.ok(changes.events.every((event) => event.observed_time === 9_000));
    assert.equal(changes.resourceVersion, '42');
    assert.equal(changes.status, undefined);
  });

  it('moves the position on bookmarks, which publish nothing', () => {
    const changes = watchBatchChanges(known, [{ type: 'BOOKMARK', object: { kind: 'Pod', metadata: { resourceVersion: '77' } } }], 'Pod', 9_000, '30');
    assert.deepEqual(changes.events, []);
    assert.equal(changes.resourceVersion, '77');
  });

  it('does not publish again what was published: the same resourceVersion, or a DELETED of an object already gone', () => {
    const batch = [
      { type: 'MODIFIED', object: podObject('a', '10') },
      { type: 'DELETED', object: podObject('zz', '50') },
      { type: 'MODIFIED', object: podObject('b', '51') },
    ];
    const changes = watchBatchChanges(known, batch, 'Pod', 9_000, '30');
    assert.deepEqual(summary(changes.events), ['MODIFIED b@51']);
    assert.equal(changes.duplicates, 2);
  });

  it('publishes an object added and deleted within one batch both times', () => {
    const batch = [
      { type: 'ADDED', object: podObject('t', '60') },
      { type: 'MODIFIED', object: podObject('t', '61', { x: '1' }) },
      { type: 'DELETED', object: podObject('t', '62', { x: '1' }) },
    ];
    assert.deepEqual(summary(watchBatchChanges(known, batch, 'Pod', 9_000, '30').events), ['ADDED t@60', 'MODIFIED t@61', 'DELETED t@62']);
  });

  it('stops at an ERROR event and returns its Status, with the events before it', () => {
    const batch = [
      { type: 'MODIFIED', object: podObject('a', '70', { v: '3' }) },
      { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 5 (70)' } },
      { type: 'MODIFIED', object: podObject('b', '71') },
    ];
    const changes = watchBatchChanges(known, batch, 'Pod', 9_000, '30');
    assert.deepEqual(summary(changes.events), ['MODIFIED a@70']);
    assert.equal(changes.resourceVersion, '70');
    assert.deepEqual(changes.status, { code: 410, reason: 'Expired', message: 'too old resource version: 5 (70)' });
  });
});
