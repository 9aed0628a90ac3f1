import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubernetesApiError } from '../../../../runtime/kubernetes/api-request.js';
import {
  candidateIdentity,
  decideLease,
  LeaderElectionConfigError,
  LeaderElector,
  type LeaseApi,
  type LeaseObject,
  leaseObjectOf,
  leaseRecordOf,
  type LeaseRecord,
  releasedLease,
  type StoppedLeadingReason,
} from '../../../../runtime/kubernetes/leader-election.js';
import { waitFor } from '../../../support/wait.js';

const T = Date.parse('2026-11-27T12:00:00Z');
const held = (holder: string | null, renewTime: number, extra: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: T - 60_000,
  renewTime,
  leaseTransitions: 3,
  ...extra,
});

describe('Runtime > kubernetes > lease decisions', () => {
  it('creates the Lease when there is none, holding it, with no transitions yet', () => {
    assert.deepEqual(decideLease(undefined, 'a', T, 15), { action: 'create', next: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: T, renewTime: T, leaseTransitions: 0 } });
  });

  it('waits while another holder renewed within the lease duration, up to and including its expiry', () => {
    assert.deepEqual(decideLease(held('b', T - 5_000), 'a', T, 15), { action: 'wait', holder: 'b', expiresAt: T + 10_000 });
    assert.equal(decideLease(held('b', T - 15_000), 'a', T, 15).action, 'wait', 'renewTime + duration = now is not yet expired');
  });

  it('takes over an expired Lease (renewTime + leaseDurationSeconds < now), counting a transition', () => {
    const decision = decideLease(held('b', T - 15_001), 'a', T, 15);
    assert.deepEqual(decision, { action: 'acquire', next: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: T, renewTime: T, leaseTransitions: 4 } });
  });

  it("judges expiry by the holder's own lease duration", () => {
    assert.equal(decideLease(held('b', T - 20_000, { leaseDurationSeconds: 30 }), 'a', T, 15).action, 'wait');
  });

  it('takes a released Lease at once, however recent its renewal', () => {
    const decision = decideLease(releasedLease(held('b', T - 1_000), T - 500), 'a', T, 15);
    assert.equal(decision.action, 'acquire');
    assert.equal(decision.action === 'acquire' && decision.next.leaseTransitions, 4);
  });

  it('renews its own Lease, keeping its acquire time and transitions, even one that ran out', () => {
    for (const renewed of [T - 2_000, T - 60_000]) {
      assert.deepEqual(decideLease(held('a', renewed), 'a', T, 15), { action: 'renew', next: { ...held('a', T), acquireTime: T - 60_000 } });
    }
  });

  it('reads and writes the Lease fields, in MicroTime, keeping the resourceVersion and fields it does not own', () => {
    const existing: LeaseObject = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'flowsentry-inventory', namespace: 'flowsentry', resourceVersion: '812' },
      spec: { holderIdentity: 'b', leaseDurationSeconds: 10, renewTime: '2026-11-27T11:59:58.123456Z', acquireTime: '2026-11-27T11:00:00.000000Z', leaseTransitions: 2, strategy: 'OldestEmulationVersion' },
    };
    const record = leaseRecordOf(existing, 15);
    assert.deepEqual(record, { holderIdentity: 'b', leaseDurationSeconds: 10, acquireTime: Date.parse('2026-11-27T11:00:00Z'), renewTime: Date.parse('2026-11-27T11:59:58.123Z'), leaseTransitions: 2 });
    const written = leaseObjectOf('flowsentry', 'flowsentry-inventory', existing, { ...record, holderIdentity: 'a', renewTime: T + 7, leaseTransitions: 3 });
    assert.equal(written.metadata.resourceVersion, '812');
    assert.deepEqual(written.spec, {
      holderIdentity: 'a',
      leaseDurationSeconds: 10,
      acquireTime: '2026-11-27T11:00:00.000000Z',
      renewTime: '2026-11-27T12:00:00.007000Z',
      leaseTransitions: 3,
      strategy: 'OldestEmulationVersion',
    });
    const released = leaseObjectOf('flowsentry', 'flowsentry-inventory', written, releasedLease(leaseRecordOf(written, 15), T + 9));
    assert.equal('holderIdentity' in released.spec!, false, 'a released Lease names no holder');
    assert.equal(leaseRecordOf(released, 15).holderIdentity, null);
    assert.equal(leaseRecordOf({ metadata: {}, spec: { holderIdentity: '' } }, 15).leaseDurationSeconds, 15, 'a missing duration is the default');
  });

  it('refuses timings that cannot fence a leader in time', () => {
    const leases = new MemoryLeases();
    assert.throws(() => new LeaderElector({ leases, namespace: 'n', name: 'l', identity: 'a', leaseDurationSeconds: 2, renewDeadlineMs: 2_000 }), LeaderElectionConfigError);
    assert.throws(() => new LeaderElector({ leases, namespace: 'n', name: 'l', identity: 'a', renewDeadlineMs: 1_000, retryPeriodMs: 1_000 }), LeaderElectionConfigError);
    assert.throws(() => new LeaderElector({ leases, namespace: 'n', name: 'l', identity: 'a', leaseDurationSeconds: 1.5 }), LeaderElectionConfigError);
  });
});

