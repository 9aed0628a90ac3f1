/**
 * Per-connection counter deltas between polls of the kernel's connection table, and from
 * DESTROY events. Pure: entries and times come in as data.
 *
 * A connection is keyed by its original tuple and zone (unique among live entries); the
 * kernel's id, when the reader has it, tells a reused tuple from the same connection.
 *
 * - new: a tuple not tracked yet; its whole counters are the delta (`started`).
 * - updated: counters grew; the growth is the delta.
 * - reset: counters went down with the same id; the new values are the delta.
 * - reused: the tuple now belongs to another connection (another id, or counters went down
 *   after the old one had closed): the old one completes, the new one starts with its counters.
 * - vanished: tracked but absent from a poll; it completes. Its last counters stay in a
 *   tombstone until the next poll, so its DESTROY event can still add what it carried since.
 * - destroyed: a DESTROY event with final counters; for an unknown connection (opened and
 *   closed between two polls) the whole counters, `started` and `completed`.
 *
 * `completed` is set once per connection: on a closing TCP/SCTP state (TIME_WAIT, CLOSE,
 * CLOSED), on vanishing, or on destroy, whichever comes first.
 *
 * Bounded: at most `maxConnections` tracked. A new connection that does not fit is not tracked
 * and counted as overflow; tracked ones are never evicted for it (an evicted live connection
 * would be seen as new again and its lifetime counters counted twice). Vanished connections
 * leave the table at every poll, so room comes back as the kernel expires entries; an
 * untracked connection that ends is still reported whole by its DESTROY event.
 */
import type { ConntrackEntry } from './conntrack-parse.js';

export type DeltaKind = 'new' | 'updated' | 'reset' | 'reused' | 'vanished' | 'destroyed';

export interface ConnectionDelta {
  readonly kind: DeltaKind;
  /** The connection as last seen (for `vanished`: the last poll's entry). */
  readonly entry: ConntrackEntry;
  readonly origPackets: number;
  readonly origBytes: number;
  readonly replyPackets: number;
  readonly replyBytes: number;
  /** First delta of this connection since the last poll began (counts it once in num_flows). */
  readonly counted: boolean;
  readonly started: boolean;
  readonly completed: boolean;
}

export type DeltaSink = (delta: ConnectionDelta) => void;

export interface ConntrackDeltaOptions {
  /** Tracked connections at most; default 262 144 (a common nf_conntrack_max). */
  readonly maxConnections?: number;
  /** Tombstones at most (vanished or destroyed connections kept for one poll); default maxConnections / 4. */
  readonly maxTombstones?: number;
  /** The first poll only records counters (the traffic before the collector started is not reported). Default true. */
  readonly firstPollIsBaseline?: boolean;
}

export interface ConntrackDeltaStats {
  readonly polls: number;
  readonly tracked: number;
  readonly tombstones: number;
  readonly new: number;
  readonly updated: number;
  readonly reset: number;
  readonly reused: number;
  readonly vanished: number;
  readonly destroyed: number;
  /** DESTROY events of connections no poll saw (opened and closed between polls, or untracked for overflow). */
  readonly destroyedUnseen: number;
  readonly duplicateDestroys: number;
  /** Poll entries skipped as stale views of a connection already destroyed. */
  readonly stale: number;
  readonly duplicateEntries: number;
  /** New connections not tracked because the table was full (one count per poll they were refused in). */
  readonly overflow: number;
  readonly tombstonesEvicted: number;
}

const CLOSING = new Set(['TIME_WAIT', 'CLOSE', 'CLOSED']);

interface Tracked {
  entry: ConntrackEntry;
  seen: number;
  emitted: number;
  completed: boolean;
}

interface Tombstone {
  readonly entry: ConntrackEntry;
  emitted: number;
  readonly born: number;
  destroyed: boolean;
}

export function connectionKey(e: ConntrackEntry): string {
  return `${e.zone} ${e.proto} ${e.src} ${e.sport ?? e.tupleExtra} ${e.dst} ${e.dport ?? ''}`;
}

