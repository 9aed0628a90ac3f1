import type { InventoryEvent } from '../../schemas/types.js';
import { InventoryObjectError, inventoryEventOf } from '../kubernetes-objects.js';

/**
 * The pure part of the watcher: which InventoryEvents a list page or a batch of watch events
 * makes, given what was published before (`known`: the latest published event of each live
 * object, by uid). Nothing here reads a clock or the network.
 */

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function metadataOf(object: unknown): { uid?: string; resourceVersion?: string } {
  const metadata = isObject(object) && isObject(object['metadata']) ? object['metadata'] : {};
  const uid = metadata['uid'];
  const resourceVersion = metadata['resourceVersion'];
  return {
    ...(typeof uid === 'string' && uid !== '' ? { uid } : {}),
    ...(typeof resourceVersion === 'string' && resourceVersion !== '' ? { resourceVersion } : {}),
  };
}

/** Already published as it is: same object, same resourceVersion (only equality of resourceVersions means anything). */
function unchanged(known: ReadonlyMap<string, InventoryEvent>, uid: string | undefined, resourceVersion: string | undefined): boolean {
  if (uid === undefined || resourceVersion === undefined) return false;
  return known.get(uid)?.resource_version === resourceVersion;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export interface Changes {
  readonly events: InventoryEvent[];
  /** Objects that could not be read as inventory, with the reason; skipped. */
  readonly problems: string[];
}

/**
 * The events one page of a (re)list makes: ADDED for an object not published before, MODIFIED
 * for one whose resourceVersion differs from the one published, nothing for the rest. Every uid
 * listed is added to `seen`, so that `vanishedObjects` can tell, once the last page is in, what
 * went away.
 */
export function listedChanges(known: ReadonlyMap<string, InventoryEvent>, items: readonly unknown[], kind: string, observedTime: number, seen: Set<string>): Changes {
  const events: InventoryEvent[] = [];
  const problems: string[] = [];
  for (const item of items) {
    const { uid, resourceVersion } = metadataOf(item);
    if (uid !== undefined) seen.add(uid);
    if (unchanged(known, uid, resourceVersion)) continue;
    try {
      const event = inventoryEventOf(uid !== undefined && known.has(uid) ? 'MODIFIED' : 'ADDED', item, observedTime, kind);
      if (event) events.push(event);
    } catch (error) {
      if (!(error instanceof InventoryObjectError)) throw error;
      problems.push(describe(error));
    }
  }
  return { events, problems };
}

/** DELETED for every published object a complete (re)list no longer shows: it went away while the watch was down. */
export function vanishedObjects(known: ReadonlyMap<string, InventoryEvent>, seen: ReadonlySet<string>, observedTime: number): InventoryEvent[] {
  const events: InventoryEvent[] = [];
  for (const [uid, last] of known) if (!seen.has(uid)) events.push({ ...last, type: 'DELETED', observed_time: observedTime });
  return events;
}

/** A Status an ERROR watch event carried. */
export interface WatchStatus {
  readonly code: number;
  readonly reason: string;
  readonly message: string;
}

export interface WatchBatchChanges extends Changes {
  /** Where a watch resumes after this batch: the latest resourceVersion it showed (bookmarks included). */
  readonly resourceVersion: string | undefined;
  /** The watch ended with an ERROR event (code 410: the resourceVersion is too old, relist). Events before it count. */
  readonly status?: WatchStatus;
  /** Events already published (an object at the same resourceVersion, a DELETED of an object gone): not published again. */
  readonly duplicates: number;
}

function statusOf(object: unknown): WatchStatus {
  const status = isObject(object) ? object : {};
  return {
    code: typeof status['code'] === 'number' ? status['code'] : 0,
    reason: typeof status['reason'] === 'string' ? status['reason'] : 'Unknown',
    message: typeof status['message'] === 'string' ? status['message'] : 'watch error',
  };
}

/** The events one batch of watch events makes, and where the watch stands after it. */
export function watchBatchChanges(
  known: ReadonlyMap<string, InventoryEvent>,
  batch: readonly { readonly type: string; readonly object: unknown }[],
  kind: string,
  observedTime: number,
  resourceVersion: string | undefined,
): WatchBatchChanges {
  const events: InventoryEvent[] = [];
  const problems: string[] = [];
  // What this batch published so far, over `known` (null: deleted), so an ADDED and DELETED in one batch both count.
  const published = new Map<string, InventoryEvent | null>();
  const latest = (uid: string) => (published.has(uid) ? (published.get(uid) ?? undefined) : known.get(uid));
  let duplicates = 0;
  let position = resourceVersion;
  for (const raw of batch) {
    if (raw.type === 'ERROR') return { events, problems, resourceVersion: position, status: statusOf(raw.object), duplicates };
    const { uid, resourceVersion: objectVersion } = metadataOf(raw.object);
    position = objectVersion ?? position;
    if (raw.type === 'BOOKMARK') continue;
    const previous = uid === undefined ? undefined : latest(uid);
    // After the first list `known` holds every live object: a DELETED of another one was published already.
    const duplicate = raw.type === 'DELETED' ? uid !== undefined && previous === undefined : objectVersion !== undefined && previous?.resource_version === objectVersion;
    if (duplicate) {
      duplicates++;
      continue;
    }
    try {
      const event = inventoryEventOf(raw.type, raw.object, observedTime, kind);
      if (!event) continue;
      events.push(event);
      published.set(event.uid, event.type === 'DELETED' ? null : event);
    } catch (error) {
      if (!(error instanceof InventoryObjectError)) throw error;
      problems.push(describe(error));
    }
  }
  return { events, problems, resourceVersion: position, duplicates };
}
