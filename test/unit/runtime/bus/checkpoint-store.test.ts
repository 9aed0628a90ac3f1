import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { leaseHolder, liveMembers, ShardLeases, type CheckpointStore } from '../../../../runtime/bus/checkpoint-store.js';
import { FileCheckpointStore } from '../../../../runtime/bus/file-checkpoint-store.js';

/** Adds `name` to the members of `namespace` with a load / compare-and-set loop. */
async function addMember(store: CheckpointStore, namespace: string, name: string): Promise<number> {
  for (let conflicts = 0; ; conflicts++) {
    const { version, state } = await store.load(namespace);
    if (await store.compareAndSet(namespace, version, { ...state, members: { ...state.members, [name]: 1 } })) return conflicts;
  }
}

const storeModule = fileURLToPath(new URL('../../../../runtime/bus/file-checkpoint-store.ts', import.meta.url));

/** Another process that adds `count` members named `prefix-i` to the namespace. */
function writerProcess(dir: string, namespace: string, prefix: string, count: number): Promise<void> {
  const script = `
    const { FileCheckpointStore } = await import(${JSON.stringify(storeModule)});
    const store = new FileCheckpointStore(${JSON.stringify(dir)});
    for (let i = 0; i < ${count}; i++) {
      for (;;) {
        const { version, state } = await store.load(${JSON.stringify(namespace)});
        const members = { ...state.members, [${JSON.stringify(prefix)} + '-' + i]: 1 };
        if (await store.compareAndSet(${JSON.stringify(namespace)}, version, { ...state, members })) break;
      }
    }`;
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => (code === 0 ? resolveRun() : rejectRun(new Error(`writer ${prefix} exited ${code}: ${stderr}`))));
  });
}

describe('Runtime > bus > checkpoint store > file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowsentry-checkpoints-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts empty at version 0, and a compare-and-set succeeds only from the current version', async () => {
    const store = new FileCheckpointStore(dir);
    assert.deepEqual(await store.load('cas'), { version: 0, state: { shards: {}, members: {} } });
    const first = { shards: { 's/shardId-0': { checkpoint: '1' } }, members: {} };
    assert.equal(await store.compareAndSet('cas', 0, first), true);
    assert.equal(await store.compareAndSet('cas', 0, { shards: {}, members: { late: 1 } }), false, 'a second writer from version 0 loses');
    assert.deepEqual(await store.load('cas'), { version: 1, state: first });
    assert.deepEqual((await new FileCheckpointStore(dir).load('cas')).state, first, 'a new store instance reads the same');
  });

  it('loses no update when many writers of one process race', async () => {
    const store = new FileCheckpointStore(dir);
    const names = Array.from({ length: 30 }, (_, i) => `writer-${i}`);
    const conflicts = await Promise.all(names.map((name) => addMember(store, 'race', name)));
    const { version, state } = await store.load('race');
    assert.deepEqual(Object.keys(state.members).sort(), [...names].sort());
    assert.equal(version, names.length, 'one version per successful write');
    assert.ok(conflicts.some((count) => count > 0), 'the writers did conflict');
  });

  it('loses no update when processes race on one namespace', async () => {
    const store = new FileCheckpointStore(dir);
    await Promise.all([
      writerProcess(dir, 'processes', 'a', 25),
      writerProcess(dir, 'processes', 'b', 25),
      ...Array.from({ length: 25 }, (_, i) => addMember(store, 'processes', `local-${i}`)),
    ]);
    const { version, state } = await store.load('processes');
    assert.equal(Object.keys(state.members).length, 75);
    assert.equal(version, 75);
  });

  it('keeps a few versions, and refuses a writer whose version was cleaned up behind newer ones', async () => {
    const store = new FileCheckpointStore(dir, { keepVersions: 4 });
    for (let i = 0; i < 20; i++) await addMember(store, 'cleanup', `m-${i}`);
    const files = (await readdir(join(dir, 'cleanup'))).filter((name) => name.endsWith('.json'));
    assert.ok(files.length <= 5, `${files.length} versions kept`);
    assert.equal(await store.compareAndSet('cleanup', 3, { shards: {}, members: {} }), false);
    assert.equal(Object.keys((await store.load('cleanup')).state.members).length, 20);
  });

  it('keeps namespaces apart, whatever characters they hold', async () => {
    const store = new FileCheckpointStore(dir);
    await addMember(store, '..', 'dots');
    await addMember(store, 'a/b', 'slash');
    assert.deepEqual(Object.keys((await store.load('..')).state.members), ['dots']);
    assert.deepEqual(Object.keys((await store.load('a/b')).state.members), ['slash']);
    assert.equal((await store.load('a')).version, 0);
  });
});

