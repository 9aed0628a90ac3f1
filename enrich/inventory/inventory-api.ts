/**
 * What the inventory watcher needs from the Kubernetes API: list and watch, per kind. The API
 * server behind it (`kubernetes-inventory-api.ts`), or whatever a test puts in between.
 */

/** The kinds the publisher watches, and where the API server serves each, across all namespaces. */
export const watchedResources = {
  Pod: '/api/v1/pods',
  Namespace: '/api/v1/namespaces',
  Node: '/api/v1/nodes',
  Service: '/api/v1/services',
  EndpointSlice: '/apis/discovery.k8s.io/v1/endpointslices',
} as const;

export type WatchedKind = keyof typeof watchedResources;
export const watchedKinds = Object.keys(watchedResources) as WatchedKind[];

/** One page of a list: its items, the resourceVersion the list was read at, and the token of the next page. */
export interface ListPage {
  readonly resourceVersion: string;
  readonly items: readonly unknown[];
  readonly continue?: string;
}

/** A watch event as the server sends it: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (with a Status). */
export interface RawWatchEvent {
  readonly type: string;
  readonly object: unknown;
}

export interface InventoryApi {
  /** One page; a `continue` token that expired is a KubernetesApiError with status 410. */
  list(kind: WatchedKind, options: { readonly limit: number; readonly continue?: string; readonly signal: AbortSignal }): Promise<ListPage>;
  /**
   * The changes after `resourceVersion`, in batches as they arrive, until the server ends the watch
   * (after about `timeoutSeconds`). The next batch is read only when the caller asks for it: a slow
   * caller slows the stream, nothing piles up. A resourceVersion too old is a 410 — a KubernetesApiError,
   * or an ERROR event with that code.
   */
  watch(kind: WatchedKind, options: { readonly resourceVersion: string; readonly timeoutSeconds: number; readonly signal: AbortSignal }): AsyncIterable<readonly RawWatchEvent[]>;
}
