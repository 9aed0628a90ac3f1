/**
 * The watch adapter against a scripted API server on loopback (HTTPS with a throw-away
 * self-signed certificate, made with openssl): what it asks for, how it resumes, relists and
 * backs off, and how it retries flushes. The real API server and the real conntrack are in
 * test/integration/conntrack-quarantine.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, afterEach, before, describe, it } from 'node:test';
import { ConntrackFlushError } from '../../../ingest/conntrack-flush.js';
import { type QuarantineConnectionsEvent, QuarantineConnectionCutter } from '../../../ingest/quarantine-connections.js';
import { QUARANTINE_LABEL } from '../../../ingest/quarantine-flush-plan.js';
import { kubeConfigFor } from '../../../runtime/kubernetes/kube-config.js';
import { MetricsRegistry } from '../../../runtime/metrics.js';
import { waitFor } from '../../support/wait.js';

const NODE = 'ip-10-0-1-5';

function pod(uid: string, ips: string[], resourceVersion: string, quarantine = 'q1') {
  return {
    metadata: { uid, namespace: 'shop', name: `web-${uid}`, resourceVersion, labels: { [QUARANTINE_LABEL]: quarantine } },
    spec: { nodeName: NODE },
    status: { phase: 'Running', podIPs: ips.map((ip) => ({ ip })) },
  };
}

type Handler = (request: IncomingMessage, response: ServerResponse, query: URLSearchParams) => void;

interface Tls {
  readonly dir: string;
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly caFile: string;
}

/** A key and a self-signed certificate for 127.0.0.1, in a temporary directory. */
async function makeTls(): Promise<Tls> {
  const dir = await mkdtemp(join(tmpdir(), 'fs-podwatch-'));
  const [keyFile, caFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', caFile,
  ]);
  return { dir, key: await readFile(keyFile), cert: await readFile(caFile), caFile };
}

/** An API server that answers the n-th list and the n-th watch with the n-th scripted handler. */
class ScriptedApiServer {
  readonly lists: URLSearchParams[] = [];
  readonly watches: URLSearchParams[] = [];
  private server!: Server;

  constructor(
    private readonly tls: Tls,
    private readonly listScript: Handler[],
    private readonly watchScript: Handler[],
  ) {}

  async start(): Promise<string> {
    this.server = createServer({ key: this.tls.key, cert: this.tls.cert }, (request, response) => {
      const url = new URL(request.url ?? '/', 'http://x');
      assert.equal(url.pathname, '/api/v1/pods');
      const watching = url.searchParams.get('watch') === 'true';
      const seen = watching ? this.watches : this.lists;
      seen.push(url.searchParams);
      const script = watching ? this.watchScript : this.listScript;
      const handler = script[Math.min(seen.length, script.length) - 1]!;
      handler(request, response, url.searchParams);
    });
    await new Promise<void>((resolveListen) => this.server.listen(0, '127.0.0.1', resolveListen));
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolveClose) => this.server.close(resolveClose));
  }
}

const list =
  (resourceVersion: string, ...items: unknown[]): Handler =>
  (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion }, items }));
  };

const fail =
  (status: number): Handler =>
  (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: status, message: `scripted ${status}` }));
  };

/** Streams the events, then ends the watch (`end`) or keeps it open. */
const watch =
  (events: { type: string; object: unknown }[], end: boolean): Handler =>
  (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.flushHeaders();
    for (const event of events) response.write(`${JSON.stringify(event)}\n`);
    if (end) response.end();
  };

const keepOpen = watch([], false);

