/**
 * Which addresses of this node's quarantined pods still need their conntrack entries deleted,
 * decided from the pod watch's list and events. Pure: no I/O, no clock; the watch adapter
 * (quarantine-connections.ts) feeds it and does the flushing.
 *
 * Each (pod uid, address, quarantine id) is flushed once: a pod seen again (a MODIFIED event, a
 * relist after the watch expired) is not flushed again, an address that appears later (the pod
 * got its IP after it was labelled) is, and so is every address under a new quarantine id. A pod
 * that leaves quarantine (label removed: the labelled watch reports it DELETED) is forgotten, so
 * a later quarantine of it flushes again. A restarted collector starts empty and flushes every
 * quarantined pod once more, which is harmless: the policy already denies their new connections.
 *
 * Never flushed, as deleting their entries would cut what is not theirs:
 * - host-network pods: their addresses are the node's own;
 * - finished pods (Succeeded, Failed): they hold no connection, and their address may already be
 *   given to another pod;
 * - pods of another node: their node's collector flushes them.
 */
import { QUARANTINE_LABEL } from '../detect/quarantine/quarantine-names.js';

/** The responder's quarantine label, defined once with the other names it writes. */
export { QUARANTINE_LABEL };

/** What the plan reads of a pod: a structural subset of the Kubernetes Pod object. */
export interface PodSnapshot {
  readonly metadata?: { readonly uid?: string; readonly namespace?: string; readonly name?: string; readonly labels?: Readonly<Record<string, string>> };
  readonly spec?: { readonly nodeName?: string; readonly hostNetwork?: boolean };
  readonly status?: { readonly phase?: string; readonly podIP?: string; readonly podIPs?: readonly { readonly ip?: string }[] };
}

export type PodEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One address of one quarantined pod whose entries are to be deleted. */
export interface FlushTarget {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly quarantineId: string;
  readonly address: string;
}

export type SkipReason = 'host-network' | 'finished' | 'other-node' | 'no-uid';

interface TrackedPod {
  readonly namespace: string;
  readonly name: string;
  readonly quarantineId: string;
  readonly addresses: readonly string[];
  /** Addresses flushed (or given up) under `quarantineId`. */
  readonly settled: Set<string>;
}

/** The key that makes a flush happen once. */
export const flushKey = (target: FlushTarget): string => `${target.uid}\n${target.address}\n${target.quarantineId}`;

/** The pod's addresses: `status.podIPs`, and `status.podIP` should it be missing there. */
export function podAddresses(pod: PodSnapshot): string[] {
  const addresses = (pod.status?.podIPs ?? []).map((entry) => entry.ip).filter((ip): ip is string => typeof ip === 'string' && ip.length > 0);
  const single = pod.status?.podIP;
  if (single && !addresses.includes(single)) addresses.push(single);
  return [...new Set(addresses)];
}

export class QuarantineFlushPlan {
  private readonly pods = new Map<string, TrackedPod>();
  private readonly skipped = new Map<string, SkipReason>();

  /** @param node this node's name: pods whose `spec.nodeName` differs are not flushed. */
  constructor(private readonly node: string) {}

  /**
   * Applies one watch event. Returns why the pod is not flushed the first time it is skipped
   * for that reason (for a counter or a log line), else undefined.
   */
  apply(type: PodEventType, pod: PodSnapshot): SkipReason | undefined {
    const uid = pod.metadata?.uid;
    if (!uid) return 'no-uid';
    const quarantineId = pod.metadata?.labels?.[QUARANTINE_LABEL];
    if (type === 'DELETED' || quarantineId === undefined) {
      this.forget(uid);
      return undefined;
    }
    const reason = skipReasonOf(pod, this.node);
    if (reason) {
      this.pods.delete(uid);
      if (this.skipped.get(uid) === reason) return undefined;
      this.skipped.set(uid, reason);
      return reason;
    }
    this.skipped.delete(uid);
    const known = this.pods.get(uid);
    this.pods.set(uid, {
      namespace: pod.metadata?.namespace ?? '',
      name: pod.metadata?.name ?? '',
      quarantineId,
      addresses: podAddresses(pod),
      settled: known && known.quarantineId === quarantineId ? known.settled : new Set(),
    });
    return undefined;
  }

  /**
   * Replaces what is known with a fresh list (the first list, or a relist after the watch
   * expired): pods missing from it are forgotten, flushes already done are kept. Returns the
   * pods skipped for a reason not reported before.
   */
  replace(pods: readonly PodSnapshot[]): { readonly pod: PodSnapshot; readonly reason: SkipReason }[] {
    const listed = new Set(pods.map((pod) => pod.metadata?.uid).filter((uid): uid is string => !!uid));
    for (const uid of [...this.pods.keys(), ...this.skipped.keys()]) if (!listed.has(uid)) this.forget(uid);
    const skipped = [];
    for (const pod of pods) {
      const reason = this.apply('ADDED', pod);
      if (reason) skipped.push({ pod, reason });
    }
    return skipped;
  }

  /** The addresses still to flush, pod by pod in the order they were first seen. */
  pending(): FlushTarget[] {
    const targets: FlushTarget[] = [];
    for (const [uid, pod] of this.pods) {
      for (const address of pod.addresses) {
        if (!pod.settled.has(address)) targets.push({ uid, namespace: pod.namespace, name: pod.name, quarantineId: pod.quarantineId, address });
      }
    }
    return targets;
  }

  /** Whether `target` is still to flush (its pod may have gone, or left quarantine, meanwhile). */
  needs(target: FlushTarget): boolean {
    const pod = this.pods.get(target.uid);
    return !!pod && pod.quarantineId === target.quarantineId && pod.addresses.includes(target.address) && !pod.settled.has(target.address);
  }

  /** Whether `target`'s pod is still quarantined under the same id and still holds the address. */
  holds(target: FlushTarget): boolean {
    const pod = this.pods.get(target.uid);
    return !!pod && pod.quarantineId === target.quarantineId && pod.addresses.includes(target.address);
  }

  /** Records that `target` was flushed, or given up: it is not returned again. */
  settle(target: FlushTarget): void {
    const pod = this.pods.get(target.uid);
    if (pod && pod.quarantineId === target.quarantineId) pod.settled.add(target.address);
  }

  /** Quarantined pods of this node that are tracked (host-network and finished ones excluded). */
  get size(): number {
    return this.pods.size;
  }

  private forget(uid: string): void {
    this.pods.delete(uid);
    this.skipped.delete(uid);
  }
}

function skipReasonOf(pod: PodSnapshot, node: string): SkipReason | undefined {
  if (pod.spec?.nodeName !== node) return 'other-node';
  if (pod.spec?.hostNetwork) return 'host-network';
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return 'finished';
  return undefined;
}
