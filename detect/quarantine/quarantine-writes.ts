/**
 * What a quarantine or a release writes to the API, as data: the adapter carries out exactly
 * these writes, and a dry run prints them instead. The text form names the HTTP request (method,
 * path, content type) and its body, so an operator sees the very patch that would be sent.
 */
import type { PodMergePatch } from './pod-patches.js';
import { policyResources, type PolicyObject, type ResourceRef } from './policy-objects.js';
import { QUARANTINE_FIELD_MANAGER } from './quarantine-names.js';

export type QuarantineWrite =
  /** Server-side apply of a shared policy object: creates it, or changes nothing when it is as wanted. */
  | { readonly kind: 'apply-policy'; readonly resource: ResourceRef; readonly object: PolicyObject }
  /** A JSON merge patch of one pod's labels and annotations. */
  | { readonly kind: 'patch-pod'; readonly namespace: string; readonly name: string; readonly patch: PodMergePatch };

export const applyPolicyWrite = (backend: keyof typeof policyResources, object: PolicyObject): QuarantineWrite => ({ kind: 'apply-policy', resource: policyResources[backend], object });

export interface WriteRequest {
  readonly method: 'PATCH';
  readonly path: string;
  readonly contentType: 'application/apply-patch+yaml' | 'application/merge-patch+json';
  readonly body: unknown;
}

const segment = encodeURIComponent;

/** The REST request of a write. */
export function requestOf(write: QuarantineWrite): WriteRequest {
  if (write.kind === 'patch-pod') {
    return { method: 'PATCH', path: `/api/v1/namespaces/${segment(write.namespace)}/pods/${segment(write.name)}`, contentType: 'application/merge-patch+json', body: write.patch };
  }
  const { group, version, plural, namespaced } = write.resource;
  const namespace = namespaced ? `/namespaces/${segment(write.object.metadata.namespace ?? '')}` : '';
  return {
    method: 'PATCH',
    path: `/apis/${group}/${version}${namespace}/${plural}/${segment(write.object.metadata.name)}?fieldManager=${QUARANTINE_FIELD_MANAGER}&force=true`,
    contentType: 'application/apply-patch+yaml',
    body: write.object,
  };
}

/** The writes as indented JSON, for a dry run's output and its audit. */
export function describeWrites(writes: readonly QuarantineWrite[]): string {
  return JSON.stringify(writes.map(requestOf), null, 2);
}
