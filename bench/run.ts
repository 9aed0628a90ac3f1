/**
 * `npm run bench`: every benchmark in turn, each as a child process of its own, then a summary:
 * each bench's outcome and duration, and one line per figure of every results JSON written in
 * this run (with its baseline and ratio where it has one). Exits 1 when a bench failed, after
 * running the others. `npm run bench -- <name> [args]` runs one bench, with its arguments.
 *
 * Which files are benches: `bench/<name>.ts`, except
 * - the helper modules listed in `helpers` (this runner, report.ts, measure.ts);
 * - anything in a subdirectory (`bench/support/` holds helpers; `bench/results/` the results);
 * - a file that another bench imports (`from './<name>.js'`), unless it also runs itself when
 *   started as the main module (the `pathToFileURL(process.argv[1])` guard of schemas.ts).
 *
 * Services: a bench needs a service when its source names one of the service's environment
 * variables (KAFKA_BROKERS, OPENSEARCH_URL, AWS_ENDPOINT_URL, KUBERNETES_URL, ...: `env` in
 * services/<name>/service.ts). Those the environment does not point to are started through the
 * services manager before the first bench — as `npm test` does — and stopped after the last one;
 * each bench gets their endpoints in its environment. A service that was already up (started by
 * `npm run services -- up`) is used and left running. The summary says where each came from.
 *
 * What a bench wrote: the results files `report()` names in the log the bench is given
 * (FLOWSENTRY_BENCH_RESULTS_LOG), so results written meanwhile by anyone else are not taken for
 * its own; for a bench that writes without `report()`, `results/<name>.json` if it changed.
 *
 * A bench fails when it exits non-zero, is killed, or runs longer than `benchTimeoutMs`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { down, up } from '../services/manager.js';
import { allServices, servicesMissingFrom } from '../services/registry.js';
import type { ServiceDefinition } from '../services/service.js';
import { formatFigure, machine, type Figure } from './report.js';

const dir = fileURLToPath(new URL('.', import.meta.url));
const resultsDir = join(dir, 'results');
/** Modules of bench/ that are not benches. */
const helpers = new Set(['run', 'report', 'measure']);
/** Longest one bench may run before it is stopped and counted as failed. */
const benchTimeoutMs = 30 * 60_000;

const log = (line: string) => console.error(`# ${line}`);

