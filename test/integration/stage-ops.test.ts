import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exitCodes } from '../../runtime/ops/exit-codes.js';
import { logged, logLines, runCli, stageProcess, type StageProcess } from '../support/cli.js';
import { parseExposition } from '../support/prometheus-text.js';
import { uniqueName, waitFor } from '../support/wait.js';

/** The port the stage's ops server logged it bound. */
const boundPort = (stage: StageProcess) => logLines(stage.stderr()).find((line) => line.component === 'ops' && typeof line['port'] === 'number')?.['port'] as number | undefined;

/** The status of GET path, or 0 when nothing answers. */
async function statusOf(port: number, path: string): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Every stderr line is a JSON log line with time, level, component and msg. */
function assertJsonLines(stderr: string): void {
  const lines = stderr.split('\n').filter((line) => line !== '');
  assert.ok(lines.length > 0);
  for (const line of lines) {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      assert.fail(`not a JSON line: ${line}`);
    }
    assert.ok(typeof parsed.time === 'string' && !Number.isNaN(Date.parse(parsed.time)), `time in ${line}`);
    assert.ok(['debug', 'info', 'warn', 'error'].includes(parsed.level as string), `level in ${line}`);
    assert.ok(typeof parsed.component === 'string' && parsed.component !== '', `component in ${line}`);
    assert.ok(typeof parsed.msg === 'string', `msg in ${line}`);
  }
}

describe('stage process > ops endpoints, JSON logs and signals (enrich on Kafka)', () => {
  it('is not ready while it starts, serves its metrics and health, drains on SIGTERM not ready, and exits 0; a second process on its port exits 5', async () => {
    const enrich = stageProcess(['enrich', '--group', uniqueName('stage-ops')]);
    let exited = false;
    void enrich.exited.then(() => (exited = true));
    try {
      const port = await waitFor(() => boundPort(enrich) ?? (exited ? -1 : undefined), { intervalMs: 5, timeoutMs: 60_000, description: 'the ops server to listen' });
      assert.ok(port > 0, `the stage stopped early:\n${enrich.stderr()}`);
      const before = await statusOf(port, '/readyz');
      const readyAt = await waitFor(async () => ((await statusOf(port, '/readyz')) === 200 ? Date.now() : exited ? -1 : undefined), {
        intervalMs: 50,
        timeoutMs: 60_000,
        description: '/readyz 200',
      });
      assert.ok(readyAt > 0, enrich.stderr());
      assert.equal(before, 503, 'not ready while it starts');
      assert.ok(logged(enrich.stderr(), 'enrich', 'inventory read'), 'ready once it says it takes flows');

      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok', components: { enrich: { ready: true, healthy: true } } });
      const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { status: string };
      assert.equal(ready.status, 'ready');

      const scrape = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(scrape.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      const exposition = parseExposition(await scrape.text());
      for (const family of ['flowsentry_stage_records_total', 'flowsentry_dead_letters_total', 'flowsentry_enrich_identity_table', 'process_resident_memory_bytes', 'flowsentry_event_loop_lag_seconds']) {
        assert.ok(exposition.types.has(family), `${family} in /metrics`);
      }
      assert.ok(exposition.samples.get('process_resident_memory_bytes')! > 0);

      // Another process on the same port: a clear error, the documented exit code, nothing started.
      const second = await runCli(['enrich', '--group', uniqueName('stage-ops-second')], { ...process.env, FLOWSENTRY_SERVER_PORT: String(port) });
      assert.equal(second.code, exitCodes.serverPort, second.stderr);
      assertJsonLines(second.stderr);
      const refusal = logLines(second.stderr).find((line) => line.level === 'error');
      assert.match(refusal?.msg ?? '', new RegExp(`^port ${port} on 0\\.0\\.0\\.0 is already in use: set FLOWSENTRY_SERVER_PORT`));
      assert.equal(logged(second.stderr, 'enrich', 'inventory read'), false, 'the second one never started');
      assert.equal(await statusOf(port, '/readyz'), 200, 'the first one is unaffected');

      // SIGTERM: not ready from the signal on, while it drains; healthy throughout; then exit 0.
      enrich.child.kill('SIGTERM');
      const during: number[] = [];
      for (;;) {
        const [readiness, liveness] = await Promise.all([statusOf(port, '/readyz'), statusOf(port, '/healthz')]);
        if (readiness === 0 || exited) break;
        during.push(readiness);
        assert.equal(liveness, 200, 'healthy while draining');
        await new Promise((resolveTimer) => setTimeout(resolveTimer, 20));
      }
      assert.ok(during.length > 0, 'the drain was observed');
      assert.deepEqual([...new Set(during)], [503], 'not ready at any point of the drain');
      assert.equal(await enrich.exited, 0, enrich.stderr());
    } finally {
      enrich.child.kill('SIGKILL');
    }
    assertJsonLines(enrich.stderr());
    assert.ok(logged(enrich.stderr(), 'enrich', 'SIGTERM: draining'));
    const stopped = logLines(enrich.stderr()).find((line) => line.component === 'enrich' && line.msg === 'stopped');
    assert.equal(stopped?.['exit_code'], 0);
    assert.match(String(stopped?.['metrics']), /^# HELP flowsentry_/);
  });

  it('a second SIGTERM during the drain exits at once with 143', async () => {
    const enrich = stageProcess(['enrich', '--group', uniqueName('stage-ops-twice')]);
    try {
      await waitFor(() => logged(enrich.stderr(), 'enrich', 'inventory read') || enrich.child.exitCode !== null, { timeoutMs: 60_000, description: 'the stage to start' });
      assert.equal(enrich.child.exitCode, null, enrich.stderr());
      enrich.child.kill('SIGTERM');
      await waitFor(() => logged(enrich.stderr(), 'enrich', 'SIGTERM: draining'), { intervalMs: 5, description: 'the drain to begin' });
      enrich.child.kill('SIGTERM');
      assert.equal(await enrich.exited, 143, enrich.stderr());
    } finally {
      enrich.child.kill('SIGKILL');
    }
    assertJsonLines(enrich.stderr());
    assert.ok(logged(enrich.stderr(), 'enrich', 'SIGTERM again while draining: exiting now'), enrich.stderr());
    assert.equal(logged(enrich.stderr(), 'enrich', 'stopped'), false, 'it did not wait for the drain');
  });
});
