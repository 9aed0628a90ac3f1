import { constants } from 'node:os';

/**
 * What the exit code of every `flowsentry` command means. README.md ("Exit codes") and
 * `flowsentry --help` say the same.
 */
export const exitCodes = {
  /** Done; or stopped by SIGTERM/SIGINT after draining: the batch in hand finished and was committed. */
  ok: 0,
  /** An unexpected error, or the work itself failed (a schema check found problems, a release or a query failed). */
  failed: 1,
  /** A bad command line, configuration or environment: nothing was started. */
  usage: 2,
  /** A running stage failed (an unexpected error, or the stage reported it cannot go on): unhealthy, logged, drained what it could. */
  stageFailed: 3,
  /** The stage could not start: a service it needs (Kafka, OpenSearch, CloudWatch, the Kubernetes API) was unreachable or refused. */
  startFailed: 4,
  /** The ops server (/metrics, /healthz, /readyz) could not listen: FLOWSENTRY_SERVER_PORT is in use or not allowed. */
  serverPort: 5,
} as const;

/** 128 + the signal's number, as shells report it: a second SIGINT (130) or SIGTERM (143) during the drain. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/** The exit codes, for `flowsentry --help`. */
export const exitCodesHelp = [
  'exit codes:',
  '  0    done; or stopped by SIGTERM/SIGINT after draining (the batch in hand finished and committed)',
  '  1    an unexpected error, or the work failed (schemas check found problems, a release or query failed)',
  '  2    bad command line, configuration or environment: nothing was started',
  '  3    a running stage failed (an unexpected error, or it cannot go on): /healthz said 503, it drained what it could',
  '  4    the stage could not start: a service it needs (Kafka, OpenSearch, CloudWatch, Kubernetes API) was unreachable or refused',
  '  5    the ops server could not listen: FLOWSENTRY_SERVER_PORT (default 9464) is in use or not allowed',
  '  130  a second SIGINT during the drain (143: a second SIGTERM): stopped at once, the batch in hand is delivered again',
].join('\n');
