/**
 * A small routed dataplane in network namespaces, wired the way Calico wires pods: a "node"
 * namespace and pod namespaces joined by veth pairs, each pod with a /32 address, a link route
 * to the gateway 169.254.1.1 and a default route via it; the node side has proxy_arp on, a /32
 * route per pod through its veth, and forwarding on. The gateway address lives on the node
 * namespace's loopback (a real node answers it through its own default route).
 *
 * Nothing is created in the host namespace: veth pairs are created directly between the
 * test's namespaces, and every address is used only inside them. Deleting the namespaces
 * removes the veths, routes and nftables tables with them.
 *
 * Needs root and the `ip`, `nft`, `conntrack` commands (CI installs conntrack, nftables, iproute2).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { waitFor } from './wait.js';

export const NETNS_PREFIX = 'fsct';
const NAME = /^fsct-([0-9a-z]+)-[0-9a-f]{6}-(node|pod\d+)$/;

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv, optionally feeding `input` on stdin; never throws for a non-zero exit. */
export function run(argv: readonly string[], input?: string): Promise<CommandResult> {
  return new Promise((resolveRun) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', (error) => resolveRun({ code: -1, stdout, stderr: `${stderr}${error.message}` }));
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Runs argv and returns stdout; throws with the command and its stderr when it fails. */
export async function must(argv: readonly string[], input?: string): Promise<string> {
  const result = await run(argv, input);
  if (result.code !== 0) throw new Error(`${argv.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}

export const inNs = (ns: string, argv: readonly string[]): string[] => ['ip', 'netns', 'exec', ns, ...argv];

/** Fails with a clear message when this process cannot create namespaces or lacks the tools. */
export async function assertNetnsCapable(): Promise<void> {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) throw new Error(`the conntrack dataplane test needs root (uid is ${uid}): it creates network namespaces; CI runs it as root`);
  for (const tool of ['ip', 'nft', 'conntrack']) {
    const found = await run(['sh', '-c', `command -v ${tool}`]);
    if (found.code !== 0) throw new Error(`the conntrack dataplane test needs '${tool}' (apt-get install conntrack nftables iproute2; .ci/run installs them)`);
  }
  const probe = `${NETNS_PREFIX}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}-node`;
  const added = await run(['ip', 'netns', 'add', probe]);
  await run(['ip', 'netns', 'del', probe]);
  if (added.code !== 0) throw new Error(`'ip netns add' is not permitted here: ${added.stderr.trim()}`);
}

/** Deletes namespaces this helper created in an earlier run that did not clean up (older than `olderThanMs`). */
export async function removeStaleNamespaces(olderThanMs = 10 * 60_000): Promise<string[]> {
  const listed = await must(['ip', 'netns', 'list']);
  const removed: string[] = [];
  for (const line of listed.split('\n')) {
    const name = line.trim().split(/\s+/)[0] ?? '';
    const match = NAME.exec(name);
    if (!match || Date.now() - parseInt(match[1]!, 36) < olderThanMs) continue;
    await run(['ip', 'netns', 'del', name]);
    removed.push(name);
  }
  return removed;
}

export interface Pod {
  readonly ns: string;
  readonly ip: string;
  /** The node-side end of its veth pair. */
  readonly veth: string;
}

export interface Dataplane {
  readonly prefix: string;
  readonly node: string;
  readonly pods: readonly Pod[];
  readonly gateway: string;
  /** Runs argv inside `ns`; throws on failure. */
  exec(ns: string, argv: readonly string[], input?: string): Promise<string>;
  sysctl(ns: string, key: string, value: string | number): Promise<void>;
  /** Loads an nftables ruleset (text) inside `ns`. */
  nft(ns: string, ruleset: string): Promise<void>;
  destroy(): Promise<void>;
}

export interface DataplaneOptions {
  readonly pods: number;
  /** First three octets of the pod addresses; pod i gets <subnet>.i/32. */
  readonly subnet?: string;
}

export async function createDataplane({ pods: count, subnet = '10.213.0' }: DataplaneOptions): Promise<Dataplane> {
  const tag = randomBytes(3).toString('hex');
  const prefix = `${NETNS_PREFIX}-${Date.now().toString(36)}-${tag}`;
  const node = `${prefix}-node`;
  const gateway = '169.254.1.1';
  const created: string[] = [];
  const exec = (ns: string, argv: readonly string[], input?: string) => must(inNs(ns, argv), input);
  const sysctl = async (ns: string, key: string, value: string | number) => {
    await exec(ns, ['sh', '-c', 'echo "$1" > "$2"', 'sysctl', String(value), `/proc/sys/${key.replaceAll('.', '/')}`]);
  };
  const destroy = async () => {
    for (const ns of created.splice(0).reverse()) await run(['ip', 'netns', 'del', ns]);
  };
  const pods: Pod[] = [];
  try {
    await must(['ip', 'netns', 'add', node]);
    created.push(node);
    await must(['ip', '-n', node, 'link', 'set', 'lo', 'up']);
    await must(['ip', '-n', node, 'addr', 'add', `${gateway}/32`, 'dev', 'lo']);
    await sysctl(node, 'net.ipv4.ip_forward', 1);
    for (let i = 1; i <= count; i++) {
      const ns = `${prefix}-pod${i}`;
      const veth = `fs${tag}p${i}`;
      const ip = `${subnet}.${i}`;
      await must(['ip', 'netns', 'add', ns]);
      created.push(ns);
      await must(['ip', '-n', node, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await sysctl(node, `net.ipv4.conf.${veth}.proxy_arp`, 1);
      await must(['ip', '-n', node, 'link', 'set', veth, 'up']);
      await must(['ip', '-n', node, 'route', 'add', `${ip}/32`, 'dev', veth]);
      await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      await must(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      await must(['ip', '-n', ns, 'addr', 'add', `${ip}/32`, 'dev', 'eth0']);
      await must(['ip', '-n', ns, 'route', 'add', gateway, 'dev', 'eth0', 'scope', 'link']);
      await must(['ip', '-n', ns, 'route', 'add', 'default', 'via', gateway, 'dev', 'eth0']);
      pods.push({ ns, ip, veth });
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    prefix,
    node,
    pods,
    gateway,
    exec,
    sysctl,
    nft: async (ns, ruleset) => {
      await exec(ns, ['nft', '-f', '-'], ruleset);
    },
    destroy,
  };
}

/** A long-running Node script inside a namespace; its stdout lines are kept. */
export class NetnsScript {
  readonly lines: string[] = [];
  private constructor(private readonly child: ReturnType<typeof spawn>) {}

  /** Starts `script` (CommonJS, `node -e`) in `ns` and waits until it prints `ready`. */
  static async start(ns: string, script: string, args: readonly string[] = []): Promise<NetnsScript> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const self = new NetnsScript(child);
    let rest = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = rest + chunk.toString('utf8');
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      self.lines.push(...parts.filter((line) => line.length > 0));
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`script in ${ns} exited: ${stderr.trim()}`);
        return self.lines.includes('ready');
      },
      { timeoutMs: 15_000, intervalMs: 20, description: `a script in ${ns} to print ready` },
    ).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    return self;
  }

  /** The JSON objects printed so far (lines other than `ready`). */
  records<T>(): T[] {
    return this.lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as T);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const closed = new Promise<void>((resolveClose) => this.child.once('close', () => resolveClose()));
    this.child.kill('SIGTERM');
    await closed;
  }
}

/** Runs a short Node script inside a namespace to completion and returns the JSON it prints last. */
export async function runScript<T>(ns: string, script: string, args: readonly string[] = []): Promise<T> {
  const out = await must(inNs(ns, [process.execPath, '-e', script, ...args]));
  const last = out.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}
