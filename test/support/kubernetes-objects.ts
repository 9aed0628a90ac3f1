/** Kubernetes objects as the API server returns them, for inventory tests. */

let uidCounter = 0;
const nextUid = (prefix: string) => `${prefix}-${String(++uidCounter).padStart(8, '0')}`;

export interface PodSpec {
  readonly name: string;
  readonly namespace: string;
  readonly ip?: string;
  readonly node?: string;
  readonly labels?: Record<string, string>;
  readonly owner?: { kind: string; name: string };
  readonly serviceAccount?: string;
  readonly hostNetwork?: boolean;
  readonly phase?: string;
  readonly uid?: string;
}

export function pod(spec: PodSpec): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      uid: spec.uid ?? nextUid('pod'),
      resourceVersion: String(uidCounter),
      labels: spec.labels ?? {},
      ...(spec.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: spec.owner.kind, name: spec.owner.name, uid: nextUid('owner'), controller: true }] } : {}),
    },
    spec: {
      nodeName: spec.node ?? 'node-a',
      serviceAccountName: spec.serviceAccount ?? 'default',
      ...(spec.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: 'main', image: 'example/main:1' }],
    },
    status: {
      phase: spec.phase ?? 'Running',
      ...(spec.ip ? { podIP: spec.ip, podIPs: [{ ip: spec.ip }] } : {}),
    },
  };
}

/** The same object with changes to its metadata, spec or status (a MODIFIED event's object). */
export function modified(object: Record<string, unknown>, change: { labels?: Record<string, string>; phase?: string; ip?: string | null }): Record<string, unknown> {
  const metadata = { ...(object['metadata'] as Record<string, unknown>) };
  const status = { ...(object['status'] as Record<string, unknown>) };
  if (change.labels) metadata['labels'] = change.labels;
  if (change.phase) status['phase'] = change.phase;
  if (change.ip === null) {
    delete status['podIP'];
    delete status['podIPs'];
  } else if (change.ip) {
    status['podIP'] = change.ip;
    status['podIPs'] = [{ ip: change.ip }];
  }
  return { ...object, metadata, status };
}

export function node(name: string, internalIp: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: nextUid('node'), labels },
    status: { addresses: [{ type: 'InternalIP', address: internalIp }, { type: 'Hostname', address: name }] },
  };
}

export function service(name: string, namespace: string, clusterIp: string, ports: { name?: string; port: number; targetPort?: number; protocol?: string }[]): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, uid: nextUid('svc') },
    spec: { clusterIP: clusterIp, clusterIPs: [clusterIp], selector: { app: name }, ports: ports.map((port) => ({ protocol: 'TCP', ...port })) },
  };
}

export function endpointSlice(service: string, namespace: string, addresses: string[], ports: { name?: string; port: number; protocol?: string }[]): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-abcde`, namespace, uid: nextUid('eps'), labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: addresses.map((address) => ({ addresses: [address], conditions: { ready: true } })),
    ports: ports.map((port) => ({ protocol: 'TCP', ...port })),
  };
}

/** One line of a recorded watch stream. */
export function watchLine(time: number, type: 'ADDED' | 'MODIFIED' | 'DELETED', object: Record<string, unknown>): string {
  return JSON.stringify({ ts: new Date(time).toISOString(), type, object });
}
