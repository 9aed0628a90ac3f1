/**
 * An HTTP proxy in front of a service (moto, here) that misbehaves on demand, request by request:
 * pass the request on, answer it itself with a status and body (throttling, 503) without
 * forwarding, or forward it and then cut the connection instead of answering (the service did
 * the work, the client cannot know: an ambiguous failure).
 */
import { request as httpRequest, createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultAction =
  | { readonly kind: 'pass' }
  | { readonly kind: 'respond'; readonly status: number; readonly body?: string; readonly headers?: Readonly<Record<string, string>> }
  | { readonly kind: 'drop' };

export interface ProxiedRequest {
  /** 0 for the first request the proxy received. */
  readonly index: number;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The AWS JSON operation (`Logs_20140328.PutLogEvents` → `PutLogEvents`), or ''. */
  readonly operation: string;
  readonly body: Buffer;
}

export type FaultPlan = (request: ProxiedRequest) => FaultAction;

export interface ProxyLogEntry {
  readonly operation: string;
  readonly action: FaultAction['kind'];
}

export const pass: FaultAction = { kind: 'pass' };
export const drop: FaultAction = { kind: 'drop' };

const awsJsonError = (status: number, type: string, message: string): FaultAction => ({
  kind: 'respond',
  status,
  body: JSON.stringify({ __type: type, message }),
  headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type },
});

export const throttling = (): FaultAction => awsJsonError(400, 'ThrottlingException', 'Rate exceeded');
export const serviceUnavailable = (): FaultAction => awsJsonError(503, 'ServiceUnavailableException', 'The service is unavailable');

/** A plan that misbehaves on the given operation at the given indexes (0-based, counting only that operation's requests). */
export function onOperation(operation: string, choose: (nth: number) => FaultAction): FaultPlan {
  let nth = 0;
  return (request) => (request.operation === operation ? choose(nth++) : pass);
}

export class FaultProxy {
  readonly log: ProxyLogEntry[] = [];
  private received = 0;

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
    private plan: FaultPlan,
  ) {}

  static async start(target: string, plan: FaultPlan = () => pass): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server, new URL(target), plan);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => proxy.handle(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks), res));
    });
    await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
    return proxy;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  setPlan(plan: FaultPlan): void {
    this.plan = plan;
  }

  count(operation: string, action?: FaultAction['kind']): number {
    return this.log.filter((entry) => entry.operation === operation && (action === undefined || entry.action === action)).length;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolveClose) => this.server.close(() => resolveClose()));
  }

  private handle(method: string, url: string, headers: IncomingHttpHeaders, body: Buffer, res: ServerResponse): void {
    const amzTarget = headers['x-amz-target'];
    const operation = typeof amzTarget === 'string' ? amzTarget.slice(amzTarget.indexOf('.') + 1) : '';
    const action = this.plan({ index: this.received++, method, url, headers, operation, body });
    this.log.push({ operation, action: action.kind });
    if (action.kind === 'respond') {
      const payload = Buffer.from(action.body ?? '');
      res.writeHead(action.status, { 'content-length': String(payload.length), ...action.headers });
      res.end(payload);
      return;
    }
    const upstream = httpRequest(
      { host: this.target.hostname, port: this.target.port, method, path: url, headers: { ...headers, host: this.target.host } },
      (answer) => {
        if (action.kind === 'drop') {
          answer.resume();
          answer.on('end', () => res.socket?.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.socket?.destroy());
    upstream.end(body);
  }
}
