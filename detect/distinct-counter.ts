/**
 * Counting distinct things (ports, peers) in bounded memory: exact up to a bound, then a
 * HyperLogLog sketch. The state is plain data (the detector state codec writes the registers as
 * base64), so it checkpoints as it is.
 */
export interface DistinctState {
  /**
   * Exact members while there are at most `exactBound` of them; null once the sketch took over.
   * Numbers (ports) are kept as they are; strings (peers) as a 32-bit hash, so the state stays
   * small in the changelog: exact up to a hash collision (one in four billion per pair).
   */
  members: number[] | null;
  /** HyperLogLog registers (2^precision bytes); present once the exact bound was passed. */
  sketch?: Sketch;
}

/** The registers, written as base64 in a unit's JSON form (see `detector-state.ts`). */
export class Sketch {
  constructor(readonly registers: Uint8Array) {}

  toJSON(): { $sketch: string } {
    return { $sketch: Buffer.from(this.registers).toString('base64') };
  }
}

/** Exact members kept before switching to the sketch (thresholds are tens; baselines above this tolerate a few percent). */
export const exactBound = 64;
/** 2^9 registers: about 4.6% standard error, 512 bytes per counter. */
const precision = 9;
const registerCount = 1 << precision;

export function newDistinct(): DistinctState {
  return { members: [] };
}

/** 32-bit FNV-1a followed by a murmur-style finaliser: well spread enough for the sketch's register index and rank. */
function hash32(value: string | number): number {
  const text = typeof value === 'number' ? `#${value}` : value;
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** Registers take a member as it is kept: a port, or a peer's hash (hashed again: ports are not spread). */
function addToRegisters(registers: Uint8Array, member: number): void {
  const hash = hash32(member);
  const index = hash >>> (32 - precision);
  const rest = (hash << precision) >>> 0;
  // Rank: position of the first 1 bit in the remaining 22 bits (1-based), 23 when they are all 0.
  const rank = rest === 0 ? 32 - precision + 1 : Math.clz32(rest) + 1;
  if (rank > registers[index]!) registers[index] = rank;
}

/** Adds a member; returns true when the count may have changed. */
export function addDistinct(state: DistinctState, value: string | number): boolean {
  if (state.members) {
    const member = typeof value === 'number' ? value : hash32(value);
    if (state.members.includes(member)) return false;
    state.members.push(member);
    if (state.members.length <= exactBound) return true;
    const registers = new Uint8Array(registerCount);
    for (const known of state.members) addToRegisters(registers, known);
    state.members = null;
    state.sketch = new Sketch(registers);
    return true;
  }
  addToRegisters((state.sketch ??= new Sketch(new Uint8Array(registerCount))).registers, typeof value === 'number' ? value : hash32(value));
  return true;
}

/** The number of distinct members: exact below the bound, the HyperLogLog estimate above it. */
export function countDistinct(state: DistinctState): number {
  if (state.members) return state.members.length;
  const registers = state.sketch?.registers ?? new Uint8Array(registerCount);
  let sum = 0;
  let zeros = 0;
  for (const register of registers) {
    sum += 2 ** -register;
    if (register === 0) zeros++;
  }
  const alpha = 0.7213 / (1 + 1.079 / registerCount);
  const estimate = (alpha * registerCount * registerCount) / sum;
  // Small-range correction (linear counting), as in the original paper.
  if (estimate <= 2.5 * registerCount && zeros > 0) return Math.round(registerCount * Math.log(registerCount / zeros));
  return Math.round(estimate);
}

/** A few members of a counter of numbers (ports), for evidence; a sketch does not remember them. */
export function someMembers(state: DistinctState, limit: number): number[] {
  return state.members ? state.members.slice(0, limit) : [];
}
