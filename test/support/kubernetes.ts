import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { CoreV1Api } from '@kubernetes/client-node';
import { kubeConfigFor, kubeConfigFromEnv } from '../../runtime/kubernetes/kube-config.js';

/** The test cluster's admin configuration (from the services script's environment). */
export function adminKubeConfig(): KubeConfig {
  return kubeConfigFromEnv();
}

/**
 * A namespace of its own for one test, with the `default` ServiceAccount that a
 * controller-manager would create (none runs in the test cluster). Deleted by the returned function.
 */
export async function testNamespace(prefix: string, labels: Record<string, string> = {}): Promise<{ name: string; remove: () => Promise<void> }> {
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name, labels } } });
  await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
  return {
    name,
    remove: async () => {
      await core.deleteNamespace({ name }).catch(() => undefined);
    },
  };
}

/**
 * A client configuration that acts as a ServiceAccount, with a token from the TokenRequest API —
 * what a pod running under that account would get — so tests prove what its RBAC allows.
 */
export async function serviceAccountKubeConfig(namespace: string, serviceAccount: string): Promise<KubeConfig> {
  const admin = adminKubeConfig();
  const core = admin.makeApiClient(CoreV1Api);
  const answer = await core.createNamespacedServiceAccountToken({
    namespace,
    name: serviceAccount,
    body: { spec: { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster()!;
  return kubeConfigFor({ url: cluster.server, token: answer.status!.token, ...(cluster.caFile ? { caFile: cluster.caFile } : {}) });
}
