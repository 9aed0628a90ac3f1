/**
 * Where a consumer group over Kinesis keeps its positions and shard leases. A store holds one
 * small versioned document per namespace (a consumer group) and needs a single primitive,
 * compare-and-set on the version, so it can live in a file (`FileCheckpointStore`), a DynamoDB
 * item or an S3 object alike. `ShardLeases` builds the group's protocol on top of it.
 *
 * Lease expiry compares wall clocks of the members: a lease must be much longer than their skew.
 */
import { BusError } from './errors.js';

export interface ShardState {
  /** Sequence number of the last record the group acknowledged on the shard. */
  readonly checkpoint?: string;
  /** The shard is closed and every record of it was acknowledged: its children may be read. */
  readonly finished?: boolean;
  /** Member holding the lease, and until when (epoch ms) unless renewed. */
  readonly owner?: string;
  readonly leaseExpiresAt?: number;
}

export interface GroupCheckpoints {
  /** Per shard, keyed `stream/shardId`. */
  readonly shards: Readonly<Record<string, ShardState>>;
  /** Members that heartbeat, and until when (epoch ms) each counts as alive. */
  readonly members: Readonly<Record<string, number>>;
}

export interface VersionedCheckpoints {
  /** 0 for a namespace never written. */
  readonly version: number;
  readonly state: GroupCheckpoints;
}

export interface CheckpointStore {
  load(namespace: string): Promise<VersionedCheckpoints>;
  /** Stores `next` as version `version + 1` if the stored version is still `version`; false when another writer was first. */
  compareAndSet(namespace: string, version: number, next: GroupCheckpoints): Promise<boolean>;
}

export const emptyCheckpoints: GroupCheckpoints = { shards: {}, members: {} };

export interface ShardLeaseOptions {
  /** How long a lease and a member heartbeat stay valid without renewal. */
  readonly leaseMs: number;
  readonly now?: () => number;
}

/** The live holder of a shard's lease, if any. */
export function leaseHolder(state: GroupCheckpoints, shard: string, now: number): string | undefined {
  const entry = state.shards[shard];
  return entry?.owner !== undefined && (entry.leaseExpiresAt ?? 0) > now ? entry.owner : undefined;
}

/** Members whose heartbeat has not expired, sorted. */
export function liveMembers(state: GroupCheckpoints, now: number): string[] {
  return Object.entries(state.members)
    .filter(([, expiresAt]) => expiresAt > now)
    .map(([member]) => member)
    .sort();
}

type Change<T> = { readonly state?: GroupCheckpoints; readonly result: T };

const withShard = (state: GroupCheckpoints, shard: string, entry: ShardState): GroupCheckpoints => ({
  ...state,
  shards: { ...state.shards, [shard]: entry },
});

const withoutLease = ({ owner: _owner, leaseExpiresAt: _expiry, ...rest }: ShardState): ShardState => rest;

/**
 * One member's view of its group's leases: heartbeat, acquire, renew, release and checkpoint,
 * each an atomic read-modify-write of the group's document (retried when another writer won).
 * A lease is free when nobody holds it, when it was released, or when it expired unrenewed.
 */
export class ShardLeases {
  private readonly now: () => number;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: CheckpointStore,
    readonly namespace: string,
    readonly owner: string,
    private readonly options: ShardLeaseOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async read(): Promise<GroupCheckpoints> {
    return (await this.store.load(this.namespace)).state;
  }

  /** Heartbeats this member, renews every lease it still holds, forgets expired members; returns the document. */
  renew(): Promise<GroupCheckpoints> {
    return this.mutate((state, now) => {
      const expiresAt = now + this.options.leaseMs;
      const members = Object.fromEntries(Object.entries(state.members).filter(([, until]) => until > now));
      members[this.owner] = expiresAt;
      const shards = { ...state.shards };
      for (const [shard, entry] of Object.entries(shards)) {
        if (entry.owner === this.owner) shards[shard] = { ...entry, leaseExpiresAt: expiresAt };
      }
      const next = { shards, members };
      return { state: next, result: next };
    });
  }

  /** Takes the leases of `shards` that are free, expired or already ours; returns those now held, with their state. */
  acquire(shards: readonly string[]): Promise<Map<string, ShardState>> {
    return this.mutate((state, now) => {
      const held = new Map<string, ShardState>();
      let next = state;
      for (const shard of shards) {
        const entry = next.shards[shard] ?? {};
        const holder = leaseHolder(next, shard, now);
        if (entry.finished || (holder !== undefined && holder !== this.owner)) continue;
        const leased = { ...entry, owner: this.owner, leaseExpiresAt: now + this.options.leaseMs };
        next = withShard(next, shard, leased);
        held.set(shard, leased);
      }
      return held.size > 0 ? { state: next, result: held } : { result: held };
    });
  }

  /** Gives up the leases of `shards` this member holds; others' leases are left alone. */
  release(shards: readonly string[]): Promise<void> {
    return this.mutate((state) => {
      let next = state;
      for (const shard of shards) {
        const entry = next.shards[shard];
        if (entry?.owner === this.owner) next = withShard(next, shard, withoutLease(entry));
      }
      return next === state ? { result: undefined } : { state: next, result: undefined };
    });
  }

  /**
   * Records the group's position on a shard, and whether the shard is finished. Refused (false)
   * when the lease now belongs to another member: what this member read is redelivered there.
   */
  checkpoint(shard: string, sequenceNumber: string | undefined, finished = false): Promise<boolean> {
    return this.mutate((state) => {
      const entry = state.shards[shard];
      if (entry?.owner !== this.owner) return { result: false };
      const next: ShardState = {
        ...entry,
        ...(sequenceNumber !== undefined ? { checkpoint: sequenceNumber } : {}),
        ...(finished ? { finished: true } : {}),
      };
      return { state: withShard(state, shard, next), result: true };
    });
  }

  /** Releases every lease of this member and removes its heartbeat. */
  leave(): Promise<void> {
    return this.mutate((state) => {
      const shards = { ...state.shards };
      for (const [shard, entry] of Object.entries(shards)) {
        if (entry.owner === this.owner) shards[shard] = withoutLease(entry);
      }
      const members = { ...state.members };
      delete members[this.owner];
      return { state: { shards, members }, result: undefined };
    });
  }

  /** One change at a time per member (its own writes would only collide); other writers are met by compare-and-set. */
  private mutate<T>(change: (state: GroupCheckpoints, now: number) => Change<T>): Promise<T> {
    const result = this.queue.then(() => this.apply(change));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async apply<T>(change: (state: GroupCheckpoints, now: number) => Change<T>): Promise<T> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const { version, state } = await this.store.load(this.namespace);
      const { state: next, result } = change(state, this.now());
      if (next === undefined || (await this.store.compareAndSet(this.namespace, version, next))) return result;
      await new Promise((resolveTimer) => setTimeout(resolveTimer, Math.random() * Math.min(2 + attempt, 20)));
    }
    throw new BusError('CHECKPOINT_FAILED', `checkpoints of '${this.namespace}': too many concurrent writers`, true);
  }
}
