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
  private readonly units = new Map<string, T>();

  constructor(
    readonly name: string,
    private readonly changed: Set<string>,
  ) {}

  get size(): number {
    return this.units.size;
  }

  get(key: string): T | undefined {
    return this.units.get(key);
  }

  /** Stores a unit (or stores it again after a change): it becomes the most recently touched and goes into the next checkpoint. */
  put(key: string, unit: T): T {
    this.units.delete(key);
    this.units.set(key, unit);
    this.changed.add(`${this.name}/${key}`);
    return unit;
  }

  delete(key: string): void {
    if (this.units.delete(key)) this.changed.add(`${this.name}/${key}`);
  }

  /** Units, least recently touched first. */
  entries(): IterableIterator<[string, T]> {
    return this.units.entries();
  }

  /** The unit itself, for the changelog (no touch, no change). */
  peek(key: string): T | undefined {
    return this.units.get(key);
  }

  restore(key: string, unit: T | undefined): void {
    if (unit === undefined) this.units.delete(key);
    else this.units.set(key, unit);
  }
}

export class DetectorState {
  private readonly tables = new Map<string, StateTable<unknown>>();
  private readonly changed = new Set<string>();

  table<T>(name: string): StateTable<T> {
    if (name.includes('/')) throw new Error(`state table names have no '/': ${name}`);
    let table = this.tables.get(name);
    if (!table) this.tables.set(name, (table = new StateTable<unknown>(name, this.changed)));
    return table as StateTable<T>;
  }

  /** Units in all tables. */
  get size(): number {
    let size = 0;
    for (const table of this.tables.values()) size += table.size;
    return size;
  }

  /** Changes not yet taken (a checkpoint that failed leaves them here, to be written again). */
  get pendingChanges(): number {
    return this.changed.size;
  }

  /** The changes since the last call, in key order (deterministic), and forgets them. */
  takeChanges(): StateChange[] {
    const changes = [...this.changed].sort().map((key) => {
      const slash = key.indexOf('/');
      const unit = this.tables.get(key.slice(0, slash))?.peek(key.slice(slash + 1));
      return { key, value: unit === undefined ? null : encodeUnit(unit) };
    });
    this.changed.clear();
    return changes;
  }

  /** Loads units from a changelog: later changes of one key win; tombstones remove. */
  restore(changes: Iterable<StateChange>): void {
    for (const change of changes) {
      const slash = change.key.indexOf('/');
      if (slash <= 0) throw new Error(`detector state key without a table: '${change.key}'`);
      this.table(change.key.slice(0, slash)).restore(change.key.slice(slash + 1), change.value === null ? undefined : decodeUnit(change.value));
    }
  }
}

/** Sketch registers (Uint8Array) travel as base64 inside the JSON form. */
const bytesTag = '$bytes';

export function encodeUnit(unit: unknown): string {
  return JSON.stringify(unit, (_key, value: unknown) => (value instanceof Uint8Array ? { [bytesTag]: Buffer.from(value).toString('base64') } : value));
}

export function decodeUnit(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && bytesTag in value) {
      return new Uint8Array(Buffer.from(String((value as Record<string, unknown>)[bytesTag]), 'base64'));
    }
    return value;
  });
}
