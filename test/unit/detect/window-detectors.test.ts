import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deploymentPod, enrichedFlow, publicAddress } from '../../support/enriched-flows.js';
import { afterLearning, batchSize, detect, detectWithRestarts, everyMinute, inEventOrder, minute, opened, T0 } from './support.js';
import type { EnrichedFlow } from '../../../schemas/types.js';

const frontend = deploymentPod('stars', 'frontend', '10.0.1.10');
const backend = deploymentPod('stars', 'backend', '10.0.1.20');
const client = deploymentPod('client', 'client', '10.0.2.10');
const end = afterLearning + 30 * minute;

/** Normal traffic of the stars demo: client → frontend:80, frontend → backend:6379, a few flows a minute. */
const normal = (from: number, to: number) =>
  everyMinute(from, to, (start) => [
    enrichedFlow(client, frontend, { at: start + 10_000, port: 80 }),
    enrichedFlow(frontend, backend, { at: start + 20_000, port: 6379 }),
    enrichedFlow(frontend, backend, { at: start + 40_000, port: 6379 }),
  ]);

/** A pod probing `count` ports of `target` within one minute, refused. */
const portScan = (scanner: typeof frontend, target: typeof backend, at: number, count: number) =>
  Array.from({ length: count }, (_, index) => enrichedFlow(scanner, target, { at: at + index * 100, port: 1 + index, action: 'deny', packets: 1 }));

describe('Detect > port_scan', () => {
  it('warm-up: a scan inside the learning period teaches, it does not alert', () => {
    const { alerts, core } = detect(inEventOrder([...normal(T0, T0 + 5 * minute), ...portScan(frontend, backend, T0 + 2 * minute, 100)]));
    assert.deepEqual(alerts, []);
    assert.equal(core.stats.learning, true);
  });

  it('normal: traffic like the baseline raises nothing after learning', () => {
    assert.deepEqual(detect(normal(T0, end)).alerts, []);
  });

  it('attack: a refused scan of one destination is one alert on the scanning pod, updated as it grows, then resolved', () => {
    const scan = portScan(frontend, backend, afterLearning + 5 * minute, 200);
    const { alerts } = detect(inEventOrder([...normal(T0, end), ...scan]));
    const scans = alerts.filter((alert) => alert.detector === 'port_scan');
    assert.equal(opened(scans).length, 1);
    const [first] = scans;
    assert.equal(first?.source_name, frontend.name);
    assert.equal(first?.source_workload, 'deployment/frontend');
    assert.equal(first?.source_namespace, 'stars');
    assert.equal(first?.dest_ip, backend.ip);
    assert.equal(first?.technique, 'T1046');
    assert.equal(first?.status, 'open');
    // Each probe counts twice (denied and short): 15 ports reach the default limit of 30.
    assert.equal(first?.evidence?.distinct_ports, '15');
    assert.ok(scans.every((alert) => alert.alert_id === first?.alert_id), 'one episode');
    assert.deepEqual(
      scans.map((alert) => alert.revision),
      scans.map((_, index) => index),
    );
    const last = scans.at(-1)!;
    assert.equal(last.status, 'resolved');
    const samples = (last.samples ?? []).map((sample) => JSON.stringify(sample));
    assert.equal(new Set(samples).size, samples.length, 'samples are not repeated');
    assert.ok(samples.length > 0);
    // Past 64 members the count is a sketch's estimate, within a few percent.
    assert.ok(Math.abs(Number(last.evidence?.distinct_ports) - 200) <= 15, `distinct ports ${last.evidence?.distinct_ports}`);
    assert.ok(scans.slice(0, -1).every((alert) => alert.status === 'open'));
    assert.equal(severityOf(scans, 'high'), true, 'a scan of 400 points against a limit of 30 is high');
  });

  it('reset: a scan after the first one resolved opens a new episode', () => {
    const first = portScan(frontend, backend, afterLearning + 5 * minute, 40);
    const second = portScan(frontend, backend, afterLearning + 20 * minute, 40);
    const { alerts } = detect(inEventOrder([...normal(T0, end), ...first, ...second]));
    const episodes = opened(alerts.filter((alert) => alert.detector === 'port_scan'));
    assert.equal(episodes.length, 2);
    assert.notEqual(episodes[0]?.alert_id, episodes[1]?.alert_id);
    assert.equal(episodes[0]?.fingerprint, episodes[1]?.fingerprint);
  });

  it('restart: a core restored from its changelog mid-scan neither forgets nor alerts twice', () => {
    const flows = inEventOrder([...normal(T0, end), ...portScan(frontend, backend, afterLearning + 5 * minute, 200)]);
    const whole = detect(flows).alerts;
    const scanFlows = flows.flatMap((flow, index) => (flow.action === 'deny' ? [index] : []));
    const cuts = [scanFlows[0]! + 20, scanFlows[0]! + 60, scanFlows[0]! + 150].map((index) => Math.ceil(index / batchSize) * batchSize);
    assert.ok(cuts.at(-1)! < scanFlows.at(-1)!, 'the restarts fall inside the scan');
    assert.ok(whole.length > 2);
    assert.deepEqual(detectWithRestarts(flows, cuts), whole);
  });
});

