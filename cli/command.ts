import { parseArgs, type ParseArgsConfig } from 'node:util';

/** One `flowsentry <name>` subcommand. */
export interface CliCommand {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(args: readonly string[]): Promise<number>;
}

/** Every problem in a command's options, one per line, under one heading. */
export function optionProblems(command: string, problems: readonly string[]): string {
  return `flowsentry ${command}: ${problems.length} problem(s) in the options:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`;
}

/**
 * A command's options, parsed strictly (unknown options and positionals refused); on a problem,
 * says it with the usage on stderr and returns undefined (the command exits 2).
 */
export function parseOptions<const Options extends NonNullable<ParseArgsConfig['options']>>(command: string, usage: string, args: readonly string[], options: Options) {
  try {
    return parseArgs({ args: [...args], strict: true, allowPositionals: false, options }).values;
  } catch (error) {
    console.error(`flowsentry ${command}: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return undefined;
  }
}
