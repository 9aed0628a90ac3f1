import type { InventoryEvent, Labels, OwnerReference, ServicePort } from '../schemas/types.js';

/** The kinds the identity table uses; other kinds in a watch stream are skipped and counted. */
export const inventoryKinds = ['Pod', 'Node', 'Namespace', 'Service', 'EndpointSlice', 'NetworkSet', 'GlobalNetworkSet', 'HostEndpoint'] as const;
export type InventoryKind = (typeof inventoryKinds)[number];

export type WatchEventType = InventoryEvent['type'];

/** The observed time of a listed object (`kubectl get -o json`): valid from the beginning of time. */
export const listObservedTime = 0;
const watchEventTypes: readonly string[] = ['ADDED', 'MODIFIED', 'DELETED'];

/** A Kubernetes object that cannot be read as inventory: says which field is wrong. */
export class InventoryObjectError extends Error {
  readonly code = 'ENRICH_BAD_OBJECT';
  constructor(message: string) {
    super(message);
    this.name = 'InventoryObjectError';
  }
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const stringOr = (value: unknown, fallback: string | null = null) => (typeof value === 'string' && value.length > 0 ? value : fallback);
const arrayOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

function stringMap(value: unknown): Labels {
  const map: Labels = {};
  if (!isObject(value)) return map;
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') map[key] = entry;
  return map;
}

function ownersOf(metadata: Json): OwnerReference[] {
  return arrayOf(metadata['ownerReferences']).filter(isObject).map((owner) => ({
    kind: stringOr(owner['kind'], '')!,
    name: stringOr(owner['name'], '')!,
    uid: stringOr(owner['uid'], '')!,
    controller: owner['controller'] === true,
  }));
}

function portsOf(value: unknown, targetKey: string | undefined): ServicePort[] {
  return arrayOf(value)
    .filter(isObject)
    .filter((port) => typeof port['port'] === 'number')
    .map((port) => ({
      name: stringOr(port['name']),
      port: port['port'] as number,
      protocol: stringOr(port['protocol'], 'TCP')!,
      target_port: targetKey !== undefined && port[targetKey] !== undefined ? String(port[targetKey]) : null,
    }));
}

const unique = (values: readonly string[]) => [...new Set(values)];

/** What each kind contributes beyond metadata: addresses, and the fields only it has. */
function specificFields(kind: InventoryKind, object: Json): Partial<InventoryEvent> {
  const spec = isObject(object['spec']) ? object['spec'] : {};
  const status = isObject(object['status']) ? object['status'] : {};
  switch (kind) {
    case 'Pod': {
      const podIps = arrayOf(status['podIPs']).filter(isObject).map((entry) => stringOr(entry['ip']));
      const ips = podIps.length > 0 ? podIps : [stringOr(status['podIP'])];
      return {
        ips: unique(ips.filter((ip): ip is string => ip !== null)),
        node: stringOr(spec['nodeName']),
        service_account: stringOr(spec['serviceAccountName'], 'default'),
        host_network: spec['hostNetwork'] === true,
        phase: stringOr(status['phase']),
      };
    }
    case 'Node': {
      const addresses = arrayOf(status['addresses']).filter(isObject);
      const ips = addresses.filter((entry) => entry['type'] === 'InternalIP' || entry['type'] === 'ExternalIP').map((entry) => stringOr(entry['address']));
      return { ips: unique(ips.filter((ip): ip is string => ip !== null)) };
    }
    case 'Service': {
      const clusterIps = arrayOf(spec['clusterIPs']).map((ip) => stringOr(ip));
      const ips = clusterIps.length > 0 ? clusterIps : [stringOr(spec['clusterIP'])];
      return {
        ips: unique(ips.filter((ip): ip is string => ip !== null && ip !== 'None')),
        selector: stringMap(spec['selector']),
        ports: portsOf(spec['ports'], 'targetPort'),
      };
    }
    case 'EndpointSlice': {
      const addresses = arrayOf(object['endpoints']).filter(isObject).flatMap((endpoint) => arrayOf(endpoint['addresses']));
      return { ips: unique(addresses.filter((ip): ip is string => typeof ip === 'string')), ports: portsOf(object['ports'], undefined) };
    }
    case 'NetworkSet':
    case 'GlobalNetworkSet':
      return { ips: unique(arrayOf(spec['nets']).filter((net): net is string => typeof net === 'string')) };
    case 'HostEndpoint':
      return { ips: unique(arrayOf(spec['expectedIPs']).filter((ip): ip is string => typeof ip === 'string')), node: stringOr(spec['node']) };
    case 'Namespace':
      return {};
  }
}

/**
 * The InventoryEvent of one watch event (or one item of a list, as ADDED). Returns undefined for
 * kinds the identity table does not use; throws InventoryObjectError for an object without the
 * metadata every event needs.
 */
export function inventoryEventOf(type: string, object: unknown, observedTime: number, kindHint?: string): InventoryEvent | undefined {
  if (!watchEventTypes.includes(type)) throw new InventoryObjectError(`type: expected ADDED, MODIFIED or DELETED, found ${JSON.stringify(type)}`);
  if (!isObject(object)) throw new InventoryObjectError('object: expected a Kubernetes object');
  const kind = stringOr(object['kind']) ?? kindHint;
  if (kind === undefined || kind === null) throw new InventoryObjectError('object.kind: missing');
  if (!(inventoryKinds as readonly string[]).includes(kind)) return undefined;
  const metadata = object['metadata'];
  if (!isObject(metadata)) throw new InventoryObjectError(`${kind}: metadata missing`);
  const uid = stringOr(metadata['uid']);
  const name = stringOr(metadata['name']);
  if (!uid) throw new InventoryObjectError(`${kind} ${name ?? '?'}: metadata.uid missing`);
  if (!name) throw new InventoryObjectError(`${kind} ${uid}: metadata.name missing`);
  const fields = specificFields(kind as InventoryKind, object);
  return {
    type: type as WatchEventType,
    kind,
    uid,
    namespace: stringOr(metadata['namespace']),
    name,
    labels: stringMap(metadata['labels']),
    ips: fields.ips ?? [],
    owners: ownersOf(metadata),
    node: fields.node ?? null,
    service_account: fields.service_account ?? null,
    host_network: fields.host_network ?? false,
    selector: fields.selector ?? {},
    ports: fields.ports ?? [],
    phase: fields.phase ?? null,
    resource_version: stringOr(metadata['resourceVersion']),
    observed_time: observedTime,
  };
}
