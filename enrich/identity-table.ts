import type { EndpointType, InventoryEvent, Labels, ServicePort } from '../schemas/types.js';
import { canonicalIp, CidrMatcher, parseCidr } from './addresses.js';
import { IntervalIndex } from './interval-index.js';
import { listObservedTime } from './kubernetes-objects.js';
import { podWorkload } from './workload.js';

/** Who held an address: everything EnrichedFlow says about one end. */
export interface EndpointIdentity {
  readonly type: EndpointType;
  readonly namespace: string | null;
  readonly name: string | null;
  readonly nameAggr: string;
  readonly labels: Labels;
  readonly serviceAccount: string | null;
  readonly node: string | null;
  readonly workload: string | null;
}

/** A Service an address belonged to (its cluster IP, or a backend in one of its EndpointSlices). */
export interface ServiceIdentity {
  readonly namespace: string;
  readonly name: string;
  /** Service ports for a cluster IP; target ports for an EndpointSlice backend. */
  readonly ports: readonly ServicePort[];
}

export interface IdentityTableOptions {
  /** How long a claim on an address is kept after it ended, milliseconds. Default one hour. */
  readonly retentionMs?: number;
}

export interface IdentityTableStats {
  readonly objects: number;
  /** States kept for the objects (one per change that mattered). */
  readonly versions: number;
  readonly addresses: number;
  readonly claims: number;
  /** Lookups where two objects of the same kind held the address at once; answered deterministically. */
  readonly conflicts: number;
  /** Events applied out of time order for their object. */
  readonly reordered: number;
  readonly expired: number;
  /** Network-set entries that were not CIDR blocks, skipped. */
  readonly invalidCidrs: number;
  /** Events of objects retention had removed, older than their end: ignored. */
  readonly lateForRemoved: number;
  /** Lookups of flows that straddle a hand-over between different objects: answered with nobody. */
  readonly ambiguous: number;
  /** Events after an object's end (deleted, Succeeded/Failed): ignored. */
  readonly afterEnd: number;
}

/** One object's state from one event on: its addresses and, per index, what they resolve to. */
interface Version {
  readonly time: number;
  /** No addresses from here on, ever: deleted, or a pod that reached Succeeded/Failed. */
  readonly final: boolean;
  /** A recorded ADDED after the beginning of time: the object did not exist before it. */
  readonly created: boolean;
  /** The object's resourceVersion as a number (NaN when it has none): orders changes observed at one time. */
  readonly rv: number;
  readonly ips: readonly string[];
  readonly rank: number;
  readonly endpoint?: EndpointIdentity;
  readonly service?: ServiceIdentity;
  readonly networkSet?: EndpointIdentity;
  /** CIDRs of a network set that are not CIDRs (skipped, counted). */
  readonly invalidCidrs?: number;
}

type IndexName = 'endpoints' | 'clusterIps' | 'backends' | 'networkSets';

interface ObjectHistory {
  readonly kind: string;
  readonly index: IndexName;
  versions: Version[];
  /** Addresses the object has claims on, to replace them when its history changes. */
  ips: readonly string[];
  /** The first and the latest change not stored since the last stored one, because they changed nothing: the last state still held then. */
  confirmedFrom?: number;
  confirmedAt?: number;
}

const rankOf = { pod: 3, node: 2, hostEndpoint: 2, hostNetworkPod: 1, service: 1 } as const;
const finalPhases = new Set(['Succeeded', 'Failed']);
/** The labels of an endpoint without any (shared, frozen). */
export const noLabels: Labels = Object.freeze({}) as Labels;

function labelsKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(',');
}

function canonicalIps(ips: readonly string[] | undefined): string[] {
  if (!ips || ips.length === 0) return [];
  if (ips.length === 1) {
    const canonical = canonicalIp(ips[0]!);
    return canonical === undefined ? [] : [canonical];
  }
  const result = ips.map((ip) => canonicalIp(ip)).filter((ip): ip is string => ip !== undefined);
  return result.filter((ip, index) => result.indexOf(ip) === index);
}

