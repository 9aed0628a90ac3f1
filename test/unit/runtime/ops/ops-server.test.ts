import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { createLogger } from '../../../../runtime/log.js';
import { MetricsRegistry } from '../../../../runtime/metrics.js';
import { mergeExpositions, OpsServer, opsServer, OpsServerError, opsServerSettings } from '../../../../runtime/ops/ops-server.js';
import { repoDir } from '../../../../services/paths.js';
import { parseExposition } from '../../../support/prometheus-text.js';

/** A component whose readiness and health the test sets. */
function fake(name: string, metrics = new MetricsRegistry()) {
  const state = { ready: false, healthy: true };
  return { state, component: { name, metrics, ready: () => state.ready, healthy: () => state.healthy } };
}

async function get(port: number, path: string, method = 'GET') {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), text, json: () => JSON.parse(text) as Record<string, unknown> };
}

describe('runtime > ops server', () => {
  const servers: OpsServer[] = [];
  const said: string[] = [];
  const started = () => {
    const server = new OpsServer({ log: createLogger('ops', { write: (line) => said.push(line) }) });
    servers.push(server);
    return server;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it('is ready only when every component is ready and healthy, and names the others', async () => {
    const server = started();
    const { port } = await server.listen({ port: 0, host: '127.0.0.1' });
    const empty = await get(port, '/readyz');
    assert.equal(empty.status, 503, 'nothing registered is not ready');

    const enrich = fake('enrich');
    const sink = fake('sink');
    server.register(enrich.component);
    server.register(sink.component);
    let ready = await get(port, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.type ?? '', /^application\/json/);
    assert.deepEqual(ready.json().not_ready, ['enrich', 'sink']);

    enrich.state.ready = true;
    ready = await get(port, '/readyz');
    assert.deepEqual([ready.status, ready.json().not_ready], [503, ['sink']]);

    sink.state.ready = true;
    ready = await get(port, '/readyz');
    assert.deepEqual([ready.status, ready.json().status], [200, 'ready']);
    assert.deepEqual(ready.json().components, { enrich: { ready: true, healthy: true }, sink: { ready: true, healthy: true } });

    sink.state.healthy = false;
    assert.equal((await get(port, '/readyz')).status, 503, 'an unhealthy component is not ready either');
  });

  it('is healthy unless a component says otherwise (or its check throws), naming it', async () => {
    const server = started();
    const { port } = await server.listen({ port: 0, host: '127.0.0.1' });
    const detect = fake('detect');
    server.register(detect.component);
    const healthy = await get(port, '/healthz');
    assert.deepEqual([healthy.status, healthy.json().status], [200, 'ok'], 'healthy while not ready yet');

    detect.state.healthy = false;
    const unhealthy = await get(port, '/healthz');
    assert.deepEqual([unhealthy.status, unhealthy.json().unhealthy], [503, ['detect']]);

    const unregister = server.register({
      name: 'broken',
      metrics: new MetricsRegistry(),
      ready: () => true,
      healthy: () => {
        throw new Error('boom');
      },
    });
    assert.deepEqual((await get(port, '/healthz')).json().unhealthy, ['detect', 'broken']);
    unregister();
    detect.state.healthy = true;
    assert.equal((await get(port, '/healthz')).status, 200);
    const noHealthCheck = server.register({ name: 'plain', metrics: new MetricsRegistry(), ready: () => true });
    assert.equal((await get(port, '/healthz')).status, 200, 'a component without a health check is healthy');
    noHealthCheck();
  });

  it('serves every registry and the process figures as one valid Prometheus exposition', async () => {
    const server = started();
    const { port } = await server.listen({ port: 0, host: '127.0.0.1' });
    const shared = new MetricsRegistry();
    shared.counter('flowsentry_stage_records_total', 'Input records handled').inc({ stage: 'enrich', outcome: 'ok' }, 5);
    const other = new MetricsRegistry();
    other.counter('flowsentry_stage_records_total', 'Input records handled').inc({ stage: 'detect', outcome: 'ok' }, 2);
    other.counter('flowsentry_stage_records_total', 'Input records handled').inc({ stage: 'enrich', outcome: 'ok' }, 1);
    other.gauge('flowsentry_sink_queue', 'Queued').set(3, { outlet: 'opensearch' });
    server.register(fake('enrich', shared).component);
    server.register(fake('enrich-2', shared).component);
    const unregister = server.register(fake('detect', other).component);

    const metrics = await get(port, '/metrics');
    assert.equal(metrics.status, 200);
    assert.equal(metrics.type, 'text/plain; version=0.0.4; charset=utf-8');
    const parsed = parseExposition(metrics.text);
    assert.equal(parsed.samples.get('flowsentry_stage_records_total{outcome="ok",stage="enrich"}'), 6, 'one registry registered twice counts once; the same series of two registries adds up');
    assert.equal(parsed.samples.get('flowsentry_stage_records_total{outcome="ok",stage="detect"}'), 2);
    assert.equal(parsed.samples.get('flowsentry_sink_queue{outlet="opensearch"}'), 3);
    assert.equal(parsed.types.get('flowsentry_stage_records_total'), 'counter');
    assert.ok(parsed.samples.get('process_resident_memory_bytes')! > 0);
    assert.ok(parsed.samples.get('flowsentry_process_uptime_seconds')! > 0);
    assert.ok(parsed.samples.get('process_start_time_seconds')! > 1.7e9);
    await new Promise((resolveTimer) => setTimeout(resolveTimer, 50));
    const lag = parseExposition((await get(port, '/metrics')).text).samples.get('flowsentry_event_loop_lag_seconds{stat="p99"}');
    assert.ok(lag !== undefined && lag >= 0, 'the event-loop lag is measured');

    unregister();
    assert.equal(parseExposition((await get(port, '/metrics')).text).samples.has('flowsentry_sink_queue{outlet="opensearch"}'), false, 'an unregistered component is gone');
  });

  it('merges families of several texts into one valid exposition', () => {
    const merged = mergeExpositions([
      '# HELP a_total A\n# TYPE a_total counter\na_total{x="1"} 1\n# HELP b B\n# TYPE b gauge\nb NaN\n',
      '# HELP a_total A again\n# TYPE a_total counter\na_total{x="1"} 2\na_total{x="2"} 4\n# HELP c_total C\n# TYPE c_total counter\n',
    ]);
    const parsed = parseExposition(merged);
    assert.deepEqual([...parsed.samples.entries()].filter(([series]) => series.startsWith('a_total')), [
      ['a_total{x="1"}', 3],
      ['a_total{x="2"}', 4],
    ]);
    assert.ok(Number.isNaN(parsed.samples.get('b')!));
    assert.equal(merged.match(/# HELP a_total/g)?.length, 1);
    assert.match(merged, /# TYPE c_total counter/);
  });

  it('answers 404 elsewhere, 405 to other methods, and HEAD without a body', async () => {
    const server = started();
    const { port } = await server.listen({ port: 0, host: '127.0.0.1' });
    assert.equal((await get(port, '/')).status, 404);
    assert.equal((await get(port, '/metrics/extra')).status, 404);
    assert.equal((await get(port, '/readyz', 'POST')).status, 405);
    const head = await get(port, '/healthz', 'HEAD');
    assert.deepEqual([head.status, head.text], [200, '']);
    assert.equal((await get(port, '/healthz?verbose=1')).status, 200, 'a query string is ignored');
  });

  it('listens once however often it is asked, and again after close', async () => {
    const server = started();
    const [first, second] = await Promise.all([server.listen({ port: 0, host: '127.0.0.1' }), server.listen({ port: 0, host: '127.0.0.1' })]);
    assert.equal(first.port, second.port);
    assert.equal((await server.listen({ port: 1, host: '127.0.0.1' })).port, first.port, 'already listening: the same port');
    await server.close();
    await assert.rejects(fetch(`http://127.0.0.1:${first.port}/healthz`));
    const again = await server.listen({ port: 0, host: '127.0.0.1' });
    assert.equal((await get(again.port, '/healthz')).status, 200);
  });

  it('refuses a port in use with OPS_PORT_IN_USE, and can listen afterwards', async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    const server = started();
    try {
      await assert.rejects(server.listen({ port, host: '127.0.0.1' }), (error: unknown) => {
        assert.ok(error instanceof OpsServerError);
        assert.equal(error.code, 'OPS_PORT_IN_USE');
        assert.equal(error.port, port);
        assert.match(error.message, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
        return true;
      });
    } finally {
      taken.close();
    }
    const { port: other } = await server.listen({ port: 0, host: '127.0.0.1' });
    assert.equal((await get(other, '/healthz')).status, 200);
    const listening = JSON.parse(said.at(-1)!) as Record<string, unknown>;
    assert.deepEqual([listening.component, listening.msg, listening.port], ['ops', `listening on 127.0.0.1:${other} (/metrics, /healthz, /readyz)`, other]);
  });

  it('is one server per process', () => {
    assert.equal(opsServer(), opsServer());
  });

  it('takes its port and host from FLOWSENTRY_SERVER_PORT and FLOWSENTRY_SERVER_HOST', () => {
    assert.deepEqual(opsServerSettings({}), { port: 9464, host: '0.0.0.0' });
    assert.deepEqual(opsServerSettings({ FLOWSENTRY_SERVER_PORT: '0', FLOWSENTRY_SERVER_HOST: '127.0.0.1' }), { port: 0, host: '127.0.0.1' });
    const problems: string[] = [];
    assert.equal(opsServerSettings({ FLOWSENTRY_SERVER_PORT: '70000' }, problems).port, 9464);
    assert.deepEqual(problems, ["FLOWSENTRY_SERVER_PORT: '70000' is not a port (0-65535; 0 takes any free port)"]);
  });

  it('never holds the process open, and logs the port it bound as JSON', async () => {
    const script = [
      "import { opsServer } from './runtime/ops/ops-server.ts';",
      "import { MetricsRegistry } from './runtime/metrics.ts';",
      "opsServer().register({ name: 'x', metrics: new MetricsRegistry(), ready: () => true });",
      "const { port } = await opsServer().listen({ port: 0, host: '127.0.0.1' });",
      "const answer = await fetch(`http://127.0.0.1:${port}/readyz`);",
      'console.log(answer.status, port);',
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    clearTimeout(timer);
    assert.deepEqual([code, signal], [0, null], `exits by itself once its work is done:\n${stderr}`);
    const [status, port] = stdout.trim().split(' ');
    assert.equal(status, '200');
    const line = JSON.parse(stderr.trim()) as Record<string, unknown>;
    assert.deepEqual([line.level, line.component, line.port], ['info', 'ops', Number(port)]);
    assert.match(String(line.msg), new RegExp(`^listening on 127\\.0\\.0\\.1:${port} `));
  });
});
