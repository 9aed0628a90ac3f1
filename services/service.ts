/**
 * The contract every test service (Kafka, OpenSearch, moto) implements.
 * The manager installs, starts, waits for and stops services through it.
 */
export interface ServiceContext {
  /** Directory for downloads and builds of this service, kept between runs. */
  readonly cacheDir: string;
  /** Directory for data and logs of this run; emptied before each start. */
  readonly runDir: string;
  /** Root of the repository (for config files kept in `services/<name>/`). */
  readonly repoDir: string;
  /** Progress messages for the person waiting. */
  log(message: string): void;
}

export interface LaunchCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

export interface ServiceDefinition {
  readonly name: string;
  /** Environment variables that point the pipeline (and tests) at this service. */
  readonly env: Readonly<Record<string, string>>;
  /** Downloads or builds what is missing under `ctx.cacheDir`. Idempotent. */
  install(ctx: ServiceContext): Promise<void>;
  /** Prepares `ctx.runDir` (config, formatted storage) and returns the long-running command. */
  prepare(ctx: ServiceContext): Promise<LaunchCommand>;
  /** True once the service answers its clients. Must not throw. */
  isReady(): Promise<boolean>;
  /** Runs once after a start, when the service is ready (e.g. installs fixtures it must hold). */
  afterReady?(ctx: ServiceContext): Promise<void>;
}
