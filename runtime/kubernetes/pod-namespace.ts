/** Which namespace this process runs in, without loading the Kubernetes client. */
import { readFileSync } from 'node:fs';

export const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * The namespace this process runs in: the ServiceAccount mount's, else `POD_NAMESPACE` (the
 * downward API), else undefined (not in a pod, or no token mounted).
 */
export function podNamespace(file: string = SERVICE_ACCOUNT_NAMESPACE_FILE, env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const name = readFileSync(file, 'utf8').trim();
    if (name !== '') return name;
  } catch {
    // Not mounted: not in a pod, or automountServiceAccountToken is off.
  }
  const name = env.POD_NAMESPACE?.trim();
  return name ? name : undefined;
}
