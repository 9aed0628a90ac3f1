/**
 * A hash table from unsigned 32-bit keys to int32 values ≥ 0, held in one typed array of
 * key/value pairs (open addressing, linear probing, at most half full): 16–32 bytes a key, no
 * object per key, and a probe reads one cache line.
 */
const EMPTY = 0xffffffff;

export class Uint32Table {
  /** slots[2s] is the key of slot s, slots[2s + 1] its value (EMPTY: a free slot). */
  private readonly slots: Uint32Array;
  private readonly shift: number;
  private readonly slotMask: number;
  private count = 0;

  /** @param expected how many keys the table will hold; it does not grow past that. */
  constructor(readonly expected: number) {
    let bits = 3;
    while (1 << bits < expected * 2 && bits < 29) bits++;
    this.slots = new Uint32Array(2 << bits).fill(EMPTY);
    this.shift = 32 - bits;
    this.slotMask = (1 << bits) - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The value of `key` (an unsigned 32-bit number), or -1. */
  get(key: number): number {
    const { slots } = this;
    let slot = Math.imul(key, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const value = slots[2 * slot + 1]!;
      if (value === EMPTY) return -1;
      if (slots[2 * slot] === key) return value;
      slot = (slot + 1) & this.slotMask;
    }
  }

  /** Stores `value` (0 ≤ value < 2^31) under `key` unless the key is already there; true when stored. */
  setIfAbsent(key: number, value: number): boolean {
    // One slot stays free, so that every probe ends.
    if (this.count >= this.slotMask) throw new RangeError(`Uint32Table sized for ${this.expected} keys is full`);
    const { slots } = this;
    let slot = Math.imul(key, 0x9e3779b1) >>> this.shift;
    for (;;) {
      if (slots[2 * slot + 1] === EMPTY) {
        slots[2 * slot] = key;
        slots[2 * slot + 1] = value;
        this.count++;
        return true;
      }
      if (slots[2 * slot] === key) return false;
      slot = (slot + 1) & this.slotMask;
    }
  }

  /** Slots of the table: `forEach` can visit them a range at a time. */
  get capacity(): number {
    return this.slots.length / 2;
  }

  /** Calls `visit` for every key and its value in slots [from, to) (by default all), in no particular order. */
  forEach(visit: (key: number, value: number) => void, from = 0, to = this.capacity): void {
    const { slots } = this;
    for (let i = 2 * from; i < 2 * to; i += 2) {
      if (slots[i + 1] !== EMPTY) visit(slots[i]!, slots[i + 1]!);
    }
  }
}
