import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { normalizeIpv6 } from '../../../ingest/conntrack-address.js';
import { parseConntrackLine } from '../../../ingest/conntrack-parse.js';
import { IngestError } from '../../../ingest/problems.js';

/** Captured on a Debian VM (kernel 6.18, conntrack-tools 1.4.7) in a test network namespace. */
const LIST = [
  'ipv4     2 icmp     1 88 src=10.99.0.1 dst=10.99.0.3 type=8 code=0 id=77 packets=0 bytes=0 [UNREPLIED] src=10.99.0.3 dst=10.99.0.1 type=0 code=0 id=77 packets=0 bytes=0 mark=0 use=1 id=534761168',
  'ipv4     2 tcp      6 94 ESTABLISHED src=10.99.0.1 dst=10.99.0.3 sport=40000 dport=22 packets=0 bytes=0 src=10.99.0.3 dst=10.99.0.1 sport=22 dport=40000 packets=0 bytes=0 [ASSURED] mark=6 zone=7 use=1 id=1638303060',
  'ipv4     2 tcp      6 114 TIME_WAIT src=10.99.0.1 dst=10.96.0.10 sport=52444 dport=80 packets=6 bytes=1320 src=10.99.0.2 dst=10.99.0.1 sport=8080 dport=52444 packets=4 bytes=219 [ASSURED] mark=0 use=1 id=1289613483',
  'ipv4     2 gre      47 94 src=10.99.0.1 dst=10.99.0.3 srckey=0x3 dstkey=0x4 packets=0 bytes=0 [UNREPLIED] src=10.99.0.3 dst=10.99.0.1 srckey=0x4 dstkey=0x3 packets=0 bytes=0 mark=0 use=1 id=3538269896',
  'ipv6     10 udp      17 88 src=fd00::1 dst=fd00::2 sport=1 dport=2 packets=0 bytes=0 [UNREPLIED] src=fd00::2 dst=fd00::1 sport=2 dport=1 packets=0 bytes=0 mark=0 use=1 id=918333764',
  'ipv4     2 sctp     132 94 ESTABLISHED src=10.99.0.1 dst=10.99.0.3 sport=5 dport=6 packets=0 bytes=0 [UNREPLIED] src=10.99.0.3 dst=10.99.0.1 sport=6 dport=5 packets=0 bytes=0 mark=0 use=1 id=1464746491',
  'ipv4     2 tcp      6 119 TIME_WAIT src=10.99.0.1 dst=10.99.0.2 sport=52480 dport=8080 packets=7 bytes=10372 src=10.99.0.2 dst=10.99.0.1 sport=8080 dport=52480 packets=5 bytes=276 [ASSURED] mark=0 use=1 id=1170204604',
];

const PROC = [
  'ipv4     2 tcp      6 114 TIME_WAIT src=10.99.0.1 dst=10.96.0.10 sport=52444 dport=80 packets=6 bytes=1320 src=10.99.0.2 dst=10.99.0.1 sport=8080 dport=52444 packets=4 bytes=219 [ASSURED] mark=0 zone=0 use=2',
  'ipv4     2 gre      47 94 timeout=0, stream_timeout=0 src=10.99.0.1 dst=10.99.0.3 srckey=0x3 dstkey=0x4 packets=0 bytes=0 [UNREPLIED] src=10.99.0.3 dst=10.99.0.1 srckey=0x4 dstkey=0x3 packets=0 bytes=0 mark=0 zone=0 use=2',
  'ipv6     10 udp      17 88 src=fd00:0000:0000:0000:0000:0000:0000:0001 dst=fd00:0000:0000:0000:0000:0000:0000:0002 sport=1 dport=2 packets=0 bytes=0 [UNREPLIED] src=fd00:0000:0000:0000:0000:0000:0000:0002 dst=fd00:0000:0000:0000:0000:0000:0000:0001 sport=2 dport=1 packets=0 bytes=0 mark=0 zone=0 use=2',
];

