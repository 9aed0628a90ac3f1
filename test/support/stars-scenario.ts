import { pod, watchLine } from './kubernetes-objects.js';

/**
 * A small cluster as recorded files: the stars demo of the Calico docs (management-ui, client,
 * frontend, backend), kube-dns, Prometheus and a database; its inventory as watch lines and its
 * traffic as VPC Flow Log lines. The first `learnMinutes` are normal; the backend rolls out
 * (new ReplicaSet, new addresses) after them; then the frontend pod is compromised: it scans the
 * backend's ports, sweeps addresses on port 22, opens an SSH session to the database and calls
 * a known-bad address.
 */
export const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const minute = 60_000;

export interface ScenarioPod {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly owner: { kind: string; name: string };
  readonly labels: Record<string, string>;
}

const deployment = (namespace: string, name: string, hash: string, suffix: string, ip: string): ScenarioPod => ({
  namespace,
  name: `${name}-${hash}-${suffix}`,
  ip,
  owner: { kind: 'ReplicaSet', name: `${name}-${hash}` },
  labels: { app: name, 'pod-template-hash': hash },
});
const statefulSet = (namespace: string, name: string, ordinal: number, ip: string): ScenarioPod => ({
  namespace,
  name: `${name}-${ordinal}`,
  ip,
  owner: { kind: 'StatefulSet', name },
  labels: { app: name },
});

export const pods = {
  frontend: deployment('stars', 'frontend', '7d9f8c6b5', 'f4x2k', '10.0.1.11'),
  backendOld: [deployment('stars', 'backend', '5c8d7f9b6', 'b1q2w', '10.0.1.21'), deployment('stars', 'backend', '5c8d7f9b6', 'b3e4r', '10.0.1.22')],
  backendNew: [deployment('stars', 'backend', '6f7b9c8d4', 'n5t6y', '10.0.1.31'), deployment('stars', 'backend', '6f7b9c8d4', 'n7u8i', '10.0.1.32')],
  client: deployment('client', 'client', '6b4c9d8f7', 'c9o0p', '10.0.2.11'),
  ui: deployment('management-ui', 'management-ui', '8d7c6b5f4', 'm1a2s', '10.0.3.11'),
  dns: deployment('kube-system', 'coredns', '5d7c9b8f6', 'd3f4g', '10.0.0.10'),
  prometheus: statefulSet('monitoring', 'prometheus', 0, '10.0.9.9'),
  postgres: statefulSet('data', 'postgres', 0, '10.0.4.11'),
} as const;

export const knownBad = '203.0.113.66';
/** A feed in the plain-text format, listing the known-bad address's network. */
export const feedText = ['# example blocklist', '198.51.100.0/24  # scanners', '203.0.113.0/24   # c2', '192.0.2.7', ''].join('\n');

export interface Scenario {
  readonly inventory: string[];
  readonly flows: string[];
  readonly learnMinutes: number;
  /** When the attack starts. */
  readonly attackAt: number;
}

/** One VPC Flow Log record (default format), from `source` to `dest`. */
function vpcLine(source: string, dest: string, sourcePort: number, destPort: number, proto: number, packets: number, bytes: number, at: number, seconds = 1): string {
  const start = Math.floor(at / 1000);
  return `2 123456789012 eni-0a1b2c3d4e5f60718 ${source} ${dest} ${sourcePort} ${destPort} ${proto} ${packets} ${bytes} ${start} ${start + seconds} ACCEPT OK`;
}

export function starsScenario(options: { learnMinutes?: number; minutes?: number } = {}): Scenario {
  const learnMinutes = options.learnMinutes ?? 15;
  const total = options.minutes ?? learnMinutes + 15;
  const rollout = T0 + (learnMinutes + 2) * minute;
  const attackAt = T0 + (learnMinutes + 6) * minute;
  const objects = (list: readonly ScenarioPod[]) => list.map((spec) => ({ spec, object: pod({ ...spec, node: 'node-a' }) }));
  const steady = objects([pods.frontend, pods.client, pods.ui, pods.dns, pods.prometheus, pods.postgres]);
  const oldBackend = objects(pods.backendOld);
  const newBackend = objects(pods.backendNew);
  const inventory = [
    ...[...steady, ...oldBackend].map(({ object }) => watchLine(T0 - 10 * minute, 'ADDED', object)),
    ...newBackend.map(({ object }) => watchLine(rollout - 5_000, 'ADDED', object)),
    ...oldBackend.map(({ object }) => watchLine(rollout, 'DELETED', object)),
  ];

  const flows: string[] = [];
  let ephemeral = 40_000;
  const port = () => (ephemeral = ephemeral >= 60_000 ? 40_000 : ephemeral + 1);
  for (let start = T0; start < T0 + total * minute; start += minute) {
    const backends = start < rollout ? pods.backendOld : pods.backendNew;
    const everyone = [pods.frontend, pods.client, pods.ui, pods.prometheus, pods.postgres, ...backends];
    const lines: [number, string][] = [];
    const add = (at: number, line: string) => lines.push([at, line]);
    everyone.forEach((from, index) => {
      const at = start + 1_000 + index * 500;
      const asked = port();
      add(at, vpcLine(from.ip, pods.dns.ip, asked, 53, 17, 1, 80, at));
      add(at, vpcLine(pods.dns.ip, from.ip, 53, asked, 17, 1, 160, at)); // the answer, as VPC logs write it
    });
    add(start + 10_000, vpcLine(pods.client.ip, pods.frontend.ip, port(), 80, 6, 12, 2_400, start + 10_000, 2));
    add(start + 11_000, vpcLine(pods.ui.ip, pods.frontend.ip, port(), 80, 6, 12, 2_400, start + 11_000, 2));
    backends.forEach((backend, index) => add(start + 12_000 + index * 1_000, vpcLine(pods.frontend.ip, backend.ip, port(), 6379, 6, 20, 3_000, start + 12_000 + index * 1_000, 3)));
    backends.forEach((backend, index) => add(start + 15_000 + index * 1_000, vpcLine(backend.ip, pods.postgres.ip, port(), 5432, 6, 30, 9_000, start + 15_000 + index * 1_000, 3)));
    [pods.frontend, pods.client, pods.ui, pods.postgres, ...backends].forEach((target, index) => {
      const at = start + 30_000 + index * 200;
      add(at, vpcLine(pods.prometheus.ip, target.ip, port(), 9090, 6, 10, 4_000, at));
    });
    if (start === attackAt) {
      const victim = pods.backendNew[0]!;
      for (let probe = 0; probe < 40; probe++) add(start + 2_000 + probe * 250, vpcLine(pods.frontend.ip, victim.ip, port(), 1 + probe * 3, 6, 1, 44, start + 2_000 + probe * 250));
      for (let host = 1; host <= 30; host++) add(start + 20_000 + host * 300, vpcLine(pods.frontend.ip, `10.0.200.${host}`, port(), 22, 6, 1, 44, start + 20_000 + host * 300));
    }
    if (start === attackAt + minute) add(start + 5_000, vpcLine(pods.frontend.ip, pods.postgres.ip, port(), 22, 6, 40, 6_000, start + 5_000, 20));
    if (start === attackAt + 2 * minute) add(start + 5_000, vpcLine(pods.frontend.ip, knownBad, port(), 443, 6, 20, 5_000, start + 5_000, 5));
    lines.sort((a, b) => a[0] - b[0]);
    flows.push(...lines.map(([, line]) => line));
  }
  return { inventory, flows, learnMinutes, attackAt };
}
