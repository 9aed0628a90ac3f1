/**
 * Per IP address, the intervals during which each object claimed it. A claim is half-open:
 * [from, to), with `to` = Infinity while it is held.
 */
export interface Claim<Value> {
  readonly from: number;
  to: number;
  /** The Kubernetes object (uid) that held the address. */
  readonly uid: string;
  /** Higher wins when claims of different kinds overlap (a Node's address over a hostNetwork pod's). */
  readonly rank: number;
  readonly value: Value;
}

export interface Found<Value> {
  readonly claim: Claim<Value>;
  /** Another object of the same rank held the address at the same time as the chosen one. */
  readonly conflict: boolean;
}

const overlap = (claim: Claim<unknown>, start: number, end: number) => Math.min(claim.to, end) - Math.max(claim.from, start);

/** Deterministic order among equally good claims: the one taken later, then the smaller uid. */
function later(a: Claim<unknown>, b: Claim<unknown>): boolean {
  return a.from !== b.from ? a.from > b.from : a.uid < b.uid;
}

export class IntervalIndex<Value> {
  private readonly byIp = new Map<string, Claim<Value>[]>();
  private claimCount = 0;

  get addresses(): number {
    return this.byIp.size;
  }

  get claims(): number {
    return this.claimCount;
  }

  /** Replaces every claim of `uid` on `oldIps` with `claims` (per address). */
  replace(uid: string, oldIps: Iterable<string>, claims: ReadonlyMap<string, readonly Claim<Value>[]>): void {
    for (const ip of oldIps) {
      const list = this.byIp.get(ip);
      if (!list) continue;
      const kept = list.filter((claim) => claim.uid !== uid);
      this.claimCount -= list.length - kept.length;
      if (kept.length === 0) this.byIp.delete(ip);
      else this.byIp.set(ip, kept);
    }
    for (const [ip, added] of claims) {
      if (added.length === 0) continue;
      const existing = this.byIp.get(ip);
      // A new array of the exact size: most addresses hold one or two claims, and arrays grown by
      // push keep room for many.
      const list = existing ? existing.concat(added) : added.slice();
      if (list.length > 1) list.sort((a, b) => a.from - b.from);
      this.byIp.set(ip, list);
      this.claimCount += added.length;
    }
  }

  /**
   * The claim on `ip` that best covers [start, end]: the highest rank, then the longest overlap,
   * then the later claim. When none overlaps and `lookahead` > 0, the earliest claim starting
   * within `lookahead` after `end` (the inventory saw the object a little after its first packets).
   */
  find(ip: string, start: number, end: number, lookahead = 0): Found<Value> | undefined {
    const list = this.byIp.get(ip);
    if (!list) return undefined;
    if (list.length === 1) {
      // The common case: one object ever held the address (within the retention).
      const only = list[0]!;
      if (only.from <= end && only.to > start) return { claim: only, conflict: false };
      if (lookahead > 0 && only.from > end && only.from <= end + lookahead) return { claim: only, conflict: false };
      return undefined;
    }
    let best: Claim<Value> | undefined;
    let bestOverlap = -1;
    for (const claim of list) {
      if (claim.from > end || claim.to <= start) continue;
      const covered = overlap(claim, start, end);
      if (
        !best ||
        claim.rank > best.rank ||
        (claim.rank === best.rank && (covered > bestOverlap || (covered === bestOverlap && later(claim, best))))
      ) {
        best = claim;
        bestOverlap = covered;
      }
    }
    if (!best && lookahead > 0) {
      for (const claim of list) {
        if (claim.from > end && claim.from <= end + lookahead && (!best || claim.rank > best.rank || (claim.rank === best.rank && claim.from < best.from))) best = claim;
      }
      return best && { claim: best, conflict: false };
    }
    if (!best) return undefined;
    let conflict = false;
    for (const claim of list) {
      if (claim !== best && claim.rank === best.rank && claim.uid !== best.uid && claim.from < best.to && best.from < claim.to && claim.from <= end && claim.to > start) {
        conflict = true;
        break;
      }
    }
    return { claim: best, conflict };
  }

  /** Drops claims that ended before `cutoff`. */
  expire(cutoff: number): void {
    for (const [ip, list] of this.byIp) {
      const kept = list.filter((claim) => claim.to >= cutoff);
      this.claimCount -= list.length - kept.length;
      if (kept.length === 0) this.byIp.delete(ip);
      else if (kept.length !== list.length) this.byIp.set(ip, kept);
    }
  }
}
