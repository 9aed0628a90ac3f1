import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { repoDir } from '../../services/paths.js';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The environment of a child process: the ops server on any free port unless the caller names
 * one, since many stage processes of the suite run at once and a fixed port would collide.
 */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, FLOWSENTRY_SERVER_PORT: env.FLOWSENTRY_SERVER_PORT ?? '0' };
}

/** Runs `flowsentry <args>` as a user would, in a child process. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['bin/flowsentry.js', ...args], { cwd: repoDir, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
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
export function stageProcess(args: readonly string[], env: NodeJS.ProcessEnv = process.env): StageProcess {
  const child = spawn(process.execPath, ['bin/flowsentry.js', ...args], { cwd: repoDir, env: childEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, stderr: () => stderr, exited };
}

/** One line of a process's JSON log. */
export interface LogLine {
  readonly time: string;
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly component: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** The JSON log lines of what a process said on stderr; a line that is not JSON is left out (`logLines` of a partial last line too). */
export function logLines(stderr: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const text of stderr.split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      // A line still being written.
    }
  }
  return lines;
}

/** Whether the component logged a message starting with `msg`. */
export function logged(stderr: string, component: string, msg: string): boolean {
  return logLines(stderr).some((line) => line.component === component && line.msg.startsWith(msg));
}

/** The metrics a stage logged as it stopped (Prometheus text), '' when it has not. */
export function stoppedMetrics(stderr: string, component?: string): string {
  const stopped = logLines(stderr).filter((line) => line.msg === 'stopped' && typeof line['metrics'] === 'string' && (component === undefined || line.component === component));
  return stopped.map((line) => line['metrics'] as string).join('\n');
}
