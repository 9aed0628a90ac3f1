/**
 * Talking to the test cluster's API server the way kubectl's server-side apply does, for objects
 * given as plain data (parsed YAML): the REST path from the server's discovery document, the
 * request sent as written (no client-side model drops a misspelt field), and the `Warning`
 * headers of the answer kept, since Pod Security admission and field validation speak through them.
 */
import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export type KubernetesApplyErrorCode = 'KUBERNETES_NO_CLUSTER' | 'KUBERNETES_UNKNOWN_KIND' | 'KUBERNETES_NO_NAMESPACE';

export class KubernetesApplyError extends Error {
  override readonly name = 'KubernetesApplyError';
  constructor(
    readonly code: KubernetesApplyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A Kubernetes object as plain data. */
export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  readonly [key: string]: unknown;
}

export interface ApiAnswer {
  readonly status: number;
  /** The parsed JSON body (a `Status` when refused). */
  readonly body: unknown;
  /** Messages of the `Warning` headers (Pod Security warnings, unknown fields, deprecations). */
  readonly warnings: readonly string[];
}

/** The message of a refusal, from its `Status` body. */
export function answerMessage(answer: ApiAnswer): string {
  const message = (answer.body as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : JSON.stringify(answer.body);
}

/** One request to the API server of `config`, with its credentials; never throws for an HTTP status. */
export async function apiRequest(config: KubeConfig, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiAnswer> {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new KubernetesApplyError('KUBERNETES_NO_CLUSTER', 'the KubeConfig has no current cluster');
  const options: RequestOptions = { method, timeout: 10_000, headers: { accept: 'application/json' } };
  await config.applyToHTTPSOptions(options);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) options.headers = { ...options.headers, 'content-type': contentType, 'content-length': Buffer.byteLength(payload) };
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, cluster.server), options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // Not JSON (a plain-text error): kept as text.
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, warnings: warningsOf(res.rawHeaders) });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** `Warning: 299 - "text"` headers, one message each (Node would join repeated headers with commas). */
function warningsOf(rawHeaders: readonly string[]): string[] {
  const warnings: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'warning') continue;
    const match = /^\d{3} \S+ "(.*)"$/.exec(rawHeaders[i + 1]!);
    warnings.push(match ? match[1]!.replace(/\\(.)/g, '$1') : rawHeaders[i + 1]!);
  }
  return warnings;
}

interface ResourceInfo {
  readonly plural: string;
  readonly namespaced: boolean;
}

const discovery = new Map<string, Promise<Map<string, ResourceInfo>>>();

/** Kind → resource of one group version, from the server's discovery document (cached per server). */
async function resourceOf(config: KubeConfig, apiVersion: string, kind: string): Promise<ResourceInfo> {
  const key = `${config.getCurrentCluster()?.server} ${apiVersion}`;
  let kinds = discovery.get(key);
  if (!kinds) {
    kinds = (async () => {
      const answer = await apiRequest(config, 'GET', apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
      const byKind = new Map<string, ResourceInfo>();
      if (answer.status !== 200) return byKind;
      for (const resource of (answer.body as { resources?: { name: string; kind: string; namespaced: boolean }[] }).resources ?? []) {
        if (!resource.name.includes('/')) byKind.set(resource.kind, { plural: resource.name, namespaced: resource.namespaced });
      }
      return byKind;
    })();
    kinds.catch(() => discovery.delete(key));
    discovery.set(key, kinds);
  }
  const info = (await kinds).get(kind);
  if (!info) throw new KubernetesApplyError('KUBERNETES_UNKNOWN_KIND', `the API server serves no ${kind} in ${apiVersion}`);
  return info;
}

/** The REST path of one object (`/apis/apps/v1/namespaces/flowsentry/deployments/flowsentry-enrich`). */
export async function objectPath(config: KubeConfig, object: ManifestObject): Promise<string> {
  const { plural, namespaced } = await resourceOf(config, object.apiVersion, object.kind);
  const base = object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
  if (namespaced && !object.metadata.namespace) throw new KubernetesApplyError('KUBERNETES_NO_NAMESPACE', `${object.kind} ${object.metadata.name} has no namespace`);
  const scope = namespaced ? `/namespaces/${encodeURIComponent(object.metadata.namespace!)}` : '';
  return `${base}${scope}/${plural}/${encodeURIComponent(object.metadata.name)}`;
}

/**
 * Server-side apply of one object as written (strict field validation: an unknown or duplicate
 * field is refused, not dropped), optionally as a dry run (`dryRun=All`: every admission step
 * runs, nothing is stored). Returns the answer whatever its status.
 */
export async function serverSideApply(config: KubeConfig, object: ManifestObject, options: { dryRun?: boolean; fieldManager?: string } = {}): Promise<ApiAnswer> {
  const query = new URLSearchParams({ fieldManager: options.fieldManager ?? 'flowsentry-tests', force: 'true', fieldValidation: 'Strict' });
  if (options.dryRun) query.set('dryRun', 'All');
  return apiRequest(config, 'PATCH', `${await objectPath(config, object)}?${query}`, object, 'application/apply-patch+yaml');
}
