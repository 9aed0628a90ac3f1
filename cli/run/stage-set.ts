/**
 * `flowsentry run` on Kafka: the stages the configuration names, in this one process, each run
 * exactly as its own command would run it (same options from its config section, same drain on
 * SIGTERM). They share the process's metrics and health endpoints.
 */
import type { CliCommand } from '../command.js';
import type { StageName } from '../run-command.js';
import { collectCommand } from '../collect-command.js';
import { detectCommand } from '../detect-command.js';
import { enrichCommand } from '../enrich-command.js';
import { inventoryCommand } from '../inventory-command.js';
import { respondCommand } from '../respond-command.js';
import { sinkCommand } from '../sink-command.js';

const stageCommands: Readonly<Record<StageName, CliCommand>> = { collect: collectCommand, enrich: enrichCommand, detect: detectCommand, respond: respondCommand, sink: sinkCommand, inventory: inventoryCommand };

/**
 * Runs the stages together until every one has ended. One that ends with a problem (its options,
 * a service it cannot reach at start) stops the others the way SIGTERM would, so the process
 * never runs half a pipeline; the exit code is the worst of them.
 */
export async function runStages(names: readonly StageName[]): Promise<number> {
  let stopping = false;
  const codes = await Promise.all(
    names.map(async (name) => {
      const code = await stageCommands[name].run([]);
      if (code !== 0 && !stopping) {
        stopping = true;
        console.error(`flowsentry run: stage ${name} ended with exit code ${code}; stopping the others`);
        // The stages' own SIGTERM handlers, called directly: a real signal would kill the process
        // outright if no stage is listening any more.
        process.emit('SIGTERM', 'SIGTERM');
      }
      return code;
    }),
  );
  return Math.max(0, ...codes);
}
