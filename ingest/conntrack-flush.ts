/**
 * Deletes the kernel's connection-tracking entries of one address, so that the next packet of a
 * connection that is already open is evaluated as new, and meets the policy.
 *
 * Why: dataplanes (Calico, Cilium's iptables mode, kube-router, any nftables ruleset) accept the
 * packets of an established connection before they look at policy, so a deny policy put on a
 * quarantined pod stops new connections only. Once the entry is gone, the next packet either
 * creates a new entry (TCP mid-stream pickup, UDP) that the policy drops, or is dropped as
 * invalid; either way the connection carries nothing more.
 *
 * One `conntrack -D` per direction of the address: original source, original destination, reply
 * source and reply destination. The reply side catches flows whose original tuple no longer
 * names the pod: DNAT to it (a Service) and SNAT from it (masquerade to the outside). Filters of
 * one invocation are ANDed, hence four; they run one after the other, so an entry matched by
 * two of them is deleted (and counted) once.
 *
 * `conntrack -D` prints each deleted entry on stdout (ignored here) and
 * `conntrack v1.4.7 (conntrack-tools): N flow entries have been deleted.` on stderr, and exits 1
 * when N is 0: nothing to delete is not an error.
 */
import { spawn } from 'node:child_process';
import { isIP } from 'node:net';
import { type CommandNames, DEFAULT_COMMANDS, inNetns } from './conntrack-exec.js';

export type ConntrackFlushErrorCode =
  /** Not an IPv4 or IPv6 address: never retried. */
  | 'CONNTRACK_FLUSH_BAD_ADDRESS'
  /** The process may not change the table (no CAP_NET_ADMIN): a deployment problem, not retried. */
  | 'CONNTRACK_FLUSH_NOT_PERMITTED'
  /** The command is missing, or refused its arguments (exit 2): not retried. */
  | 'CONNTRACK_FLUSH_COMMAND'
  /** conntrack failed otherwise (netlink error, a namespace that is not there yet): retried. */
  | 'CONNTRACK_FLUSH_FAILED'
  /** conntrack did not finish in time and was killed: retried. */
  | 'CONNTRACK_FLUSH_TIMEOUT'
  /** conntrack succeeded but did not say how many entries it deleted: not retried. */
  | 'CONNTRACK_FLUSH_UNEXPECTED_OUTPUT';

export class ConntrackFlushError extends Error {
  override readonly name = 'ConntrackFlushError';
  constructor(
    readonly code: ConntrackFlushErrorCode,
    message: string,
    readonly retriable: boolean,
    readonly command?: readonly string[],
  ) {
    super(message);
  }
}

/** The four places an address can hold in a conntrack entry, as `conntrack` options. */
export const FLUSH_DIRECTIONS = ['--orig-src', '--orig-dst', '--reply-src', '--reply-dst'] as const;

/** The argv of each `conntrack -D` that deletes the entries of `address`, in order. */
export function flushCommands(address: string, commands: CommandNames = DEFAULT_COMMANDS, netns?: string): string[][] {
  const version = isIP(address);
  if (version === 0) throw new ConntrackFlushError('CONNTRACK_FLUSH_BAD_ADDRESS', `'${address}' is not an IPv4 or IPv6 address`, false);
  const family = version === 4 ? 'ipv4' : 'ipv6';
  return FLUSH_DIRECTIONS.map((direction) => inNetns(commands, netns, [commands.conntrack, '-D', '-f', family, direction, address]));
}

const DELETED = /(\d+) flow entries have been deleted/g;

/**
 * How many entries one `conntrack -D` deleted, from its exit code and stderr; throws a
 * ConntrackFlushError when it failed. Exit 1 with a count (always 0) means nothing matched.
 */
export function parseDeleteOutput(exitCode: number | null, stderr: string, command: readonly string[] = []): number {
  const counts = [...stderr.matchAll(DELETED)];
  const last = counts.at(-1);
  if ((exitCode === 0 || exitCode === 1) && last) return Number(last[1]);
  const why = stderr.trim().split('\n').slice(-2).join(' / ') || `exit ${exitCode}`;
  const what = `${command.join(' ')}: ${why}`;
  if (exitCode === 0) throw new ConntrackFlushError('CONNTRACK_FLUSH_UNEXPECTED_OUTPUT', `${what} (no "flow entries have been deleted" line)`, false, command);
  if (/must be root|CAP_NET_ADMIN|Operation not permitted/i.test(stderr)) throw new ConntrackFlushError('CONNTRACK_FLUSH_NOT_PERMITTED', what, false, command);
  if (exitCode === 2) throw new ConntrackFlushError('CONNTRACK_FLUSH_COMMAND', what, false, command);
  throw new ConntrackFlushError('CONNTRACK_FLUSH_FAILED', what, true, command);
}

export interface ConntrackFlushOptions {
  /** Network namespace whose table is changed (`ip netns exec`); default: the process's own. */
  readonly netns?: string;
  readonly commands?: CommandNames;
  /** Longest one command may take before it is killed; default 10 s. */
  readonly timeoutMs?: number;
}

/** Deletes every conntrack entry that names `address`, in either direction; returns how many there were. */
export async function flushConntrackAddress(address: string, options: ConntrackFlushOptions = {}): Promise<number> {
  let deleted = 0;
  for (const argv of flushCommands(address, options.commands, options.netns)) {
    const { code, stderr } = await runCommand(argv, options.timeoutMs ?? 10_000);
    deleted += parseDeleteOutput(code, stderr, argv);
  }
  return deleted;
}

/** Runs argv with stdout discarded; resolves with its exit code and the end of its stderr. */
function runCommand(argv: readonly string[], timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolveRun, rejectRun) => {
    const [file, ...args] = argv;
    const child = spawn(file!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let failure: ConntrackFlushError | null = null;
    const timer = setTimeout(() => {
      failure ??= new ConntrackFlushError('CONNTRACK_FLUSH_TIMEOUT', `${argv.join(' ')} did not finish within ${timeoutMs} ms`, true, argv);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4096);
    });
    child.on('error', (error) => {
      failure ??= new ConntrackFlushError('CONNTRACK_FLUSH_COMMAND', `${argv.join(' ')}: ${error.message}`, false, argv);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failure) rejectRun(failure);
      else resolveRun({ code, stderr });
    });
  });
}
