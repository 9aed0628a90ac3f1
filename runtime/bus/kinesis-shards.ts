/**
 * Which shards a member reads: the stream's shard tree from ListShards, the order a reshard
 * imposes (a child only once its parents are finished) and a fair share of the leases.
 */
import { ListShardsCommand, type ListShardsCommandOutput } from '@aws-sdk/client-kinesis';
import { leaseHolder, liveMembers, type GroupCheckpoints } from './checkpoint-store.js';
import { kinesisError, type KinesisApi } from './kinesis-api.js';

export interface ShardInfo {
  /** `stream/shardId`: the shard's key in the checkpoint store. */
  readonly key: string;
  readonly stream: string;
  readonly shardId: string;
  /** The bus partition: the shard id's number (`shardId-000000000007` → 7). */
  readonly partition: number;
  /** Parent and adjacent parent after a split or merge. */
  readonly parents: readonly string[];
}

export const shardKey = (stream: string, shardId: string) => `${stream}/${shardId}`;

/** The number at the end of a shard id; Kinesis numbers the shards of a stream in creation order. */
export function shardPartition(shardId: string): number {
  const match = /(\d+)$/.exec(shardId);
  return match ? Number(match[1]) : -1;
}

/** Every shard of `stream`, open or closed (as long as its records are retained), by partition. */
export async function listStreamShards(client: KinesisApi, stream: string): Promise<ShardInfo[]> {
  const shards: ShardInfo[] = [];
  let token: string | undefined;
  do {
    let page: ListShardsCommandOutput;
    try {
      page = await client.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: stream }));
    } catch (cause) {
      throw kinesisError(stream, 'ListShards', cause);
    }
    for (const shard of page.Shards ?? []) {
      if (!shard.ShardId) continue;
      shards.push({
        key: shardKey(stream, shard.ShardId),
        stream,
        shardId: shard.ShardId,
        partition: shardPartition(shard.ShardId),
        parents: [shard.ParentShardId, shard.AdjacentParentShardId].filter((id): id is string => !!id),
      });
    }
    token = page.NextToken;
  } while (token);
  return shards.sort((a, b) => a.partition - b.partition);
}

/**
 * Shards that may be read now: not finished, and every parent still listed is finished. A parent
 * no longer listed has aged out of the stream's retention, so nothing of it is left to read.
 */
export function eligibleShards(shards: readonly ShardInfo[], state: GroupCheckpoints): ShardInfo[] {
  const listed = new Set(shards.map((shard) => shard.key));
  const finished = (key: string) => state.shards[key]?.finished === true;
  return shards.filter(
    (shard) =>
      !finished(shard.key) &&
      shard.parents.every((parent) => {
        const key = shardKey(shard.stream, parent);
        return !listed.has(key) || finished(key);
      }),
  );
}

export interface LeasePlan {
  readonly acquire: readonly string[];
  readonly release: readonly string[];
}

/**
 * A fair split: each live member holds at most ceil(eligible / members) leases. A member over
 * its share gives up its highest shards (after their batch in flight); a member under it takes
 * free or expired leases, lowest first. Members converge within a few heartbeats. `reading` is
 * what this member reads now; a lease it holds without reading is taken again.
 */
export function planLeases(
  me: string,
  eligible: readonly string[],
  reading: ReadonlySet<string>,
  state: GroupCheckpoints,
  now: number,
): LeasePlan {
  const members = new Set([...liveMembers(state, now), me]);
  const share = Math.ceil(eligible.length / members.size);
  const mine = eligible.filter((key) => reading.has(key));
  if (mine.length > share) return { acquire: [], release: mine.slice(share) };
  const free = eligible.filter((key) => {
    const holder = leaseHolder(state, key, now);
    return !reading.has(key) && (holder === undefined || holder === me);
  });
  return { acquire: free.slice(0, share - mine.length), release: [] };
}