const EVENTS = [
  '[1795791228.036275]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.99.0.1 dst=10.99.0.2 sport=54672 dport=8080 [UNREPLIED] src=10.99.0.2 dst=10.99.0.1 sport=8080 dport=54672 id=1067824090',
  '[1795791228.051896]\t [UPDATE] ipv4     2 tcp      6 120 TIME_WAIT src=10.99.0.1 dst=10.99.0.2 sport=54672 dport=8080 src=10.99.0.2 dst=10.99.0.1 sport=8080 dport=54672 [ASSURED] id=1067824090',
  '[1795791228.369558]\t[DESTROY] ipv4     2 udp      17 29 src=10.99.0.1 dst=10.99.0.2 sport=33740 dport=9090 packets=5 bytes=640 src=10.99.0.2 dst=10.99.0.1 sport=9090 dport=33740 packets=5 bytes=190 id=821300197 [USERSPACE] portid=2423644177 progname=conntrack',
  '[1795791450.558059]\t[DESTROY] ipv4     2 tcp      6 TIME_WAIT src=10.99.0.1 dst=10.99.0.2 sport=55520 dport=8080 packets=6 bytes=1320 src=10.99.0.2 dst=10.99.0.1 sport=8080 dport=55520 packets=4 bytes=219 [ASSURED] id=2231966992',
];

function rejects(line: string, code: string): void {
  assert.throws(
    () => parseConntrackLine(line),
    (error: unknown) => error instanceof IngestError && error.code === code,
    line,
  );
}

