import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { maxListedProblems } from '../../../../detect/feeds/feed-collector.js';
import { detectFormat, parseFeed } from '../../../../detect/feeds/feed-parse.js';

const fixture = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');
const entriesOf = (text: string, format: 'text' | 'csv' | 'auto' = 'auto') => [...parseFeed('test', text, format).entries];
const messagesOf = (text: string, format: 'text' | 'csv' | 'auto' = 'auto') => parseFeed('test', text, format).problems.map((problem) => problem.message);

describe('Detect > feeds > parse', () => {
  describe('plain text', () => {
    it('reads one address or block per line, skipping blank and comment lines, with the line of each', () => {
      const text = ['# known scanners', '', '198.51.100.7', '   203.0.113.0/24   ', '\t; another comment', '192.0.2.0/25'].join('\n');
      assert.deepEqual(entriesOf(text), [
        { text: '198.51.100.7', line: 3 },
        { text: '203.0.113.0/24', line: 4 },
        { text: '192.0.2.0/25', line: 6 },
      ]);
    });

    it('spells every block one way: a single address bare, IPv6 lower case and compressed, IPv4-mapped as IPv4', () => {
      const text = ['198.51.100.7/32', '2001:DB8:0:0:0:0:0:1', '2001:0db8:0000::/48', '2001:db8::1/128', '::ffff:192.0.2.1', '::FFFF:192.0.2.0/120', '::ffff:c000:280/121'].join('\n');
      assert.deepEqual(
        entriesOf(text).map((entry) => entry.text),
        ['198.51.100.7', '2001:db8::1', '2001:db8::/48', '2001:db8::1', '192.0.2.1', '192.0.2.0/24', '192.0.2.128/25'],
      );
    });

    it('keeps what follows the block on its line as the note, without the comment marker', () => {
      const text = '198.51.100.7  # emotet C2, seen 2026-11-20\n203.0.113.0/24 ; SBL123456\n192.0.2.1\t5\n192.0.2.2 #\n';
      assert.deepEqual(entriesOf(text), [
        { text: '198.51.100.7', line: 1, note: 'emotet C2, seen 2026-11-20' },
        { text: '203.0.113.0/24', line: 2, note: 'SBL123456' },
        { text: '192.0.2.1', line: 3, note: '5' },
        { text: '192.0.2.2', line: 4 },
      ]);
    });

    it('reads CRLF line ends and a byte-order mark', () => {
      assert.deepEqual(entriesOf('\uFEFF192.0.2.1\r\n# c\r\n192.0.2.2 # two\r\n'), [
        { text: '192.0.2.1', line: 1 },
        { text: '192.0.2.2', line: 3, note: 'two' },
      ]);
    });

    it('drops a bad line with a problem naming feed:line and why, and reads on', () => {
      const text = ['192.0.2.1', '999.1.1.1', '192.0.2.0/33', '192.0.2.1-192.0.2.9', '192.0.2.0/', 'evil.example.com', '192.0.2.3'].join('\n');
      const parsed = parseFeed('scanners', text, 'text');
      assert.deepEqual([...parsed.entries].map((entry) => entry.line), [1, 7]);
      assert.deepEqual(parsed.problems, [
        { feed: 'scanners', line: 2, code: 'FEED_BAD_ENTRY', message: 'scanners:2: "999.1.1.1" is not an IPv4/IPv6 address or CIDR block' },
        { feed: 'scanners', line: 3, code: 'FEED_BAD_ENTRY', message: 'scanners:3: "192.0.2.0/33" is not an IPv4/IPv6 address or CIDR block' },
        { feed: 'scanners', line: 4, code: 'FEED_BAD_ENTRY', message: 'scanners:4: "192.0.2.1-192.0.2.9" is not an IPv4/IPv6 address or CIDR block' },
        { feed: 'scanners', line: 5, code: 'FEED_BAD_ENTRY', message: 'scanners:5: "192.0.2.0/" is not an IPv4/IPv6 address or CIDR block' },
        { feed: 'scanners', line: 6, code: 'FEED_BAD_ENTRY', message: 'scanners:6: "evil.example.com" is not an IPv4/IPv6 address or CIDR block' },
      ]);
      assert.equal(parsed.problemCount, 5);
      assert.deepEqual(parsed.problemsByCode, { FEED_BAD_ENTRY: 5 });
    });

    it('keeps a block with host bits set as its network, and says so', () => {
      const parsed = parseFeed('nets', '10.0.0.1/8\n2001:db8::1/32\n', 'text');
      assert.deepEqual([...parsed.entries].map((entry) => entry.text), ['10.0.0.0/8', '2001:db8::/32']);
      assert.deepEqual(
        parsed.problems.map((problem) => [problem.code, problem.message]),
        [
          ['FEED_HOST_BITS', 'nets:1: "10.0.0.1/8" has bits set after its prefix; read as 10.0.0.0/8'],
          ['FEED_HOST_BITS', 'nets:2: "2001:db8::1/32" has bits set after its prefix; read as 2001:db8::/32'],
        ],
      );
    });

    it('lists the first problems of a garbled feed and counts them all', () => {
      const parsed = parseFeed('garbled', Array.from({ length: 1_500 }, (_, i) => `host-${i}.example`).join('\n'), 'text');
      assert.equal(parsed.entries.length, 0);
      assert.equal(parsed.problems.length, maxListedProblems);
      assert.equal(parsed.problemCount, 1_500);
      assert.equal(parsed.problems.at(-1)?.line, maxListedProblems);
    });

    it('reads a DROP-style list with `;` comments and notes', () => {
      const parsed = parseFeed('drop', fixture('drop-style.txt'));
      assert.equal(parsed.format, 'text');
      assert.deepEqual(parsed.problems, []);
      assert.deepEqual([...parsed.entries], [
        { text: '192.0.2.0/24', line: 4, note: 'SBL000001' },
        { text: '198.51.100.0/22', line: 5, note: 'SBL000002' },
        { text: '203.0.113.128/25', line: 6, note: 'SBL000003' },
        { text: '2001:db8::/32', line: 7, note: 'SBL000004' },
      ]);
    });
  });

  describe('CSV', () => {
    it('finds the indicator and note columns by their header names, and reads quoted fields', () => {
      const parsed = parseFeed('c2', fixture('c2-style.csv'));
      assert.equal(parsed.format, 'csv');
      assert.deepEqual([...parsed.entries], [
        { text: '198.51.100.23', line: 7, note: 'Emotet' },
        { text: '203.0.113.9', line: 8, note: 'QakBot, variant "B"' },
        { text: '2001:db8::f00d', line: 10, note: 'IcedID' },
      ]);
      assert.deepEqual(parsed.problems.map((problem) => problem.message), ['c2:9: "not-an-ip" is not an IPv4/IPv6 address or CIDR block']);
    });

    it('accepts the common names of the indicator column in any case and spelling', () => {
      for (const [header, row] of [
        ['Indicator,Description', '192.0.2.1,scanner'],
        ['first_seen, IP Address ,comment', '2026-11-01,192.0.2.1,scanner'],
        ['network,reason', '192.0.2.1,scanner'],
        ['cidr,notes', '192.0.2.1,scanner'],
        ['src_ip,dst_ip,malware', '10.0.0.1,192.0.2.1,scanner'],
      ] as const) {
        assert.deepEqual(entriesOf(`${header}\n${row}\n`), [{ text: '192.0.2.1', line: 2, note: 'scanner' }], header);
      }
    });

    it('takes the first column when the header names none it knows, and has no note then', () => {
      assert.deepEqual(entriesOf('block,seen\n192.0.2.0/24,2026-11-01\n'), [{ text: '192.0.2.0/24', line: 2 }]);
    });

    it('without a header, takes the first column holding an address in the first row', () => {
      assert.deepEqual(entriesOf('2026-11-01,192.0.2.1,scanner\n2026-11-02,192.0.2.2,scanner\n'), [
        { text: '192.0.2.1', line: 1 },
        { text: '192.0.2.2', line: 2 },
      ]);
    });

    it('takes a commented header just before the first row', () => {
      assert.deepEqual(entriesOf('# generated 2026-11-26\n# "seen","ip","reason"\n"2026-11-01","192.0.2.1","ssh brute force"\n'), [
        { text: '192.0.2.1', line: 3, note: 'ssh brute force' },
      ]);
    });

    it('counts lines inside quoted fields, so later rows keep their own line numbers', () => {
      const text = 'ip,description\n192.0.2.1,"two\nlines"\n192.0.2.2,"a, b"\nbad,x\n';
      const parsed = parseFeed('multi', text);
      assert.deepEqual([...parsed.entries], [
        { text: '192.0.2.1', line: 2, note: 'two\nlines' },
        { text: '192.0.2.2', line: 4, note: 'a, b' },
      ]);
      assert.deepEqual(parsed.problems.map((problem) => problem.message), ['multi:5: "bad" is not an IPv4/IPv6 address or CIDR block']);
    });

    it('keeps a # inside a quoted field, and skips comment and blank lines between rows', () => {
      assert.deepEqual(entriesOf('ip,note\n192.0.2.1,"room #4"\n\n# pause\n  \n192.0.2.2,\n'), [
        { text: '192.0.2.1', line: 2, note: 'room #4' },
        { text: '192.0.2.2', line: 6 },
      ]);
    });

    it('reports a row too short for the indicator column and an empty indicator', () => {
      assert.deepEqual(messagesOf('seen,ip\n2026-11-01\n2026-11-02,\n2026-11-03,192.0.2.1\n'), [
        'test:2: 1 column(s); the indicator is column 2',
        'test:3: no indicator',
      ]);
    });

    it('gives up the rest of the text at a quote that never closes, keeping the rows before it', () => {
      const parsed = parseFeed('broken', 'ip,note\n192.0.2.1,ok\n192.0.2.2,"never closed\n192.0.2.3,lost\n', 'csv');
      assert.deepEqual([...parsed.entries].map((entry) => entry.text), ['192.0.2.1']);
      assert.deepEqual(parsed.problems.map((problem) => [problem.code, problem.message]), [
        ['FEED_BAD_CSV', 'broken:3: a quoted field opened on this line never closes; the rest of the feed is not read'],
      ]);
    });
  });

  describe('format detection', () => {
    it('says csv for a comma before any comment, or a leading quote; text otherwise', () => {
      assert.equal(detectFormat('# a, b\n192.0.2.1 # c, d\n'), 'text');
      assert.equal(detectFormat('; a\n192.0.2.0/24 ; SBL1, SBL2\n'), 'text');
      assert.equal(detectFormat('\n\n192.0.2.1,scanner\n'), 'csv');
      assert.equal(detectFormat('"ip"\n"192.0.2.1"\n'), 'csv');
      assert.equal(detectFormat('# only comments\n'), 'text');
    });
  });
});
