import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { logged, logLines, runCli, stageProcess } from '../support/cli.js';
import { uniqueName, waitFor } from '../support/wait.js';

/** The port the process's ops server logged it bound. */
const boundPort = (stderr: string) => logLines(stderr).find((line) => line.component === 'ops' && typeof line['port'] === 'number')?.['port'] as number | undefined;

describe('flowsentry run on Kafka > the stages the config file names, in one process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-run-stages-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('starts each named stage with its own section, serves one /readyz for all, drains them all on SIGTERM and exits 0', async () => {
    const config = join(dir, 'flowsentry.yaml');
    writeFileSync(
      config,
      [
        'run:',
        '  stages: [enrich, detect]',
        'enrich:',
        `  group: ${uniqueName('run-enrich')}`,
        'detect:',
        `  group: ${uniqueName('run-detect')}`,
        '  learn: 10m',
        '',
      ].join('\n'),
    );
    const run = stageProcess(['run', '--config', config]);
    let exited = false;
    void run.exited.then(() => (exited = true));
    try {
      const port = await waitFor(() => boundPort(run.stderr()) ?? (exited ? -1 : undefined), { intervalMs: 20, timeoutMs: 90_000, description: 'the ops server to listen' });
      assert.ok(port > 0, run.stderr());
      const ready = await waitFor(
        async () => {
          const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
          if (response?.status === 200) return (await response.json()) as { components: Record<string, { ready: boolean }> };
          return exited ? null : undefined;
        },
        { intervalMs: 100, timeoutMs: 90_000, description: '/readyz 200' },
      );
      assert.ok(ready, run.stderr());
      assert.deepEqual(Object.keys(ready.components).sort(), ['detect', 'enrich']);
      assert.ok(logged(run.stderr(), 'enrich', 'inventory read'), run.stderr());
      assert.ok(logged(run.stderr(), 'detect', 'taking enriched flows'), run.stderr());
      run.child.kill('SIGTERM');
      assert.equal(await run.exited, 0, run.stderr());
      assert.ok(logged(run.stderr(), 'enrich', 'stopped') && logged(run.stderr(), 'detect', 'stopped'), run.stderr());
    } finally {
      if (!exited) run.child.kill('SIGKILL');
    }
  });

  it('refuses an unknown stage and a config key the stage does not have, naming each, with exit code 2', async () => {
    const config = join(dir, 'bad.yaml');
    writeFileSync(config, ['run:', '  stages: [enrich, transmogrify]', 'detect:', '  treshold: [port_scan=10]', ''].join('\n'));
    const result = await runCli(['run', '--config', config]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /run\.stages/);
    assert.match(result.stderr, /transmogrify/);
    assert.match(result.stderr, /detect\.treshold: unknown key \(did you mean threshold\?\)/);
  });
});