describe('Ingest > conntrack > parse', () => {
  describe('conntrack -L -o extended,id', () => {
    it('reads a DNATed TCP connection: both tuples, counters, state, id', () => {
      const e = parseConntrackLine(LIST[2]!);
      assert.deepEqual(e, {
        event: null,
        time: null,
        family: 4,
        proto: 6,
        timeout: 114,
        state: 'TIME_WAIT',
        src: '10.99.0.1',
        dst: '10.96.0.10',
        sport: 52444,
        dport: 80,
        replySrc: '10.99.0.2',
        replyDst: '10.99.0.1',
        replySport: 8080,
        replyDport: 52444,
        tupleExtra: '',
        origPackets: 6,
        origBytes: 1320,
        replyPackets: 4,
        replyBytes: 219,
        accounted: true,
        assured: true,
        unreplied: false,
        mark: 0,
        zone: 0,
        id: 1289613483,
      });
    });

    it('tells the ICMP id in the tuples from the connection id at the end', () => {
      const e = parseConntrackLine(LIST[0]!);
      assert.deepEqual([e.proto, e.sport, e.dport, e.tupleExtra, e.id, e.unreplied], [1, null, null, 'type=8 code=0 id=77', 534761168, true]);
    });

    it('reads mark and zone, GRE keys, SCTP state, IPv6', () => {
      assert.deepEqual(
        LIST.map((line) => parseConntrackLine(line)).map((e) => [e.proto, e.family, e.state, e.mark, e.zone, e.tupleExtra]),
        [
          [1, 4, null, 0, 0, 'type=8 code=0 id=77'],
          [6, 4, 'ESTABLISHED', 6, 7, ''],
          [6, 4, 'TIME_WAIT', 0, 0, ''],
          [47, 4, null, 0, 0, 'srckey=0x3 dstkey=0x4'],
          [17, 6, null, 0, 0, ''],
          [132, 4, 'ESTABLISHED', 0, 0, ''],
          [6, 4, 'TIME_WAIT', 0, 0, ''],
        ],
      );
    });

    it('reads a line without the l3 prefix (plain -L) and without counters (accounting off)', () => {
      const e = parseConntrackLine('tcp      6 119 TIME_WAIT src=10.99.0.1 dst=10.99.0.2 sport=1 dport=2 src=10.99.0.2 dst=10.99.0.1 sport=2 dport=1 [ASSURED] mark=0 use=1');
      assert.deepEqual([e.family, e.proto, e.accounted, e.origBytes, e.id], [4, 6, false, 0, null]);
    });
  });

  describe('/proc/net/nf_conntrack', () => {
    it('reads the same connection as conntrack -L, without an id', () => {
      const fromProc = parseConntrackLine(PROC[0]!);
      const fromList = parseConntrackLine(LIST[2]!);
      assert.deepEqual({ ...fromProc, timeout: 0 }, { ...fromList, timeout: 0, id: null });
    });

    it('skips the GRE timeout fields and compresses full-form IPv6 addresses', () => {
      assert.equal(parseConntrackLine(PROC[1]!).tupleExtra, 'srckey=0x3 dstkey=0x4');
      const v6 = parseConntrackLine(PROC[2]!);
      assert.deepEqual([v6.src, v6.dst, v6.replySrc], ['fd00::1', 'fd00::2', 'fd00::2']);
    });
  });

  describe('conntrack -E -o extended,id,timestamp', () => {
    it('reads the event, its time in milliseconds, and DESTROY counters', () => {
      const [created, updated, udp, tcp] = EVENTS.map((line) => parseConntrackLine(line));
      assert.deepEqual([created!.event, created!.time, created!.accounted, created!.id], ['NEW', 1795791228036, false, 1067824090]);
      assert.equal(updated!.event, 'UPDATE');
      assert.deepEqual([udp!.event, udp!.origPackets, udp!.origBytes, udp!.replyPackets, udp!.replyBytes, udp!.id], ['DESTROY', 5, 640, 5, 190, 821300197]);
      assert.deepEqual([tcp!.timeout, tcp!.state, tcp!.origBytes], [null, 'TIME_WAIT', 1320], 'DESTROY lines have no timeout');
    });
  });

  describe('bad lines', () => {
    it('names what is wrong with a code', () => {
      rejects('', 'INGEST_BAD_LINE');
      rejects('conntrack v1.4.7 (conntrack-tools): 6 flow entries have been shown.', 'INGEST_BAD_LINE');
      rejects('ipv4 2 tcp 6 10 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2', 'INGEST_BAD_LINE');
      rejects('ipv4 2 tcp 6 10 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1', 'INGEST_BAD_LINE');
      rejects('ipv4 2 tcp 6 10 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 src=1.1.1.1', 'INGEST_BAD_LINE');
      rejects('ipv4 2 tcp 6 10 src=10.0.0.256 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1', 'INGEST_BAD_FIELD');
      rejects('ipv4 2 tcp 6 10 src=10.0.0.1 dst=10.0.0.2 sport=70000 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1', 'INGEST_BAD_FIELD');
      rejects('ipv4 2 tcp 6 10 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 packets=-1 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1', 'INGEST_BAD_FIELD');
      rejects('ipv4 2 tcp 17 10 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1', 'INGEST_BAD_FIELD');
      rejects('ipv6 10 udp 17 10 src=fd00::1::2 dst=fd00::2 sport=1 dport=2 src=fd00::2 dst=fd00::1 sport=2 dport=1', 'INGEST_BAD_FIELD');
    });

    it('throws nothing but IngestError for any text', () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 300 }), (line) => {
          try {
            parseConntrackLine(line);
          } catch (error) {
            assert.ok(error instanceof IngestError, `${String(error)} for ${JSON.stringify(line)}`);
          }
        }),
        { numRuns: 2000 },
      );
    });

    it('throws nothing but IngestError for real lines with tokens dropped, repeated or altered', () => {
      const tokens = fc.constantFrom(...[...LIST, ...PROC, ...EVENTS]).map((line) => line.split(/\s+/));
      const edited = tokens.chain((parts) =>
        fc.array(fc.tuple(fc.nat(parts.length), fc.oneof(fc.constant(''), fc.string({ maxLength: 12 }), fc.constantFrom(...parts))), { maxLength: 6 }).map((edits) => {
          const copy = [...parts];
          for (const [at, text] of edits) copy.splice(at % (copy.length + 1), text === '' ? 1 : 0, ...(text === '' ? [] : [text]));
          return copy.join(' ');
        }),
      );
      fc.assert(
        fc.property(edited, (line) => {
          try {
            parseConntrackLine(line);
          } catch (error) {
            assert.ok(error instanceof IngestError, `${String(error)} for ${JSON.stringify(line)}`);
          }
        }),
        { numRuns: 3000 },
      );
    });
  });

  describe('IPv6 normalisation', () => {
    it('compresses the longest run of zero groups, lower case', () => {
      assert.equal(normalizeIpv6('fd00:0000:0000:0000:0000:0000:0000:0001'), 'fd00::1');
      assert.equal(normalizeIpv6('2001:0DB8:0000:0000:0001:0000:0000:0001'), '2001:db8::1:0:0:1');
      assert.equal(normalizeIpv6('0000:0000:0000:0000:0000:0000:0000:0000'), '::');
      assert.equal(normalizeIpv6('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
      assert.equal(normalizeIpv6('::1'), '::1');
      assert.equal(normalizeIpv6('1:2:3'), null);
      assert.equal(normalizeIpv6('1::2::3'), null);
    });
  });
});
