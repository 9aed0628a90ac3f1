/**
 * The shared policy object of each backend, which denies all traffic of every pod carrying the
 * quarantine label. One object serves every quarantine (per namespace for `networkpolicy`):
 * quarantining a pod is only labelling it, and a release leaves the object in place, where it
 * selects nothing. Pure builders; the adapter writes them with server-side apply.
 */
import type { QuarantineBackend } from './response-policy.js';
import { QUARANTINE_LABEL } from './quarantine-names.js';

export interface PolicyObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels: Readonly<Record<string, string>> };
  readonly spec: Readonly<Record<string, unknown>>;
}

/** Where an object lives in the REST API (the adapter calls exactly these paths). */
export interface ResourceRef {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

export const policyResources: Readonly<Record<QuarantineBackend, ResourceRef>> = {
  calico: { group: 'crd.projectcalico.org', version: 'v1', plural: 'globalnetworkpolicies', namespaced: false },
  adminnetworkpolicy: { group: 'policy.networking.k8s.io', version: 'v1alpha1', plural: 'adminnetworkpolicies', namespaced: false },
  networkpolicy: { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespaced: true },
};

const managedBy = { 'app.kubernetes.io/managed-by': 'flowsentry' };

/**
 * Calico GlobalNetworkPolicy: order 0 (Calico applies lower orders first; policies of equal
 * order go by name), both directions, one Deny rule each. Calico stops at the first matching
 * Deny, so allows of later policies never reach a quarantined pod.
 */
export function calicoPolicy(name: string): PolicyObject {
  return {
    apiVersion: 'crd.projectcalico.org/v1',
    kind: 'GlobalNetworkPolicy',
    metadata: { name, labels: managedBy },
    spec: {
      order: 0,
      selector: `has(${QUARANTINE_LABEL})`,
      types: ['Ingress', 'Egress'],
      ingress: [{ action: 'Deny' }],
      egress: [{ action: 'Deny' }],
    },
  };
}

/**
 * AdminNetworkPolicy (v1alpha1): priority 0, the highest; its Deny rules come before every
 * NetworkPolicy. Ingress can only name pods and namespaces as peers (all namespaces here: every
 * pod); egress also takes networks, and 0.0.0.0/0 plus ::/0 cover every address, in the cluster
 * or not.
 */
export function adminNetworkPolicy(name: string): PolicyObject {
  return {
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'AdminNetworkPolicy',
    metadata: { name, labels: managedBy },
    spec: {
      priority: 0,
      subject: { pods: { namespaceSelector: {}, podSelector: { matchExpressions: [{ key: QUARANTINE_LABEL, operator: 'Exists' }] } } },
      ingress: [{ name: 'quarantine-deny-all-ingress', action: 'Deny', from: [{ namespaces: {} }] }],
      egress: [{ name: 'quarantine-deny-all-egress', action: 'Deny', to: [{ namespaces: {} }, { networks: ['0.0.0.0/0', '::/0'] }] }],
    },
  };
}

/**
 * NetworkPolicy in the pod's namespace: both policy types and no rule, so nothing is allowed —
 * by this policy. NetworkPolicies only add allows, which is why this backend also takes the
 * pod's other labels away (see pod-patches.ts).
 */
export function namespacedNetworkPolicy(name: string, namespace: string): PolicyObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace, labels: managedBy },
    spec: {
      podSelector: { matchExpressions: [{ key: QUARANTINE_LABEL, operator: 'Exists' }] },
      policyTypes: ['Ingress', 'Egress'],
    },
  };
}

/** The policy object a backend needs for a pod in `namespace`. */
export function policyObjectFor(backend: QuarantineBackend, name: string, namespace: string): PolicyObject {
  switch (backend) {
    case 'calico':
      return calicoPolicy(name);
    case 'adminnetworkpolicy':
      return adminNetworkPolicy(name);
    case 'networkpolicy':
      return namespacedNetworkPolicy(name, namespace);
  }
}
