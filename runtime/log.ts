/**
 * The log of a running process: one JSON object per line on stderr,
 * `{"time":ISO,"level":"info","component":"enrich","msg":"...", ...fields}`, so a collector
 * (Fluent Bit, CloudWatch, Loki) reads every field without a parser of its own. Levels are
 * debug, info, warn and error; FLOWSENTRY_LOG_LEVEL sets the lowest one written (default info).
 * Usage and option problems a person gets before a command starts stay plain text: they are
 * not written through here.
 */
export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  readonly component: string;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Whether a line of this level would be written. */
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  /** The lowest level written; default FLOWSENTRY_LOG_LEVEL, else info. */
  readonly level?: LogLevel;
  /** Where each line goes, newline included; default stderr. */
  readonly write?: (line: string) => void;
  readonly now?: () => number;
}

const rank: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };
const reserved = new Set(['time', 'level', 'component', 'msg']);

/** The level FLOWSENTRY_LOG_LEVEL names (any case), or info when it is unset or names none. */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const wanted = env.FLOWSENTRY_LOG_LEVEL?.trim().toLowerCase();
  return logLevels.find((level) => level === wanted) ?? 'info';
}

/** An error as a log field: its message, code and stack (and those of its causes, three deep), never `{}`. */
export function errorFields(error: Error, depth = 0): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  const cause = (error as { cause?: unknown }).cause;
  return {
    ...(error.name && error.name !== 'Error' ? { name: error.name } : {}),
    message: error.message,
    ...(code !== undefined ? { code } : {}),
    ...(error.stack ? { stack: error.stack } : {}),
    ...(cause !== undefined && depth < 3 ? { cause: cause instanceof Error ? errorFields(cause, depth + 1) : String(cause) } : {}),
  };
}

/** JSON text of one line: errors as their fields, bigints as strings, Maps and Sets as objects and arrays. */
function serialize(entry: Record<string, unknown>): string {
  const plain = (value: unknown): unknown => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) return errorFields(value);
    if (value instanceof Map) return Object.fromEntries(value);
    if (value instanceof Set) return [...value];
    return value;
  };
  try {
    return JSON.stringify(entry, (_key, value: unknown) => plain(value));
  } catch {
    // A cycle: every object is written once, later sightings as "[circular]".
    const seen = new WeakSet<object>();
    return JSON.stringify(entry, (_key, value: unknown) => {
      const shown = plain(value);
      if (typeof shown === 'object' && shown !== null) {
        if (seen.has(shown)) return '[circular]';
        seen.add(shown);
      }
      return shown;
    });
  }
}

/** The JSON line (newline included) of one entry; a field named like a fixed key is kept as `field_<key>`. */
export function formatLogLine(time: number, level: LogLevel, component: string, msg: string, fields: LogFields = {}): string {
  const entry: Record<string, unknown> = { time: new Date(time).toISOString(), level, component, msg };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    entry[reserved.has(key) ? `field_${key}` : key] = value;
  }
  return `${serialize(entry)}\n`;
}

/** A logger for one component, with its own level and output (tests); `logger` is the usual one. */
export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  const threshold = rank[options.level ?? logLevelFromEnv()];
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const now = options.now ?? Date.now;
  const at =
    (level: LogLevel) =>
    (msg: string, fields?: LogFields): void => {
      if (rank[level] >= threshold) write(formatLogLine(now(), level, component, msg, fields));
    };
  return {
    component,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    enabled: (level) => rank[level] >= threshold,
  };
}

/** The logger of one component (a stage, a worker, the ops server), writing JSON lines to stderr. */
export function logger(component: string): Logger {
  return createLogger(component);
}

let warningsRouted = false;

/**
 * Process warnings (Node's own, and libraries' `process.emitWarning`) as log lines of the
 * `process` component instead of Node's plain-text output, so every line a running stage writes
 * on stderr is JSON. Idempotent.
 */
export function logProcessWarnings(): void {
  if (warningsRouted) return;
  warningsRouted = true;
  const log = logger('process');
  // Node prints warnings through its own 'warning' listener; this one replaces it.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => log.warn(warning.message, { warning: warning.name, ...((warning as { code?: unknown }).code !== undefined ? { code: (warning as { code?: unknown }).code } : {}) }));
}
