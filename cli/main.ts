import { collectCommand } from './collect-command.js';
import { detectCommand } from './detect-command.js';
import type { CliCommand } from './command.js';
import { enrichCommand } from './enrich-command.js';
import { inventoryCommand } from './inventory-command.js';
import { quarantineCommand } from './quarantine-command.js';
import { queryCommand } from './query-command.js';
import { replayCommand } from './replay-command.js';
import { respondCommand } from './respond-command.js';
import { runCommand } from './run-command.js';
import { schemasCommand } from './schemas-command.js';
import { sinkCommand } from './sink-command.js';

const commands: readonly CliCommand[] = [runCommand, collectCommand, enrichCommand, inventoryCommand, detectCommand, respondCommand, quarantineCommand, sinkCommand, replayCommand, queryCommand, schemasCommand];

function help(): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    'usage: flowsentry <command> [options]',
    '',
    'commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    "'flowsentry <command> --help' shows a command's options.",
  ].join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    console.error(`flowsentry: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