/** Leases in memory with the API server's optimistic concurrency: a write with a stale resourceVersion is a 409. */
class MemoryLeases implements LeaseApi {
  private readonly leases = new Map<string, LeaseObject>();
  private version = 0;
  /** Candidates cut off from the API server. */
  readonly unreachable = new Set<string>();

  forCandidate(identity: string): LeaseApi {
    const check = () => {
      if (this.unreachable.has(identity)) throw new KubernetesApiError(0, 'ECONNREFUSED', 'unreachable');
    };
    return {
      get: async (namespace, name) => (check(), this.get(namespace, name)),
      create: async (namespace, lease) => (check(), this.create(namespace, lease)),
      replace: async (namespace, lease) => (check(), this.replace(namespace, lease)),
    };
  }

  async get(namespace: string, name: string): Promise<LeaseObject | undefined> {
    const lease = this.leases.get(`${namespace}/${name}`);
    return lease && structuredClone(lease);
  }

  async create(namespace: string, lease: LeaseObject): Promise<LeaseObject> {
    const key = `${namespace}/${lease.metadata.name}`;
    if (this.leases.has(key)) throw new KubernetesApiError(409, 'AlreadyExists', 'exists');
    return this.store(key, lease);
  }

  async replace(namespace: string, lease: LeaseObject): Promise<LeaseObject> {
    const key = `${namespace}/${lease.metadata.name}`;
    if (this.leases.get(key)?.metadata.resourceVersion !== lease.metadata.resourceVersion) throw new KubernetesApiError(409, 'Conflict', 'modified');
    return this.store(key, lease);
  }

  holder(): unknown {
    return [...this.leases.values()][0]?.spec?.['holderIdentity'];
  }

  transitions(): unknown {
    return [...this.leases.values()][0]?.spec?.['leaseTransitions'];
  }

  private store(key: string, lease: LeaseObject): LeaseObject {
    const stored = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.version) } };
    this.leases.set(key, stored);
    return structuredClone(stored);
  }
}

function candidate(leases: MemoryLeases, identity: string, now: () => number = Date.now) {
  const log: string[] = [];
  const elector = new LeaderElector({
    now,
    leases: leases.forCandidate(identity),
    namespace: 'flowsentry',
    name: 'flowsentry-inventory',
    identity,
    leaseDurationSeconds: 1,
    renewDeadlineMs: 600,
    retryPeriodMs: 100,
    onStartedLeading: () => log.push(`started ${Date.now()}`),
    onStoppedLeading: (reason: StoppedLeadingReason) => void log.push(`${reason} ${Date.now()}`),
  });
  return { elector, log, identity };
}

describe('Runtime > kubernetes > candidate identity', () => {
  it('is the hostname, the process id and a random suffix: two processes on one host, or one restarted, never share one', () => {
    assert.equal(candidateIdentity('flowsentry-inventory-7d9f-x2x4q', 1, 'a1b2c3'), 'flowsentry-inventory-7d9f-x2x4q-1-a1b2c3');
    assert.match(candidateIdentity('node-1'), new RegExp(`^node-1-${process.pid}-[0-9a-f]{6}$`));
    assert.notEqual(candidateIdentity('node-1', 1), candidateIdentity('node-1', 1), 'pid 1 in two containers sharing the host name');
  });
});