const severityOf = (alerts: readonly { severity: string }[], severity: string) => alerts.some((alert) => alert.severity === severity);

describe('Detect > ip_sweep', () => {
  const prometheus = deploymentPod('monitoring', 'prometheus', '10.0.9.9');
  /** `count` pods of a deployment, with addresses from `base`. */
  const pods = (namespace: string, name: string, count: number, base: number, hash = '7d9f8c6b5') =>
    Array.from({ length: count }, (_, index) => deploymentPod(namespace, name, `10.0.${base}.${index + 1}`, `p${index}`, hash));
  const scrape = (targets: ReturnType<typeof pods>, at: number) => targets.map((target, index) => enrichedFlow(prometheus, target, { at: at + index * 10, port: 9090 }));

  it('normal: Prometheus scraping every pod, through a rollout that renews every address, is not a sweep', () => {
    const before = pods('shop', 'web', 40, 3);
    const after = pods('shop', 'web', 40, 4, 'b8c9d7f6'); // the rollout: new ReplicaSet hash, new addresses
    const flows = [...everyMinute(T0, afterLearning + 5 * minute, (start) => scrape(before, start + 1_000)), ...everyMinute(afterLearning + 5 * minute, end, (start) => scrape(after, start + 1_000))];
    assert.deepEqual(detect(flows).alerts, []);
  });

  it('normal: a rollout with the old and the new pods scraped side by side is still the same targets', () => {
    const before = pods('shop', 'web', 18, 3);
    const after = pods('shop', 'web', 18, 4, 'b8c9d7f6');
    const flows = [
      ...everyMinute(T0, afterLearning + 5 * minute, (start) => scrape(before, start + 1_000)),
      ...everyMinute(afterLearning + 5 * minute, afterLearning + 8 * minute, (start) => scrape([...before, ...after], start + 1_000)),
      ...everyMinute(afterLearning + 8 * minute, end, (start) => scrape(after, start + 1_000)),
    ];
    assert.deepEqual(detect(flows).alerts, []);
  });

  it('attack: one pod touching 60 addresses on port 22 is one sweep alert, on that pod', () => {
    const targets = Array.from({ length: 60 }, (_, index) => publicAddress(`10.0.7.${index + 1}`));
    const sweep = targets.map((target, index) => enrichedFlow(frontend, { ...target, nameAggr: 'pvt' }, { at: afterLearning + 3 * minute + index * 200, port: 22, packets: 2 }));
    const { alerts } = detect(inEventOrder([...normal(T0, end), ...sweep]));
    const sweeps = alerts.filter((alert) => alert.detector === 'ip_sweep');
    assert.equal(opened(sweeps).length, 1);
    assert.equal(sweeps[0]?.source_name, frontend.name);
    assert.equal(sweeps[0]?.evidence?.port, '6/22');
    assert.equal(sweeps[0]?.evidence?.distinct_destinations, '20');
    assert.equal(sweeps[0]?.technique, 'T1018');
    assert.equal(sweeps.at(-1)?.status, 'resolved');
  });
});

