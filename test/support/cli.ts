import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { repoDir } from '../../services/paths.js';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `flowsentry <args>` as a user would, in a child process. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['bin/flowsentry.js', ...args], { cwd: repoDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

export interface StageProcess {
  readonly child: ChildProcess;
  /** What it said on stderr so far. */
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

/** A stage as its own long-running process (`flowsentry <args>`), with what it says on stderr. */
export function stageProcess(args: readonly string[]): StageProcess {
  const child = spawn(process.execPath, ['bin/flowsentry.js', ...args], { cwd: repoDir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, stderr: () => stderr, exited };
}
