import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commands } from '../../../cli/commands.js';
import { exitCodes } from '../../../runtime/ops/exit-codes.js';
import { runCli } from '../../support/cli.js';

/** The lines of the `example:`/`examples:` section of a help text, each without its indent. */
function examplesOf(help: string): string[] {
  const section = /^examples?:\n((?:[ \t]+\S.*(?:\n|$))+)/m.exec(help);
  return section ? section[1]!.split('\n').map((line) => line.trim()).filter((line) => line !== '') : [];
}

/** An example line that runs `flowsentry <words>`, after any VAR=value assignments or `sudo`. */
const runs = (example: string, words: string) => new RegExp(`^(?:sudo\\s+)?(?:[A-Z_]+=\\S+\\s+)*flowsentry ${words.replace(/[-]/g, '\\-')}(?:\\s|$)`).test(example);

/** `flowsentry query <flows|timeline|...>` → the subcommands, from the first line of the usage. */
function subcommandsOf(name: string, usage: string): string[] {
  const alternatives = new RegExp(`^flowsentry ${name} <([^>]+)>`).exec(usage)?.[1];
  return alternatives ? alternatives.split('|').map((alternative) => alternative.trim().split(/\s+/)[0]!) : [];
}

describe('CLI > --help', () => {
  it('lists the commands, with examples and every exit code', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0, result.stderr);
    for (const command of commands) assert.match(result.stdout, new RegExp(`^  ${command.name} +\\S`, 'm'), `${command.name} is listed`);
    const examples = examplesOf(result.stdout);
    assert.ok(examples.length > 0 && examples.every((example) => runs(example, '\\S+')), `examples of flowsentry commands:\n${result.stdout}`);
    const codes = /^exit codes:\n((?: {2}\d+ .*\n?)+)/m.exec(result.stdout)?.[1] ?? '';
    for (const code of [...Object.values(exitCodes), 130, 143]) assert.match(codes, new RegExp(`\\b${code}\\b`), `exit code ${code} is explained`);
  });

  for (const command of commands) {
    it(`${command.name}: says what it does, with an example of it`, () => {
      assert.ok(command.summary.trim().length > 10, `${command.name} has a summary`);
      assert.match(command.usage, new RegExp(`^flowsentry ${command.name}\\b`));
      const examples = examplesOf(command.usage);
      assert.ok(
        examples.some((example) => runs(example, command.name)),
        `an example section with 'flowsentry ${command.name} ...' in:\n${command.usage}`,
      );
      for (const sub of subcommandsOf(command.name, command.usage)) {
        assert.ok(
          examples.some((example) => runs(example, `${command.name} ${sub}`)),
          `an example of 'flowsentry ${command.name} ${sub}' in:\n${command.usage}`,
        );
      }
    });
  }

  it('a subcommand with --help shows the help instead of running', async () => {
    const [list, serve] = await Promise.all([runCli(['quarantine', 'list', '--help'], { ...process.env, KUBERNETES_URL: 'http://127.0.0.1:9' }), runCli(['query', 'serve', '--help'])]);
    for (const [result, words] of [[list, 'quarantine list'], [serve, 'query serve']] as const) {
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      assert.ok(examplesOf(result.stdout).some((example) => runs(example, words)), result.stdout);
    }
  });
});