/**
 * Shares the strings and label sets that many objects repeat (namespaces, nodes, workload names,
 * the labels of one ReplicaSet's pods): most of the table's memory otherwise. Cleared at each
 * retention pass, so names of workloads long gone do not pile up.
 */
class Interner {
  private readonly strings = new Map<string, string>();
  private readonly labelSets = new Map<string, Labels>();

  string<T extends string | null>(value: T): T {
    if (value === null) return value;
    const known = this.strings.get(value);
    if (known !== undefined) return known as T;
    this.strings.set(value, value);
    return value;
  }

  labels(labels: Labels | undefined): Labels {
    if (!labels) return noLabels;
    const key = labelsKey(labels);
    if (key === '') return noLabels;
    const known = this.labelSets.get(key);
    if (known) return known;
    this.labelSets.set(key, labels);
    return labels;
  }

  clear(): void {
    this.strings.clear();
    this.labelSets.clear();
  }
}

function sameLabels(a: Labels, b: Labels): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => a[key] === b[key]);
}

function sameEndpoint(a: EndpointIdentity | undefined, b: EndpointIdentity | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    a.type === b.type && a.namespace === b.namespace && a.name === b.name && a.nameAggr === b.nameAggr && a.serviceAccount === b.serviceAccount &&
    a.node === b.node && a.workload === b.workload && sameLabels(a.labels, b.labels)
  );
}

function sameService(a: ServiceIdentity | undefined, b: ServiceIdentity | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.namespace === b.namespace && a.name === b.name && JSON.stringify(a.ports) === JSON.stringify(b.ports);
}

/** Claims that say the same thing about an address: the same endpoint, or host endpoints of one node. */
function interchangeableEndpoints(a: EndpointIdentity, b: EndpointIdentity): boolean {
  return sameEndpoint(a, b) || (a.type === 'hep' && b.type === 'hep' && a.node !== null && a.node === b.node);
}

/** Two versions an object's claims need not tell apart: same addresses, same identity. */
const sameState = (a: Version, b: Version) => a.rank === b.rank && sameEndpoint(a.endpoint, b.endpoint) && sameService(a.service, b.service);

/** What an event says about its object, as a Version (undefined for kinds without addresses). */
function versionOf(event: InventoryEvent, intern: Interner): Version | undefined {
  const time = event.observed_time;
  const created = event.type === 'ADDED' && time > listObservedTime;
  const rv = Number(event.resource_version ?? Number.NaN);
  const final = event.type === 'DELETED' || (event.kind === 'Pod' && finalPhases.has(event.phase ?? ''));
  const labels = intern.labels(event.labels);
  const namespace = intern.string(event.namespace ?? null);
  switch (event.kind) {
    case 'Pod': {
      const node = intern.string(event.node ?? null);
      if (event.host_network) {
        const endpoint: EndpointIdentity = { type: 'hep', namespace: null, name: node, nameAggr: node ?? event.name, labels: noLabels, serviceAccount: null, node, workload: null };
        return { time, final, created, rv, ips: canonicalIps(event.ips), rank: rankOf.hostNetworkPod, endpoint };
      }
      const { nameAggr, workload } = podWorkload({ name: event.name, labels, owners: event.owners ?? [] });
      const endpoint: EndpointIdentity = {
        type: 'wep',
        namespace,
        name: event.name,
        nameAggr: intern.string(nameAggr),
        labels,
        serviceAccount: intern.string(event.service_account ?? null),
        node,
        workload: intern.string(workload),
      };
      return { time, final, created, rv, ips: canonicalIps(event.ips), rank: rankOf.pod, endpoint };
    }
    case 'Node':
    case 'HostEndpoint': {
      const node = intern.string(event.kind === 'Node' ? event.name : (event.node ?? null));
      const endpoint: EndpointIdentity = { type: 'hep', namespace: null, name: event.name, nameAggr: event.name, labels, serviceAccount: null, node, workload: null };
      return { time, final, created, rv, ips: canonicalIps(event.ips), rank: event.kind === 'Node' ? rankOf.node : rankOf.hostEndpoint, endpoint };
    }
    case 'Service':
    case 'EndpointSlice': {
      const name = event.kind === 'Service' ? event.name : labels['kubernetes.io/service-name'];
      if (!name || !namespace) return { time, final: true, created, rv, ips: [], rank: 0 };
      const service: ServiceIdentity = { namespace, name, ports: event.ports ?? [] };
      return { time, final, created, rv, ips: canonicalIps(event.ips), rank: rankOf.service, service };
    }
    case 'NetworkSet':
    case 'GlobalNetworkSet': {
      const networkSet: EndpointIdentity = { type: 'ns', namespace, name: event.name, nameAggr: event.name, labels, serviceAccount: null, node: null, workload: null };
      const nets = [...new Set(event.ips ?? [])];
      const valid = nets.filter((cidr) => {
        try {
          parseCidr(cidr);
          return true;
        } catch {
          return false;
        }
      });
      return { time, final, created, rv, ips: valid, rank: 1, networkSet, invalidCidrs: nets.length - valid.length };
    }
    default:
      return undefined;
  }
}

