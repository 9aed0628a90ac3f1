/**
 * A stage process with a fake stage, run as a child by test/unit/cli/stage-process.test.ts:
 *
 *   node --import tsx test/support/fake-stage-child.ts <mode>
 *
 * It runs `runUntilStopped` as the commands do and exits with its code. Modes:
 * - `ends`: the stage reads its input to the end by itself, 300 ms after starting;
 * - `runs`: the stage runs until a signal; its close takes 1 s (a batch in hand);
 * - `start-hangs`: the start never ends until a signal;
 * - `start-fails`: the start rejects (a broker unreachable);
 * - `crashes`: 300 ms after starting, `running` rejects (a consumer that crashed for good);
 * - `throws`: 300 ms after starting, a timer throws (an uncaught exception).
 *
 * On stdout, one JSON object per line: `{"event":"started","port":N}` once started (the ops
 * port), and `{"event":"closing","readyz":S,"healthz":S}` as the stage's close begins, with the
 * status codes its own ops server answers then.
 */
import { runUntilStopped } from '../../cli/stage-process.js';
import { MetricsRegistry } from '../../runtime/metrics.js';
import { opsServer } from '../../runtime/ops/ops-server.js';

const mode = process.argv[2] ?? 'runs';
const metrics = new MetricsRegistry();
const handled = metrics.counter('fake_records_total', 'Records the fake stage handled.');
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
const statusOf = async (path: string) => {
  const { port } = await opsServer().listen({ port: 0 });
  return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
};

let fail: (error: Error) => void = () => undefined;
const failed = new Promise<void>((_resolve, reject) => (fail = reject));
let end: () => void = () => undefined;
const ended = new Promise<void>((resolveEnd) => (end = resolveEnd));

const code = await runUntilStopped({
  name: 'fake',
  metrics,
  start: async () => {
    if (mode === 'start-fails') throw new Error('connect ECONNREFUSED 127.0.0.1:9');
    if (mode === 'start-hangs') await new Promise(() => undefined);
    handled.inc({ outcome: 'ok' }, 3);
    const { port } = await opsServer().listen({ port: 0 });
    setTimeout(() => {
      if (mode === 'ends') end();
      if (mode === 'crashes') fail(Object.assign(new Error('the consumer crashed'), { code: 'CONSUMER_CRASHED' }));
      if (mode === 'throws') throw new Error('a bug in a timer');
    }, 300);
    say({ event: 'started', port });
  },
  started: () => 'taking fake records',
  running: mode === 'ends' ? () => ended : mode === 'crashes' ? () => failed : undefined,
  close: async () => {
    say({ event: 'closing', readyz: await statusOf('/readyz'), healthz: await statusOf('/healthz') });
    if (mode === 'runs') await new Promise((resolveTimer) => setTimeout(resolveTimer, 1000));
  },
});
process.exitCode = code;
