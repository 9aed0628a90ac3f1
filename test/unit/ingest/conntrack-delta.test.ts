import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ConnectionDelta, ConntrackDeltaTable } from '../../../ingest/conntrack-delta.js';
import { type ConntrackEntry, parseConntrackLine } from '../../../ingest/conntrack-parse.js';

interface Conn {
  readonly sport?: number;
  readonly id?: number | null;
  readonly counters?: readonly [number, number, number, number];
  readonly state?: string;
  readonly event?: 'DESTROY';
}

/** A connection as `conntrack -L -o extended,id` prints it (or its DESTROY event). */
function conn({ sport = 40000, id = 1, counters = [1, 60, 1, 60], state = 'ESTABLISHED', event }: Conn = {}): ConntrackEntry {
  const [op, ob, rp, rb] = counters;
  const head = event ? `[1795791228.000000]\t[${event}] ` : '';
  const tail = id === null ? '' : ` id=${id}`;
  return parseConntrackLine(
    `${head}ipv4     2 tcp      6 100 ${state} src=10.0.0.1 dst=10.0.0.2 sport=${sport} dport=80 packets=${op} bytes=${ob} src=10.0.0.2 dst=10.0.0.1 sport=80 dport=${sport} packets=${rp} bytes=${rb} [ASSURED] mark=0 use=1${tail}`,
  );
}

type Seen = Pick<ConnectionDelta, 'kind' | 'counted' | 'started' | 'completed'> & { readonly counters: number[]; readonly sport: number | null };

function recorder() {
  const deltas: Seen[] = [];
  const emit = (d: ConnectionDelta) =>
    deltas.push({
      kind: d.kind,
      counters: [d.origPackets, d.origBytes, d.replyPackets, d.replyBytes],
      counted: d.counted,
      started: d.started,
      completed: d.completed,
      sport: d.entry.sport,
    });
  const take = () => deltas.splice(0);
  return { emit, take };
}

