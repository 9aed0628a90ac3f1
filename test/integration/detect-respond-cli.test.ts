import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { enrichedMessages } from '../../enrich/enrich-worker.js';
import { KafkaBus } from '../../runtime/bus/kafka-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { topics } from '../../runtime/topics.js';
import { deploymentPod, enrichedFlow, publicAddress } from '../support/enriched-flows.js';
import { logged, stageProcess, stoppedMetrics } from '../support/cli.js';
import { uniqueName, waitFor } from '../support/wait.js';
import { NEW_SECRET, OLD_SECRET, TestReceiver } from '../unit/detect/notify/support.js';

const stage = stageProcess;

describe('CLI > detect and respond > Kafka', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-respond-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a call to a listed address becomes a signed webhook delivery, through two stage processes; both stop on SIGTERM with 0', async () => {
    const receiver = await TestReceiver.start({ verifyWith: [[OLD_SECRET], [NEW_SECRET]] });
    const feed = join(dir, 'blocklist.txt');
    writeFileSync(feed, '# test feed\n203.0.113.0/24 c2\n');
    const notify = join(dir, 'notify.yaml');
    writeFileSync(
      notify,
      [
        'endpoints:',
        '  - name: on-call',
        '    type: webhook',
        `    url: ${receiver.url('/alerts')}`,
        `    secrets: ["${OLD_SECRET}", "${NEW_SECRET}"]`,
        'routes:',
        '  - name: everything',
        '    endpoints: [on-call]',
        '',
      ].join('\n'),
    );
    const detect = stage(['detect', '--group', uniqueName('detect-cli'), '--feed', feed, '--learn', '0']);
    const respond = stage(['respond', '--group', uniqueName('respond-cli'), '--notify', notify]);
    const bus = new KafkaBus({ brokers: endpointsFromEnv().kafkaBrokers ?? [], logLevel: 'nothing' });
    const pod = deploymentPod('cli', uniqueName('caller'), '10.77.0.5');
    try {
      let exited = false;
      void Promise.race([detect.exited, respond.exited]).then(() => (exited = true));
      await waitFor(() => (logged(detect.stderr(), 'detect', 'taking') && logged(respond.stderr(), 'respond', 'taking')) || exited, {
        timeoutMs: 90_000,
        description: 'both stages to start',
      }).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\ndetect said:\n${detect.stderr()}\nrespond said:\n${respond.stderr()}`);
      });
      assert.equal(exited, false, `a stage stopped early:\n${detect.stderr()}\n${respond.stderr()}`);
      const producer = bus.producer();
      const call = enrichedFlow(pod, publicAddress('203.0.113.66'), { at: Date.now(), port: 443 });
      await producer.send(topics.flowsEnriched, enrichedMessages(topics.flowsEnriched, [call]));
      await producer.close();
      const mine = () => receiver.delivered.filter((request) => JSON.stringify(request.json).includes(pod.name!));
      await waitFor(() => mine().length > 0, { timeoutMs: 60_000, description: 'the signed alert at the receiver' });
      const [delivery] = mine();
      const event = delivery!.json as { type: string; data: { detector: string; feed: string; indicator: string; source_name: string } };
      assert.equal(event.type, 'alert.opened');
      assert.deepEqual([event.data.detector, event.data.feed, event.data.indicator, event.data.source_name], ['ioc', 'blocklist', '203.0.113.0/24', pod.name]);
      assert.deepEqual(receiver.signatureFailures, [], 'every request verified under each secret of the rotation');
      assert.match(String(delivery!.headers['webhook-id']), /^ioc:[0-9a-f]{16}:\d+\.0$/);
    } finally {
      detect.child.kill('SIGTERM');
      respond.child.kill('SIGTERM');
      await bus.close();
      await receiver.close();
    }
    assert.equal(await detect.exited, 0, detect.stderr());
    assert.equal(await respond.exited, 0, respond.stderr());
    assert.match(stoppedMetrics(detect.stderr(), 'detect'), /flowsentry_detect_alerts_total\{detector="ioc",status="open"\} [1-9]/);
    assert.match(stoppedMetrics(respond.stderr(), 'respond'), /flowsentry_notify_deliveries_total\{[^}]*outcome="delivered"[^}]*\} [1-9]/);
  });

  it('respond refuses a notify file with problems, naming each', async () => {
    const notify = join(dir, 'bad.yaml');
    writeFileSync(notify, 'endpoints:\n  - name: x\n    type: carrier-pigeon\nroutes: []\nextra: 1\n');
    const respond = stage(['respond', '--notify', notify]);
    assert.equal(await respond.exited, 2);
    assert.match(respond.stderr(), /bad\.yaml: /);
    assert.match(respond.stderr(), /carrier-pigeon|type/);
  });
});
