import { parseArgs, type ParseArgsConfig } from 'node:util';
import { optionValuesFromConfig } from '../runtime/config/config-effects.js';
import { configProblemsReport, loadProcessConfig } from '../runtime/config/process-config.js';

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** One `flowsentry <name>` subcommand. */
export interface CliCommand {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** The command's long options as parseArgs takes them; a stage's config section has exactly these keys. */
  readonly options?: OptionSpecs;
  run(args: readonly string[]): Promise<number>;
}

/** Every problem in a command's options, one per line, under one heading. */
export function optionProblems(command: string, problems: readonly string[]): string {
  return `flowsentry ${command}: ${problems.length} problem(s) in the options:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`;
}

/** What parseArgs returns as `values` for `Options`. */
type OptionValues<Options extends OptionSpecs> = ReturnType<typeof parseArgs<{ args: string[]; strict: true; allowPositionals: false; options: Options }>>['values'];

/** `--config FILE` or `--config=FILE` taken out of `args`; `file` is null when the option has no value. */
export function takeConfigOption(args: readonly string[]): { file?: string | null; rest: string[] } {
  const rest: string[] = [];
  let file: string | null | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--config') {
      const next = args[i + 1];
      file = next === undefined || next.startsWith('-') ? null : next;
      if (file !== null) i++;
    } else if (arg.startsWith('--config=')) {
      file = arg.slice('--config='.length) || null;
    } else {
      rest.push(arg);
    }
  }
  return file === undefined ? { rest } : { file, rest };
}

/** The configuration has problems; the message lists them all. */
export class ConfigProblemsError extends Error {
  override readonly name = 'ConfigProblemsError';
}

/**
 * A command's options: the command line, parsed strictly (unknown options and positionals
 * refused), then, for the options it did not give, the command's section of the configuration
 * (`--config FILE`, else FLOWSENTRY_CONFIG; loaded and validated once per process), which also
 * sets the environment variables its global sections stand for. Throws the problem with the
 * options, or every problem of the configuration under one heading.
 */
export function configuredOptions<const Options extends OptionSpecs>(command: string, args: readonly string[], options: Options): OptionValues<Options> {
  const { file, rest } = takeConfigOption(args);
  if (file === null) throw new Error("Option '--config <value>' argument missing");
  const values = parseArgs({ args: rest, strict: true, allowPositionals: false, options }).values;
  const loaded = loadProcessConfig(file);
  if (loaded.problems.length > 0) throw new ConfigProblemsError(configProblemsReport(command, loaded));
  return { ...values, ...optionValuesFromConfig(loaded, command, options, values) } as OptionValues<Options>;
}

/**
 * A command's options, the configuration filling what the command line did not give (see
 * `configuredOptions`); on a problem, says it (with the usage, for a problem with the options) on
 * stderr and returns undefined (the command exits 2).
 */
export function parseOptions<const Options extends OptionSpecs>(command: string, usage: string, args: readonly string[], options: Options): OptionValues<Options> | undefined {
  try {
    return configuredOptions(command, args, options);
  } catch (error) {
    if (error instanceof ConfigProblemsError) console.error(error.message);
    else console.error(`flowsentry ${command}: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return undefined;
  }
}
