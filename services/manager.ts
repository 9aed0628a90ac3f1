import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheRoot, repoDir } from './paths.js';
import type { ServiceContext, ServiceDefinition } from './service.js';

export interface ServiceStatus {
  readonly name: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly ready: boolean;
  readonly logFile: string;
}

export interface UpResult {
  readonly name: string;
  /** False when the service was already up and this call left it alone. */
  readonly started: boolean;
  readonly seconds: number;
}

const readyTimeoutMs = Number(process.env.FLOWSENTRY_SERVICE_READY_TIMEOUT_MS ?? 180_000);
const pollMs = 250;

function contextFor(service: ServiceDefinition, log: (line: string) => void): ServiceContext {
  const root = cacheRoot();
  return {
    cacheDir: join(root, service.name),
    runDir: join(root, 'run', service.name),
    repoDir,
    log: (message) => log(`[${service.name}] ${message}`),
  };
}

const pidFile = (ctx: ServiceContext) => join(ctx.runDir, 'pid');
const logFile = (ctx: ServiceContext) => join(ctx.runDir, 'service.log');

async function readPid(ctx: ServiceContext): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidFile(ctx), 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function tail(file: string, lines = 40): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitUntilReady(service: ServiceDefinition, ctx: ServiceContext, pid: number): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    if (await service.isReady()) return;
    if (!isAlive(pid)) {
      throw new Error(`${service.name} exited before it was ready; log ${logFile(ctx)}:\n${await tail(logFile(ctx))}`);
    }
    await new Promise((resolveTimer) => setTimeout(resolveTimer, pollMs));
  }
  throw new Error(
    `${service.name} not ready after ${readyTimeoutMs / 1000}s; log ${logFile(ctx)}:\n${await tail(logFile(ctx))}`,
  );
}

async function start(service: ServiceDefinition, ctx: ServiceContext): Promise<number> {
  if (await service.isReady()) {
    throw new Error(`${service.name}: something not started by this script already answers on its port`);
  }
  await rm(ctx.runDir, { recursive: true, force: true });
  await mkdir(ctx.runDir, { recursive: true });
  const launch = await service.prepare(ctx);
  const out = openSync(logFile(ctx), 'a');
  try {
    const child = spawn(launch.command, launch.args, {
      cwd: launch.cwd ?? ctx.runDir,
      env: { ...process.env, ...launch.env },
      stdio: ['ignore', out, out],
      detached: true,
    });
    const pid = await new Promise<number>((resolvePid, reject) => {
      child.once('spawn', () => resolvePid(child.pid as number));
      child.once('error', (error) => reject(new Error(`${service.name}: cannot start ${launch.command}: ${error.message}`)));
    });
    child.unref();
    await writeFile(pidFile(ctx), String(pid));
    return pid;
  } finally {
    closeSync(out);
  }
}

/**
 * Installs (one at a time, since they share the Maven and pip caches) and starts each service,
 * starting each as soon as its own install is done, then waits until all are ready.
 * Services that are already up are left alone. On failure, the services this call started are stopped.
 */
export async function up(services: readonly ServiceDefinition[], log: (line: string) => void): Promise<UpResult[]> {
  let installs: Promise<void> = Promise.resolve();
  const started: ServiceDefinition[] = [];
  const results = services.map(async (service): Promise<UpResult> => {
    const ctx = contextFor(service, log);
    const began = Date.now();
    const existing = await readPid(ctx);
    if (existing !== undefined && isAlive(existing)) {
      await waitUntilReady(service, ctx, existing);
      return { name: service.name, started: false, seconds: (Date.now() - began) / 1000 };
    }
    const install = installs.then(() => service.install(ctx));
    installs = install.catch(() => undefined);
    await mkdir(ctx.cacheDir, { recursive: true });
    await install;
    const startedAt = Date.now();
    const pid = await start(service, ctx);
    started.push(service);
    ctx.log(`started (pid ${pid}), waiting until ready`);
    await waitUntilReady(service, ctx, pid);
    await service.afterReady?.(ctx);
    const seconds = (Date.now() - startedAt) / 1000;
    ctx.log(`ready in ${seconds.toFixed(1)}s`);
    return { name: service.name, started: true, seconds };
  });
  const settled = await Promise.allSettled(results);
  const failures = settled.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []));
  if (failures.length > 0) {
    await down(started, log);
    throw new Error(failures.map((error) => error.message).join('\n\n'));
  }
  return settled.map((result) => (result as PromiseFulfilledResult<UpResult>).value);
}

async function stopProcessGroup(pid: number, graceMs: number): Promise<void> {
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };
  signalGroup('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) {
    await new Promise((resolveTimer) => setTimeout(resolveTimer, 100));
  }
  signalGroup('SIGKILL');
  while (isAlive(pid)) await new Promise((resolveTimer) => setTimeout(resolveTimer, 50));
}

/** Stops each service started by this script; its run directory (data and log) stays for inspection. */
export async function down(services: readonly ServiceDefinition[], log: (line: string) => void): Promise<void> {
  await Promise.all(
    services.map(async (service) => {
      const ctx = contextFor(service, log);
      const pid = await readPid(ctx);
      if (pid !== undefined && isAlive(pid)) {
        await stopProcessGroup(pid, 20_000);
        ctx.log(`stopped (pid ${pid})`);
      }
      if (existsSync(pidFile(ctx))) await rm(pidFile(ctx));
    }),
  );
}

export async function status(services: readonly ServiceDefinition[]): Promise<ServiceStatus[]> {
  return Promise.all(
    services.map(async (service) => {
      const ctx = contextFor(service, () => undefined);
      const pid = await readPid(ctx);
      const running = pid !== undefined && isAlive(pid);
      return { name: service.name, pid, running, ready: running && (await service.isReady()), logFile: logFile(ctx) };
    }),
  );
}
