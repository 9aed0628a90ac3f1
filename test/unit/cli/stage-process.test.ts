import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { exitCodes } from '../../../runtime/ops/exit-codes.js';
import { repoDir } from '../../../services/paths.js';
import { logged, logLines } from '../../support/cli.js';
import { waitFor } from '../../support/wait.js';

const childScript = join(repoDir, 'test', 'support', 'fake-stage-child.ts');

interface FakeStage {
  readonly child: ChildProcess;
  readonly events: () => Record<string, unknown>[];
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

/** test/support/fake-stage-child.ts in one of its modes, its ops server on any free port unless told. */
function fakeStage(mode: string, env: NodeJS.ProcessEnv = {}): FakeStage {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, mode], {
    cwd: repoDir,
    env: { ...process.env, FLOWSENTRY_SERVER_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const exited = once(child, 'exit').then(([code]) => {
    clearTimeout(timer);
    return code as number | null;
  });
  const events = () =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { child, events, stderr: () => stderr, exited };
}

const event = (stage: FakeStage, name: string) => stage.events().find((candidate) => candidate.event === name);

/** Every stderr line is a JSON log line with time, level, component and msg. */
function assertJsonLog(stderr: string): void {
  const lines = stderr.split('\n').filter((line) => line !== '');
  assert.ok(lines.length > 0, 'something was logged');
  for (const line of lines) {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(
      ['time', 'level', 'component', 'msg'].map((key) => typeof parsed[key]),
      ['string', 'string', 'string', 'string'],
      line,
    );
  }
}

const stoppedLine = (stderr: string) => logLines(stderr).find((line) => line.component === 'fake' && line.msg === 'stopped');

describe('CLI > stage process: readiness, drain, exit codes', () => {
  it('a stage that ends by itself closes and exits 0, logging its metrics', async () => {
    const stage = fakeStage('ends');
    assert.equal(await stage.exited, exitCodes.ok, stage.stderr());
    assertJsonLog(stage.stderr());
    assert.ok(logged(stage.stderr(), 'fake', 'taking fake records'));
    assert.ok(logged(stage.stderr(), 'fake', 'input ended'));
    assert.deepEqual(event(stage, 'closing'), { event: 'closing', readyz: 503, healthz: 200 });
    const stopped = stoppedLine(stage.stderr());
    assert.equal(stopped?.['exit_code'], 0);
    assert.match(String(stopped?.['metrics']), /^fake_records_total\{outcome="ok"\} 3$/m);
  });

  it('SIGTERM: not ready from the signal on, the close finishes, exit 0', async () => {
    const stage = fakeStage('runs');
    const started = await waitFor(() => event(stage, 'started'), { description: 'the fake stage to start' });
    const port = started.port as number;
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200, 'ready once started');
    stage.child.kill('SIGTERM');
    assert.equal(await stage.exited, exitCodes.ok, stage.stderr());
    assert.deepEqual(event(stage, 'closing'), { event: 'closing', readyz: 503, healthz: 200 }, 'not ready, still healthy, while draining');
    assertJsonLog(stage.stderr());
    assert.ok(logged(stage.stderr(), 'fake', 'SIGTERM: draining'));
    assert.equal(stoppedLine(stage.stderr())?.['exit_code'], 0);
  });

  it('a second SIGINT during the drain exits at once with 130', async () => {
    const stage = fakeStage('runs');
    await waitFor(() => event(stage, 'started'), { description: 'the fake stage to start' });
    stage.child.kill('SIGINT');
    await waitFor(() => event(stage, 'closing'), { intervalMs: 5, description: 'the drain to begin' });
    stage.child.kill('SIGINT');
    assert.equal(await stage.exited, 130, stage.stderr());
    assert.ok(logged(stage.stderr(), 'fake', 'SIGINT again while draining: exiting now'));
    assert.equal(stoppedLine(stage.stderr()), undefined, 'the drain was not waited for');
  });

  it('a stop during the start ends the start, closes and exits 0', async () => {
    const stage = fakeStage('start-hangs');
    await waitFor(() => logged(stage.stderr(), 'ops', 'listening on'), { description: 'the ops server' });
    stage.child.kill('SIGTERM');
    assert.equal(await stage.exited, exitCodes.ok, stage.stderr());
    assert.equal(logged(stage.stderr(), 'fake', 'taking fake records'), false);
    assert.deepEqual(event(stage, 'closing'), { event: 'closing', readyz: 503, healthz: 200 });
  });

  it('a start that fails is logged with its error and exits 4', async () => {
    const stage = fakeStage('start-fails');
    assert.equal(await stage.exited, exitCodes.startFailed, stage.stderr());
    assertJsonLog(stage.stderr());
    const failure = logLines(stage.stderr()).find((line) => line.level === 'error');
    assert.equal(failure?.msg, 'could not start: connect ECONNREFUSED 127.0.0.1:9');
    assert.match(String((failure?.['error'] as { stack?: string }).stack), /connect ECONNREFUSED/);
    assert.equal(event(stage, 'closing')?.healthz, 503, 'unhealthy once it failed');
    assert.equal(stoppedLine(stage.stderr())?.['exit_code'], exitCodes.startFailed);
  });

  for (const [mode, msg] of [
    ['crashes', 'failed: the consumer crashed'],
    ['throws', 'failed: a bug in a timer'],
  ] as const) {
    it(`a running stage that fails (${mode}) turns unhealthy, is logged, closes and exits 3`, async () => {
      const stage = fakeStage(mode);
      assert.equal(await stage.exited, exitCodes.stageFailed, stage.stderr());
      assertJsonLog(stage.stderr());
      assert.ok(logged(stage.stderr(), 'fake', 'taking fake records'));
      const failure = logLines(stage.stderr()).find((line) => line.level === 'error');
      assert.equal(failure?.msg, msg);
      assert.equal(failure?.['exit_code'], exitCodes.stageFailed);
      assert.deepEqual(event(stage, 'closing'), { event: 'closing', readyz: 503, healthz: 503 });
    });
  }

  it('the ops port in use: a clear error, exit 5, the stage never starts', async () => {
    const taken = createServer();
    taken.listen(0, '0.0.0.0');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    try {
      const stage = fakeStage('runs', { FLOWSENTRY_SERVER_PORT: String(port) });
      assert.equal(await stage.exited, exitCodes.serverPort, stage.stderr());
      assertJsonLog(stage.stderr());
      const failure = logLines(stage.stderr()).find((line) => line.level === 'error');
      assert.match(failure?.msg ?? '', new RegExp(`^port ${port} on 0\\.0\\.0\\.0 is already in use: set FLOWSENTRY_SERVER_PORT to a free port`));
      assert.equal(event(stage, 'started'), undefined);
    } finally {
      taken.close();
    }
  });
});
