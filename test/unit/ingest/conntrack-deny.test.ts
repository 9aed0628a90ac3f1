import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DenyDelta, DenyCounterTable, type DenyElement, denySetDeclaration, denyUpdateStatement, parseNftCounter, parseNftDenySet } from '../../../ingest/conntrack-deny.js';
import { IngestError } from '../../../ingest/problems.js';

/** Captured with nftables 1.0.6: `nft -j list set inet fsxdeny denied`, `nft -j list counter inet fsxdeny denied_total`. */
const SET =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"set": {"family": "inet", "name": "denied", "table": "fsxdeny", "type": ["ipv4_addr", "ipv4_addr", "inet_proto", "inet_service"], "handle": 2, "size": 4, "flags": ["timeout"], "timeout": 600, "elem": [{"elem": {"val": {"concat": ["10.99.0.1", "10.99.0.2", "tcp", 7070]}, "expires": 599, "counter": {"packets": 1, "bytes": 60}}}, {"elem": {"val": {"concat": ["10.99.0.1", "10.99.0.2", "udp", 7070]}, "expires": 599, "counter": {"packets": 1, "bytes": 78}}}], "stmt": [{"counter": null}]}}]}';
const EMPTY_SET =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"set": {"family": "inet", "name": "denied", "table": "fsxdeny", "type": ["ipv4_addr", "ipv4_addr", "inet_proto", "inet_service"], "handle": 2, "size": 4, "flags": ["timeout"], "timeout": 600, "stmt": [{"counter": null}]}}]}';
const COUNTER =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"counter": {"family": "inet", "name": "denied_total", "table": "fsxdeny", "handle": 2, "packets": 8, "bytes": 480}}]}';

const element = (dport: number, packets: number, bytes = packets * 60): DenyElement => ({ src: '10.0.0.1', dst: '10.0.0.3', proto: 6, dport, packets, bytes });

describe('Ingest > conntrack > deny', () => {
  describe('nft -j output', () => {
    it('reads set elements with their counters, protocol names as numbers', () => {
      assert.deepEqual(parseNftDenySet(SET), {
        elements: [
          { src: '10.99.0.1', dst: '10.99.0.2', proto: 6, dport: 7070, packets: 1, bytes: 60 },
          { src: '10.99.0.1', dst: '10.99.0.2', proto: 17, dport: 7070, packets: 1, bytes: 78 },
        ],
        skipped: [],
      });
      assert.deepEqual(parseNftDenySet(EMPTY_SET), { elements: [], skipped: [] });
    });

    it('skips elements of another shape and says why', () => {
      const odd = SET.replace('"counter": {"packets": 1, "bytes": 60}', '"x": 1').replace('"udp", 7070', '"udp", "http"');
      const { elements, skipped } = parseNftDenySet(odd);
      assert.deepEqual(elements, []);
      assert.equal(skipped.length, 2);
      assert.match(skipped[0]!, /no counter/);
      assert.match(skipped[1]!, /port/);
    });

    it('reads a named counter', () => {
      assert.deepEqual(parseNftCounter(COUNTER), { packets: 8, bytes: 480 });
    });

    it('throws IngestError for output that is not an nft listing', () => {
      for (const text of ['', 'nope', '{}', '{"nftables": [{"metainfo": {}}]}', '{"nftables": [{"set": {"elem": 5}}]}']) {
        assert.throws(() => parseNftDenySet(text), IngestError, text);
      }
      assert.throws(() => parseNftCounter(SET), IngestError);
    });
  });

  describe('counter table', () => {
    it('takes the first read as a baseline, then reports growth per key', () => {
      const table = new DenyCounterTable();
      const deltas: DenyDelta[] = [];
      table.poll([element(22, 5)], (d) => deltas.push(d));
      assert.equal(deltas.length, 0);
      table.poll([element(22, 7), element(23, 1)], (d) => deltas.push(d));
      assert.deepEqual(
        deltas.map((d) => [d.element.dport, d.packets, d.bytes]),
        [
          [22, 2, 120],
          [23, 1, 60],
        ],
      );
    });

    it('takes the new counters of an element that expired and came back (reset), and forgets expired ones', () => {
      const table = new DenyCounterTable(10, false);
      const deltas: DenyDelta[] = [];
      table.poll([element(22, 9)], (d) => deltas.push(d));
      table.poll([element(22, 2)], (d) => deltas.push(d));
      assert.deepEqual(
        deltas.map((d) => d.packets),
        [9, 2],
      );
      table.poll([], () => undefined);
      assert.deepEqual([table.stats().elements, table.stats().resets], [0, 1]);
    });

    it('bounds the elements it tracks and counts the rest', () => {
      const table = new DenyCounterTable(2, false);
      let seen = 0;
      table.poll([1, 2, 3, 4].map((port) => element(port, 1)), () => seen++);
      assert.deepEqual([seen, table.stats().elements, table.stats().overflow], [2, 2, 2]);
    });
  });

  it('writes the set declaration and update statement the deny rules need', () => {
    assert.equal(
      denySetDeclaration({ family: 'ip', set: 'denied', size: 1024, timeoutSeconds: 300 }),
      'set denied { type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags dynamic,timeout; timeout 300s; size 1024; counter; }',
    );
    assert.equal(denyUpdateStatement({ family: 'ip6', set: 'denied6' }), 'update @denied6 { ip6 saddr . ip6 daddr . meta l4proto . th dport }');
  });
});