describe('Ingest > conntrack > delta', () => {
  it('takes the first poll as a baseline, then reports growth', () => {
    const table = new ConntrackDeltaTable();
    const { emit, take } = recorder();
    table.poll([conn({ counters: [10, 1000, 8, 500] })], emit);
    assert.deepEqual(take(), []);
    table.poll([conn({ counters: [12, 1300, 9, 560] })], emit);
    assert.deepEqual(take(), [{ kind: 'updated', counters: [2, 300, 1, 60], counted: true, started: false, completed: false, sport: 40000 }]);
    table.poll([conn({ counters: [12, 1300, 9, 560] })], emit);
    assert.deepEqual(take(), [], 'no change, no delta');
  });

  it('reports a new connection whole, and its completion once on TIME_WAIT', () => {
    const table = new ConntrackDeltaTable();
    const { emit, take } = recorder();
    table.poll([], emit);
    table.poll([conn({ sport: 1, counters: [3, 180, 2, 120] })], emit);
    assert.deepEqual(take(), [{ kind: 'new', counters: [3, 180, 2, 120], counted: true, started: true, completed: false, sport: 1 }]);
    table.poll([conn({ sport: 1, counters: [5, 280, 4, 220], state: 'TIME_WAIT' })], emit);
    assert.deepEqual(take(), [{ kind: 'updated', counters: [2, 100, 2, 100], counted: true, started: false, completed: true, sport: 1 }]);
    table.poll([conn({ sport: 1, counters: [5, 280, 4, 220], state: 'TIME_WAIT' })], emit);
    table.poll([], emit);
    assert.deepEqual(take(), [], 'already completed: vanishing adds nothing');
    assert.equal(table.stats().vanished, 1);
  });

  it('takes the new values when counters go down for the same connection (reset)', () => {
    const table = new ConntrackDeltaTable({ firstPollIsBaseline: false });
    const { emit, take } = recorder();
    table.poll([conn({ counters: [100, 9000, 90, 8000] })], emit);
    take();
    table.poll([conn({ counters: [2, 100, 1, 50] })], emit);
    assert.deepEqual(take(), [{ kind: 'reset', counters: [2, 100, 1, 50], counted: true, started: false, completed: false, sport: 40000 }]);
  });

  it('ends the old connection and starts the new one when a tuple is reused under another id', () => {
    const table = new ConntrackDeltaTable({ firstPollIsBaseline: false });
    const { emit, take } = recorder();
    table.poll([conn({ id: 1, counters: [100, 9000, 90, 8000] })], emit);
    take();
    table.poll([conn({ id: 2, counters: [3, 180, 2, 120] })], emit);
    assert.deepEqual(
      take().map((d) => [d.kind, d.counters, d.started, d.completed]),
      [
        ['vanished', [0, 0, 0, 0], false, true],
        ['reused', [3, 180, 2, 120], true, false],
      ],
    );
    assert.equal(table.stats().reused, 1);
    table.destroyed(conn({ id: 1, counters: [101, 9100, 90, 8000], event: 'DESTROY' }), emit);
    assert.deepEqual(
      take().map((d) => [d.kind, d.counters, d.started, d.completed]),
      [['destroyed', [1, 100, 0, 0], false, false]],
      "the old connection's late DESTROY adds only what it carried since",
    );
  });

  it('tells reuse from reset without ids: lower counters after the old connection closed', () => {
    const table = new ConntrackDeltaTable({ firstPollIsBaseline: false });
    const { emit, take } = recorder();
    table.poll([conn({ id: null, counters: [10, 900, 9, 800], state: 'TIME_WAIT' })], emit);
    take();
    table.poll([conn({ id: null, counters: [1, 60, 0, 0], state: 'SYN_SENT' })], emit);
    assert.deepEqual(
      take().map((d) => [d.kind, d.started, d.completed]),
      [['reused', true, false]],
    );
  });

  it('adds what a vanished connection carried since the last poll when its DESTROY event comes', () => {
    const table = new ConntrackDeltaTable({ firstPollIsBaseline: false });
    const { emit, take } = recorder();
    table.poll([conn({ counters: [10, 1000, 10, 1000] })], emit);
    take();
    table.poll([], emit);
    assert.deepEqual(take(), [{ kind: 'vanished', counters: [0, 0, 0, 0], counted: true, started: false, completed: true, sport: 40000 }]);
    table.destroyed(conn({ counters: [12, 1100, 11, 1040], event: 'DESTROY' }), emit);
    assert.deepEqual(take(), [{ kind: 'destroyed', counters: [2, 100, 1, 40], counted: false, started: false, completed: false, sport: 40000 }]);
    table.destroyed(conn({ counters: [12, 1100, 11, 1040], event: 'DESTROY' }), emit);
    assert.deepEqual(take(), []);
    assert.equal(table.stats().duplicateDestroys, 1);
  });

  it('completes a tracked connection on DESTROY, and ignores a stale poll entry of it', () => {
    const table = new ConntrackDeltaTable({ firstPollIsBaseline: false });
    const { emit, take } = recorder();
    table.poll([conn({ counters: [10, 1000, 10, 1000] })], emit);
    take();
    table.destroyed(conn({ counters: [11, 1050, 10, 1000], event: 'DESTROY' }), emit);
    assert.deepEqual(take(), [{ kind: 'destroyed', counters: [1, 50, 0, 0], counted: false, started: false, completed: true, sport: 40000 }]);
    table.poll([conn({ counters: [11, 1050, 10, 1000] })], emit);
    assert.deepEqual(take(), []);
    assert.equal(table.stats().stale, 1);
  });

  it('reports a connection that opened and closed between polls whole, from its DESTROY event', () => {
    const table = new ConntrackDeltaTable();
    const { emit, take } = recorder();
    table.poll([], emit);
    table.destroyed(conn({ sport: 7, id: 9, counters: [6, 1320, 4, 219], state: 'TIME_WAIT', event: 'DESTROY' }), emit);
    assert.deepEqual(take(), [{ kind: 'destroyed', counters: [6, 1320, 4, 219], counted: true, started: true, completed: true, sport: 7 }]);
    assert.equal(table.stats().destroyedUnseen, 1);
  });

  it('counts a DESTROY that arrives one poll late as a new contribution to the later interval', () => {
    const table = new ConntrackDeltaTable({ firstPollIsBaseline: false });
    const { emit, take } = recorder();
    table.poll([conn({ counters: [1, 60, 1, 60] })], emit);
    table.poll([], emit);
    take();
    table.poll([], emit);
    table.destroyed(conn({ counters: [2, 120, 1, 60], event: 'DESTROY' }), emit);
    assert.deepEqual(take(), [{ kind: 'destroyed', counters: [1, 60, 0, 0], counted: true, started: false, completed: false, sport: 40000 }]);
  });

  it('never tracks more than maxConnections: new ones are counted as overflow, tracked ones stay', () => {
    const table = new ConntrackDeltaTable({ maxConnections: 3, firstPollIsBaseline: false });
    const { emit, take } = recorder();
    const five = [1, 2, 3, 4, 5].map((sport) => conn({ sport, id: sport }));
    table.poll(five, emit);
    assert.deepEqual(
      take().map((d) => d.sport),
      [1, 2, 3],
    );
    assert.deepEqual([table.stats().tracked, table.stats().overflow], [3, 2]);
    table.poll(five.slice(1), emit);
    assert.deepEqual(
      take().map((d) => [d.kind, d.sport]),
      [
        ['vanished', 1],
        ['new', 4],
      ],
      'room comes back when a tracked connection leaves',
    );
  });

  it('stays within its bounds under a flood of unique tuples', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 200 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 100 }),
        (max, polls, destroys) => {
          const table = new ConntrackDeltaTable({ maxConnections: max, maxTombstones: max });
          let next = 0;
          for (const ports of polls) {
            table.poll(
              ports.map((sport) => conn({ sport, id: sport })),
              () => undefined,
            );
            for (const sport of destroys.slice(next, next + 10)) table.destroyed(conn({ sport, id: sport, event: 'DESTROY' }), () => undefined);
            next += 10;
            const stats = table.stats();
            assert.ok(stats.tracked <= max && stats.tombstones <= max, JSON.stringify(stats));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('adds up to each connection’s final counters, once started and once completed, whatever the poll timing', () => {
    type Step = { op: 'poll' } | { op: 'grow'; conn: number; by: number } | { op: 'end'; conn: number; late: boolean };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.constant<Step>({ op: 'poll' }),
      fc.record({ op: fc.constant('grow' as const), conn: fc.nat(7), by: fc.integer({ min: 1, max: 1000 }) }),
      fc.record({ op: fc.constant('end' as const), conn: fc.nat(7), late: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const table = new ConntrackDeltaTable({ firstPollIsBaseline: false });
        const live = new Map<number, number>();
        const ended = new Map<number, number>();
        const late: ConntrackEntry[] = [];
        const sums = new Map<number, { bytes: number; started: number; completed: number }>();
        const emit = (d: ConnectionDelta) => {
          const s = sums.get(d.entry.sport!) ?? { bytes: 0, started: 0, completed: 0 };
          s.bytes += d.origBytes;
          s.started += d.started ? 1 : 0;
          s.completed += d.completed ? 1 : 0;
          sums.set(d.entry.sport!, s);
        };
        const entry = (c: number, bytes: number, event?: 'DESTROY') => conn({ sport: 1000 + c, id: c, counters: [1, bytes, 0, 0], event });
        for (const s of steps) {
          if (s.op === 'poll') {
            table.poll(
              [...live].map(([c, bytes]) => entry(c, bytes)),
              emit,
            );
            for (const e of late.splice(0)) table.destroyed(e, emit);
          } else if (s.op === 'grow' && !ended.has(s.conn)) {
            live.set(s.conn, (live.get(s.conn) ?? 0) + s.by);
          } else if (s.op === 'end' && live.has(s.conn)) {
            const bytes = live.get(s.conn)!;
            live.delete(s.conn);
            ended.set(s.conn, bytes);
            if (s.late) late.push(entry(s.conn, bytes, 'DESTROY'));
            else table.destroyed(entry(s.conn, bytes, 'DESTROY'), emit);
          }
        }
        table.poll([], emit);
        for (const e of late.splice(0)) table.destroyed(e, emit);
        for (const [c, bytes] of ended) assert.deepEqual(sums.get(1000 + c), { bytes, started: 1, completed: 1 }, `connection ${c}`);
      }),
      { numRuns: 500 },
    );
  });
});
