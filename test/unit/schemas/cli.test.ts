import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it, mock } from 'node:test';
import { schemasCommand } from '../../../cli/schemas-command.js';
import { schemaRegistry } from '../../../schemas/registry.js';
import { fixture, TempSchemas } from './support.js';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = mock.method(console, 'log', (line: string) => void out.push(line));
  const error = mock.method(console, 'error', (line: string) => void err.push(line));
  try {
    const code = await schemasCommand.run(args);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mock.restore();
    error.mock.restore();
  }
}

describe('Schemas > cli', () => {
  const temp = new TempSchemas();
  after(() => temp.remove());

  it('check passes on this checkout with one line per schema version', async () => {
    const result = await run(['check']);
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /^ok {4}RawFlow v1: read by current v2, golden payload decodes$/m);
    assert.match(result.out, /^ok {4}DeadLetter v2 is current/m);
  });

  it('check exits 1 naming the schema, version and field of an incompatible change', async () => {
    temp.edit('avro/raw-flow.avsc', (schema) => {
      const proto = schema.fields.find((field) => field.name === 'proto');
      if (proto) proto.type = 'string';
    });
    const result = await run(['check', '--dir', temp.dir]);
    assert.equal(result.code, 1);
    assert.match(result.err, /^FAIL {2}RawFlow v1: current v3 cannot read v1 data: field 'proto' type changed from int to string$/m);
    assert.match(result.err, /^FAIL {2}RawFlow v2: current v3 cannot read v2 data: field 'proto' type changed from int to string$/m);
  });

  it('release refuses the incompatible change with exit 1', async () => {
    const result = await run(['release', 'RawFlow', '--dir', temp.dir]);
    assert.equal(result.code, 1);
    assert.match(result.err, /cannot release RawFlow: v1: field 'proto' type changed/);
  });

  it('lists versions and fingerprints', async () => {
    const result = await run(['list']);
    const current = schemaRegistry().entry('RawFlow').current.fingerprint.toString(16).padStart(16, '0');
    assert.match(result.out, new RegExp(`^RawFlow v2 {2}${current} .*\\(current\\)$`, 'm'));
  });

  it('decode prints a message as JSON and reports bad messages by their error', async () => {
    const good = await run(['decode', join(schemaRegistry().dir, 'history', 'RawFlow', 'v1.golden.bin')]);
    assert.equal(good.code, 0);
    assert.equal((JSON.parse(good.out) as { process_name: unknown }).process_name, null);
    const file = join(temp.dir, 'unknown.bin');
    writeFileSync(file, fixture('unknown-fingerprint.bin'));
    const bad = await run(['decode', file]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /unknown writer schema fingerprint/);
  });

  it('rejects unknown subcommands and options with exit 2', async () => {
    assert.equal((await run(['frobnicate'])).code, 2);
    assert.equal((await run(['check', '--fast'])).code, 2);
    assert.equal((await run(['release', 'Flow'])).code, 2);
  });
});