describe('Runtime > kubernetes > leader election', () => {
  it('elects exactly one of several candidates, and a successor once the leader releases the Lease', async () => {
    const leases = new MemoryLeases();
    const candidates = ['a', 'b', 'c'].map((identity) => candidate(leases, identity));
    for (const { elector } of candidates) elector.start();
    const first = await waitFor(() => candidates.find(({ elector }) => elector.isLeader));
    await new Promise((resolveTime) => setTimeout(resolveTime, 300));
    assert.deepEqual(candidates.filter(({ elector }) => elector.isLeader).map(({ identity }) => identity), [first.identity]);
    assert.equal(leases.holder(), first.identity);
    assert.equal(leases.transitions(), 0);

    await first.elector.stop();
    assert.equal(first.log.at(-1)?.split(' ')[0], 'stopped');
    const second = await waitFor(() => candidates.find(({ elector }) => elector.isLeader), { timeoutMs: 2_000 });
    assert.notEqual(second.identity, first.identity);
    assert.equal(leases.holder(), second.identity);
    assert.equal(leases.transitions(), 1);
    for (const { elector } of candidates) await elector.stop();
    assert.equal(leases.holder(), undefined, 'the last leader released the Lease on stop');
  });

  it('a leader cut off from the API server stops leading at its renew deadline, before anyone takes over', async () => {
    const leases = new MemoryLeases();
    const a = candidate(leases, 'a');
    a.elector.start();
    await waitFor(() => a.elector.isLeader);
    const b = candidate(leases, 'b');
    b.elector.start();
    leases.unreachable.add('a');
    await waitFor(() => b.elector.isLeader, { timeoutMs: 5_000 });
    const stoppedAt = Number(a.log.find((line) => line.startsWith('deadline'))?.split(' ')[1]);
    const takenAt = Number(b.log.find((line) => line.startsWith('started'))?.split(' ')[1]);
    assert.ok(stoppedAt < takenAt, 'the old leader stopped before the new one started');
    assert.equal(a.elector.isLeader, false);

    leases.unreachable.delete('a');
    await new Promise((resolveTime) => setTimeout(resolveTime, 300));
    assert.equal(a.elector.isLeader, false, 'back in touch, it sees the new holder and waits');
    assert.equal(a.elector.holder, 'b');
    await a.elector.stop();
    assert.equal(leases.holder(), 'b', "stopping a follower leaves the leader's Lease alone");
    await b.elector.stop();
  });

  it('a leader whose deadline passed before its fence timer ran stops leading before it renews, and starts a new term', async () => {
    const leases = new MemoryLeases();
    let skew = 0;
    const a = candidate(leases, 'a', () => Date.now() + skew);
    a.elector.start();
    await waitFor(() => a.elector.isLeader, { intervalMs: 10 });
    assert.equal(a.elector.term, 1);
    assert.ok(a.elector.fencingDeadline > Date.now() && a.elector.fencingDeadline <= Date.now() + 600);

    // The clock moves past the deadline (600 ms) long before the fence timer is due: the next look (within 100 ms) finds it.
    skew = 5_000;
    assert.equal(a.elector.isLeader, false);
    await waitFor(() => a.log.some((line) => line.startsWith('deadline')), { intervalMs: 5, timeoutMs: 400 });
    await waitFor(() => a.elector.term === 2 && a.elector.isLeader, { intervalMs: 5, timeoutMs: 400 });
    assert.deepEqual(
      a.log.map((line) => line.split(' ')[0]),
      ['started', 'deadline', 'started'],
    );

    // Whoever finds the deadline passed may end the term at once.
    skew = 10_000;
    await a.elector.enforceDeadline();
    assert.equal(a.log.at(-1)?.split(' ')[0], 'deadline');
    assert.equal(a.elector.fencingDeadline, Number.NEGATIVE_INFINITY);
    await a.elector.stop();
  });
});
