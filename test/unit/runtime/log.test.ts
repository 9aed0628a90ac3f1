import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { createLogger, logLevelFromEnv, type LogLevel } from '../../../runtime/log.js';
import { repoDir } from '../../../services/paths.js';

function captured(level?: LogLevel) {
  const lines: string[] = [];
  const log = createLogger('enrich', { ...(level ? { level } : {}), write: (line) => lines.push(line), now: () => Date.UTC(2026, 10, 27, 12, 5, 0, 123) });
  return { log, lines, parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('runtime > log', () => {
  it('writes one JSON object per line: time, level, component, msg, then the fields', () => {
    const { log, lines, parsed } = captured('debug');
    log.info('inventory read (3 objects), taking flows', { partitions: 6, topic: 'flowsentry.flows.raw.v1' });
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith('}\n') && !lines[0]!.slice(0, -1).includes('\n'), 'one line, newline-terminated');
    assert.deepEqual(Object.keys(parsed()[0]!), ['time', 'level', 'component', 'msg', 'partitions', 'topic']);
    assert.deepEqual(parsed()[0], {
      time: '2026-11-27T12:05:00.123Z',
      level: 'info',
      component: 'enrich',
      msg: 'inventory read (3 objects), taking flows',
      partitions: 6,
      topic: 'flowsentry.flows.raw.v1',
    });
  });

  it('writes only the levels at or above its threshold', () => {
    for (const [threshold, written] of [
      ['debug', ['debug', 'info', 'warn', 'error']],
      ['info', ['info', 'warn', 'error']],
      ['warn', ['warn', 'error']],
      ['error', ['error']],
    ] as const) {
      const { log, parsed } = captured(threshold);
      log.debug('d');
      log.info('i');
      log.warn('w');
      log.error('e');
      assert.deepEqual(
        parsed().map((line) => line.level),
        written,
        `threshold ${threshold}`,
      );
      assert.equal(log.enabled('debug'), threshold === 'debug');
    }
  });

  it('reads the threshold from FLOWSENTRY_LOG_LEVEL, info when unset or unknown', () => {
    assert.equal(logLevelFromEnv({}), 'info');
    assert.equal(logLevelFromEnv({ FLOWSENTRY_LOG_LEVEL: 'WARN' }), 'warn');
    assert.equal(logLevelFromEnv({ FLOWSENTRY_LOG_LEVEL: ' debug ' }), 'debug');
    assert.equal(logLevelFromEnv({ FLOWSENTRY_LOG_LEVEL: 'verbose' }), 'info');
  });

  it('writes an error field as its message, code and stack, with its cause', () => {
    const { log, parsed } = captured();
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { code: 'ECONNREFUSED' });
    const error = Object.assign(new Error('the broker is unreachable', { cause }), { code: 'BUS_UNAVAILABLE' });
    log.error('could not start: the broker is unreachable', { error });
    const written = parsed()[0]!.error as Record<string, unknown>;
    assert.equal(written.message, 'the broker is unreachable');
    assert.equal(written.code, 'BUS_UNAVAILABLE');
    assert.match(String(written.stack), /^Error: the broker is unreachable\n\s+at /);
    assert.deepEqual([(written.cause as Record<string, unknown>).message, (written.cause as Record<string, unknown>).code], ['connect ECONNREFUSED 127.0.0.1:9092', 'ECONNREFUSED']);
    class OutletError extends Error {
      override readonly name = 'OutletError';
    }
    log.warn('retrying', { error: new OutletError('429') });
    assert.equal((parsed()[1]!.error as Record<string, unknown>).name, 'OutletError');
  });

  it('keeps its own keys: a field with the name of one is written beside it', () => {
    const { log, parsed } = captured();
    log.info('stopped', { msg: 'not this', level: 'debug', component: 'other', time: 0, exit_code: 0 });
    const line = parsed()[0]!;
    assert.deepEqual([line.msg, line.level, line.component], ['stopped', 'info', 'enrich']);
    assert.deepEqual([line.field_msg, line.field_level, line.field_component, line.field_time, line.exit_code], ['not this', 'debug', 'other', 0, 0]);
  });

  it('writes values JSON has no form for: bigints, Maps, Sets, cycles; leaves out undefined fields', () => {
    const { log, parsed } = captured();
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    log.info('odd values', { offset: 12345678901234567890n, partitions: new Map([['p0', 1]]), kinds: new Set(['flow']), cyclic, gone: undefined });
    const line = parsed()[0]!;
    assert.equal(line.offset, '12345678901234567890');
    assert.deepEqual(line.partitions, { p0: 1 });
    assert.deepEqual(line.kinds, ['flow']);
    assert.deepEqual(line.cyclic, { name: 'a', self: '[circular]' });
    assert.equal('gone' in line, false);
  });

  it('logger() writes to stderr at the level of FLOWSENTRY_LOG_LEVEL; process warnings become JSON lines too', () => {
    const script = [
      "import { logger, logProcessWarnings } from './runtime/log.ts';",
      "const log = logger('sink');",
      "log.info('dropped at warn');",
      "log.warn('kept', { outlet: 'opensearch' });",
      'logProcessWarnings();',
      "process.emitWarning('something odd', { code: 'FS_ODD' });",
    ].join('\n');
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoDir,
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, FLOWSENTRY_LOG_LEVEL: 'warn' },
    });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, '');
    const lines = child.stderr.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      lines.map(({ level, component, msg }) => [level, component, msg]),
      [
        ['warn', 'sink', 'kept'],
        ['warn', 'process', 'something odd'],
      ],
    );
    assert.equal(lines[1]!.code, 'FS_ODD');
    assert.ok(lines.every((line) => typeof line.time === 'string' && !Number.isNaN(Date.parse(line.time))));
  });
});