describe('Detect > denied_spike', () => {
  /** Normal: two denied flows a minute (a misconfigured health check). */
  const deniedNoise = (from: number, to: number) => everyMinute(from, to, (start) => [0, 1].map((index) => enrichedFlow(frontend, backend, { at: start + 5_000 + index * 1_000, port: 8080, action: 'deny' })));

  it('warm-up and normal: a steady trickle of denied flows is the baseline', () => {
    assert.deepEqual(detect(inEventOrder([...normal(T0, end), ...deniedNoise(T0, end)])).alerts, []);
  });

  it('attack: 80 denied flows in a minute from one pod alert, against its baseline', () => {
    const burst = Array.from({ length: 80 }, (_, index) => enrichedFlow(frontend, backend, { at: afterLearning + 4 * minute + index * 500, port: 8080, action: 'deny' }));
    const { alerts } = detect(inEventOrder([...normal(T0, end), ...deniedNoise(T0, end), ...burst]), { ...testOptionsOnly(['denied_spike']) });
    assert.equal(opened(alerts).length, 1);
    assert.equal(alerts[0]?.detector, 'denied_spike');
    assert.equal(alerts[0]?.source_workload, 'deployment/frontend');
    assert.equal(alerts[0]?.evidence?.denied_flows, '30');
    assert.equal(alerts.at(-1)?.status, 'resolved');
  });

  it('restart: restored mid-burst, the same alerts', () => {
    const burst = Array.from({ length: 80 }, (_, index) => enrichedFlow(frontend, backend, { at: afterLearning + 4 * minute + index * 500, port: 8080, action: 'deny' }));
    const flows = inEventOrder([...normal(T0, end), ...deniedNoise(T0, end), ...burst]);
    const burstStart = flows.findIndex((flow) => flow.action === 'deny' && flow.end_time > afterLearning + 4 * minute);
    const cuts = [burstStart + 10, burstStart + 40].map((index) => Math.ceil(index / batchSize) * batchSize);
    const whole = detect(flows).alerts;
    assert.equal(opened(whole).length, 1);
    assert.deepEqual(detectWithRestarts(flows, cuts), whole);
  });
});

describe('Detect > exfiltration', () => {
  const backup = deploymentPod('ops', 'backup', '10.0.5.5');
  const bucket = publicAddress('52.216.10.1');
  const uploads = (from: number, to: number, bytes: number) => everyMinute(from, to, (start) => [enrichedFlow(backup, bucket, { at: start + 30_000, port: 443, bytesOut: bytes })]);

  it('normal: the nightly 40 MB a minute to object storage is the baseline', () => {
    assert.deepEqual(detect(uploads(T0, end, 40e6)).alerts, []);
  });

  it('attack: 2 GB in a minute to public addresses alerts on the sending pod; private destinations never count', () => {
    const burst = [enrichedFlow(backup, publicAddress('198.51.100.20'), { at: afterLearning + 6 * minute + 10_000, port: 443, bytesOut: 2e9 })];
    const internal = [enrichedFlow(backup, { type: 'net', ip: '10.9.0.1', nameAggr: 'pvt' }, { at: afterLearning + 8 * minute, port: 443, bytesOut: 5e9 })];
    const { alerts } = detect(inEventOrder([...uploads(T0, end, 40e6), ...burst, ...internal]));
    assert.equal(opened(alerts).length, 1);
    assert.equal(alerts[0]?.detector, 'exfiltration');
    assert.equal(alerts[0]?.source_name, backup.name);
    assert.equal(alerts[0]?.technique, 'T1048');
    assert.equal(alerts[0]?.evidence?.bytes_out, String(2e9));
    // The window's later upload is not worth a new revision, but the resolution carries it.
    assert.equal(alerts.at(-1)?.status, 'resolved');
    assert.equal(alerts.at(-1)?.evidence?.bytes_out, String(40e6 + 2e9));
  });

  it('a flow reported by its destination does not count its bytes again', () => {
    const twice = (at: number, reporter: 'src' | 'dst') => enrichedFlow(backup, publicAddress('198.51.100.20'), { at, port: 443, bytesOut: 50e6, reporter });
    const flows: EnrichedFlow[] = [twice(afterLearning + 10_000, 'src'), twice(afterLearning + 10_000, 'dst')];
    assert.deepEqual(detect(flows, { ...testOptionsOnly(['exfiltration']), learnMs: 0 }).alerts, []);
  });
});

function testOptionsOnly(detectors: ('denied_spike' | 'exfiltration')[]) {
  return { learnMs: 10 * minute, windowMs: minute, allowedLatenessMs: 5_000, detectors };
}

describe('Detect > late flows', () => {
  it('a flow whose window has closed counts in the current window, and is counted as late', () => {
    const options = { ...testOptionsOnly(['denied_spike']), learnMs: 0 };
    const now = afterLearning + 10 * minute;
    const current = Array.from({ length: 25 }, (_, index) => enrichedFlow(frontend, backend, { at: now + 100 + index * 100, port: 8080, action: 'deny' }));
    // Ten denied flows that ended three minutes earlier, delivered late (a slow node).
    const late = Array.from({ length: 10 }, (_, index) => enrichedFlow(frontend, backend, { at: now - 3 * minute + index * 100, port: 8080, action: 'deny' }));
    const { alerts, core } = detect([...current, ...late], options);
    assert.equal(core.stats.late, 10);
    assert.equal(opened(alerts).length, 1, 'together they pass the limit of 30 in the current window');
    assert.equal(opened(alerts)[0]?.start_time, now, 'the window the current flows are in');
  });
});
