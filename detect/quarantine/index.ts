/** The quarantine responder: automatic, safe containment of an alert's subject pod. */
export { QuarantineResponder, activeQuarantineOf, ownNamespace, type ActiveQuarantine, type QuarantinePlan, type QuarantineResponderOptions } from './quarantine-responder.js';
export { parseResponsePolicy, responsePolicyProblems, ruleFor, emptyResponsePolicy, quarantineBackends, type QuarantineBackend, type QuarantineRule, type ResponsePolicy } from './response-policy.js';
export { defaultSafetyOptions, safetyOptionsOf, type SafetyOptions } from './safety.js';
export { ResponsePolicyError, QuarantineApiError } from './quarantine-errors.js';
export { QUARANTINE_LABEL, quarantineAnnotations, quarantineId, DEFAULT_POLICY_NAME, QUARANTINE_FIELD_MANAGER } from './quarantine-names.js';
export { describeWrites, requestOf, type QuarantineWrite } from './quarantine-writes.js';
export { KubernetesQuarantineApi, type QuarantineCluster } from './kubernetes-quarantine-api.js';
export { InventoryQuarantineCluster } from './inventory-cluster.js';
