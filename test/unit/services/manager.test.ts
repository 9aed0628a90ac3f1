import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isHttpUp } from '../../../services/exec.js';
import { down, status, up } from '../../../services/manager.js';
import { allServices, servicesMissingFrom } from '../../../services/registry.js';
import type { ServiceDefinition } from '../../../services/service.js';

const port = 17000 + (process.pid % 1000);

/** A service that is a small HTTP server in a child Node process. */
function fakeService(name: string, script: string): ServiceDefinition {
  return {
    name,
    env: { FAKE_URL: `http://127.0.0.1:${port}` },
    install: async () => undefined,
    prepare: async () => ({ command: process.execPath, args: ['-e', script] }),
    isReady: () => isHttpUp(`http://127.0.0.1:${port}/`, 500),
  };
}

const server = `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('Services > manager', () => {
  let cache: string;
  const previous = process.env.FLOWSENTRY_CACHE;
  const quiet = () => undefined;
  before(() => {
    cache = mkdtempSync(join(tmpdir(), 'flowsentry-services-'));
    process.env.FLOWSENTRY_CACHE = cache;
  });
  after(() => {
    if (previous === undefined) delete process.env.FLOWSENTRY_CACHE;
    else process.env.FLOWSENTRY_CACHE = previous;
    rmSync(cache, { recursive: true, force: true });
  });

  it('starts a service once, leaves it alone when it is already up, and stops it leaving no process', async () => {
    const service = fakeService('fake', server);
    const [first] = await up([service], quiet);
    assert.equal(first?.started, true);
    const [second] = await up([service], quiet);
    assert.equal(second?.started, false, 'idempotent');
    const [running] = await status([service]);
    assert.equal(running?.ready, true);
    const pid = running!.pid!;
    assert.ok(alive(pid));
    await down([service], quiet);
    assert.equal(alive(pid), false);
    const [stopped] = await status([service]);
    assert.deepEqual([stopped?.running, stopped?.ready], [false, false]);
    assert.equal(await isHttpUp(`http://127.0.0.1:${port}/`, 500), false);
  });

  it('fails with the log of a service that exits before it is ready', async () => {
    const broken = fakeService('broken', "console.error('cannot bind: permission denied'); process.exit(3)");
    await assert.rejects(up([broken], quiet), /broken exited before it was ready[\s\S]*cannot bind: permission denied/);
  });

  it('starts for a test run only the services whose endpoints are not given', () => {
    const names = (env: NodeJS.ProcessEnv) => servicesMissingFrom(env).map((service) => service.name);
    assert.deepEqual(names({}), allServices.map((service) => service.name));
    assert.deepEqual(names({ KAFKA_BROKERS: 'k:9092', AWS_ENDPOINT_URL: 'http://aws' }), ['opensearch', 'kubernetes']);
    assert.deepEqual(names({ KAFKA_BROKERS: 'k:9092', OPENSEARCH_URL: 'http://os', AWS_ENDPOINT_URL: 'http://aws', KUBERNETES_URL: 'https://k8s:6443' }), []);
  });
});
