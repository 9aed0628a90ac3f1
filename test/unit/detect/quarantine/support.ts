import type { PodFacts } from '../../../../detect/quarantine/pod-facts.js';
import type { Alert } from '../../../../schemas/types.js';

export const T0 = Date.parse('2026-11-27T12:00:00Z');

export function podFacts(overrides: Partial<PodFacts> = {}): PodFacts {
  return {
    namespace: 'shop',
    name: 'web-7d9f8c6b5-f4x2k',
    uid: 'uid-web-1',
    resourceVersion: '100',
    labels: { app: 'web', 'pod-template-hash': '7d9f8c6b5' },
    annotations: {},
    owner: { kind: 'ReplicaSet', name: 'web-7d9f8c6b5' },
    nodeName: 'node-a',
    hostNetwork: false,
    phase: 'Running',
    createdAt: T0 - 3_600_000,
    deleting: false,
    ip: '10.0.3.7',
    ...overrides,
  };
}

export function alertOf(overrides: Partial<Alert> = {}): Alert {
  return {
    alert_id: 'port_scan:0123456789abcdef:1795780800000',
    fingerprint: 'port_scan:0123456789abcdef',
    detector: 'port_scan',
    severity: 'high',
    start_time: T0 - 60_000,
    end_time: T0,
    status: 'open',
    revision: 0,
    technique: 'T1046',
    source_ip: '10.0.3.7',
    source_type: 'wep',
    source_namespace: 'shop',
    source_name: 'web-7d9f8c6b5-f4x2k',
    source_name_aggr: 'web-7d9f8c6b5-*',
    source_labels: {},
    source_workload: 'deployment/web',
    dest_ip: '10.0.9.1',
    dest_port: 22,
    dest_type: 'wep',
    dest_namespace: 'data',
    dest_name: 'db-0',
    dest_name_aggr: 'db',
    dest_labels: {},
    dest_workload: 'statefulset/db',
    proto: 6,
    indicator: null,
    feed: null,
    summary: 'port scan',
    evidence: {},
    count: 40,
    samples: [],
    ...overrides,
  };
}