describe('Runtime > bus > checkpoint store > leases', () => {
  let dir: string;
  let clock = 1_000_000;
  const now = () => clock;
  const leaseMs = 1_000;
  let namespace = 0;
  const pair = () => {
    const store = new FileCheckpointStore(dir);
    const group = `group-${namespace++}`;
    return [new ShardLeases(store, group, 'one', { leaseMs, now }), new ShardLeases(store, group, 'two', { leaseMs, now })] as const;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowsentry-leases-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('acquires a free lease, and refuses one another member holds', async () => {
    const [one, two] = pair();
    assert.deepEqual([...(await one.acquire(['s/0', 's/1'])).keys()], ['s/0', 's/1']);
    assert.deepEqual([...(await two.acquire(['s/0', 's/1', 's/2'])).keys()], ['s/2']);
    const state = await one.read();
    assert.equal(leaseHolder(state, 's/0', clock), 'one');
    assert.equal(leaseHolder(state, 's/2', clock), 'two');
  });

  it('renews the leases of a member that heartbeats, so they do not expire', async () => {
    const [one, two] = pair();
    await one.acquire(['s/0']);
    clock += leaseMs * 0.8;
    const state = await one.renew();
    assert.equal(state.members.one, clock + leaseMs);
    clock += leaseMs * 0.8;
    assert.equal((await two.acquire(['s/0'])).size, 0, 'still held after renewal');
  });

  it('lets another member take over an expired lease; the old owner can no longer checkpoint', async () => {
    const [one, two] = pair();
    await one.acquire(['s/0']);
    assert.equal(await one.checkpoint('s/0', '10'), true);
    clock += leaseMs + 1;
    assert.equal(leaseHolder(await one.read(), 's/0', clock), undefined, 'expired');
    const taken = await two.acquire(['s/0']);
    assert.equal(taken.get('s/0')?.checkpoint, '10', 'the new owner resumes at the checkpoint');
    assert.equal(await one.checkpoint('s/0', '11'), false);
    assert.equal((await one.renew()).shards['s/0']?.owner, 'two', 'renewing does not take it back');
    assert.equal(await two.checkpoint('s/0', '12'), true);
  });

  it('frees a released lease at once, keeping its checkpoint', async () => {
    const [one, two] = pair();
    await one.acquire(['s/0']);
    await one.checkpoint('s/0', '5');
    await two.release(['s/0']);
    assert.equal(leaseHolder(await one.read(), 's/0', clock), 'one', 'only the owner releases');
    await one.release(['s/0']);
    assert.equal((await two.acquire(['s/0'])).get('s/0')?.checkpoint, '5');
  });

  it('never leases a finished shard again', async () => {
    const [one, two] = pair();
    await one.acquire(['s/0']);
    assert.equal(await one.checkpoint('s/0', '9', true), true);
    await one.release(['s/0']);
    assert.equal((await two.acquire(['s/0'])).size, 0);
    assert.deepEqual((await two.read()).shards['s/0'], { checkpoint: '9', finished: true });
  });

  it('counts heartbeating members as live until they leave or expire', async () => {
    const [one, two] = pair();
    await one.renew();
    await two.renew();
    await two.acquire(['s/0']);
    assert.deepEqual(liveMembers(await one.read(), clock), ['one', 'two']);
    await two.leave();
    const state = await one.read();
    assert.deepEqual(liveMembers(state, clock), ['one']);
    assert.equal(leaseHolder(state, 's/0', clock), undefined, 'leaving releases');
    clock += leaseMs + 1;
    assert.deepEqual(liveMembers(await one.read(), clock), []);
    assert.deepEqual(Object.keys((await one.renew()).members), ['one'], 'expired members are forgotten');
  });

  it('gives each contested lease to exactly one of many racing members', async () => {
    const store = new FileCheckpointStore(dir);
    const members = Array.from({ length: 8 }, (_, i) => new ShardLeases(store, 'contested', `m-${i}`, { leaseMs, now }));
    const shards = ['s/0', 's/1', 's/2'];
    const won = await Promise.all(members.map((member) => member.acquire(shards)));
    const owners = won.flatMap((held, i) => [...held.keys()].map((shard) => `${shard}=${i}`));
    assert.equal(owners.length, shards.length, owners.join(' '));
    const state = await members[0]!.read();
    for (const entry of owners) {
      const [shard, index] = entry.split('=');
      assert.equal(state.shards[shard!]?.owner, `m-${index}`);
    }
  });
});
