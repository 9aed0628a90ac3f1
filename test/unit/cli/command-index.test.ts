import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandIndex } from '../../../cli/command-index.js';
import { commands } from '../../../cli/commands.js';

describe('the command index', () => {
  it('names every command in the order of the loaded list, with the same summary', () => {
    assert.deepEqual(
      commandIndex.map((entry) => [entry.name, entry.summary]),
      commands.map((command) => [command.name, command.summary]),
    );
  });

  it('loads each command module it names', async () => {
    for (const entry of commandIndex) assert.equal((await entry.load()).name, entry.name);
  });
});
