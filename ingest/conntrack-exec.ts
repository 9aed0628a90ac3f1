/**
 * Process plumbing for the conntrack source: run a command (optionally inside a network
 * namespace with `ip netns exec`), capture its output, split it into lines, and tell when a
 * long-running `conntrack -E` has joined its netlink multicast group.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';

export type ConntrackErrorCode = 'CONNTRACK_COMMAND_FAILED' | 'CONNTRACK_ACCOUNTING_OFF' | 'CONNTRACK_EVENTS_NOT_READY' | 'CONNTRACK_CONFIG';

export class ConntrackSourceError extends Error {
  override readonly name = 'ConntrackSourceError';
  constructor(
    readonly code: ConntrackErrorCode,
    message: string,
    readonly retriable: boolean,
    readonly command?: readonly string[],
  ) {
    super(message);
  }
}

export interface CommandNames {
  readonly ip: string;
  readonly conntrack: string;
  readonly nft: string;
  readonly sysctl: string;
  readonly cat: string;
}

export const DEFAULT_COMMANDS: CommandNames = { ip: 'ip', conntrack: 'conntrack', nft: 'nft', sysctl: 'sysctl', cat: 'cat' };

/** The argv that runs `argv` in `netns` (or as is without one). */
export function inNetns(commands: CommandNames, netns: string | undefined, argv: readonly string[]): string[] {
  return netns === undefined ? [...argv] : [commands.ip, 'netns', 'exec', netns, ...argv];
}

/** Runs a command to completion and returns its stdout; rejects with its stderr when it fails or prints more than `maxBytes`. */
export function capture(argv: readonly string[], maxBytes = 512 * 2 ** 20): Promise<Buffer> {
  return new Promise((resolveRun, rejectRun) => {
    const [file, ...args] = argv;
    if (file === undefined) return rejectRun(new ConntrackSourceError('CONNTRACK_CONFIG', 'empty command', false));
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    let failure: ConntrackSourceError | null = null;
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        failure ??= new ConntrackSourceError('CONNTRACK_COMMAND_FAILED', `${argv.join(' ')} printed more than ${maxBytes} bytes`, false, argv);
        child.kill('SIGKILL');
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString('utf8');
    });
    child.on('error', (error) => {
      failure ??= new ConntrackSourceError('CONNTRACK_COMMAND_FAILED', `${argv.join(' ')}: ${error.message}`, false, argv);
    });
    child.on('close', (code, signal) => {
      if (failure) return rejectRun(failure);
      if (code !== 0) {
        const why = stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${code ?? signal}`;
        return rejectRun(new ConntrackSourceError('CONNTRACK_COMMAND_FAILED', `${argv.join(' ')} failed: ${why}`, true, argv));
      }
      resolveRun(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
  });
}

/** Calls `onLine` with the byte range of every non-empty line, numbered from 1. */
export function forEachLineRange(buffer: Buffer, onLine: (start: number, end: number, lineNumber: number) => void): void {
  let start = 0;
  let lineNumber = 0;
  while (start < buffer.length) {
    let end = buffer.indexOf(10, start);
    if (end < 0) end = buffer.length;
    lineNumber++;
    if (end > start) onLine(start, end, lineNumber);
    start = end + 1;
  }
}

/** Calls `onLine` for every non-empty line as text (latin1: conntrack prints ASCII), numbered from 1. */
export function forEachLine(buffer: Buffer, onLine: (line: string, lineNumber: number) => void): void {
  forEachLineRange(buffer, (start, end, lineNumber) => onLine(buffer.toString('latin1', start, end), lineNumber));
}

/** Splits a stream of chunks into lines, keeping an unfinished last line (bounded) for the next chunk. */
export class LineSplitter {
  private rest: Buffer | null = null;
  constructor(private readonly maxLine = 64 * 1024) {}

  push(chunk: Buffer, onLine: (line: string) => void): void {
    let data = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const end = data.indexOf(10, start);
      if (end < 0) break;
      if (end > start) onLine(data.toString('latin1', start, end));
      start = end + 1;
    }
    data = data.subarray(start);
    this.rest = data.length === 0 ? null : data.length > this.maxLine ? null : Buffer.from(data);
  }
}

/**
 * Whether process `pid` holds a NETLINK_NETFILTER socket subscribed to a multicast group, read
 * from /proc/<pid>/fd and /proc/<pid>/net/netlink (the table of the process's own namespace).
 */
export async function netlinkSubscribed(pid: number): Promise<boolean> {
  try {
    const fds = await readdir(`/proc/${pid}/fd`);
    const inodes = new Set<string>();
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match) inodes.add(match[1]!);
    }
    const table = await readFile(`/proc/${pid}/net/netlink`, 'utf8');
    for (const line of table.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
      if (cols.length >= 10 && cols[1] === '12' && !/^0+$/.test(cols[3]!) && inodes.has(cols[9]!)) return true;
    }
    return false;
  } catch {
    return false;
  }
}
