import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FeedIndex } from '../../../../detect/feeds/feed-index.js';
import { parseFeed } from '../../../../detect/feeds/feed-parse.js';

const indexOf = (feeds: Record<string, string>) => FeedIndex.build(Object.entries(feeds).map(([name, text]) => parseFeed(name, text, 'text')));

describe('Detect > feeds > index', () => {
  describe('IPv4', () => {
    const index = indexOf({
      blocks: ['0.0.0.0/0 # everything', '10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24 # the /24', '10.1.2.3', '10.1.2.128/25'].join('\n'),
    });

    it('gives the most specific block holding the address', () => {
      assert.deepEqual(index.match('10.1.2.3'), { feed: 'blocks', entry: '10.1.2.3' });
      assert.deepEqual(index.match('10.1.2.4'), { feed: 'blocks', entry: '10.1.2.0/24', note: 'the /24' });
      assert.deepEqual(index.match('10.1.2.200'), { feed: 'blocks', entry: '10.1.2.128/25' });
      assert.deepEqual(index.match('10.1.3.1'), { feed: 'blocks', entry: '10.1.0.0/16' });
      assert.deepEqual(index.match('10.200.0.1'), { feed: 'blocks', entry: '10.0.0.0/8' });
      assert.deepEqual(index.match('192.0.2.1'), { feed: 'blocks', entry: '0.0.0.0/0', note: 'everything' });
    });

    it('answers nothing for text that is not an address', () => {
      for (const ip of ['', 'abc', '10.1.2', '10.1.2.3.4', '10.1.2.256', ' 10.1.2.3', '10.1.2.3 ', '2001:db8::g', 'fe80::1%eth0']) {
        assert.equal(index.match(ip), undefined, JSON.stringify(ip));
      }
    });

    it('answers nothing outside every block', () => {
      const small = indexOf({ one: '203.0.113.0/24\n198.51.100.7\n' });
      assert.equal(small.match('203.0.112.255'), undefined);
      assert.equal(small.match('198.51.100.6'), undefined);
      assert.equal(FeedIndex.empty.match('203.0.113.1'), undefined);
    });
  });

  describe('several feeds', () => {
    it('lets the longer prefix win whichever feed lists it', () => {
      const index = indexOf({ 'a-broad': '203.0.113.0/24', 'z-narrow': '203.0.113.0/28' });
      assert.equal(index.match('203.0.113.5')?.feed, 'z-narrow');
      assert.equal(index.match('203.0.113.50')?.feed, 'a-broad');
    });

    it('gives an equal block to the feed whose name sorts first, whatever order the feeds come in', () => {
      const feeds = [parseFeed('spamhaus', '203.0.113.0/24 ; from s\n', 'text'), parseFeed('abuse', '203.0.113.0/24 # from a\n2001:db8::/32\n', 'text'), parseFeed('zeta', '2001:db8::/32 # from z\n', 'text')];
      for (const order of [feeds, [...feeds].reverse()]) {
        const index = FeedIndex.build(order);
        assert.deepEqual(index.match('203.0.113.9'), { feed: 'abuse', entry: '203.0.113.0/24', note: 'from a' });
        assert.deepEqual(index.match('2001:db8::1'), { feed: 'abuse', entry: '2001:db8::/32' });
        assert.deepEqual(index.feeds, ['abuse', 'spamhaus', 'zeta']);
      }
    });

    it('gives a block listed twice in one feed to its first line', () => {
      const index = indexOf({ dup: '192.0.2.0/24 # first\n192.0.2.9/24 # second, host bits\n' });
      assert.equal(index.match('192.0.2.1')?.note, 'first');
    });

    it('counts distinct blocks once, and every feed its own entries', () => {
      const index = indexOf({ a: '192.0.2.0/24\n192.0.2.0/24\n198.51.100.1\n', b: '192.0.2.0/24\n2001:db8::1\n' });
      assert.equal(index.size, 3);
      assert.deepEqual([...index.counts], [['a', 3], ['b', 2]]);
      assert.equal(index.countOf('b'), 2);
      assert.equal(index.countOf('nope'), 0);
    });

    it('refuses two feeds of one name', () => {
      assert.throws(() => FeedIndex.build([parseFeed('x', '192.0.2.1'), parseFeed('x', '192.0.2.2')]), /feed 'x' is given twice/);
    });
  });

  describe('IPv6 and IPv4-mapped addresses', () => {
    const index = indexOf({
      v6: ['2001:db8::/32 # documentation', '2001:db8:1::/48', '2001:db8:1:2::5', 'fc00::/7'].join('\n'),
      v4: '192.0.2.0/24 # test-net-1\n',
    });

    it('gives the most specific IPv6 block, whatever the spelling of the address', () => {
      assert.deepEqual(index.match('2001:db8:1:2::5'), { feed: 'v6', entry: '2001:db8:1:2::5' });
      assert.deepEqual(index.match('2001:DB8:0001:0002:0000:0000:0000:0005'), { feed: 'v6', entry: '2001:db8:1:2::5' });
      assert.deepEqual(index.match('2001:db8:1:2::6'), { feed: 'v6', entry: '2001:db8:1::/48' });
      assert.deepEqual(index.match('2001:db8:ffff::1'), { feed: 'v6', entry: '2001:db8::/32', note: 'documentation' });
      assert.equal(index.match('fd12:3456::1')?.entry, 'fc00::/7');
      assert.equal(index.match('2001:db9::1'), undefined);
    });

    it('matches an IPv4-mapped address as its IPv4 address', () => {
      assert.deepEqual(index.match('::ffff:192.0.2.7'), { feed: 'v4', entry: '192.0.2.0/24', note: 'test-net-1' });
      assert.deepEqual(index.match('::ffff:c000:207'), { feed: 'v4', entry: '192.0.2.0/24', note: 'test-net-1' });
      assert.equal(index.match('::ffff:198.51.100.1'), undefined);
    });

    it('matches an IPv4 address against a listed IPv4-mapped block, and a block covering all of them', () => {
      const mapped = indexOf({ m: '::ffff:198.51.100.0/120\n', all: '::ffff:0:0/96\n' });
      assert.deepEqual(mapped.match('198.51.100.20'), { feed: 'm', entry: '198.51.100.0/24' });
      assert.deepEqual(mapped.match('203.0.113.1'), { feed: 'all', entry: '0.0.0.0/0' });
    });

    it('ranks an IPv6 block holding every IPv4-mapped address below every IPv4 block', () => {
      const index = indexOf({ a: '::/0\n::/64\n', b: '0.0.0.0/0\n', c: '2001:db8::/32\n' });
      assert.deepEqual(index.match('203.0.113.1'), { feed: 'b', entry: '0.0.0.0/0' });
      assert.deepEqual(index.match('2001:db8::1'), { feed: 'c', entry: '2001:db8::/32' });
      assert.deepEqual(index.match('2001:db9::1'), { feed: 'a', entry: '::/0' });
      const v6only = indexOf({ a: '::/0\n::/64\n' });
      assert.deepEqual(v6only.match('203.0.113.1'), { feed: 'a', entry: '::/64' });
      assert.deepEqual(v6only.match('::ffff:203.0.113.1'), { feed: 'a', entry: '::/64' });
    });
  });

  describe('against a naive matcher', () => {
    /** Blocks and probes crowd into 192.168.0.0/16 (plus some anywhere), so that most probes meet several blocks. */
    const address = fc.oneof(
      { weight: 4, arbitrary: fc.nat(0xffff).map((low) => (0xc0a80000 + low) >>> 0) },
      { weight: 1, arbitrary: fc.nat(0xffffffff) },
    );
    const block = fc.record({ address, prefix: fc.oneof(fc.integer({ min: 0, max: 32 }), fc.integer({ min: 16, max: 32 })) });
    const feed = fc.array(block, { maxLength: 40 });
    const text = (value: number) => `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
    const maskOf = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

    it('agrees with scanning every entry of every feed for the longest, then first-named feed, then first line', () => {
      fc.assert(
        fc.property(fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), feed, { maxKeys: 4 }), fc.array(address, { minLength: 1, maxLength: 40 }), (feeds, probes) => {
          const parsed = Object.entries(feeds).map(([name, blocks]) => parseFeed(name, blocks.map((b, i) => `${text(b.address)}/${b.prefix} # ${name}${i}`).join('\n'), 'text'));
          const index = FeedIndex.build(parsed);
          const listed = Object.entries(feeds).flatMap(([name, blocks]) => blocks.map((b, i) => ({ feed: name, line: i, prefix: b.prefix, network: (b.address & maskOf(b.prefix)) >>> 0 })));
          const hits = listed.map((entry) => entry.network);
          for (const probe of [...probes, ...hits]) {
            const holding = listed.filter((entry) => ((probe & maskOf(entry.prefix)) >>> 0) === entry.network);
            holding.sort((x, y) => y.prefix - x.prefix || (x.feed < y.feed ? -1 : x.feed > y.feed ? 1 : 0) || x.line - y.line);
            const best = holding[0];
            const found = index.match(text(probe));
            if (best === undefined) assert.equal(found, undefined, text(probe));
            else assert.deepEqual(found, { feed: best.feed, entry: best.prefix === 32 ? text(best.network) : `${text(best.network)}/${best.prefix}`, note: `${best.feed}${best.line}` }, text(probe));
          }
        }),
        { numRuns: 300 },
      );
    });

    it('agrees for IPv6 blocks too, IPv4-mapped ones included', () => {
      const groups = fc.array(fc.constantFrom(0, 1, 0xdb8, 0x2001, 0xffff), { minLength: 8, maxLength: 8 });
      const v6Block = fc.record({ groups, prefix: fc.integer({ min: 0, max: 128 }) });
      const valueOf = (g: readonly number[]) => g.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
      const maskOf6 = (prefix: number) => ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
      const spelled = (g: readonly number[]) => g.map((group) => group.toString(16)).join(':');
      fc.assert(
        fc.property(fc.array(v6Block, { maxLength: 30 }), fc.array(groups, { minLength: 1, maxLength: 30 }), (blocks, probes) => {
          const parsed = parseFeed('v6', blocks.map((b) => `${spelled(b.groups)}/${b.prefix}`).join('\n'), 'text');
          const texts = [...parsed.entries].map((entry) => entry.text);
          const index = FeedIndex.build([parsed]);
          for (const probe of [...probes, ...blocks.map((b) => b.groups)]) {
            const value = valueOf(probe);
            const holding = blocks
              .map((b, line) => ({ line, prefix: b.prefix, network: valueOf(b.groups) & maskOf6(b.prefix) }))
              .filter((b) => (value & maskOf6(b.prefix)) === b.network)
              .sort((x, y) => y.prefix - x.prefix || x.line - y.line);
            const found = index.match(spelled(probe));
            const best = holding[0];
            assert.deepEqual(found, best === undefined ? undefined : { feed: 'v6', entry: texts[best.line] }, spelled(probe));
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});
