import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlowAggregator, type FlowObservation } from '../../../ingest/flow-aggregator.js';
import { codecFor } from '../../../schemas/codec.js';

function obs(overrides: Partial<FlowObservation> = {}): FlowObservation {
  return {
    reporter: 'src',
    action: 'allow',
    proto: 6,
    sourceIp: '10.0.0.1',
    sourcePort: 40000,
    destIp: '10.0.0.2',
    destPort: 443,
    bytesIn: 100,
    bytesOut: 1000,
    packetsIn: 2,
    packetsOut: 10,
    flows: 1,
    started: 1,
    completed: 0,
    ...overrides,
  };
}

describe('Ingest > flow aggregator', () => {
  it('keeps one record per connection at the tuple level', () => {
    const agg = new FlowAggregator({ host: 'node-a', origin: 'conntrack', level: 'tuple', intervalStart: 1_000 });
    agg.add(obs({ sourcePort: 1 }));
    agg.add(obs({ sourcePort: 2 }));
    agg.add(obs({ sourcePort: 1, flows: 0, started: 0, completed: 1, bytesOut: 5 }));
    const records = agg.flush(11_000);
    assert.deepEqual(
      records.map((r) => [r.source_port, r.bytes_out, r.num_flows, r.num_flows_started, r.num_flows_completed]),
      [
        [1, 1005, 1, 1, 1],
        [2, 1000, 1, 1, 0],
      ],
    );
  });

  it('drops the source port at the no-source-port level (Calico default) and sums the flows', () => {
    const agg = new FlowAggregator({ host: 'node-a', origin: 'conntrack', intervalStart: 0 });
    assert.equal(agg.level, 'no-source-port');
    agg.add(obs({ sourcePort: 1 }));
    agg.add(obs({ sourcePort: 2 }));
    agg.add(obs({ sourcePort: 3, reporter: 'dst' }));
    agg.add(obs({ sourcePort: 4, action: 'deny' }));
    const records = agg.flush(10);
    assert.deepEqual(
      records.map((r) => [r.reporter, r.action, r.source_port, r.num_flows, r.bytes_out]),
      [
        ['src', 'allow', null, 2, 2000],
        ['dst', 'allow', null, 1, 1000],
        ['src', 'deny', null, 1, 1000],
      ],
    );
  });

  it('stamps records with the interval given as data, and starts the next where it ended', () => {
    const agg = new FlowAggregator({ host: 'node-a', origin: 'conntrack', intervalStart: 5_000 });
    agg.add(obs());
    const [first] = agg.flush(15_000);
    assert.deepEqual([first!.start_time, first!.end_time, first!.host, first!.origin], [5_000, 15_000, 'node-a', 'conntrack']);
    assert.deepEqual(agg.flush(25_000), [], 'an interval without traffic has no records');
    agg.add(obs());
    assert.deepEqual(
      agg.flush(35_000).map((r) => [r.start_time, r.end_time]),
      [[25_000, 35_000]],
    );
    assert.throws(() => agg.flush(30_000), RangeError);
  });

  it('bounds the keys per interval and counts what it had to drop', () => {
    const agg = new FlowAggregator({ host: 'node-a', origin: 'conntrack', level: 'tuple', maxKeys: 2, intervalStart: 0 });
    for (let port = 1; port <= 5; port++) agg.add(obs({ sourcePort: port }));
    agg.add(obs({ sourcePort: 1 }));
    assert.deepEqual(agg.stats(), { keys: 2, overflowObservations: 3, overflowBytes: 3300, overflowPackets: 36, records: 0, intervals: 0 });
    assert.equal(agg.flush(1).length, 2);
    agg.add(obs({ sourcePort: 9 }));
    assert.equal(agg.stats().keys, 1, 'room again in the next interval');
  });

  it('writes records the RawFlow codec accepts', () => {
    const agg = new FlowAggregator({ host: 'node-a', origin: 'conntrack', intervalStart: 0 });
    agg.add(obs());
    agg.add(obs({ proto: 1, sourcePort: null, destPort: null, action: 'deny', reporter: 'dst' }));
    const codec = codecFor('RawFlow');
    for (const record of agg.flush(10_000)) assert.deepEqual(codec.decode(codec.encode(record)), record);
  });

  it('rejects an unknown level', () => {
    assert.throws(() => new FlowAggregator({ host: 'n', origin: 'conntrack', level: 'pod' as never, intervalStart: 0 }), /unknown aggregation level/);
  });
});
