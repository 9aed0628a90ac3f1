/**
 * The demo cluster of `flowsentry run` on embedded defaults: the stars demo of the Calico docs
 * (management-ui, client, frontend, backend) with kube-dns, a Prometheus and a PostgreSQL, on
 * two nodes; its inventory as the Kubernetes objects the API server would list, and its traffic
 * as the VPC Flow Log lines its ENIs would write, minute by minute of event time.
 *
 * The traffic is normal until `attackMinute`; then one frontend pod is compromised: it scans the
 * backend's ports, sweeps the pod network on port 22, opens an SSH session to the database and
 * calls a known-bad address. Pure: the same options give the same objects and lines.
 */

export interface DemoPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly ip: string;
  readonly node: string;
  readonly owner: { readonly kind: 'ReplicaSet' | 'StatefulSet'; readonly name: string };
  readonly labels: Readonly<Record<string, string>>;
}

const nodes = [
  { name: 'ip-10-0-0-21.ec2.internal', ip: '10.0.0.21', uid: 'node-a-0001' },
  { name: 'ip-10-0-0-22.ec2.internal', ip: '10.0.0.22', uid: 'node-b-0002' },
] as const;

let uidSerial = 0;
const uidOf = (name: string) => `${(++uidSerial).toString(16).padStart(8, '0')}-demo-${name.replace(/[^a-z0-9]/g, '').slice(0, 12)}`;

function replica(namespace: string, app: string, hash: string, suffix: string, ip: string, node: number, extra: Record<string, string> = {}): DemoPod {
  const name = `${app}-${hash}-${suffix}`;
  return { namespace, name, uid: uidOf(name), ip, node: nodes[node]!.name, owner: { kind: 'ReplicaSet', name: `${app}-${hash}` }, labels: { app, 'pod-template-hash': hash, ...extra } };
}

function ordinal(namespace: string, app: string, index: number, ip: string, node: number): DemoPod {
  const name = `${app}-${index}`;
  return { namespace, name, uid: uidOf(name), ip, node: nodes[node]!.name, owner: { kind: 'StatefulSet', name: app }, labels: { app, 'statefulset.kubernetes.io/pod-name': name } };
}

/** The pods, by role. The frontend runs two replicas, so quarantining one leaves the other serving. */
export const demoPods = {
  frontend: [replica('stars', 'frontend', '7d9f8c6b5', 'f4x2k', '10.0.1.11', 0, { role: 'frontend' }), replica('stars', 'frontend', '7d9f8c6b5', 'h8m3q', '10.0.1.12', 1, { role: 'frontend' })],
  backend: [replica('stars', 'backend', '5c8d7f9b6', 'b1q2w', '10.0.1.21', 0, { role: 'backend' }), replica('stars', 'backend', '5c8d7f9b6', 'b3e4r', '10.0.1.22', 1, { role: 'backend' })],
  client: replica('client', 'client', '6b4c9d8f7', 'c9o0p', '10.0.2.11', 1, { role: 'client' }),
  ui: replica('management-ui', 'management-ui', '8d7c6b5f4', 'm1a2s', '10.0.3.11', 0, { role: 'management-ui' }),
  dns: [replica('kube-system', 'coredns', '5d7c9b8f6', 'd3f4g', '10.0.0.10', 0, { 'k8s-app': 'kube-dns' }), replica('kube-system', 'coredns', '5d7c9b8f6', 'k5l6z', '10.0.0.11', 1, { 'k8s-app': 'kube-dns' })],
  prometheus: ordinal('monitoring', 'prometheus', 0, '10.0.9.9', 1),
  postgres: ordinal('data', 'postgres', 0, '10.0.4.11', 0),
} as const;

/** The pod the attacker controls. */
export const compromisedPod: DemoPod = demoPods.frontend[0];
/** The address the compromised pod calls, listed by the demo's threat feed. */
export const knownBadAddress = '203.0.113.66';
/** The demo's threat feed, in the plain-text format: one address or CIDR block per line. */
export const demoFeedText = ['# demo blocklist: documentation ranges standing in for a real feed', '198.51.100.0/24  # scanners', '203.0.113.0/24   # command and control', '192.0.2.7', ''].join('\n');

/**
 * The demo's response policy: every alert of the attack quarantines its pod, in dry run, so the
 * summary shows the exact requests a quarantine would send and nothing is written.
 */
export const demoResponsePolicyText = `rules:
  - name: contain-attacks
    match:
      detectors: [port_scan, ip_sweep, lateral_movement, ioc]
    backend: calico
    ttl: 1h
    dryRun: true
`;

export const allDemoPods: readonly DemoPod[] = [...demoPods.frontend, ...demoPods.backend, demoPods.client, demoPods.ui, ...demoPods.dns, demoPods.prometheus, demoPods.postgres];

/** The pod as the API server returns it (Running, ready), for the inventory and the quarantine dry run. */
export function podObject(pod: DemoPod, createdAt: number): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      resourceVersion: '1',
      creationTimestamp: new Date(createdAt).toISOString(),
      labels: { ...pod.labels },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: pod.owner.kind, name: pod.owner.name, uid: `${pod.owner.name}-owner`, controller: true }],
    },
    spec: { nodeName: pod.node, serviceAccountName: pod.labels['app'] ?? 'default', containers: [{ name: 'main', image: `demo/${pod.labels['app'] ?? 'app'}:1` }] },
    status: { phase: 'Running', podIP: pod.ip, podIPs: [{ ip: pod.ip }], conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

/** Every object of the demo inventory: namespaces, nodes and pods. */
export function demoInventoryObjects(createdAt: number): Record<string, unknown>[] {
  const namespaces = [...new Set(allDemoPods.map((pod) => pod.namespace))].map((name) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, uid: `ns-${name}`, labels: { 'kubernetes.io/metadata.name': name } },
  }));
  const nodeObjects = nodes.map((node) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, uid: node.uid, labels: { 'topology.kubernetes.io/zone': 'us-east-1a' } },
    status: { addresses: [{ type: 'InternalIP', address: node.ip }, { type: 'Hostname', address: node.name }] },
  }));
  return [...namespaces, ...nodeObjects, ...allDemoPods.map((pod) => podObject(pod, createdAt))];
}

