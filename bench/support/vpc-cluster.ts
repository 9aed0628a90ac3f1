/**
 * A small EKS cluster and its traffic as AWS VPC Flow Log lines (the default v2 format), for the
 * end-to-end benches: 4 nodes, 24 Deployments of 4 pods in 6 namespaces, CoreDNS and Prometheus.
 * With the VPC CNI pods hold VPC addresses, so an ENI's log shows the pods' own addresses; the
 * inventory (Nodes and Pods as the API server returns them) lets enrich resolve both ends of every
 * cluster flow. Each flow is one record, as the source's ENI logs it (egress).
 *
 * Traffic, per flow from a pod of the node: 75% to a pod of one of its Deployment's two peers on
 * the peer's port; 12% to CoreDNS on 53/udp; 11% to one of 2 000 public addresses on 443; 2%
 * refused (REJECT) to a random pod on one of a few ports it does not serve (none of them a port
 * the lateral-movement detector holds sensitive).
 * Attacks: a port scan (one pod probing many ports of another), and calls to addresses that the
 * threat feed lists one by one (`listed(i)`), so each such call opens an alert of its own.
 * Deterministic (LCG) for a given seed.
 */
import { inventoryEventOf } from '../../enrich/kubernetes-objects.js';
import type { InventoryEvent } from '../../schemas/types.js';
import { node as nodeObject, pod as podObject } from '../../test/support/kubernetes-objects.js';
import { random } from '../measure.js';

export interface ClusterNode {
  readonly name: string;
  readonly ip: string;
  readonly eni: string;
}

export interface ClusterPod {
  readonly namespace: string;
  readonly name: string;
  readonly deployment: string;
  readonly ip: string;
  /** Index into `nodes`. */
  readonly node: number;
  readonly labels: Record<string, string>;
  readonly owner: { kind: string; name: string };
  /** The port it serves on. */
  readonly port: number;
}

const NODES = 4;
const REPLICAS = 4;
const PUBLIC_POOL = 2_000;
const namespaces: Record<string, readonly (readonly [string, number])[]> = {
  shop: [['frontend', 8080], ['cart', 8080], ['checkout', 8080], ['catalog', 8080]],
  payments: [['api', 8443], ['ledger', 5432], ['fraud', 9000], ['gateway', 8443]],
  search: [['query', 9200], ['indexer', 9200], ['proxy', 8080], ['suggest', 8080]],
  identity: [['auth', 8443], ['users', 8080], ['sessions', 6379], ['tokens', 8080]],
  data: [['postgres-proxy', 5432], ['redis', 6379], ['cache', 11211], ['s3-proxy', 8080]],
  batch: [['reports', 8080], ['exporter', 9100], ['scheduler', 8080], ['mailer', 2525]],
};

/** A call to the i-th listed address: 198.18.0.0/15 (public for enrich), one entry each in the feed. */
export const listed = (i: number) => `198.18.${(i >> 8) & 255}.${i & 255}`;
/** Addresses outside the feed, for the direct-to-OpenSearch baseline documents. */
export const unlisted = (i: number) => `198.19.${(i >> 8) & 255}.${i & 255}`;
/** How many listed addresses the feed holds. */
export const LISTED = 8_192;

/** Ports refused flows try. */
const refusedPorts = [8081, 9001, 9091, 15000, 50051];

const publicAddress = (i: number) => (i % 2 === 0 ? `52.94.${(i >> 8) & 255}.${i & 255}` : `54.239.${(i >> 8) & 255}.${i & 255}`);

export class VpcCluster {
  readonly nodes: ClusterNode[];
  readonly pods: ClusterPod[];
  private readonly podsOfNode: ClusterPod[][];
  private readonly byDeployment = new Map<string, ClusterPod[]>();
  private readonly peers = new Map<string, string[]>();
  private readonly dns: ClusterPod[];
  private readonly next: () => number;
  private ephemeral = 32_768;

  constructor(seed = 17) {
    this.next = random(seed);
    this.nodes = Array.from({ length: NODES }, (_, n) => ({ name: `ip-10-0-${n}-10.ec2.internal`, ip: `10.0.${n}.10`, eni: `eni-0a1b2c3d4e5f6070${n}` }));
    const pods: ClusterPod[] = [];
    const hosts = Array.from({ length: NODES }, () => 20);
    const place = (spec: Omit<ClusterPod, 'ip' | 'node'>, node: number) => {
      const pod = { ...spec, node, ip: `10.0.${node}.${hosts[node]!++}` };
      pods.push(pod);
      const list = this.byDeployment.get(`${spec.namespace}/${spec.deployment}`) ?? [];
      list.push(pod);
      this.byDeployment.set(`${spec.namespace}/${spec.deployment}`, list);
    };
    let d = 0;
    for (const [namespace, deployments] of Object.entries(namespaces)) {
      for (const [deployment, port] of deployments) {
        const hash = (0x5c8d7f9b + d * 7919).toString(16).slice(0, 9);
        for (let r = 0; r < REPLICAS; r++) {
          const name = `${deployment}-${hash}-${(r * 37 + d * 11 + 36 ** 4).toString(36).slice(-5)}`;
          place({ namespace, name, deployment, labels: { app: deployment, 'pod-template-hash': hash }, owner: { kind: 'ReplicaSet', name: `${deployment}-${hash}` }, port }, (d + r) % NODES);
        }
        d++;
      }
    }
    for (let r = 0; r < 2; r++) {
      place({ namespace: 'kube-system', name: `coredns-5d78c9869d-${['x7k2p', 'q9m4w'][r]}`, deployment: 'coredns', labels: { 'k8s-app': 'kube-dns', 'pod-template-hash': '5d78c9869d' }, owner: { kind: 'ReplicaSet', name: 'coredns-5d78c9869d' }, port: 53 }, r);
    }
    place({ namespace: 'monitoring', name: 'prometheus-0', deployment: 'prometheus', labels: { app: 'prometheus' }, owner: { kind: 'StatefulSet', name: 'prometheus' }, port: 9090 }, 2);
    this.pods = pods;
    // The application pods originate the traffic; CoreDNS and Prometheus only answer it.
    this.podsOfNode = this.nodes.map((_, n) => pods.filter((pod) => pod.node === n && pod.namespace !== 'kube-system' && pod.namespace !== 'monitoring'));
    this.dns = this.byDeployment.get('kube-system/coredns')!;
    const keys = Object.entries(namespaces).flatMap(([namespace, list]) => list.map(([deployment]) => `${namespace}/${deployment}`));
    keys.forEach((key, i) => this.peers.set(key, [keys[(i * 7 + 3) % keys.length]!, keys[(i * 13 + 5) % keys.length]!]));
  }

