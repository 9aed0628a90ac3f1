import { collectCommand } from './collect-command.js';
import type { CliCommand } from './command.js';
import { configCommand } from './config-command.js';
import { detectCommand } from './detect-command.js';
import { enrichCommand } from './enrich-command.js';
import { inventoryCommand } from './inventory-command.js';
import { quarantineCommand } from './quarantine-command.js';
import { queryCommand } from './query-command.js';
import { replayCommand } from './replay-command.js';
import { respondCommand } from './respond-command.js';
import { runCommand } from './run-command.js';
import { schemasCommand } from './schemas-command.js';
import { sinkCommand } from './sink-command.js';

/** Every `flowsentry <command>`, in the order `flowsentry --help` lists them. */
export const commands: readonly CliCommand[] = [
  runCommand,
  collectCommand,
  enrichCommand,
  inventoryCommand,
  detectCommand,
  respondCommand,
  quarantineCommand,
  sinkCommand,
  replayCommand,
  queryCommand,
  schemasCommand,
  configCommand,
];