export interface DemoTrafficOptions {
  /** Event time of the first minute, epoch ms (a whole minute). */
  readonly start: number;
  /** Minutes of normal traffic before the attack: the detectors learn the cluster meanwhile. */
  readonly attackMinute: number;
  /** Requests each client pod makes to the frontend per minute: the size of the traffic. */
  readonly requestsPerMinute: number;
}

export const minuteMs = 60_000;

/**
 * One VPC Flow Log record in the default (v2) format: one connection, as the ENI of `source`
 * logs it, lasting `seconds`.
 */
export function vpcLine(source: string, dest: string, sourcePort: number, destPort: number, proto: number, packets: number, bytes: number, at: number, seconds = 1, action = 'ACCEPT'): string {
  const start = Math.floor(at / 1000);
  return `2 123456789012 eni-0a1b2c3d4e5f60718 ${source} ${dest} ${sourcePort} ${destPort} ${proto} ${packets} ${bytes} ${start} ${start + seconds} ${action} OK`;
}

/** What the attack does, minute by minute after it starts. */
export const attackSteps = ['port scan of a backend pod', 'address sweep on port 22', 'SSH to the database', 'call to a known-bad address'] as const;

/**
 * The lines of one minute of event time (`minute` counts from `start`), in time order. The
 * ephemeral ports follow from the minute alone, so any minute can be made on its own.
 */
export function demoMinute(options: DemoTrafficOptions, minute: number): string[] {
  const begin = options.start + minute * minuteMs;
  const lines: [number, string][] = [];
  const add = (at: number, line: string) => lines.push([at, line]);
  let ephemeral = 32_768 + ((minute * 7_919) % 20_000);
  const port = () => (ephemeral = ephemeral >= 60_999 ? 32_768 : ephemeral + 1);
  const dnsOf = (index: number) => demoPods.dns[index % demoPods.dns.length]!;
  const within = (index: number, count: number) => begin + Math.floor(((index + 0.5) * 55_000) / Math.max(1, count));
  const requests = Math.max(1, options.requestsPerMinute);

  // Every client of the frontend: the client, the management UI, and each other through the frontend.
  for (let i = 0; i < requests; i++) {
    const at = within(i, requests);
    const frontend = demoPods.frontend[i % 2]!;
    const from = i % 3 === 2 ? demoPods.ui : demoPods.client;
    const asked = port();
    add(at, vpcLine(from.ip, dnsOf(i).ip, asked, 53, 17, 1, 74, at));
    add(at, vpcLine(dnsOf(i).ip, from.ip, 53, asked, 17, 1, 138, at));
    add(at + 20, vpcLine(from.ip, frontend.ip, port(), 80, 6, 10 + (i % 7), 1_800 + (i % 13) * 97, at + 20, 2));
    const backend = demoPods.backend[i % 2]!;
    add(at + 40, vpcLine(frontend.ip, backend.ip, port(), 6379, 6, 6 + (i % 5), 900 + (i % 11) * 53, at + 40));
    if (i % 4 === 0) add(at + 60, vpcLine(backend.ip, demoPods.postgres.ip, port(), 5432, 6, 14 + (i % 9), 4_200 + (i % 17) * 211, at + 60, 2));
  }
  // The management UI polls every star's status.
  for (const [index, star] of [...demoPods.frontend, ...demoPods.backend, demoPods.client].entries()) {
    const at = begin + 5_000 + index * 700;
    add(at, vpcLine(demoPods.ui.ip, star.ip, port(), 9001, 6, 4, 620, at));
  }
  // Prometheus scrapes every pod twice a minute.
  for (const half of [0, 30_000]) {
    for (const [index, target] of allDemoPods.filter((pod) => pod !== demoPods.prometheus).entries()) {
      const at = begin + half + 2_000 + index * 150;
      add(at, vpcLine(demoPods.prometheus.ip, target.ip, port(), 9090, 6, 8, 3_600, at));
    }
  }

  const step = minute - options.attackMinute;
  const attacker = compromisedPod.ip;
  if (step === 0) {
    const victim = demoPods.backend[0]!;
    for (let probe = 0; probe < 40; probe++) add(begin + 2_000 + probe * 250, vpcLine(attacker, victim.ip, port(), 1 + probe * 3, 6, 1, 44, begin + 2_000 + probe * 250));
  }
  if (step === 1) for (let host = 1; host <= 30; host++) add(begin + 3_000 + host * 300, vpcLine(attacker, `10.0.200.${host}`, port(), 22, 6, 1, 44, begin + 3_000 + host * 300));
  if (step === 2) add(begin + 5_000, vpcLine(attacker, demoPods.postgres.ip, port(), 22, 6, 40, 6_000, begin + 5_000, 20));
  if (step === 3) add(begin + 5_000, vpcLine(attacker, knownBadAddress, port(), 443, 6, 20, 5_000, begin + 5_000, 5));
  lines.sort((a, b) => a[0] - b[0]);
  return lines.map(([, line]) => line);
}
