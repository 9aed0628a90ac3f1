/**
 * The conntrack source against the real kernel: a Calico-style routed dataplane in network
 * namespaces (test/support/netns.ts), TCP and UDP traffic of known sizes between pods, an
 * nftables reject rule standing in for a deny policy, and the collector reading the node
 * namespace's connection table. Needs root and ip/nft/conntrack: without them it fails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { denySetDeclaration, denyUpdateStatement } from '../../ingest/conntrack-deny.js';
import { ConntrackSource } from '../../ingest/conntrack-source.js';
import { ManualTicker } from '../../ingest/conntrack-ticks.js';
import type { SourceBatch } from '../../ingest/source.js';
import { codecFor } from '../../schemas/codec.js';
import type { RawFlow } from '../../schemas/types.js';
import { assertNetnsCapable, createDataplane, type Dataplane, must, NetnsScript, removeStaleNamespaces, runScript } from '../support/netns.js';
import { waitFor } from '../support/wait.js';

const SERVER = `
const net = require('net'), dgram = require('dgram');
const tcp = net.createServer((s) => {
  let n = 0;
  s.on('data', (d) => (n += d.length));
  s.on('end', () => { s.end('ok:' + n); console.log(JSON.stringify({ tcp: n, port: s.remotePort })); });
  s.on('error', () => {});
});
const udp = dgram.createSocket('udp4');
udp.on('message', (m, r) => udp.send(Buffer.alloc(10, 1), r.port, r.address));
let up = 0;
const ready = () => { if (++up === 2) console.log('ready'); };
tcp.listen(8080, ready);
udp.bind(9090, ready);
process.on('SIGTERM', () => process.exit(0));
`;

const TCP_CLIENT = `
const [host, port, size] = process.argv.slice(1);
let sport = 0, reply = '';
const s = require('net').connect(Number(port), host, () => { sport = s.localPort; s.end(Buffer.alloc(Number(size), 7)); });
s.on('data', (d) => (reply += d));
s.on('close', () => console.log(JSON.stringify({ sport, reply })));
`;

const UDP_CLIENT = `
const [host, port, size, count] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
const u = require('dgram').createSocket('udp4');
let replies = 0;
const send = () => u.send(Buffer.alloc(size, 3), port, host);
u.on('message', () => { if (++replies === count) { console.log(JSON.stringify({ sport: u.address().port, replies })); u.close(); } else send(); });
u.bind(0, send);
setTimeout(() => { console.log(JSON.stringify({ sport: u.address().port, replies })); process.exit(1); }, 10000).unref();
`;

const REFUSED_CLIENT = `
const [host, port, count] = process.argv.slice(1);
let refused = 0, other = 0, done = 0;
const attempt = () => {
  const s = require('net').connect(Number(port), host);
  s.on('connect', () => { other++; s.destroy(); next(); });
  s.on('error', (e) => { if (e.code === 'ECONNREFUSED') refused++; else other++; next(); });
};
const next = () => { if (++done === Number(count)) console.log(JSON.stringify({ refused, other })); else attempt(); };
attempt();
`;

const TCP_OVERHEAD = { min: 40, max: 120 };
const MSS_MIN = 536;

function between(value: number, low: number, high: number, what: string): void {
  assert.ok(value >= low && value <= high, `${what} = ${value}, expected ${low}..${high}`);
}

describe('Ingest > conntrack > dataplane (root, network namespaces)', () => {
  let dp: Dataplane;
  let server: NetnsScript | undefined;
  let source: ConntrackSource;
  const ticker = new ManualTicker();
  let batches: AsyncIterator<SourceBatch<number>>;
  const seen: RawFlow[] = [];
  const codec = codecFor('RawFlow');
  let pod1: string, pod2: string, pod3: string;

  /** Ends the open interval and returns its batch (every record must encode). */
  async function nextBatch(): Promise<SourceBatch<number>> {
    const pending = batches.next();
    ticker.tick();
    const result = await pending;
    assert.equal(result.done, false, 'the source ended early');
    for (const flow of result.value.flows) codec.encode(flow);
    assert.deepEqual(result.value.problems, []);
    seen.push(...result.value.flows);
    return result.value;
  }

  before(async () => {
    await assertNetnsCapable();
    await removeStaleNamespaces();
    dp = await createDataplane({ pods: 3 });
    [pod1, pod2, pod3] = dp.pods.map((pod) => pod.ip) as [string, string, string];
    await dp.sysctl(dp.node, 'net.netfilter.nf_conntrack_acct', 1);
    const denySet = { family: 'ip' as const, set: 'denied' };
    await dp.nft(
      dp.node,
      `table inet fsflows {
        counter denied_total {}
        ${denySetDeclaration({ ...denySet, size: 1024, timeoutSeconds: 600 })}
        chain forward {
          type filter hook forward priority filter; policy accept;
          ip saddr ${pod1} ip daddr ${pod3} tcp dport 7070 ${denyUpdateStatement(denySet)}
          ip saddr ${pod1} ip daddr ${pod3} tcp dport 7070 counter name denied_total reject with tcp reset
          ct state established,related accept
        }
      }`,
    );
    assert.equal((await dp.exec(dp.node, ['cat', '/proc/sys/net/netfilter/nf_conntrack_acct'])).trim(), '1', 'accounting on in the node namespace');
    server = await NetnsScript.start(dp.pods[1]!.ns, SERVER);
    source = new ConntrackSource({
      host: 'node-a',
      local: dp.pods.map((pod) => pod.ip),
      netns: dp.node,
      ticker,
      level: 'tuple',
      deny: { family: 'inet', table: 'fsflows', set: 'denied', counter: 'denied_total' },
    });
    batches = source.batches()[Symbol.asyncIterator]();
    const baseline = await nextBatch();
    assert.deepEqual(baseline.flows, [], 'the first poll is a baseline');
  });

  after(async () => {
    await source?.close().catch(() => undefined);
    await batches?.return?.(undefined).catch(() => undefined);
    await server?.stop().catch(() => undefined);
    if (dp) {
      const prefix = dp.prefix;
      await dp.destroy();
      const left = await must(['ip', 'netns', 'list']);
      assert.ok(!left.includes(prefix), `namespaces ${prefix}-* are gone`);
    }
  });

  it('reports a closed TCP connection from both pods, with bytes and packets within the known amounts', async () => {
    const payload = 10_000;
    const client = await runScript<{ sport: number; reply: string }>(dp.pods[0]!.ns, TCP_CLIENT, [pod2, '8080', String(payload)]);
    assert.equal(client.reply, `ok:${payload}`);
    // the last ACK has crossed the node: the kernel entry is in TIME_WAIT
    await waitFor(async () => (await dp.exec(dp.node, ['conntrack', '-L', '-p', 'tcp', '--sport', String(client.sport)])).includes('TIME_WAIT'), {
      description: 'the connection to reach TIME_WAIT',
    });
    const { flows } = await nextBatch();
    const mine = flows.filter((f) => f.proto === 6 && f.source_port === client.sport);
    assert.deepEqual(mine.map((f) => f.reporter).sort(), ['dst', 'src'], 'both ends are local: one record per reporter');
    const src = mine.find((f) => f.reporter === 'src')!;
    const dst = mine.find((f) => f.reporter === 'dst')!;
    for (const f of mine) {
      assert.equal(f.origin, 'conntrack');
      assert.equal(f.host, 'node-a');
      assert.equal(f.action, 'allow');
      assert.deepEqual([f.source_ip, f.dest_ip, f.dest_port], [pod1, pod2, 8080]);
      assert.deepEqual([f.num_flows, f.num_flows_started, f.num_flows_completed], [1, 1, 1]);
    }
    between(src.packets_out, 3, Math.ceil(payload / MSS_MIN) + 10, 'packets_out');
    between(src.bytes_out, payload + src.packets_out * TCP_OVERHEAD.min, payload + src.packets_out * TCP_OVERHEAD.max, 'bytes_out');
    const replyLength = client.reply.length;
    between(src.packets_in, 2, Math.ceil(payload / MSS_MIN) + 10, 'packets_in');
    between(src.bytes_in, replyLength + src.packets_in * TCP_OVERHEAD.min, replyLength + src.packets_in * TCP_OVERHEAD.max, 'bytes_in');
    assert.deepEqual([dst.bytes_in, dst.bytes_out, dst.packets_in, dst.packets_out], [src.bytes_out, src.bytes_in, src.packets_out, src.packets_in]);
    assert.ok(server!.records<{ tcp: number; port: number }>().some((r) => r.port === client.sport && r.tcp === payload));
  });

  it('reports UDP datagrams exactly: count and size known, the flow still open', async () => {
    const size = 200;
    const count = 5;
    const client = await runScript<{ sport: number; replies: number }>(dp.pods[0]!.ns, UDP_CLIENT, [pod2, '9090', String(size), String(count)]);
    assert.equal(client.replies, count);
    const { flows } = await nextBatch();
    const src = flows.find((f) => f.proto === 17 && f.source_port === client.sport && f.reporter === 'src');
    assert.ok(src, 'a src record for the UDP flow');
    assert.deepEqual([src.source_ip, src.dest_ip, src.dest_port], [pod1, pod2, 9090]);
    assert.deepEqual([src.packets_out, src.bytes_out], [count, count * (size + 28)]);
    assert.deepEqual([src.packets_in, src.bytes_in], [count, count * (10 + 28)]);
    assert.deepEqual([src.num_flows, src.num_flows_started, src.num_flows_completed], [1, 1, 0]);
    const dst = flows.find((f) => f.proto === 17 && f.source_port === client.sport && f.reporter === 'dst');
    assert.deepEqual([dst?.packets_in, dst?.bytes_out], [count, count * 38]);
  });

  it('reports a connection that opened and closed between two polls, from its DESTROY event', async () => {
    await dp.sysctl(dp.node, 'net.netfilter.nf_conntrack_tcp_timeout_time_wait', 1);
    const before = source.stats().collector!.connections.destroyedUnseen;
    const payload = 3_000;
    const client = await runScript<{ sport: number; reply: string }>(dp.pods[0]!.ns, TCP_CLIENT, [pod2, '8080', String(payload)]);
    // no poll runs until the kernel has expired the entry (a listing reaps expired entries, which sends DESTROY)
    await waitFor(async () => !(await dp.exec(dp.node, ['conntrack', '-L', '-p', 'tcp', '--sport', String(client.sport)])).includes(`sport=${client.sport}`), {
      description: 'the short connection to leave the table',
    });
    const found = await waitFor(
      async () => {
        await nextBatch();
        const mine = seen.filter((f) => f.proto === 6 && f.source_port === client.sport);
        return mine.length === 2 ? mine : undefined;
      },
      { description: 'records of the short connection', intervalMs: 50 },
    );
    assert.ok(source.stats().collector!.connections.destroyedUnseen > before, 'it came from a DESTROY event');
    const src = found.find((f) => f.reporter === 'src')!;
    assert.deepEqual([src.num_flows, src.num_flows_started, src.num_flows_completed], [1, 1, 1]);
    between(src.packets_out, 3, Math.ceil(payload / MSS_MIN) + 10, 'packets_out');
    between(src.bytes_out, payload + src.packets_out * TCP_OVERHEAD.min, payload + src.packets_out * TCP_OVERHEAD.max, 'bytes_out');
    await dp.sysctl(dp.node, 'net.netfilter.nf_conntrack_tcp_timeout_time_wait', 120);
  });

  it('reports attempts rejected by an nftables rule as deny records', async () => {
    const attempts = 3;
    const client = await runScript<{ refused: number; other: number }>(dp.pods[0]!.ns, REFUSED_CLIENT, [pod3, '7070', String(attempts)]);
    assert.deepEqual(client, { refused: attempts, other: 0 });
    const { flows } = await nextBatch();
    const denied = flows.filter((f) => f.action === 'deny');
    assert.deepEqual(denied.map((f) => f.reporter).sort(), ['dst', 'src']);
    const src = denied.find((f) => f.reporter === 'src')!;
    assert.deepEqual([src.source_ip, src.source_port, src.dest_ip, src.dest_port, src.proto], [pod1, null, pod3, 7070, 6]);
    assert.equal(src.packets_out, attempts, 'one SYN per refused attempt');
    between(src.bytes_out, attempts * 40, attempts * 80, 'bytes_out');
    assert.deepEqual([src.num_flows, src.num_flows_started, src.num_flows_completed], [1, 1, 1]);
    const dst = denied.find((f) => f.reporter === 'dst')!;
    assert.deepEqual([dst.packets_in, dst.bytes_in, dst.packets_out], [src.packets_out, src.bytes_out, 0]);
    assert.equal(seen.filter((f) => f.action === 'allow' && f.dest_port === 7070).length, 0, 'no allow record for the denied port');
    assert.equal(source.stats().collector!.denyUnattributedPackets, 0);
  });

  it('flushes the open interval on close and ends', async () => {
    const client = await runScript<{ sport: number; replies: number }>(dp.pods[0]!.ns, UDP_CLIENT, [pod2, '9090', '64', '2']);
    const pending = batches.next();
    await source.close();
    const last = await pending;
    assert.equal(last.done, false);
    assert.ok(last.value.flows.some((f) => f.proto === 17 && f.source_port === client.sport && f.packets_out === 2));
    assert.equal((await batches.next()).done, true);
  });
});
