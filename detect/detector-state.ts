import { Sketch } from './distinct-counter.js';

/**
 * The detectors' state: tables of named units of plain data (a source's window, a workload's
 * baseline, an open alert), and the changes since the last checkpoint. The detect worker writes
 * those changes to the compacted changelog topic, one message per unit, and restores them on
 * assignment, so a restarted or rebalanced detector neither forgets nor alerts twice.
 *
 * Each table keeps its units in least-recently-touched order, so closing old windows and expiry
 * read only what is old.
 */
export interface StateChange {
  /** `<table>/<unit key>`. */
  readonly key: string;
  /** The unit's JSON form; null when the unit was removed (a tombstone). */
  readonly value: string | null;
}

export class StateTable<T> {
  private units = new Map<string, T>();
  /** Keys changed since the last checkpoint. */
  readonly changed = new Set<string>();

  /** `orderOf` gives a unit's place in touch order from its own data (a time), to rebuild that order after a restore. */
  constructor(
    readonly name: string,
    private readonly orderOf?: (unit: T) => number,
  ) {}

  get size(): number {
    return this.units.size;
  }

  get(key: string): T | undefined {
    return this.units.get(key);
  }

  /** Stores a unit, or records that it changed in place; it goes into the next checkpoint. Its place in the touch order stays. */
  put(key: string, unit: T): T {
    this.units.set(key, unit);
    this.changed.add(key);
    return unit;
  }

  /** `put`, and the unit becomes the most recently touched (expiry and window closing read the oldest first). */
  touch(key: string, unit: T): T {
    this.units.delete(key);
    this.units.set(key, unit);
    this.changed.add(key);
    return unit;
  }

  /** Records that the unit under `key`, changed in place, goes into the next checkpoint. */
  changedInPlace(key: string): void {
    this.changed.add(key);
  }

  delete(key: string): void {
    if (this.units.delete(key)) this.changed.add(key);
  }

  /**
   * Removes and returns the units that are due, oldest first, stopping at the first that is not
   * (later ones were touched more recently): window closing and expiry cost only what they remove.
   */
  takeDue(isDue: (unit: T) => boolean): [string, T][] {
    const due: [string, T][] = [];
    for (const entry of this.units) {
      if (!isDue(entry[1])) break;
      due.push(entry);
    }
    for (const [key] of due) this.delete(key);
    return due;
  }

  restore(key: string, unit: T | undefined): void {
    if (unit === undefined) this.units.delete(key);
    else this.units.set(key, unit);
  }

  /**
   * Puts restored units back in touch order. A changelog read back is in no useful order (its
   * partitions interleave, compaction keeps last writes), and window closing and expiry read the
   * oldest first and stop at the first that is not due.
   */
  reorder(): void {
    const orderOf = this.orderOf;
    if (!orderOf) return;
    const entries = [...this.units].sort(([a, unitA], [b, unitB]) => orderOf(unitA) - orderOf(unitB) || (a < b ? -1 : a > b ? 1 : 0));
    this.units = new Map(entries);
  }
}

export class DetectorState {
  private readonly tables = new Map<string, StateTable<unknown>>();

  /** The table `name`; `orderOf` (given by its owner at first use) restores its touch order after a restore. */
  table<T>(name: string, orderOf?: (unit: T) => number): StateTable<T> {
    if (name.includes('/')) throw new Error(`state table names have no '/': ${name}`);
    let table = this.tables.get(name);
    if (!table) this.tables.set(name, (table = new StateTable<unknown>(name, orderOf as ((unit: unknown) => number) | undefined)));
    return table as StateTable<T>;
  }

  /** Units in all tables. */
  get size(): number {
    let size = 0;
    for (const table of this.tables.values()) size += table.size;
    return size;
  }

  /** The changes since the last call, table by table in the order they changed (deterministic), and forgets them. */
  takeChanges(): StateChange[] {
    const changes: StateChange[] = [];
    for (const [name, table] of this.tables) {
      for (const key of table.changed) {
        const unit = table.get(key);
        changes.push({ key: `${name}/${key}`, value: unit === undefined ? null : encodeUnit(unit) });
      }
      table.changed.clear();
    }
    return changes;
  }

  /** Loads units from a changelog: later changes of one key win; tombstones remove. */
  restore(changes: Iterable<StateChange>): void {
    for (const change of changes) {
      const slash = change.key.indexOf('/');
      if (slash <= 0) throw new Error(`detector state key without a table: '${change.key}'`);
      this.table(change.key.slice(0, slash)).restore(change.key.slice(slash + 1), change.value === null ? undefined : decodeUnit(change.value));
    }
    for (const table of this.tables.values()) table.reorder();
  }
}

/** A unit's JSON form. Sketches write themselves (`Sketch.toJSON`), so no replacer slows this down. */
export function encodeUnit(unit: unknown): string {
  return JSON.stringify(unit);
}

const sketchTag = '$sketch';

export function decodeUnit(text: string): unknown {
  if (!text.includes(sketchTag)) return JSON.parse(text);
  return JSON.parse(text, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && sketchTag in value) {
      return new Sketch(new Uint8Array(Buffer.from(String((value as Record<string, unknown>)[sketchTag]), 'base64')));
    }
    return value;
  });
}
