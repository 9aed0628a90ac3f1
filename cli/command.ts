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