describe('Ingest > quarantine > pod watch', () => {
  let api: ScriptedApiServer | undefined;
  let cutter: QuarantineConnectionCutter | undefined;
  let tls: Tls;

  before(async () => {
    tls = await makeTls();
  });

  after(async () => {
    await rm(tls.dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await cutter?.close();
    await api?.stop();
    cutter = api = undefined;
  });

  function startCutter(url: string, flush: (address: string) => Promise<number>, events: QuarantineConnectionsEvent[], metrics = new MetricsRegistry(), reflushAfterMs = 0, watchIdleMs?: number) {
    cutter = new QuarantineConnectionCutter({
      kubeConfig: kubeConfigFor({ url, token: 'test-token', caFile: tls.caFile }),
      node: NODE,
      metrics,
      flush,
      backoff: { baseDelayMs: 5, maxDelayMs: 20 },
      reflushAfterMs,
      ...(watchIdleMs ? { watchIdleMs } : {}),
      onEvent: (event) => events.push(event),
    });
    cutter.start();
    return metrics;
  }

  it('lists then watches the node’s labelled pods, resumes from the last version, relists when it expired', async () => {
    api = new ScriptedApiServer(
      tls,
      [list('10', pod('a', ['10.0.3.1'], '9')), list('20', pod('a', ['10.0.3.1', '10.0.3.2'], '11'), pod('b', ['10.0.3.3'], '19'))],
      [
        watch(
          [
            { type: 'MODIFIED', object: pod('a', ['10.0.3.1', '10.0.3.2'], '11') },
            { type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '12' } } },
          ],
          true,
        ),
        watch([{ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version: 12 (15)' } }], true),
        keepOpen,
      ],
    );
    const flushed: string[] = [];
    const events: QuarantineConnectionsEvent[] = [];
    const metrics = startCutter(
      await api.start(),
      async (address) => {
        flushed.push(address);
        return 2;
      },
      events,
    );
    await waitFor(() => api!.watches.length === 3 && flushed.length === 3, { description: 'the relist and the third watch', timeoutMs: 3000 });

    assert.deepEqual(flushed, ['10.0.3.1', '10.0.3.2', '10.0.3.3'], 'each address once: the relist does not flush pod a again');
    assert.equal(api.lists.length, 2);
    for (const query of [...api.lists, ...api.watches]) {
      assert.equal(query.get('fieldSelector'), `spec.nodeName=${NODE}`);
      assert.equal(query.get('labelSelector'), QUARANTINE_LABEL);
    }
    assert.deepEqual(
      api.watches.map((query) => [query.get('resourceVersion'), query.get('allowWatchBookmarks')]),
      [
        ['10', 'true'],
        ['12', 'true'],
        ['20', 'true'],
      ],
      'from the list, then from the bookmark, then from the relist',
    );
    assert.equal(metrics.counter('flowsentry_ingest_quarantine_errors_total', '').get({ operation: 'watch', code: 'POD_WATCH_EXPIRED' }), 1);
    assert.equal(metrics.counter('flowsentry_ingest_quarantine_flushes_total', '').get(), 3);
    assert.equal(metrics.counter('flowsentry_ingest_quarantine_entries_deleted_total', '').get(), 6);
    assert.equal(metrics.gauge('flowsentry_ingest_quarantine_pods', '').get(), 2);
  });

  it('backs off after a refused list, retries a failed flush, and gives up on one that cannot succeed', async () => {
    api = new ScriptedApiServer(tls, [fail(403), fail(500), list('30', pod('a', ['10.0.3.1'], '29'), pod('b', ['10.0.3.2'], '28'))], [keepOpen]);
    const calls: string[] = [];
    const events: QuarantineConnectionsEvent[] = [];
    const metrics = startCutter(
      await api.start(),
      async (address) => {
        calls.push(address);
        if (address === '10.0.3.2') throw new ConntrackFlushError('CONNTRACK_FLUSH_NOT_PERMITTED', 'must be root', false);
        if (calls.filter((call) => call === address).length === 1) throw new ConntrackFlushError('CONNTRACK_FLUSH_FAILED', 'netlink busy', true);
        return 1;
      },
      events,
    );
    await cutter!.listed;
    await waitFor(() => events.some((event) => event.kind === 'flushed'), { description: 'the retried flush to succeed' });

    assert.deepEqual(calls, ['10.0.3.1', '10.0.3.2', '10.0.3.1'], 'the retriable failure retried, the other not');
    const errors = metrics.counter('flowsentry_ingest_quarantine_errors_total', '');
    assert.equal(errors.get({ operation: 'list', code: 'POD_WATCH_FORBIDDEN' }), 1);
    assert.equal(errors.get({ operation: 'list', code: 'POD_WATCH_FAILED' }), 1);
    assert.equal(errors.get({ operation: 'flush', code: 'CONNTRACK_FLUSH_FAILED' }), 1);
    assert.equal(errors.get({ operation: 'flush', code: 'CONNTRACK_FLUSH_NOT_PERMITTED' }), 1);
    const forbidden = events.find((event) => event.kind === 'error' && event.code === 'POD_WATCH_FORBIDDEN');
    assert.match(forbidden?.kind === 'error' ? forbidden.message : '', /HTTP 403: the collector needs list and watch on pods/);
    assert.equal(metrics.counter('flowsentry_ingest_quarantine_flushes_total', '').get(), 1);
  });

  it('flushes each address a second time after a delay, for a packet that came before the policy did', async () => {
    api = new ScriptedApiServer(tls, [list('50', pod('a', ['10.0.3.1'], '49'))], [keepOpen]);
    const flushed: number[] = [];
    const began = Date.now();
    startCutter(
      await api.start(),
      async () => {
        flushed.push(Date.now() - began);
        return 1;
      },
      [],
      new MetricsRegistry(),
      150,
    );
    await waitFor(() => flushed.length === 2, { description: 'the second flush', timeoutMs: 3000 });
    assert.ok(flushed[1]! - flushed[0]! >= 140, `the second flush came ${flushed[1]! - flushed[0]!} ms after the first`);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(flushed.length, 2, 'and only once more');
  });

  it('ends a watch that brings nothing for too long and watches again from where it was', async () => {
    api = new ScriptedApiServer(tls, [list('60', pod('a', ['10.0.3.1'], '59'))], [keepOpen, keepOpen]);
    const events: QuarantineConnectionsEvent[] = [];
    startCutter(await api.start(), async () => 1, events, new MetricsRegistry(), 0, 150);
    await waitFor(() => api!.watches.length === 2, { description: 'the second watch', timeoutMs: 3000 });
    assert.deepEqual(api.watches.map((query) => query.get('resourceVersion')), ['60', '60']);
    assert.ok(events.some((event) => event.kind === 'error' && event.code === 'POD_WATCH_IDLE'));
  });

  it('closes while the watch is open, and while the server has not answered yet', async () => {
    const silent: Handler = () => undefined;
    for (const [lists, watches] of [
      [[list('40')], [keepOpen]],
      [[silent], [keepOpen]],
      [[list('40')], [silent]],
    ] as const) {
      api = new ScriptedApiServer(tls, [...lists], [...watches]);
      const events: QuarantineConnectionsEvent[] = [];
      startCutter(await api.start(), async () => 0, events);
      await waitFor(() => (lists[0] === silent ? api!.lists.length : api!.watches.length) === 1, { description: 'the request to arrive' });
      await cutter!.close();
      assert.deepEqual(events.filter((event) => event.kind === 'error'), []);
      await api.stop();
      cutter = api = undefined;
    }
  });
});