const sameConnection = (a: ConntrackEntry, b: ConntrackEntry) => a.id === null || b.id === null || a.id === b.id;
const closing = (e: ConntrackEntry) => e.state !== null && CLOSING.has(e.state);
const lower = (now: ConntrackEntry, before: ConntrackEntry) =>
  now.origPackets < before.origPackets || now.origBytes < before.origBytes || now.replyPackets < before.replyPackets || now.replyBytes < before.replyBytes;

export class ConntrackDeltaTable {
  private readonly maxConnections: number;
  private readonly maxTombstones: number;
  private readonly baseline: boolean;
  private readonly tracked = new Map<string, Tracked>();
  private readonly tombs = new Map<string, Tombstone>();
  private generation = 0;
  private readonly counts = {
    new: 0,
    updated: 0,
    reset: 0,
    reused: 0,
    vanished: 0,
    destroyed: 0,
    destroyedUnseen: 0,
    duplicateDestroys: 0,
    stale: 0,
    duplicateEntries: 0,
    overflow: 0,
    tombstonesEvicted: 0,
  };

  constructor(options: ConntrackDeltaOptions = {}) {
    this.maxConnections = options.maxConnections ?? 262_144;
    this.maxTombstones = options.maxTombstones ?? Math.max(1, Math.floor(this.maxConnections / 4));
    if (!(this.maxConnections >= 1) || !(this.maxTombstones >= 1)) throw new RangeError('maxConnections and maxTombstones must be at least 1');
    this.baseline = options.firstPollIsBaseline ?? true;
  }

  /** One full dump of the table. Emits the deltas since the previous poll. */
  poll(entries: readonly ConntrackEntry[], emit: DeltaSink): void {
    const gen = ++this.generation;
    const quiet = this.baseline && gen === 1;
    const fresh: ConntrackEntry[] = [];
    const freshKeys: string[] = [];
    for (const entry of entries) {
      const key = connectionKey(entry);
      const t = this.tracked.get(key);
      if (t === undefined) {
        fresh.push(entry);
        freshKeys.push(key);
      } else if (t.seen === gen) {
        this.counts.duplicateEntries++;
      } else {
        t.seen = gen;
        this.observe(key, t, entry, emit);
      }
    }
    for (const [key, t] of this.tracked) {
      if (t.seen === gen) continue;
      this.tracked.delete(key);
      this.counts.vanished++;
      if (!t.completed) emit(this.delta('vanished', t.entry, 0, 0, 0, 0, t.emitted !== gen, false, true, t, gen));
      this.bury(key, t.entry, t.emitted, false);
    }
    for (let i = 0; i < fresh.length; i++) {
      const entry = fresh[i]!;
      const key = freshKeys[i]!;
      const existing = this.tracked.get(key);
      if (existing !== undefined) {
        this.counts.duplicateEntries++;
        continue;
      }
      const tomb = this.tombs.get(key);
      if (tomb !== undefined && tomb.destroyed && sameConnection(tomb.entry, entry) && !lower(tomb.entry, entry)) {
        this.counts.stale++;
        continue;
      }
      if (this.tracked.size >= this.maxConnections) {
        this.counts.overflow++;
        continue;
      }
      const t: Tracked = { entry, seen: gen, emitted: 0, completed: closing(entry) };
      this.tracked.set(key, t);
      if (quiet) continue;
      this.counts.new++;
      emit(this.delta('new', entry, entry.origPackets, entry.origBytes, entry.replyPackets, entry.replyBytes, true, true, t.completed, t, gen));
    }
    for (const [key, tomb] of this.tombs) {
      if (tomb.born >= gen - 1) break;
      this.tombs.delete(key);
    }
  }

