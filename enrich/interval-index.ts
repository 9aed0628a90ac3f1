/**
 * Per IP address, the intervals during which each object claimed it. A claim is half-open:
 * [from, to), with `to` = Infinity while it is held.
 */
export interface Claim<Value> {
  readonly from: number;
  to: number;
  /** The Kubernetes object (uid) that held the address. */
  readonly uid: string;
  /** Breaks ties between claims covering a flow alike (a Node's address over a hostNetwork pod's). */
  readonly rank: number;
  readonly value: Value;
}

export interface Found<Value> {
  readonly claim: Claim<Value>;
  /** Another object held the address at the same time as the chosen one, as someone else. */
  readonly conflict: boolean;
}

const overlap = (claim: Claim<unknown>, start: number, end: number) => Math.min(claim.to, end) - Math.max(claim.from, start);
const covers = (claim: Claim<unknown>, start: number, end: number) => claim.from <= end && claim.to > start;

/**
 * Which of two claims covering a flow is the better answer: the one that held the address for
 * more of the flow, then the higher rank, then the one taken later, then the smaller uid.
 */
function better(a: Claim<unknown>, aOverlap: number, b: Claim<unknown>, bOverlap: number): boolean {
  if (aOverlap !== bOverlap) return aOverlap > bOverlap;
  if (a.rank !== b.rank) return a.rank > b.rank;
  if (a.from !== b.from) return a.from > b.from;
  return a.uid < b.uid;
}

export class IntervalIndex<Value> {
  private readonly byIp = new Map<string, Claim<Value>[]>();
  private claimCount = 0;

  /** `same` tells when two claims say the same thing (two hostNetwork pods of one node): not a conflict. */
  constructor(private readonly same: (a: Value, b: Value) => boolean = (a, b) => a === b) {}

  get addresses(): number {
    return this.byIp.size;
  }

  get claims(): number {
    return this.claimCount;
  }

  /** Removes every claim of `uid` on `ips`. */
  remove(uid: string, ips: Iterable<string>): void {
    for (const ip of ips) {
      const list = this.byIp.get(ip);
      if (!list) continue;
      const kept = list.filter((claim) => claim.uid !== uid);
      this.claimCount -= list.length - kept.length;
      if (kept.length === 0) this.byIp.delete(ip);
      else this.byIp.set(ip, kept);
    }
  }

  add(ip: string, claim: Claim<Value>): void {
    const existing = this.byIp.get(ip);
    // A new array of the exact size: most addresses hold one or two claims, and arrays grown by
    // push keep room for many.
    const list = existing ? existing.concat(claim) : [claim];
    if (list.length > 1) list.sort((a, b) => a.from - b.from);
    this.byIp.set(ip, list);
    this.claimCount++;
  }

  /** The claim `uid` holds on `ip` now (not ended), if any. */
  held(ip: string, uid: string): Claim<Value> | undefined {
    const list = this.byIp.get(ip);
    if (!list) return undefined;
    for (const claim of list) if (claim.uid === uid && claim.to === Infinity) return claim;
    return undefined;
  }

  /**
   * The claim on `ip` that best covers [start, end] (see `better`). When none does and
   * `lookahead` > 0, the earliest claim starting within `lookahead` after `end` (the inventory saw
   * the object a little after its first packets) — unless another object gave the address up
   * within `lookahead` before the flow: the flow may be that one's last packets, so nobody is
   * named rather than perhaps the wrong one.
   */
  find(ip: string, start: number, end: number, lookahead = 0): Found<Value> | undefined {
    const list = this.byIp.get(ip);
    if (!list) return undefined;
    if (list.length === 1) {
      // The common case: one object held the address (within the retention).
      const only = list[0]!;
      if (covers(only, start, end)) return { claim: only, conflict: false };
      if (lookahead > 0 && only.from > end && only.from <= end + lookahead) return { claim: only, conflict: false };
      return undefined;
    }
    let best: Claim<Value> | undefined;
    let bestOverlap = -1;
    for (const claim of list) {
      if (!covers(claim, start, end)) continue;
      const covered = overlap(claim, start, end);
      if (!best || better(claim, covered, best, bestOverlap)) {
        best = claim;
        bestOverlap = covered;
      }
    }
    if (!best) return lookahead > 0 ? this.lookahead(list, start, end, lookahead) : undefined;
    let conflict = false;
    for (const claim of list) {
      if (claim !== best && claim.rank === best.rank && claim.uid !== best.uid && claim.from < best.to && best.from < claim.to && covers(claim, start, end) && !this.same(claim.value, best.value)) {
        conflict = true;
        break;
      }
    }
    return { claim: best, conflict };
  }

  /** Every claim on `ip` covering [start, end], in the order `find` prefers them. */
  findAll(ip: string, start: number, end: number): Claim<Value>[] {
    const list = this.byIp.get(ip);
    if (!list) return [];
    return list
      .filter((claim) => covers(claim, start, end))
      .sort((a, b) => (better(a, overlap(a, start, end), b, overlap(b, start, end)) ? -1 : 1));
  }

  private lookahead(list: readonly Claim<Value>[], start: number, end: number, lookahead: number): Found<Value> | undefined {
    let next: Claim<Value> | undefined;
    for (const claim of list) {
      if (claim.to <= start && claim.to > start - lookahead) return undefined;
      if (claim.from > end && claim.from <= end + lookahead && (!next || claim.from < next.from || (claim.from === next.from && better(claim, 0, next, 0)))) next = claim;
    }
    return next && { claim: next, conflict: false };
  }
}
