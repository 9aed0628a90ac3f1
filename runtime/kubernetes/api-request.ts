import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubernetesConfigError } from './kube-config.js';

/**
 * An API server answer other than success, or no answer at all (`status` 0). `reason` is the
 * Status reason the server gave (`Conflict`, `Expired`, `Forbidden`, …) or the network error's code.
 */
export class KubernetesApiError extends Error {
  readonly code = 'KUBERNETES_API';
  readonly retriable: boolean;
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubernetesApiError';
    // No answer, the server overloaded or failing: worth another try. A refusal is not.
    this.retriable = status === 0 || status === 429 || status >= 500;
  }
}

export interface KubeRequest {
  readonly method?: 'GET' | 'POST' | 'PUT';
  /** Path from the server root, e.g. `/api/v1/pods`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
  /** Longest the connection may stay silent, milliseconds. */
  readonly idleTimeoutMs?: number;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The error of a non-2xx answer: from its Status body when there is one. */
function statusError(request: KubeRequest, status: number, text: string): KubernetesApiError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const reason = isObject(body) && typeof body['reason'] === 'string' ? body['reason'] : (http.STATUS_CODES[status] ?? 'Unknown');
  const message = isObject(body) && typeof body['message'] === 'string' ? body['message'] : text.slice(0, 200);
  return new KubernetesApiError(status, reason, `${request.method ?? 'GET'} ${request.path}: ${status} ${reason}: ${message}`);
}

async function readText(response: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Sends one request with the client configuration's server, CA and credentials (a token read
 * afresh each time, so a rotated ServiceAccount token is picked up) and resolves with the answer
 * once its headers arrived: a 2xx answer whose body the caller reads, or a KubernetesApiError.
 */
export async function kubeOpen(config: KubeConfig, request: KubeRequest): Promise<http.IncomingMessage> {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new KubernetesConfigError('the Kubernetes client configuration names no cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + request.path);
  for (const [key, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
  const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (payload) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) });
  const options: https.RequestOptions = { method: request.method ?? 'GET', headers };
  await config.applyToHTTPSOptions(options);
  const transport = url.protocol === 'http:' ? http : https;
  const response = await new Promise<http.IncomingMessage>((resolveOpen, reject) => {
    const outgoing = transport.request(url, { ...options, ...(request.signal ? { signal: request.signal } : {}) }, resolveOpen);
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      if (error.name === 'AbortError') reject(error);
      else reject(new KubernetesApiError(0, error.code ?? error.name, `${options.method} ${request.path}: ${error.message}`));
    });
    outgoing.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
    if (request.idleTimeoutMs !== undefined) {
      outgoing.setTimeout(request.idleTimeoutMs, () => outgoing.destroy(Object.assign(new Error(`no data for ${request.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' })));
    }
    outgoing.end(payload);
  });
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return response;
  throw statusError(request, status, await readText(response).catch(() => ''));
}

/** One request whose answer is a JSON document. */
export async function kubeJson<T = unknown>(config: KubeConfig, request: KubeRequest): Promise<T> {
  const response = await kubeOpen(config, request);
  const where = `${request.method ?? 'GET'} ${request.path}`;
  let text: string;
  try {
    text = await readText(response);
  } catch (error) {
    if (error instanceof Error && error.name === 'AbortError') throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'ECONNRESET';
    throw new KubernetesApiError(0, code, `${where}: the answer broke off: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new KubernetesApiError(0, 'BadResponse', `${where}: the answer is not JSON`);
  }
}