const indexOfKind: Record<string, IndexName> = {
  Pod: 'endpoints',
  Node: 'endpoints',
  HostEndpoint: 'endpoints',
  Service: 'clusterIps',
  EndpointSlice: 'backends',
  NetworkSet: 'networkSets',
  GlobalNetworkSet: 'networkSets',
};

/**
 * Who held each address, and when. Built from InventoryEvents in any order; answers "who was
 * 10.0.3.7 at 12:00:05", never "who is it now". An object's claim on an address opens when an
 * event first shows the address and closes when an event no longer shows it, when the object is
 * deleted, or when a pod reaches Succeeded/Failed (such pods may give their IP away before their
 * delete arrives). A change of identity (labels, node) closes one claim and opens the next, so a
 * flow gets the labels its pod had at the flow's time.
 *
 * Pure: time comes only from the events and the lookups.
 */
export class IdentityTable {
  private readonly endpoints = new IntervalIndex<EndpointIdentity>(interchangeableEndpoints);
  private readonly clusterIps = new IntervalIndex<ServiceIdentity>();
  private readonly backends = new IntervalIndex<ServiceIdentity>();
  private readonly histories = new Map<string, ObjectHistory>();
  /** Objects retention removed, with the time of their end: a late event of theirs is ignored. */
  private readonly gone = new Map<string, number>();
  /** Per address, the latest object that gave it up (deleted, or a pod that ended) and when. */
  private readonly releases = new Map<string, { uid: string; time: number }>();
  /** Where a retention pass in slices goes on. */
  private expiryCursor: Iterator<[string, ObjectHistory]> | undefined;
  /** Retention has dropped what ended before this time. */
  private forgottenBefore = Number.NEGATIVE_INFINITY;
  private internClearedAt = Number.NEGATIVE_INFINITY;
  private readonly intern = new Interner();
  private readonly networkSets = new Map<string, { cidrs: readonly string[]; identity: EndpointIdentity }>();
  private networkSetMatcher: CidrMatcher<EndpointIdentity> | undefined;
  private readonly retentionMs: number;
  private conflicts = 0;
  private reordered = 0;
  private expired = 0;
  private invalidCidrs = 0;
  private lateForGone = 0;
  private ambiguous = 0;
  private afterEnd = 0;
  private latest = Number.NEGATIVE_INFINITY;

  constructor(options: IdentityTableOptions = {}) {
    this.retentionMs = options.retentionMs ?? 3_600_000;
  }

  /** The latest observed time of any event applied: the inventory has caught up to here. */
  get inventoryTime(): number {
    return this.latest;
  }

