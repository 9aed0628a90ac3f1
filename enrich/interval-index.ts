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
  /** The flow straddles a hand-over between objects that say different things: `claim` is a guess, not an answer. */
  readonly ambiguous?: boolean;
}

/** Claims from this time or earlier are assumed (a listed object, valid from the beginning of time), not recorded. */
const assumedSince = 0;

const overlap = (claim: Claim<unknown>, start: number, end: number) => Math.min(claim.to, end) - Math.max(claim.from, start);
/**
 * A claim covers a flow when they share time. A flow is [start, end) like a collector interval,
 * except a point flow (start = end), which a claim covers when it holds at that instant.
 */
const coversFrom = (from: number, to: number, start: number, end: number) => to > from && to > start && (from < end || (start === end && from <= end));
const covers = (claim: Claim<unknown>, start: number, end: number) => coversFrom(claim.from, claim.to, start, end);

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

  /** `interchangeable` tells when two claims say the same thing (a Node and a hostNetwork pod on it): no hand-over, no conflict. */
  constructor(private readonly interchangeable: (a: Value, b: Value) => boolean = (a, b) => a === b) {}

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
   * Who held `ip` during [start, end], or nobody when that cannot be told for sure:
   * - one object (or several that say the same thing) covering the flow: the best of them (see `better`);
   * - objects that say different things: the one that took the address last, when the flow lies
   *   wholly after it did (taking the address is proof the others had given it up); otherwise the
   *   flow straddles a hand-over and nobody is named;
   * - a claim assumed since the beginning of time (a listed object) begins, in truth, only after
   *   every recorded claim of another object on the address has ended;
   * - nobody covering the flow: with `lookahead` > 0, the earliest claim starting within
   *   `lookahead` after `end` (the inventory saw the object a little after its first packets),
   *   unless another object gave the address up within `lookahead` before the flow.
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
    // Fast path: one recorded claim covers the flow, and every other claim ended before it began
    // or begins after the flow (an address reused over time): that one, without further ado.
    let only: Claim<Value> | undefined;
    let simple = true;
    for (const claim of list) {
      if (!covers(claim, start, end)) continue;
      if (only || claim.from <= assumedSince) simple = false;
      only = claim;
    }
    if (simple && only) {
      const held = only;
      if (list.every((claim) => claim === held || claim.from > end || (claim.to <= start && claim.from < held.from && claim.from > assumedSince))) return { claim: held, conflict: false };
    }
    const fromOf = (claim: Claim<Value>) => (claim.from > assumedSince ? claim.from : this.listedFrom(list, claim));
    // An object that took the address ends every earlier claim of another identity on it, even
    // when that one's end never reached the inventory (a lost or late DELETED).
    const toOf = (claim: Claim<Value>) => {
      let to = claim.to;
      const from = fromOf(claim);
      for (const other of list) {
        if (other.uid === claim.uid || this.interchangeable(other.value, claim.value)) continue;
        const otherFrom = fromOf(other);
        if (otherFrom > from && otherFrom < to) to = otherFrom;
      }
      return to;
    };
    let best: Claim<Value> | undefined;
    let bestOverlap = -1;
    let latest: Claim<Value> | undefined;
    let latestFrom = Number.NEGATIVE_INFINITY;
    let tiedLatest = false;
    let differ = false;
    for (const claim of list) {
      const from = fromOf(claim);
      const to = toOf(claim);
      if (!coversFrom(from, to, start, end)) continue;
      const covered = Math.min(to, end) - Math.max(from, start);
      if (best && !this.interchangeable(claim.value, best.value)) differ = true;
      if (!best || better(claim, covered, best, bestOverlap)) {
        best = claim;
        bestOverlap = covered;
      }
      if (from > latestFrom) {
        latest = claim;
        latestFrom = from;
        tiedLatest = false;
      } else if (from === latestFrom) {
        tiedLatest = true;
      }
    }
    if (!best) return lookahead > 0 ? this.lookahead(list.map((claim) => ({ ...claim, to: toOf(claim) })), start, end, lookahead) : undefined;
    // Different objects: only the last to take the address, and only for a flow wholly after that.
    const answer = !differ ? best : latest && !tiedLatest && start >= latestFrom ? latest : undefined;
    const chosen = answer ?? best;
    // A conflict: another identity's own record says it held the address at the same time, during the flow.
    const conflict = list.some(
      (other) => other.uid !== chosen.uid && !this.interchangeable(other.value, chosen.value) && other.from < chosen.to && chosen.from < other.to && covers(other, start, end),
    );
    return answer ? { claim: answer, conflict } : { claim: best, conflict, ambiguous: true };
  }

  /** A listed claim's true start: after every recorded claim of another object on the address. */
  private listedFrom(list: readonly Claim<Value>[], claim: Claim<Value>): number {
    let from = claim.from;
    for (const other of list) if (other.uid !== claim.uid && other.from > assumedSince && Number.isFinite(other.to) && other.to > from) from = other.to;
    return from;
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
