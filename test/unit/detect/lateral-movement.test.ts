import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deploymentPod, enrichedFlow, nodeAddress, type FlowEndSpec } from '../../support/enriched-flows.js';
import { afterLearning, batchSize, detect, detectWithRestarts, everyMinute, inEventOrder, minute, opened, T0 } from './support.js';

const end = afterLearning + 40 * minute;
const kubeDns = deploymentPod('kube-system', 'coredns', '10.0.0.10');
const prometheus = deploymentPod('monitoring', 'prometheus', '10.0.9.9');
const frontend = (hash = '7d9f8c6b5', ip = '10.0.1.10') => deploymentPod('stars', 'frontend', ip, 'x1', hash);
const backend = deploymentPod('stars', 'backend', '10.0.1.20');
const db = deploymentPod('data', 'postgres', '10.0.3.30');
const client = deploymentPod('client', 'client', '10.0.2.10');
const ui = deploymentPod('management-ui', 'management-ui', '10.0.4.10');
const reports = deploymentPod('reports', 'reports', '10.0.6.10'); // a workload deployed after learning

/** What a small cluster does every minute: the stars demo, DNS for everyone, Prometheus scraping everyone. */
function cluster(from: number, to: number, front: FlowEndSpec = frontend(), extra: FlowEndSpec[] = []) {
  const everyone = [front, backend, db, client, ui, ...extra];
  return everyMinute(from, to, (start) => [
    enrichedFlow(client, front, { at: start + 1_000, port: 80 }),
    enrichedFlow(ui, front, { at: start + 2_000, port: 80 }),
    enrichedFlow(front, backend, { at: start + 3_000, port: 6379 }),
    enrichedFlow(backend, db, { at: start + 4_000, port: 5432 }),
    ...everyone.map((pod, index) => enrichedFlow(pod, kubeDns, { at: start + 5_000 + index * 10, port: 53, proto: 17 })),
    // kube-dns answering, as VPC Flow Logs write it: from port 53 to the asker's ephemeral port.
    ...everyone.map((pod, index) => enrichedFlow(kubeDns, pod, { at: start + 5_005 + index * 10, port: 41_000 + index, proto: 17, sourcePort: 53 })),
    ...everyone.map((pod, index) => enrichedFlow(prometheus, pod, { at: start + 6_000 + index * 10, port: 9090 })),
  ]);
}

describe('Detect > lateral_movement', () => {
  it('warm-up and normal: the learned graph, DNS for everyone and Prometheus scraping everyone raise nothing', () => {
    assert.deepEqual(detect(cluster(T0, end)).alerts, []);
  });

  it('a Deployment rollout (new ReplicaSet hash, new addresses) is not lateral movement', () => {
    const flows = [...cluster(T0, afterLearning + 5 * minute), ...cluster(afterLearning + 5 * minute, end, frontend('b8c9d7f6', '10.0.1.99'))];
    assert.deepEqual(detect(flows).alerts, []);
  });

  it('a workload deployed after learning that asks kube-dns and is scraped by Prometheus is nothing', () => {
    const flows = [...cluster(T0, afterLearning + 5 * minute), ...cluster(afterLearning + 5 * minute, end, frontend(), [reports])];
    assert.deepEqual(detect(flows).alerts, []);
  });

  it('attack: a new SSH session from the frontend, then a database one, is one alert on the frontend pod whose severity grows', () => {
    const ssh = enrichedFlow(frontend(), backend, { at: afterLearning + 7 * minute + 30_000, port: 22 });
    const psql = enrichedFlow(frontend(), db, { at: afterLearning + 8 * minute + 30_000, port: 5432 });
    const third = enrichedFlow(frontend(), ui, { at: afterLearning + 8 * minute + 40_000, port: 3389 });
    const { alerts } = detect(inEventOrder([...cluster(T0, end), ssh, psql, third]));
    assert.ok(alerts.every((alert) => alert.detector === 'lateral_movement'));
    assert.equal(opened(alerts).length, 1);
    assert.deepEqual(
      alerts.map((alert) => [alert.revision, alert.status, alert.severity, alert.evidence?.new_edges]),
      [
        [0, 'open', 'high', '1'],
        [1, 'open', 'high', '2'],
        [2, 'open', 'critical', '3'],
        [3, 'resolved', 'critical', '3'],
      ],
    );
    const [first] = alerts;
    assert.equal(first?.source_name, frontend().name);
    assert.equal(first?.source_workload, 'deployment/frontend');
    assert.equal(first?.dest_workload, 'deployment/backend');
    assert.equal(first?.dest_port, 22);
    assert.equal(first?.technique, 'T1021');
    assert.equal(first?.evidence?.edges, 'stars/deployment/backend|6/22');
  });

  it('a new edge across namespaces on an ordinary port alerts; within the namespace it does not', () => {
    const across = enrichedFlow(client, backend, { at: afterLearning + 7 * minute, port: 8080 });
    const within = enrichedFlow(frontend(), backend, { at: afterLearning + 7 * minute + 1_000, port: 8080 });
    const { alerts } = detect(inEventOrder([...cluster(T0, end), across, within]));
    assert.equal(opened(alerts).length, 1);
    assert.equal(alerts[0]?.source_workload, 'deployment/client');
    assert.equal(alerts[0]?.severity, 'medium');
  });

  it('probes are not sessions: a refused or one-packet SSH attempt is left to the scan detectors', () => {
    const refused = enrichedFlow(frontend(), backend, { at: afterLearning + 7 * minute, port: 22, action: 'deny' });
    const probe = enrichedFlow(frontend(), db, { at: afterLearning + 7 * minute + 10, port: 22, packets: 2 });
    assert.deepEqual(detect(inEventOrder([...cluster(T0, end), refused, probe])).alerts, []);
  });

  it('kubelet on a node is a sensitive edge', () => {
    const kubelet = enrichedFlow(frontend(), nodeAddress('ip-10-0-1-23', '10.0.1.23'), { at: afterLearning + 7 * minute, port: 10250 });
    const { alerts } = detect(inEventOrder([...cluster(T0, end), kubelet]));
    assert.equal(alerts[0]?.evidence?.edges, 'hep:ip-10-0-1-23|6/10250');
    assert.equal(alerts[0]?.severity, 'high');
  });

  it('a new edge after the first episode resolved is a new episode, with a new alert id', () => {
    const ssh = enrichedFlow(frontend(), backend, { at: afterLearning + 7 * minute, port: 22 });
    const redis = enrichedFlow(frontend(), db, { at: afterLearning + 17 * minute, port: 6379 });
    const { alerts } = detect(inEventOrder([...cluster(T0, end), ssh, redis]));
    const episodes = opened(alerts);
    assert.equal(episodes.length, 2);
    assert.notEqual(episodes[0]?.alert_id, episodes[1]?.alert_id);
    assert.equal(episodes[0]?.fingerprint, episodes[1]?.fingerprint);
  });

  it('restart: restored between the first and the second new edge, the same alerts', () => {
    const ssh = enrichedFlow(frontend(), backend, { at: afterLearning + 7 * minute + 30_000, port: 22 });
    const psql = enrichedFlow(frontend(), db, { at: afterLearning + 8 * minute + 30_000, port: 5432 });
    const flows = inEventOrder([...cluster(T0, end), ssh, psql]);
    const cut = Math.ceil((flows.indexOf(ssh) + 1) / batchSize) * batchSize;
    assert.ok(cut < flows.indexOf(psql));
    const whole = detect(flows).alerts;
    assert.equal(whole.length, 3);
    assert.deepEqual(detectWithRestarts(flows, [cut]), whole);
  });
});