  /** Every Node and Pod as an ADDED event observed at `observedTime`. */
  inventory(observedTime: number): InventoryEvent[] {
    const objects = [
      ...this.nodes.map((node) => nodeObject(node.name, node.ip)),
      ...this.pods.map((pod) => podObject({ name: pod.name, namespace: pod.namespace, ip: pod.ip, node: this.nodes[pod.node]!.name, labels: pod.labels, owner: pod.owner, serviceAccount: pod.deployment })),
    ];
    return objects.map((object) => inventoryEventOf('ADDED', object, observedTime)!);
  }

  /** Pods of a Deployment (`namespace/name`). */
  deployment(key: string): ClusterPod[] {
    const pods = this.byDeployment.get(key);
    if (!pods) throw new Error(`no deployment ${key}`);
    return pods;
  }

  /** An application pod of node `node`, at random. */
  podOn(node: number): ClusterPod {
    const pods = this.podsOfNode[node]!;
    return pods[Math.floor(this.next() * pods.length)]!;
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]!;
  }

  private port(): number {
    this.ephemeral = this.ephemeral >= 60_999 ? 32_768 : this.ephemeral + 1;
    return this.ephemeral;
  }

  /** One VPC Flow Log record (v2) at `node`'s ENI, ending at `end` (epoch seconds). */
  line(node: number, source: string, dest: string, sourcePort: number, destPort: number, proto: number, packets: number, bytes: number, end: number, action: 'ACCEPT' | 'REJECT' = 'ACCEPT'): string {
    const start = end - 1 - Math.floor(this.next() * 59);
    return `2 123456789012 ${this.nodes[node]!.eni} ${source} ${dest} ${sourcePort} ${destPort} ${proto} ${packets} ${bytes} ${start} ${end} ${action} OK`;
  }

  /** `count` lines of ordinary traffic from pods of `node`, each ending at `end` (epoch seconds). */
  traffic(node: number, count: number, end: number): string[] {
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const source = this.podOn(node);
      const roll = this.next();
      if (roll < 0.75) {
        const peers = this.peers.get(`${source.namespace}/${source.deployment}`) ?? [`${source.namespace}/${source.deployment}`];
        const dest = this.pick(this.deployment(this.pick(peers)));
        const packets = 10 + Math.floor(this.next() * 30);
        lines.push(this.line(node, source.ip, dest.ip, this.port(), dest.port, 6, packets, packets * (200 + Math.floor(this.next() * 1_200)), end));
      } else if (roll < 0.87) {
        lines.push(this.line(node, source.ip, this.pick(this.dns).ip, this.port(), 53, 17, 1, 70 + Math.floor(this.next() * 30), end));
      } else if (roll < 0.98) {
        const packets = 8 + Math.floor(this.next() * 60);
        lines.push(this.line(node, source.ip, publicAddress(Math.floor(this.next() * PUBLIC_POOL)), this.port(), 443, 6, packets, packets * 900, end));
      } else {
        lines.push(this.line(node, source.ip, this.pick(this.pods).ip, this.port(), this.pick(refusedPorts), 6, 1, 60, end, 'REJECT'));
      }
    }
    return lines;
  }

  /** A port scan: `scanner` probes `ports` ports of `victim`, one packet each. */
  portScan(scanner: ClusterPod, victim: ClusterPod, ports: number, end: number): string[] {
    return Array.from({ length: ports }, (_, i) => this.line(scanner.node, scanner.ip, victim.ip, this.port(), 20 + i * 7, 6, 1, 44, end));
  }

  /** A call from `source` to the i-th listed address. */
  listedCall(source: ClusterPod, i: number, end: number): string {
    return this.line(source.node, source.ip, listed(i), this.port(), 443, 6, 12, 4_800, end);
  }
}

/**
 * The threat feed (plain text): every listed address one by one, and `decoys` other entries —
 * single addresses and /24 blocks in ranges the ordinary traffic never reaches.
 */
export function feedText(decoys: number, seed = 23): string {
  const next = random(seed);
  const lines = ['# bench blocklist'];
  for (let i = 0; i < LISTED; i++) lines.push(listed(i));
  for (let i = 0; i < decoys; i++) {
    const address = `${185 + Math.floor(next() * 8)}.${Math.floor(next() * 256)}.${Math.floor(next() * 256)}`;
    lines.push(next() < 0.9 ? `${address}.${Math.floor(next() * 256)}` : `${address}.0/24`);
  }
  return `${lines.join('\n')}\n`;
}
