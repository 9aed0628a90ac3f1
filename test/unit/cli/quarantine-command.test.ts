import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quarantineCommand, quarantineTable } from '../../../cli/quarantine-command.js';

describe('CLI > quarantine', () => {
  it('lists quarantines as an aligned table, a dash for what is unknown', () => {
    const text = quarantineTable([
      { id: 'q-1', namespace: 'shop', pod: 'web-1', podUid: 'u1', backend: 'calico', alertId: 'port_scan:ab:1', appliedAt: Date.parse('2026-11-27T12:00:00.250Z'), expiresAt: Date.parse('2026-11-27T13:00:00Z') },
      { id: 'q-22', namespace: 'data', pod: 'db-0', podUid: 'u2', backend: 'networkpolicy', alertId: undefined, appliedAt: undefined, expiresAt: undefined },
    ]);
    assert.equal(
      text,
      [
        'ID    POD         BACKEND        ALERT           APPLIED               EXPIRES',
        'q-1   shop/web-1  calico         port_scan:ab:1  2026-11-27T12:00:00Z  2026-11-27T13:00:00Z',
        'q-22  data/db-0   networkpolicy  -               -                     -',
        '',
      ].join('\n'),
    );
    assert.equal(quarantineTable([]), 'ID  POD  BACKEND  ALERT  APPLIED  EXPIRES\n');
  });

  it('documents both subcommands with examples', () => {
    assert.match(quarantineCommand.usage, /^flowsentry quarantine <list\|release>/);
    assert.match(quarantineCommand.usage, /\n {2}flowsentry quarantine list --namespace payments\n/);
    assert.match(quarantineCommand.usage, /\n {2}flowsentry quarantine release q-[0-9a-f]+ --by alice$/);
  });

  it('refuses a missing id or an unknown subcommand before reaching any cluster', async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (message: unknown) => errors.push(String(message));
    try {
      assert.equal(await quarantineCommand.run(['release', '--by', 'alice']), 2);
      assert.equal(await quarantineCommand.run(['lift']), 2);
      assert.equal(await quarantineCommand.run(['list', '--format', 'xml']), 2);
    } finally {
      console.error = original;
    }
    assert.match(errors[0]!, /release: missing the quarantine id/);
    assert.match(errors[1]!, /unknown subcommand 'lift'/);
    assert.match(errors[2]!, /--format: 'xml' is not one of table, jsonl/);
  });
});