/** Every bench in bench/, by name, sorted. */
function findBenches(): string[] {
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => entry.name.slice(0, -3))
    .filter((name) => !helpers.has(name));
  const source = new Map(names.map((name) => [name, readFileSync(join(dir, `${name}.ts`), 'utf8')]));
  const imported = new Set<string>();
  for (const text of source.values()) {
    for (const match of text.matchAll(/from\s+['"]\.\/([\w.-]+)\.js['"]/g)) imported.add(match[1]!);
  }
  const runsItself = (text: string) => /pathToFileURL\(\s*process\.argv\[1\]/.test(text);
  return names.filter((name) => !imported.has(name) || runsItself(source.get(name)!)).sort();
}

/** The services a bench names an environment variable of. */
function servicesOf(bench: string): ServiceDefinition[] {
  const text = readFileSync(join(dir, `${bench}.ts`), 'utf8');
  return allServices.filter((service) => Object.keys(service.env).some((variable) => new RegExp(`\\b${variable}\\b`).test(text)));
}

const duration = (ms: number) => {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m ${String(Math.round(seconds - minutes * 60)).padStart(2, '0')}s`;
};

const modified = (file: string) => (existsSync(file) ? statSync(file).mtimeMs : undefined);

interface Written {
  readonly file: string;
  readonly bench: string;
  readonly figures: readonly Figure[];
}

interface Outcome {
  readonly bench: string;
  readonly ok: boolean;
  /** Why it failed: `exit 1`, `killed by SIGKILL`, `timed out`, `needs kafka, which did not start`. */
  readonly failure?: string;
  /** The bench's exit code, when it exited. */
  readonly code?: number;
  readonly ms: number;
  /** The machine's 1-minute load average as the bench ended: on a shared machine, how busy others kept it. */
  readonly load: number;
  readonly written: readonly Written[];
}

/** The process group of the bench running now (benches start processes of their own). */
let running: number | undefined;

function runBench(bench: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Omit<Outcome, 'written' | 'load'>> {
  const began = performance.now();
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(dir, `${bench}.ts`), ...args], {
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
      // A group of its own, so a timeout or ^C stops the bench and whatever it started.
      detached: true,
    });
    running = child.pid;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup(child.pid, 'SIGTERM');
      setTimeout(() => signalGroup(child.pid, 'SIGKILL'), 10_000).unref();
    }, benchTimeoutMs);
    const finish = (failure: string | undefined, code?: number) => {
      clearTimeout(timer);
      running = undefined;
      resolveRun({ bench, ok: failure === undefined, ...(failure ? { failure } : {}), ...(code !== undefined ? { code } : {}), ms: performance.now() - began });
    };
    child.once('error', (error) => finish(`could not start: ${error.message}`));
    child.once('exit', (code, signal) => {
      if (timedOut) finish(`timed out after ${duration(benchTimeoutMs)}`);
      else if (signal) finish(`killed by ${signal}`);
      else finish(code === 0 ? undefined : `exit ${code}`, code ?? undefined);
    });
  });
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** The results files a bench wrote: those its log names, else its own `<bench>.json` when it changed. */
function writtenBy(bench: string, log: string, before: number | undefined): Written[] {
  const logged = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((line) => line !== '') : [];
  const own = join(resultsDir, `${bench}.json`);
  const paths = logged.length > 0 ? [...new Set(logged)] : modified(own) !== before ? [own] : [];
  return paths.map((path) => {
    const file = basename(path);
    try {
      const json = JSON.parse(readFileSync(path, 'utf8')) as { bench?: string; figures?: Figure[] };
      return { file, bench: json.bench ?? file.slice(0, -5), figures: json.figures ?? [] };
    } catch (error) {
      return { file, bench: file.slice(0, -5), figures: [{ name: `unreadable: ${(error as Error).message}`, value: Number.NaN, unit: '' }] };
    }
  });
}

/**
 * Starts the services that `wanted` holds and the environment does not point to. Returns the
 * environment for the benches, the services to stop at the end (those this run started), and
 * those that could not be started (the benches that need them fail without running).
 */
interface Provided {
  readonly env: NodeJS.ProcessEnv;
  readonly started: ServiceDefinition[];
  readonly unavailable: Set<string>;
  /** `kafka (from the environment)`, `opensearch (already up)`, `moto (started for this run)`. */
  readonly origins: string[];
}

async function provide(wanted: readonly ServiceDefinition[]): Promise<Provided> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const missing = servicesMissingFrom(process.env, wanted);
  const provided: Provided = { env, started: [], unavailable: new Set(), origins: [] };
  for (const service of wanted) if (!missing.includes(service)) provided.origins.push(`${service.name} (from the environment)`);
  if (missing.length === 0) return provided;
  log(`${missing.map((service) => service.name).join(', ')}: endpoints not given in the environment; starting them through the services manager`);
  const use = (service: ServiceDefinition, didStart: boolean) => {
    Object.assign(env, service.env);
    if (didStart) provided.started.push(service);
    else log(`${service.name} was already up: used, and left running`);
    provided.origins.push(`${service.name} (${didStart ? 'started for this run' : 'already up'})`);
  };
  try {
    const results = await up(missing, log);
    for (const service of missing) use(service, results.find((result) => result.name === service.name)?.started ?? false);
  } catch (error) {
    // `up` stopped what it had started: try each on its own, so one that cannot start fails only its benches.
    log(`starting them together failed (${(error as Error).message.split('\n')[0]}); one at a time`);
    for (const service of missing) {
      try {
        const [result] = await up([service], log);
        use(service, result?.started ?? false);
      } catch (each) {
        log(`${service.name} did not start: ${(each as Error).message.split('\n')[0]}`);
        provided.unavailable.add(service.name);
        provided.origins.push(`${service.name} (did not start)`);
      }
    }
  }
  return provided;
}

function printSummary(outcomes: readonly Outcome[], totalMs: number, origins: readonly string[]): void {
  const failed = outcomes.filter((outcome) => !outcome.ok);
  console.log('');
  console.log(`# summary: ${outcomes.length} benches in ${duration(totalMs)} on ${machine()} (load: the 1-minute load average as each bench ended)`);
  if (origins.length > 0) console.log(`# services: ${origins.join(', ')}`);
  for (const outcome of outcomes) {
    const files = outcome.written.map((written) => `bench/results/${written.file}`).join(', ');
    const state = outcome.ok ? 'ok' : `FAILED (${outcome.failure})`;
    console.log(`# ${outcome.bench}: ${state}, ${duration(outcome.ms)}, load ${outcome.load.toFixed(1)}, ${files || 'no results written'}`);
    for (const written of outcome.written) for (const figure of written.figures) console.log(formatFigure(written.bench, figure));
  }
  console.log(`# ${outcomes.length - failed.length} ok, ${failed.length} failed${failed.length > 0 ? `: ${failed.map((outcome) => outcome.bench).join(', ')}` : ''}`);
}

async function main(argv: readonly string[]): Promise<number> {
  const benches = findBenches();
  const [name, ...args] = argv;
  if (name !== undefined && !benches.includes(name)) {
    console.error(`usage: npm run bench [-- <${benches.join('|')}> [args]]`);
    return 2;
  }
  const chosen = name === undefined ? benches : [name];
  const needs = new Map(chosen.map((bench) => [bench, servicesOf(bench)]));
  const wanted = allServices.filter((service) => [...needs.values()].some((list) => list.includes(service)));

  let stopping: Promise<void> | undefined;
  let started: ServiceDefinition[] = [];
  const stop = () => (stopping ??= started.length > 0 ? down(started, log) : Promise.resolve());
  const onSignal = (signal: NodeJS.Signals) => {
    signalGroup(running, signal);
    void stop().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);

  const began = performance.now();
  const outcomes: Outcome[] = [];
  let origins: string[] = [];
  const logs = mkdtempSync(join(tmpdir(), 'flowsentry-bench-'));
  try {
    const provided = await provide(wanted);
    started = provided.started;
    origins = provided.origins;
    for (const bench of chosen) {
      const lacking = needs.get(bench)!.filter((service) => provided.unavailable.has(service.name));
      if (lacking.length > 0) {
        outcomes.push({ bench, ok: false, failure: `needs ${lacking.map((service) => service.name).join(', ')}, which did not start`, ms: 0, load: loadavg()[0]!, written: [] });
        continue;
      }
      if (name === undefined) log(`${bench} (${outcomes.length + 1}/${chosen.length})`);
      const resultsLog = join(logs, `${bench}.written`);
      const before = modified(join(resultsDir, `${bench}.json`));
      const outcome = await runBench(bench, args, { ...provided.env, FLOWSENTRY_BENCH_RESULTS_LOG: resultsLog });
      outcomes.push({ ...outcome, load: loadavg()[0]!, written: writtenBy(bench, resultsLog, before) });
      if (name === undefined) log(`${bench}: ${outcome.ok ? 'ok' : `FAILED (${outcome.failure})`} in ${duration(outcome.ms)}`);
    }
  } finally {
    rmSync(logs, { recursive: true, force: true });
    await stop();
  }
  // One bench prints its own figures and exits with its own code; a run of all of them ends with the summary.
  if (name !== undefined) {
    const [outcome] = outcomes;
    if (!outcome?.ok) log(`${name}: FAILED (${outcome?.failure})`);
    return outcome?.ok ? 0 : (outcome?.code ?? 1);
  }
  printSummary(outcomes, performance.now() - began, origins);
  return outcomes.every((outcome) => outcome.ok) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
