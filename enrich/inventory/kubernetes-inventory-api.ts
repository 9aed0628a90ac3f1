import { StringDecoder } from 'node:string_decoder';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeJson, kubeOpen, KubernetesApiError } from '../../runtime/kubernetes/api-request.js';
import { type InventoryApi, type ListPage, type RawWatchEvent, type WatchedKind, watchedResources } from './inventory-api.js';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** How long past its own timeout a watch may stay silent before it counts as a dead connection. */
const watchSilenceMarginMs = 30_000;

/**
 * List and watch on the API server, as raw JSON: the objects reach `inventoryEventOf` exactly as
 * the server wrote them. Watches are read chunk by chunk as the caller asks, so TCP flow control
 * holds the server back while the publisher waits for the bus.
 */
export class KubernetesInventoryApi implements InventoryApi {
  constructor(
    private readonly config: KubeConfig,
    /** Longest a list request may stay silent. */
    private readonly requestTimeoutMs = 60_000,
  ) {}

  async list(kind: WatchedKind, options: { limit: number; continue?: string; signal: AbortSignal }): Promise<ListPage> {
    const path = watchedResources[kind];
    const body = await kubeJson(this.config, { path, query: { limit: options.limit, continue: options.continue }, signal: options.signal, idleTimeoutMs: this.requestTimeoutMs });
    const metadata = isObject(body) && isObject(body['metadata']) ? body['metadata'] : {};
    const resourceVersion = metadata['resourceVersion'];
    if (!isObject(body) || !Array.isArray(body['items']) || typeof resourceVersion !== 'string') {
      throw new KubernetesApiError(0, 'BadResponse', `GET ${path}: the answer is not a list with a resourceVersion`);
    }
    const next = metadata['continue'];
    return { resourceVersion, items: body['items'], ...(typeof next === 'string' && next !== '' ? { continue: next } : {}) };
  }

  async *watch(kind: WatchedKind, options: { resourceVersion: string; timeoutSeconds: number; signal: AbortSignal }): AsyncGenerator<readonly RawWatchEvent[]> {
    const path = watchedResources[kind];
    const response = await kubeOpen(this.config, {
      path,
      query: { watch: true, allowWatchBookmarks: true, resourceVersion: options.resourceVersion, timeoutSeconds: options.timeoutSeconds },
      signal: options.signal,
      idleTimeoutMs: options.timeoutSeconds * 1000 + watchSilenceMarginMs,
    });
    const decoder = new StringDecoder('utf8');
    let partial = '';
    try {
      for await (const chunk of response) {
        const lines = (partial + decoder.write(chunk as Buffer)).split('\n');
        partial = lines.pop()!;
        const events = lines.filter((line) => line.trim() !== '').map((line) => parseEvent(path, line));
        if (events.length > 0) yield events;
      }
    } catch (error) {
      if (error instanceof KubernetesApiError || (error instanceof Error && error.name === 'AbortError')) throw error;
      const code = (error as NodeJS.ErrnoException).code ?? 'ECONNRESET';
      throw new KubernetesApiError(0, code, `watch ${path}: the stream broke off: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      response.destroy();
    }
  }
}

function parseEvent(path: string, line: string): RawWatchEvent {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    throw new KubernetesApiError(0, 'BadResponse', `watch ${path}: a line is not JSON`);
  }
  if (!isObject(event) || typeof event['type'] !== 'string') throw new KubernetesApiError(0, 'BadResponse', `watch ${path}: a line is not a watch event`);
  return { type: event['type'], object: event['object'] };
}