  get stats(): IdentityTableStats {
    return {
      objects: this.histories.size,
      versions: this.versionCount(),
      addresses: this.endpoints.addresses + this.clusterIps.addresses + this.backends.addresses,
      claims: this.endpoints.claims + this.clusterIps.claims + this.backends.claims,
      conflicts: this.conflicts,
      reordered: this.reordered,
      expired: this.expired,
      invalidCidrs: this.invalidCidrs,
      lateForRemoved: this.lateForGone,
      ambiguous: this.ambiguous,
      afterEnd: this.afterEnd,
    };
  }

  apply(event: InventoryEvent): void {
    if (event.observed_time > this.latest) this.latest = event.observed_time;
    const index = indexOfKind[event.kind];
    const full = index && versionOf(event, this.intern);
    if (!index || !full) return;
    this.invalidCidrs += full.invalidCidrs ?? 0;
    if (full.final) for (const ip of full.ips) this.noteRelease(ip, event.uid, full.time);
    // From a final version on the object holds nothing: its identity need not be kept.
    const version: Version = full.final ? { time: full.time, final: true, created: false, rv: full.rv, ips: [], rank: full.rank } : full;
    const history = this.histories.get(event.uid);
    if (!history && (this.gone.get(event.uid) ?? Number.NEGATIVE_INFINITY) >= event.observed_time) {
      this.lateForGone++;
      return;
    }
    if (!history) {
      const fresh: ObjectHistory = { kind: event.kind, index, versions: [version], ips: [] };
      this.histories.set(event.uid, fresh);
      this.extend(event.uid, fresh, undefined, version);
      return;
    }
    const versions = history.versions;
    let at = versions.length;
    while (at > 0 && comesAfter(versions[at - 1]!, version)) at--;
    const previous = versions[at - 1];
    if (previous?.final && at === versions.length) {
      // Nothing follows an object's end (a duplicate, or a recording whose clock ran behind).
      this.afterEnd++;
      return;
    }
    const beforeUnstored = history.confirmedAt !== undefined && version.time < history.confirmedAt;
    if (at === versions.length && !beforeUnstored && !(version.created && previous && previous.time <= listObservedTime)) {
      // A change that changes nothing the table keeps (a status update) is not stored.
      if (previous && !previous.final && !version.final && sameState(previous, version) && sameIps(previous, version)) {
        history.confirmedFrom ??= version.time;
        history.confirmedAt = version.time;
        return;
      }
      history.confirmedFrom = history.confirmedAt = undefined;
      history.versions = versions.concat(version);
      this.extend(event.uid, history, previous, version);
      return;
    }
    if (at < versions.length) this.reordered++;
    let merged = [...versions.slice(0, at), version, ...versions.slice(at)];
    const { confirmedFrom, confirmedAt } = history;
    if (confirmedFrom !== undefined && confirmedAt !== undefined && at === versions.length && version.time < confirmedAt) {
      // A late change lands before a change that was not stored: that one said the state before
      // the late change held again at its time, so it comes back as a version of its own (at the
      // first such change after the late one that is known; the ones in between are not kept).
      const resumed = version.time < confirmedFrom ? confirmedFrom : confirmedAt;
      merged.push({ ...versions[versions.length - 1]!, time: resumed, created: false });
      history.confirmedFrom = history.confirmedAt = undefined;
    }
    // A listed object is taken as valid from the beginning of time, unless a recorded ADDED says when it began.
    const firstCreated = merged.findIndex((candidate) => candidate.created);
    if (firstCreated > 0) merged = merged.filter((candidate, i) => i >= firstCreated || candidate.time > listObservedTime);
    history.versions = merged;
    this.rebuild(event.uid, history);
  }

