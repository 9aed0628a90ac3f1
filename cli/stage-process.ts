import type { Bus } from '../runtime/bus/bus.js';
import { endpointsFromEnv, type Endpoints } from '../runtime/endpoints.js';
import { logger, logProcessWarnings } from '../runtime/log.js';
import type { MetricsRegistry } from '../runtime/metrics.js';
import { exitCodes, signalExitCode } from '../runtime/ops/exit-codes.js';
import { opsServer, OpsServerError, opsServerSettings } from '../runtime/ops/ops-server.js';

/** What a stage on Kafka needs from its options and the environment: problems are added to `problems`. */
export function kafkaStageSettings(stage: string, partitionsOption: string | undefined, problems: string[]): { partitions: number; endpoints: Endpoints } {
  const partitions = Number(partitionsOption ?? 6);
  if (!Number.isInteger(partitions) || partitions < 1) problems.push(`--partitions: '${partitionsOption}' is not a positive integer`);
  const endpoints = endpointsFromEnv();
  if (!endpoints.kafkaBrokers) problems.push(`KAFKA_BROKERS is not set: ${stage} runs on Kafka (flowsentry run runs every stage in one process)`);
  opsServerSettings(process.env, problems);
  return { partitions, endpoints };
}

export interface StageProcess {
  readonly name: string;
  /** Closed after the stage; none for a stage that writes elsewhere (a collector on stdout). */
  readonly bus?: Bus;
  readonly metrics: MetricsRegistry;
  /** Starts the stage; resolves once it takes input. */
  readonly start: () => Promise<void>;
  /** Said once started. */
  readonly started?: () => string;
  /**
   * Called once started: resolves when the stage has ended by itself (a collector that read its
   * file to the end), rejects when it failed while running (a consumer that crashed for good).
   * Without it the stage runs until a signal.
   */
  readonly running?: () => Promise<void>;
  /** Stops taking input, finishes what is in hand and commits. */
  readonly close: () => Promise<void>;
}

/** How long a failed stage is given to close before the process exits anyway. */
const failedCloseMs = 15_000;

type StageState = 'starting' | 'running' | 'draining' | 'failed';

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Runs one stage as a process until SIGTERM or SIGINT, or until it ends by itself, with the ops
 * server (/metrics, /healthz, /readyz; see runtime/ops/ops-server.ts) listening throughout:
 *
 * - ready once started; not ready again from the first signal on, while the stage closes (the
 *   batch in hand finishes and commits) and the bus closes; then the metrics are logged and the
 *   exit code is 0. A stop during the start ends the start too.
 * - a second signal during the drain exits at once: 128 + the signal's number (130, 143).
 * - the ops port in use: 5, before anything starts. A start that fails (Kafka unreachable, an
 *   outlet refusing): 4. A failure while running (`running` rejects, an uncaught exception or
 *   unhandled rejection): /healthz turns 503, the error is logged, the stage closes (within 15 s)
 *   and the exit code is 3.
 */
export async function runUntilStopped(stage: StageProcess): Promise<number> {
  const log = logger(stage.name);
  logProcessWarnings();
  const server = opsServer();
  // Changed by the signal and failure handlers too: kept in an object so every read is fresh.
  const status: { state: StageState } = { state: 'starting' };
  let code: number = exitCodes.ok;
  const unregister = server.register({ name: stage.name, metrics: stage.metrics, ready: () => status.state === 'running', healthy: () => status.state !== 'failed' });

  let stop: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolveStop) => (stop = resolveStop));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      const exitCode = signalExitCode(signal);
      log.warn(`${signal} again while draining: exiting now, without committing the batch in hand`, { signal, exit_code: exitCode });
      process.exit(exitCode);
    }
    log.info(`${signal}: draining`, { signal });
    if (status.state !== 'failed') status.state = 'draining';
    stop(signal);
  };

  let fail: (error: unknown) => void = () => undefined;
  const failed = new Promise<{ error: unknown }>((resolveFail) => (fail = (error) => resolveFail({ error })));
  const onFailure = (error: unknown) => {
    if (status.state === 'failed') {
      log.error(`another unexpected error: ${messageOf(error)}`, { error });
      return;
    }
    const wasStarting = status.state === 'starting';
    status.state = 'failed';
    code = wasStarting ? exitCodes.startFailed : exitCodes.stageFailed;
    log.error(`${wasStarting ? 'could not start' : 'failed'}: ${messageOf(error)}`, { error, exit_code: code });
    fail(error);
  };

  process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  process.on('uncaughtException', onFailure).on('unhandledRejection', onFailure);
  // The process lives until the stage has stopped, whether or not the stage holds it open itself.
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  try {
    const { port, host } = opsServerSettings();
    try {
      await server.listen({ port, host });
    } catch (error) {
      if (!(error instanceof OpsServerError)) throw error;
      code = exitCodes.serverPort;
      log.error(error.message, { error, exit_code: code });
      return code;
    }
    const starting = stage.start().then(() => true);
    starting.catch(() => undefined);
    const started = await Promise.race([starting, stopped.then(() => false), failed.then(() => false)]).catch((error: unknown) => {
      onFailure(error);
      return false;
    });
    if (started && status.state === 'starting') {
      status.state = 'running';
      log.info(stage.started?.() ?? 'running');
      const ended = stage.running ? stage.running() : new Promise<void>(() => undefined);
      ended.catch(() => undefined);
      await Promise.race([stopped, failed, ended.then(() => log.info('input ended'), onFailure)]);
    }
  } finally {
    // Signals while the stage closes: the first is acted on already, a second exits at once.
    if (status.state !== 'failed') status.state = 'draining';
    const closing = (async () => {
      await stage.close();
      await stage.bus?.close();
    })();
    try {
      if (status.state !== 'failed') await closing;
      else {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolveLate) => (timer = setTimeout(() => resolveLate('late'), failedCloseMs)));
        const outcome = await Promise.race([closing, late]);
        clearTimeout(timer);
        if (outcome === 'late') log.error(`closing did not end within ${failedCloseMs / 1000} s`);
      }
    } catch (error) {
      if (code === exitCodes.ok) code = exitCodes.failed;
      log.error(`closing failed: ${messageOf(error)}`, { error });
    }
    clearInterval(keepAlive);
    process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
    process.off('uncaughtException', onFailure).off('unhandledRejection', onFailure);
    log.info('stopped', { exit_code: code, metrics: stage.metrics.render().trim() });
    unregister();
    if (server.size === 0) {
      await server.close();
      // After a failure, what is left of the stage may hold the event loop: the exit does not wait
      // for it (unless other stages of this process still run: their drain comes first).
      if (code !== exitCodes.ok) setTimeout(() => process.exit(code), 5_000).unref();
    }
  }
  return code;
}
