import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DetectorName } from '../../../detect/detection.js';
import type { EnrichedFlow } from '../../../schemas/types.js';
import { deploymentPod, enrichedFlow, privateAddress, publicAddress } from '../../support/enriched-flows.js';
import { afterLearning, batchSize, detect, detectWithRestarts, everyMinute, inEventOrder, minute, opened, T0, testOptions } from './support.js';

const web = deploymentPod('shop', 'web', '10.0.5.10');
const api = deploymentPod('shop', 'api', '10.0.5.20');
const end = afterLearning + 40 * minute;

/** Each window detector: its normal traffic, and an attack starting at `at`. */
const cases: { detector: DetectorName; normal: (from: number, to: number) => EnrichedFlow[]; attack: (at: number) => EnrichedFlow[] }[] = [
  {
    detector: 'port_scan',
    normal: (from, to) => everyMinute(from, to, (start) => [enrichedFlow(web, api, { at: start + 5_000, port: 8080 })]),
    attack: (at) => Array.from({ length: 40 }, (_, index) => enrichedFlow(web, api, { at: at + index * 100, port: 2000 + index, packets: 2 })),
  },
  {
    detector: 'ip_sweep',
    normal: (from, to) => everyMinute(from, to, (start) => [enrichedFlow(web, api, { at: start + 5_000, port: 8080 })]),
    attack: (at) => Array.from({ length: 40 }, (_, index) => enrichedFlow(web, privateAddress(`10.9.0.${index + 1}`), { at: at + index * 100, port: 445, packets: 2 })),
  },
  {
    detector: 'denied_spike',
    normal: (from, to) => everyMinute(from, to, (start) => [enrichedFlow(web, api, { at: start + 5_000, port: 8080, action: 'deny' })]),
    attack: (at) => Array.from({ length: 50 }, (_, index) => enrichedFlow(web, api, { at: at + index * 100, port: 8080, action: 'deny' })),
  },
  {
    detector: 'exfiltration',
    normal: (from, to) => everyMinute(from, to, (start) => [enrichedFlow(web, publicAddress('52.216.1.1'), { at: start + 5_000, port: 443, bytesOut: 1e6 })]),
    attack: (at) => [enrichedFlow(web, publicAddress('198.51.100.9'), { at, port: 443, bytesOut: 3e8 })],
  },
];

for (const { detector, normal, attack } of cases) {
  const options = { ...testOptions, detectors: [detector] };
  const run = (...flows: EnrichedFlow[][]) => detect(inEventOrder(flows.flat()), options).alerts;

  describe(`Detect > ${detector} > lifecycle`, () => {
    it('warm-up: the attack inside the learning period raises nothing', () => {
      assert.deepEqual(run(normal(T0, end), attack(T0 + 3 * minute)), []);
    });

    it('normal: the baseline traffic alone raises nothing', () => {
      assert.deepEqual(run(normal(T0, end)), []);
    });

    it('attack: one episode on the attacking pod, resolved once the attack stops', () => {
      const alerts = run(normal(T0, end), attack(afterLearning + 5 * minute + 10_000));
      assert.equal(opened(alerts).length, 1);
      assert.ok(alerts.every((alert) => alert.detector === detector && alert.source_name === web.name && alert.source_workload === 'deployment/web'));
      assert.equal(alerts.at(-1)?.status, 'resolved');
    });

    it('reset: a second attack after the first resolved is a second episode', () => {
      const alerts = run(normal(T0, end), attack(afterLearning + 5 * minute + 10_000), attack(afterLearning + 25 * minute + 10_000));
      const episodes = opened(alerts);
      assert.equal(episodes.length, 2);
      assert.notEqual(episodes[0]!.alert_id, episodes[1]!.alert_id);
    });

    it('restart: cores restored from the changelog before, inside and after the attack give the same alerts', () => {
      const flows = inEventOrder([...normal(T0, end), ...attack(afterLearning + 5 * minute + 10_000)]);
      const whole = detect(flows, options).alerts;
      assert.ok(whole.length >= 2);
      const first = flows.findIndex((flow) => flow.end_time >= afterLearning + 5 * minute + 10_000);
      const cuts = [first - 20, first + 10, first + 60].map((index) => Math.max(batchSize, Math.ceil(index / batchSize) * batchSize)).filter((cut, i, all) => cut < flows.length && all.indexOf(cut) === i);
      assert.deepEqual(detectWithRestarts(flows, cuts, options), whole);
    });
  });
}
