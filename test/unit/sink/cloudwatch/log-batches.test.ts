import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildLogBatches, cloudWatchBatchLimits, eventSize, refusedEventReasons, type BatchLimits, type LogEvent } from '../../../../sink/cloudwatch/log-batches.js';

interface Tagged extends LogEvent {
  readonly id: number;
}

const HOUR = 3_600_000;
const runs = { numRuns: 300 };

/** Small limits, so that every rule is hit by short random streams. */
const smallLimits = fc.record({
  maxBatchBytes: fc.integer({ min: 40, max: 400 }),
  maxBatchEvents: fc.integer({ min: 1, max: 12 }),
  maxEventBytes: fc.integer({ min: 30, max: 200 }),
  eventOverheadBytes: fc.integer({ min: 0, max: 26 }),
  maxSpanMs: fc.integer({ min: 0, max: 5 * HOUR }),
});

/** Messages of mixed widths: ASCII, 2-, 3- and 4-byte UTF-8 characters, sometimes empty. */
const message = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀'), minLength: 0, maxLength: 90 }),
  fc.constant(''),
);

const events = fc
  .array(fc.record({ timestamp: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_000 + 12 * HOUR }), message }), { maxLength: 120 })
  .map((list) => list.map((event, id): Tagged => ({ ...event, id })));

function checkRules(input: readonly Tagged[], limits: BatchLimits): void {
  const { batches, refused } = buildLogBatches(input, limits);
  const seen = new Set<number>();
  let previousLast = -Infinity;
  for (const batch of batches) {
    assert.ok(batch.events.length > 0, 'no empty batch');
    assert.ok(batch.events.length <= limits.maxBatchEvents, 'at most maxBatchEvents');
    const bytes = batch.events.reduce((sum, event) => sum + eventSize(event, limits), 0);
    assert.equal(batch.bytes, bytes, 'bytes as counted by the service');
    assert.ok(bytes <= limits.maxBatchBytes, 'at most maxBatchBytes');
    const first = batch.events[0]!;
    const last = batch.events[batch.events.length - 1]!;
    assert.ok(last.timestamp - first.timestamp <= limits.maxSpanMs, 'span at most maxSpanMs');
    assert.ok(first.timestamp >= previousLast, 'batches follow each other in time');
    previousLast = last.timestamp;
    for (let i = 1; i < batch.events.length; i++) {
      const [a, b] = [batch.events[i - 1]!, batch.events[i]!];
      assert.ok(a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.id < b.id), 'chronological, stable');
    }
    for (const event of batch.events) {
      assert.ok(eventSize(event, limits) <= limits.maxEventBytes && event.message !== '', 'only events within the event limit');
      assert.ok(!seen.has(event.id), 'no event twice');
      seen.add(event.id);
    }
  }
  for (const { event, reason } of refused) {
    assert.ok(!seen.has(event.id), 'a refused event is in no batch');
    seen.add(event.id);
    if (event.message === '') assert.equal(reason, refusedEventReasons.empty);
    else {
      assert.equal(reason, refusedEventReasons.tooLarge);
      assert.ok(eventSize(event, limits) > Math.min(limits.maxEventBytes, limits.maxBatchBytes), 'refused only when over the limit');
    }
  }
  assert.equal(seen.size, input.length, 'no event lost');
}

describe('Sink > CloudWatch > Log batches', () => {
  it('every batch of a random stream keeps every rule, and every event is in one batch or refused', () => {
    fc.assert(
      fc.property(events, smallLimits, (input, limits) => checkRules(input, limits)),
      runs,
    );
  });

  it('keeps the rules with the service limits on large random streams', () => {
    const big = fc
      .array(fc.record({ timestamp: fc.integer({ min: 0, max: 60 * HOUR }), size: fc.integer({ min: 1, max: 300_000 }) }), { maxLength: 40 })
      .map((list) => list.map(({ timestamp, size }, id): Tagged => ({ timestamp, message: 'x'.repeat(size), id })));
    fc.assert(
      fc.property(big, (input) => checkRules(input, cloudWatchBatchLimits)),
      { numRuns: 60 },
    );
  });

  it('cuts at 10 000 events and at 1 MiB, counting 26 bytes per event', () => {
    const many = Array.from({ length: 25_001 }, (_, i) => ({ timestamp: 1000 + i, message: 'm' }));
    assert.deepEqual(
      buildLogBatches(many).batches.map((batch) => batch.events.length),
      [10_000, 10_000, 5_001],
    );
    // 1000-byte messages: 1026 bytes each, 1022 fit in 1 048 576.
    const wide = Array.from({ length: 2_100 }, (_, i) => ({ timestamp: i, message: 'w'.repeat(1000) }));
    assert.deepEqual(
      buildLogBatches(wide).batches.map((batch) => batch.events.length),
      [1022, 1022, 56],
    );
  });

  it('counts UTF-8 bytes, not characters', () => {
    const limits = { maxBatchBytes: 100, eventOverheadBytes: 0 };
    const euros = Array.from({ length: 4 }, (_, i) => ({ timestamp: i, message: '€'.repeat(10) })); // 30 bytes each
    assert.deepEqual(
      buildLogBatches(euros, limits).batches.map((batch) => batch.events.length),
      [3, 1],
    );
  });

  it('refuses an event over 256 KiB with its overhead, and keeps one exactly at the limit', () => {
    const atLimit = { timestamp: 1, message: 'a'.repeat(262_144 - 26) };
    const over = { timestamp: 2, message: 'a'.repeat(262_144 - 25) };
    const { batches, refused } = buildLogBatches([over, atLimit]);
    assert.deepEqual(batches.map((batch) => batch.events), [[atLimit]]);
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.event, over);
    assert.equal(refused[0]!.reason, 'CLOUDWATCH_EVENT_TOO_LARGE');
    assert.match(refused[0]!.message, /262145 bytes/);
  });

  it('sorts by timestamp, stably, and starts a new batch past 24 hours', () => {
    const day = 24 * HOUR;
    const input = [
      { timestamp: day + 1, message: 'c' },
      { timestamp: 0, message: 'a' },
      { timestamp: day, message: 'b1' },
      { timestamp: day, message: 'b2' },
    ];
    assert.deepEqual(
      buildLogBatches(input).batches.map((batch) => batch.events.map((event) => event.message)),
      [['a', 'b1', 'b2'], ['c']],
    );
  });
});
