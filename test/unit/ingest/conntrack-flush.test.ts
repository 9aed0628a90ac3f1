import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_COMMANDS } from '../../../ingest/conntrack-exec.js';
import { ConntrackFlushError, flushCommands, flushConntrackAddress, parseDeleteOutput } from '../../../ingest/conntrack-flush.js';

/** stderr of conntrack-tools 1.4.7 as captured (`conntrack -D ...` as root, and as an unprivileged user). */
const DELETED_2 = 'conntrack v1.4.7 (conntrack-tools): 2 flow entries have been deleted.\n';
const DELETED_0 = 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n';
const NOT_ROOT = 'conntrack v1.4.7 (conntrack-tools): Operation failed: sorry, you must be root or get CAP_NET_ADMIN capability to do this\n';
const MISMATCH = "conntrack v1.4.7 (conntrack-tools): mismatched address family\nTry `conntrack -h' or 'conntrack --help' for more information.\n";
const NO_NETNS = 'Cannot open network namespace "fsct-gone": No such file or directory\n';

const failsWith = (code: string, retriable: boolean) => (error: unknown) => error instanceof ConntrackFlushError && error.code === code && error.retriable === retriable;

describe('Ingest > conntrack > flush', () => {
  describe('conntrack -D output', () => {
    it('reads the count of deleted entries, also from the exit 1 of an empty match', () => {
      assert.equal(parseDeleteOutput(0, DELETED_2), 2);
      assert.equal(parseDeleteOutput(1, DELETED_0), 0);
      assert.equal(parseDeleteOutput(0, `some warning\n${DELETED_2}`), 2);
    });

    it('tells failures apart: permission, usage, other, and a success without a count', () => {
      const argv = ['conntrack', '-D', '-f', 'ipv4', '--orig-src', '10.0.0.1'];
      assert.throws(() => parseDeleteOutput(1, NOT_ROOT, argv), failsWith('CONNTRACK_FLUSH_NOT_PERMITTED', false));
      assert.throws(() => parseDeleteOutput(2, MISMATCH, argv), failsWith('CONNTRACK_FLUSH_COMMAND', false));
      assert.throws(() => parseDeleteOutput(255, NO_NETNS, argv), failsWith('CONNTRACK_FLUSH_FAILED', true));
      assert.throws(() => parseDeleteOutput(1, '', argv), failsWith('CONNTRACK_FLUSH_FAILED', true));
      assert.throws(() => parseDeleteOutput(0, '', argv), failsWith('CONNTRACK_FLUSH_UNEXPECTED_OUTPUT', false));
      assert.throws(() => parseDeleteOutput(255, NO_NETNS, argv), /conntrack -D -f ipv4 --orig-src 10\.0\.0\.1: Cannot open network namespace/);
    });
  });

  describe('argv', () => {
    it('deletes by original and reply source and destination, with the family of the address', () => {
      assert.deepEqual(flushCommands('10.0.3.7'), [
        ['conntrack', '-D', '-f', 'ipv4', '--orig-src', '10.0.3.7'],
        ['conntrack', '-D', '-f', 'ipv4', '--orig-dst', '10.0.3.7'],
        ['conntrack', '-D', '-f', 'ipv4', '--reply-src', '10.0.3.7'],
        ['conntrack', '-D', '-f', 'ipv4', '--reply-dst', '10.0.3.7'],
      ]);
      assert.deepEqual(
        flushCommands('fd00:10::7').map((argv) => argv.slice(2).join(' ')),
        ['-f ipv6 --orig-src fd00:10::7', '-f ipv6 --orig-dst fd00:10::7', '-f ipv6 --reply-src fd00:10::7', '-f ipv6 --reply-dst fd00:10::7'],
      );
    });

    it('runs inside a network namespace with the configured command names', () => {
      const commands = { ...DEFAULT_COMMANDS, ip: '/sbin/ip', conntrack: '/usr/sbin/conntrack' };
      assert.deepEqual(flushCommands('10.0.3.7', commands, 'node-ns')[0], ['/sbin/ip', 'netns', 'exec', 'node-ns', '/usr/sbin/conntrack', '-D', '-f', 'ipv4', '--orig-src', '10.0.3.7']);
    });

    it('refuses what is not an address, so nothing reaches conntrack as an option', () => {
      for (const bad of ['', '-F', '10.0.3.0/24', '10.0.3', 'pod-a', '10.0.3.7 --orig-dst 0.0.0.0']) {
        assert.throws(() => flushCommands(bad), failsWith('CONNTRACK_FLUSH_BAD_ADDRESS', false), bad);
      }
    });
  });

  describe('running conntrack (a stand-in script)', () => {
    let dir: string;
    let script: string;
    let calls: string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'fs-flush-'));
      script = join(dir, 'conntrack');
      calls = join(dir, 'calls');
      // deletes 3 entries by original source, 1 by reply destination, none otherwise; FAKE_CONNTRACK picks a failure
      await writeFile(
        script,
        `#!/bin/sh
echo "$*" >> "${calls}"
case "$FAKE_CONNTRACK" in
  hang) exec sleep 30 ;;
  denied) echo "conntrack v1.4.7 (conntrack-tools): Operation failed: sorry, you must be root or get CAP_NET_ADMIN capability to do this" >&2; exit 1 ;;
esac
case "$4" in
  --orig-src) n=3 ;;
  --reply-dst) n=1 ;;
  *) n=0 ;;
esac
echo "tcp 6 431999 ESTABLISHED src=$5 ..."
echo "conntrack v1.4.7 (conntrack-tools): $n flow entries have been deleted." >&2
[ "$n" -gt 0 ]
`,
      );
      await chmod(script, 0o755);
    });

    after(async () => {
      delete process.env.FAKE_CONNTRACK;
      await rm(dir, { recursive: true, force: true });
    });

    it('sums the four directions, one command after the other', async () => {
      await rm(calls, { force: true });
      const deleted = await flushConntrackAddress('10.0.3.7', { commands: { ...DEFAULT_COMMANDS, conntrack: script } });
      assert.equal(deleted, 4);
      assert.deepEqual((await readFile(calls, 'utf8')).trim().split('\n'), [
        '-D -f ipv4 --orig-src 10.0.3.7',
        '-D -f ipv4 --orig-dst 10.0.3.7',
        '-D -f ipv4 --reply-src 10.0.3.7',
        '-D -f ipv4 --reply-dst 10.0.3.7',
      ]);
    });

    it('stops at the first failure, kills a command that hangs, and names a missing one', async () => {
      const commands = { ...DEFAULT_COMMANDS, conntrack: script };
      process.env.FAKE_CONNTRACK = 'denied';
      await assert.rejects(flushConntrackAddress('10.0.3.7', { commands }), failsWith('CONNTRACK_FLUSH_NOT_PERMITTED', false));
      process.env.FAKE_CONNTRACK = 'hang';
      await assert.rejects(flushConntrackAddress('10.0.3.7', { commands, timeoutMs: 200 }), failsWith('CONNTRACK_FLUSH_TIMEOUT', true));
      delete process.env.FAKE_CONNTRACK;
      await assert.rejects(flushConntrackAddress('10.0.3.7', { commands: { ...DEFAULT_COMMANDS, conntrack: join(dir, 'missing') } }), failsWith('CONNTRACK_FLUSH_COMMAND', false));
    });
  });
});
