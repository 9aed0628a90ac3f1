/**
 * The HTTP API of the query layer (node:http, GET only): `/v1/flows`, `/v1/timeline`,
 * `/v1/top-talkers`, `/v1/graph`, `/v1/who-talked-to`, with the CLI's flags as query
 * parameters (`dest_port=22`, repeated or comma-separated for several). JSON by default,
 * `format=jsonl` or `format=csv` too; the next page's cursor is `next` in JSON and the
 * `X-Next-Cursor` header in every format. Bad parameters: 400 with every problem listed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ask } from './ask.js';
import type { FlowStore } from './flow-store.js';
import { answerJson, formatAnswer, nextCursorOf } from './output-format.js';
import { QueryError } from './query-errors.js';
import { parseQuery, questions, searchParamSource, type Question } from './query-params.js';

export interface HttpReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const httpFormats = ['json', 'jsonl', 'csv'] as const;
const contentTypes = { json: 'application/json', jsonl: 'application/x-ndjson', csv: 'text/csv; charset=utf-8' } as const;

const jsonReply = (status: number, value: unknown, headers: Record<string, string> = {}): HttpReply => ({
  status,
  headers: { 'content-type': contentTypes.json, ...headers },
  body: `${JSON.stringify(value)}\n`,
});

const errorReply = (status: number, code: string, message: string, problems?: readonly string[]) =>
  jsonReply(status, { error: { code, message, ...(problems ? { problems } : {}) } });

/** The reply to one request: routing, parameters, the store's answer, the format. */
export async function handleQueryRequest(store: FlowStore, method: string, target: string, now: number = Date.now()): Promise<HttpReply> {
  const url = new URL(target, 'http://query.invalid');
  if (url.pathname === '/healthz') return jsonReply(200, { status: 'ok' });
  const question = url.pathname.startsWith('/v1/') ? url.pathname.slice(4) : '';
  if (!(questions as readonly string[]).includes(question)) {
    return errorReply(404, 'not_found', `no such endpoint: ${url.pathname} (one of ${questions.map((name) => `/v1/${name}`).join(', ')})`);
  }
  if (method !== 'GET' && method !== 'HEAD') return { ...errorReply(405, 'method_not_allowed', `${method}: only GET`), headers: { allow: 'GET, HEAD', 'content-type': contentTypes.json } };

  const problems: string[] = [];
  const formats = url.searchParams.getAll('format');
  const format = formats[0] ?? 'json';
  if (formats.length > 1) problems.push(`format: given ${formats.length} times, once at most`);
  if (!(httpFormats as readonly string[]).includes(format)) problems.push(`format: '${format}' is not one of ${httpFormats.join(', ')}`);
  const parsed = parseQuery(question as Question, searchParamSource(url.searchParams), { now, extra: ['format'] });
  problems.push(...parsed.problems);
  if (problems.length > 0 || !parsed.request) return errorReply(400, 'QUERY_BAD_REQUEST', `${problems.length} problem(s) in the parameters`, problems);

  try {
    const answer = await ask(store, parsed.request);
    const next = nextCursorOf(answer);
    const headers: Record<string, string> = next ? { 'x-next-cursor': next } : {};
    if (format === 'json') return jsonReply(200, answerJson(answer), headers);
    const kind = format as 'jsonl' | 'csv';
    return { status: 200, headers: { 'content-type': contentTypes[kind], ...headers }, body: formatAnswer(answer, kind) };
  } catch (error) {
    if (error instanceof QueryError) {
      const status = error.code === 'QUERY_STORE_FAILED' ? (error.retriable ? 503 : 502) : 400;
      return errorReply(status, error.code, error.message);
    }
    return errorReply(500, 'internal', error instanceof Error ? error.message : String(error));
  }
}

async function respond(store: FlowStore, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const reply = await handleQueryRequest(store, request.method ?? 'GET', request.url ?? '/');
  response.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
  response.end(request.method === 'HEAD' ? undefined : reply.body);
}

export interface QueryServer {
  readonly server: Server;
  /** `http://host:port`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Listens on `host:port` (port 0: any free port) and answers from `store`. */
export async function startQueryServer(options: { store: FlowStore; port: number; host?: string }): Promise<QueryServer> {
  const server = createServer((request, response) => {
    respond(options.store, request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': contentTypes.json });
      response.end(`${JSON.stringify({ error: { code: 'internal', message: String(error) } })}\n`);
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}