  /** A DESTROY event: the connection's final counters. */
  destroyed(entry: ConntrackEntry, emit: DeltaSink): void {
    const gen = this.generation;
    const key = connectionKey(entry);
    const t = this.tracked.get(key);
    if (t !== undefined && sameConnection(t.entry, entry)) {
      this.tracked.delete(key);
      this.counts.destroyed++;
      const reset = lower(entry, t.entry);
      const base = reset ? null : t.entry;
      emit(this.delta('destroyed', entry, ...since(entry, base), t.emitted !== gen, false, !t.completed, null, gen));
      this.bury(key, entry, gen, true);
      return;
    }
    const tomb = this.tombs.get(key);
    if (tomb !== undefined && sameConnection(tomb.entry, entry)) {
      if (tomb.destroyed) {
        this.counts.duplicateDestroys++;
        return;
      }
      this.counts.destroyed++;
      const base = lower(entry, tomb.entry) ? null : tomb.entry;
      const [op, ob, rp, rb] = since(entry, base);
      if (op + ob + rp + rb > 0) emit(this.delta('destroyed', entry, op, ob, rp, rb, tomb.emitted !== gen, false, false, null, gen));
      this.tombs.delete(key);
      this.bury(key, entry, gen, true);
      return;
    }
    this.counts.destroyed++;
    this.counts.destroyedUnseen++;
    emit(this.delta('destroyed', entry, entry.origPackets, entry.origBytes, entry.replyPackets, entry.replyBytes, true, true, true, null, gen));
    this.bury(key, entry, gen, true);
  }

  stats(): ConntrackDeltaStats {
    return { polls: this.generation, tracked: this.tracked.size, tombstones: this.tombs.size, ...this.counts };
  }

  private observe(key: string, t: Tracked, entry: ConntrackEntry, emit: DeltaSink): void {
    const before = t.entry;
    const gen = this.generation;
    t.entry = entry;
    const reused = (entry.id !== null && before.id !== null && entry.id !== before.id) || (lower(entry, before) && t.completed && !closing(entry));
    if (reused) {
      this.counts.reused++;
      if (!t.completed) emit(this.delta('vanished', before, 0, 0, 0, 0, t.emitted !== gen, false, true, t, gen));
      // the old connection's DESTROY event may still come: it adds only what it carried since
      this.bury(key, before, t.emitted, false);
      t.completed = closing(entry);
      emit(this.delta('reused', entry, entry.origPackets, entry.origBytes, entry.replyPackets, entry.replyBytes, true, true, t.completed, t, gen));
      return;
    }
    const reset = lower(entry, before);
    const [op, ob, rp, rb] = since(entry, reset ? null : before);
    const completes = !t.completed && closing(entry);
    if (completes) t.completed = true;
    if (op + ob + rp + rb === 0 && !completes) return;
    this.counts[reset ? 'reset' : 'updated']++;
    emit(this.delta(reset ? 'reset' : 'updated', entry, op, ob, rp, rb, t.emitted !== gen, false, completes, t, gen));
  }

  private delta(
    kind: DeltaKind,
    entry: ConntrackEntry,
    origPackets: number,
    origBytes: number,
    replyPackets: number,
    replyBytes: number,
    counted: boolean,
    started: boolean,
    completed: boolean,
    owner: Tracked | null,
    gen: number,
  ): ConnectionDelta {
    if (owner !== null) owner.emitted = gen;
    return { kind, entry, origPackets, origBytes, replyPackets, replyBytes, counted, started, completed };
  }

  private bury(key: string, entry: ConntrackEntry, emitted: number, destroyed: boolean): void {
    this.tombs.delete(key);
    if (this.tombs.size >= this.maxTombstones) {
      const oldest = this.tombs.keys().next();
      if (!oldest.done) this.tombs.delete(oldest.value);
      this.counts.tombstonesEvicted++;
    }
    this.tombs.set(key, { entry, emitted, born: this.generation, destroyed });
  }
}

function since(now: ConntrackEntry, before: ConntrackEntry | null): [number, number, number, number] {
  if (before === null) return [now.origPackets, now.origBytes, now.replyPackets, now.replyBytes];
  return [now.origPackets - before.origPackets, now.origBytes - before.origBytes, now.replyPackets - before.replyPackets, now.replyBytes - before.replyBytes];
}