  /** Who held `ip` during [start, end]; `lookahead` also accepts an object that appeared that long after `end`. */
  endpointAt(ip: string, start: number, end: number, lookahead = 0): EndpointIdentity | undefined {
    const key = keyOf(ip);
    // Before what retention forgot, claims that ended are gone: neither a lookahead nor an object
    // assumed since the beginning of time can stand in for them.
    const forgotten = start < this.forgottenBefore;
    const found = this.endpoints.find(key, start, end, forgotten ? 0 : lookahead);
    if (forgotten && found && found.claim.from <= listObservedTime) return undefined;
    if (found && found.claim.from > end) {
      // Found by the lookahead: not if another object gave the address up just before the flow,
      // even one whose claim this table never had (restored from a compacted topic: its DELETED only).
      const release = this.releases.get(key);
      if (release && release.uid !== found.claim.uid && release.time > start - lookahead && release.time <= found.claim.from) return undefined;
    }
    if (found?.conflict) this.conflicts++;
    if (found?.ambiguous) {
      this.ambiguous++;
      return undefined;
    }
    return found?.claim.value;
  }

  /** The Calico network set holding `ip` (most specific CIDR). */
  networkSetOf(ip: string): EndpointIdentity | undefined {
    if (this.networkSets.size === 0) return undefined;
    if (!this.networkSetMatcher) {
      const matcher = new CidrMatcher<EndpointIdentity>();
      const ordered = [...this.networkSets].sort(([a], [b]) => (a < b ? -1 : 1));
      for (const [, set] of ordered) for (const cidr of set.cidrs) matcher.add(cidr, set.identity);
      this.networkSetMatcher = matcher;
    }
    return this.networkSetMatcher.match(ip);
  }

  /** The Service whose cluster IP `ip` was during [start, end]. */
  serviceOfClusterIp(ip: string, start: number, end: number): ServiceIdentity | undefined {
    const found = this.clusterIps.find(keyOf(ip), start, end);
    return found && !found.ambiguous ? found.claim.value : undefined;
  }

  /** The Service a flow to `ip`:`port` addressed at its time: by cluster IP first, else as a backend of one of its EndpointSlices. */
  serviceAt(ip: string, port: number | null, protocol: string | undefined, start: number, end: number): { service: ServiceIdentity; port: ServicePort | undefined } | undefined {
    const key = keyOf(ip);
    const byClusterIp = this.clusterIps.find(key, start, end);
    if (byClusterIp && !byClusterIp.ambiguous) {
      const service = byClusterIp.claim.value;
      return { service, port: service.ports.find((candidate) => candidate.port === port && (!protocol || candidate.protocol === protocol)) };
    }
    if (port === null) return undefined;
    // A pod may back several Services (web on 8080, metrics on 9090): the one serving this port.
    for (const backend of this.backends.findAll(key, start, end)) {
      const service = backend.value;
      const match = service.ports.find((candidate) => candidate.port === port && (!protocol || candidate.protocol === protocol));
      if (match) return { service, port: match };
    }
    return undefined;
  }

  /**
   * Forgets what ended before `now - retention`: deleted objects with their claims, and versions
   * of live objects that later versions replaced (their claims go with them). Bounded memory for
   * a long-running worker. With a `budget`, it looks at that many objects and goes on from there
   * at the next call, so no single call stalls the stream; without one, it looks at every object.
   */
  expire(now: number, budget = Number.POSITIVE_INFINITY): void {
    const cutoff = now - this.retentionMs;
    if (budget === Number.POSITIVE_INFINITY) this.expiryCursor = undefined;
    if (!this.expiryCursor) {
      this.expiryCursor = this.histories.entries();
      if (cutoff > this.forgottenBefore) this.forgottenBefore = cutoff;
      for (const [uid, endedAt] of this.gone) if (endedAt < cutoff - this.retentionMs) this.gone.delete(uid);
      for (const [ip, release] of this.releases) if (release.time < cutoff) this.releases.delete(ip);
      if (now - this.internClearedAt >= this.retentionMs / 10) {
        this.intern.clear();
        this.internClearedAt = now;
      }
    }
    for (let looked = 0; looked < budget; looked++) {
      const next = this.expiryCursor.next();
      if (next.done) {
        this.expiryCursor = undefined;
        return;
      }
      this.expireObject(next.value[0], next.value[1], cutoff);
    }
  }

