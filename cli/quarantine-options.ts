import { readFileSync } from 'node:fs';
import { parseResponsePolicy, ResponsePolicyError, type ResponsePolicy, type SafetyOptions } from '../detect/quarantine/index.js';
import { parseTtl } from '../detect/quarantine/response-policy.js';

/** The respond stage's quarantine options, shared by `respond` and `run`. */
export const quarantineOptionSpecs = {
  quarantine: { type: 'string' },
  'protected-namespaces': { type: 'string' },
  'min-healthy-replicas': { type: 'string' },
  'max-quarantines': { type: 'string' },
  'expiry-check': { type: 'string' },
} as const;

export const quarantineOptionsUsage = `  --quarantine FILE        response policy: which alerts quarantine their source pod, with which
                           backend (calico, adminnetworkpolicy, networkpolicy), TTL and dry run
                           (see detect/quarantine/README.md); needs a Kubernetes API server
                           (KUBERNETES_URL + KUBERNETES_TOKEN, in-cluster, or KUBECONFIG)
  --protected-namespaces A,B  never quarantined, besides kube-system
  --min-healthy-replicas N ready replicas an owner must keep (default 1)
  --max-quarantines N/WINDOW  at most N quarantines per window, then the circuit breaker opens
                           for one more window (default 5/10m)
  --expiry-check DURATION  how often expired quarantines are released (default 15s)`;

export interface QuarantineSettings {
  readonly policy: ResponsePolicy;
  readonly safety: Partial<SafetyOptions>;
  readonly expiryCheckMs: number;
}

type Values = Partial<Record<keyof typeof quarantineOptionSpecs, string>>;

/** The settings, or undefined when no policy was given; every problem goes to `problems`. */
export function quarantineSettingsOf(values: Values, problems: string[]): QuarantineSettings | undefined {
  const others = (['protected-namespaces', 'min-healthy-replicas', 'max-quarantines', 'expiry-check'] as const).filter((key) => values[key] !== undefined);
  if (values.quarantine === undefined) {
    for (const key of others) problems.push(`--${key}: has no effect without --quarantine`);
    return undefined;
  }
  let policy: ResponsePolicy | undefined;
  try {
    policy = parseResponsePolicy(readFileSync(values.quarantine, 'utf8'), values.quarantine);
  } catch (error) {
    if (error instanceof ResponsePolicyError) problems.push(...error.problems.map((problem) => `--quarantine: ${problem}`));
    else problems.push(`--quarantine: ${values.quarantine}: ${(error as Error).message}`);
  }
  const safety: { -readonly [K in keyof SafetyOptions]?: SafetyOptions[K] } = {};
  if (values['protected-namespaces'] !== undefined) {
    safety.protectedNamespaces = values['protected-namespaces'].split(',').map((name) => name.trim()).filter((name) => name.length > 0);
  }
  if (values['min-healthy-replicas'] !== undefined) {
    const replicas = Number(values['min-healthy-replicas']);
    if (!Number.isInteger(replicas) || replicas < 0) problems.push(`--min-healthy-replicas: '${values['min-healthy-replicas']}' is not an integer ≥ 0`);
    else safety.minHealthyReplicas = replicas;
  }
  if (values['max-quarantines'] !== undefined) {
    const match = /^(\d+)\/(.+)$/.exec(values['max-quarantines']);
    const windowMs = match ? parseTtl(match[2]!) : undefined;
    if (!match || Number(match[1]) < 1 || !windowMs) problems.push(`--max-quarantines: '${values['max-quarantines']}' is not N/DURATION (e.g. 5/10m)`);
    else Object.assign(safety, { maxPerWindow: Number(match[1]), windowMs, coolDownMs: windowMs });
  }
  let expiryCheckMs = 15_000;
  if (values['expiry-check'] !== undefined) {
    const ms = parseTtl(values['expiry-check']);
    if (ms === undefined || ms === 0) problems.push(`--expiry-check: '${values['expiry-check']}' is not a duration such as 15s or 1m`);
    else expiryCheckMs = ms;
  }
  return policy ? { policy, safety, expiryCheckMs } : undefined;
}
