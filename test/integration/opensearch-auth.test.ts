import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSearchClient, openSearchConnectionFromEnv } from '../../sink/opensearch/opensearch-client.js';
import { requiredEnv } from '../support/wait.js';

/** A CA and a certificate for 127.0.0.1 and localhost signed by it, made with openssl. */
function certificates(dir: string): { ca: string; key: Buffer; cert: Buffer } {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=flowsentry test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  const ext = join(dir, 'san.ext');
  execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ${ext}`]);
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  return { ca: join(dir, 'ca.pem'), key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) };
}

/** Forwards a request to OpenSearch and its answer back. */
function forward(target: URL, req: IncomingMessage, res: ServerResponse): void {
  const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  req.pipe(upstream);
}

describe('Sink > OpenSearch > authentication', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-tls-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('talks TLS with a custom CA and HTTP basic credentials, and is refused with wrong ones', async () => {
    const { ca, key, cert } = certificates(dir);
    const target = new URL(requiredEnv('OPENSEARCH_URL'));
    const expected = `Basic ${Buffer.from('flowsentry:s3cret').toString('base64')}`;
    const server = createHttpsServer({ key, cert }, (req, res) => {
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="test"' });
        res.end('{"error":"unauthorized","status":401}');
        return;
      }
      forward(target, req, res);
    });
    await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
    const url = `https://localhost:${(server.address() as AddressInfo).port}`;
    try {
      const good = openSearchClient({ url, username: 'flowsentry', password: 's3cret', caFile: ca });
      const info = await good.info();
      assert.match(String((info.body as { version: { number: string } }).version.number), /^2\./);
      await good.close();

      const wrong = openSearchClient({ url, username: 'flowsentry', password: 'wrong', caFile: ca });
      await assert.rejects(wrong.info(), (error: { meta?: { statusCode?: number } }) => error.meta?.statusCode === 401);
      await wrong.close();

      const untrusted = openSearchClient({ url, username: 'flowsentry', password: 's3cret' });
      await assert.rejects(untrusted.info(), /self[- ]signed|unable to verify|certificate/i);
      await untrusted.close();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    }
  });

  it('signs every request with AWS SigV4 for the service and region asked for, over the exact body', async () => {
    const seen: { headers: IncomingMessage['headers']; body: Buffer }[] = [];
    const server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"took":1,"errors":false,"items":[{"index":{"status":201}}]}');
      });
    });
    await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
    const env = { OPENSEARCH_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, OPENSEARCH_SIGV4: 'es', AWS_REGION: 'eu-west-1' };
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    try {
      const client = openSearchClient(openSearchConnectionFromEnv(env)!);
      const body = '{"index":{"_index":"flowsentry-flows-2026.11.27","_id":"a"}}\n{"source_ip":"10.0.0.1"}\n';
      await client.bulk({ body: body as never });
      await client.close();
      const [request] = seen;
      assert.ok(request);
      const authorization = String(request.headers.authorization);
      assert.match(authorization, /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/es\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/);
      assert.match(String(request.headers['x-amz-date']), /^\d{8}T\d{6}Z$/);
      assert.equal(request.body.toString(), body);
      assert.equal(request.headers['x-amz-content-sha256'], createHash('sha256').update(body).digest('hex'));
    } finally {
      for (const [name, value] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      server.close();
    }
  });

  it('refuses an OPENSEARCH_SIGV4 that names no service', () => {
    assert.throws(() => openSearchConnectionFromEnv({ OPENSEARCH_URL: 'http://x:9200', OPENSEARCH_SIGV4: 'yes' }), /OPENSEARCH_SIGV4: 'yes' is neither 'es' nor 'aoss'/);
  });
});