  private expireObject(uid: string, history: ObjectHistory, cutoff: number): void {
    const versions = history.versions;
    const ended = versions.find((version) => version.final);
    if (ended && ended.time < cutoff) {
      this.gone.set(uid, ended.time);
      if (history.index === 'networkSets') {
        this.networkSets.delete(uid);
        this.networkSetMatcher = undefined;
      } else {
        this.indexOf(history).remove(uid, history.ips);
      }
      this.histories.delete(uid);
      this.expired++;
      return;
    }
    let keepFrom = 0;
    while (keepFrom + 1 < versions.length && versions[keepFrom + 1]!.time <= cutoff) keepFrom++;
    if (keepFrom > 0) {
      history.versions = versions.slice(keepFrom);
      this.rebuild(uid, history);
    }
  }

  private noteRelease(ip: string, uid: string, time: number): void {
    const known = this.releases.get(ip);
    if (!known || known.time < time) this.releases.set(ip, { uid, time });
  }

  private versionCount(): number {
    let count = 0;
    for (const history of this.histories.values()) count += history.versions.length;
    return count;
  }

  private indexOf(history: ObjectHistory): IntervalIndex<EndpointIdentity | ServiceIdentity> {
    return this[history.index as Exclude<IndexName, 'networkSets'>] as IntervalIndex<EndpointIdentity | ServiceIdentity>;
  }

  /** Applies one version appended after `previous` to the object's claims: closes what ended, opens what began. */
  private extend(uid: string, history: ObjectHistory, previous: Version | undefined, version: Version): void {
    if (history.index === 'networkSets') {
      this.rebuildNetworkSet(uid, history);
      return;
    }
    const index = this.indexOf(history);
    const changed = !previous || !sameState(previous, version);
    const ips = version.ips.length > 8 ? new Set(version.ips) : version.ips;
    const has = (ip: string) => (ips instanceof Set ? ips.has(ip) : ips.includes(ip));
    for (const ip of history.ips) {
      const claim = index.held(ip, uid);
      if (claim && (version.final || changed || !has(ip))) claim.to = version.time;
    }
    const value = version.endpoint ?? version.service;
    if (version.final || !value) return;
    const added: string[] = [];
    for (const ip of version.ips) {
      if (index.held(ip, uid)) continue;
      index.add(ip, { from: version.time, to: Infinity, uid, rank: version.rank, value });
      if (!history.ips.includes(ip)) added.push(ip);
    }
    if (added.length > 0) history.ips = history.ips.concat(added);
  }

  /** Derives the object's claims again from all its versions (after an event out of order, or retention). */
  private rebuild(uid: string, history: ObjectHistory): void {
    if (history.index === 'networkSets') {
      this.rebuildNetworkSet(uid, history);
      return;
    }
    this.indexOf(history).remove(uid, history.ips);
    history.ips = [];
    let previous: Version | undefined;
    for (const version of history.versions) {
      this.extend(uid, history, previous, version);
      if (version.final) break;
      previous = version;
    }
  }

  private rebuildNetworkSet(uid: string, history: ObjectHistory): void {
    const last = history.versions[history.versions.length - 1]!;
    if (last.final || !last.networkSet) this.networkSets.delete(uid);
    else this.networkSets.set(uid, { cidrs: last.ips, identity: last.networkSet });
    this.networkSetMatcher = undefined;
  }
}

/** IPv6 addresses have many spellings; the table keys on one. IPv4 is used as written. */
const keyOf = (ip: string) => (ip.includes(':') ? (canonicalIp(ip) ?? ip) : ip);

/** Time order; changes observed at one time in resourceVersion order, when both have one. */
function comesAfter(a: Version, b: Version): boolean {
  return a.time > b.time || (a.time === b.time && a.rv > b.rv);
}

function sameIps(a: Version, b: Version): boolean {
  return a.ips.length === b.ips.length && a.ips.every((ip, index) => ip === b.ips[index]);
}
