import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

/** No way to reach a Kubernetes API server was given. */
export class KubernetesConfigError extends Error {
  readonly code = 'KUBERNETES_NOT_CONFIGURED';
  constructor(message: string) {
    super(message);
    this.name = 'KubernetesConfigError';
  }
}

export interface KubernetesEndpoint {
  /** `https://host:port` of the API server. */
  readonly url: string;
  /** A bearer token (a ServiceAccount token, or a static token of the test cluster). */
  readonly token: string;
  /** PEM file of the CA that signed the server's certificate. */
  readonly caFile?: string;
}

/** A client configuration for one server and one bearer token. */
export function kubeConfigFor(endpoint: KubernetesEndpoint): KubeConfig {
  const config = new KubeConfig();
  config.loadFromClusterAndUser(
    { name: 'flowsentry', server: endpoint.url, skipTLSVerify: false, ...(endpoint.caFile ? { caFile: endpoint.caFile } : {}) },
    { name: 'flowsentry', token: endpoint.token },
  );
  return config;
}

/**
 * Where flowsentry finds its API server, first match wins:
 * 1. `KUBERNETES_URL` with `KUBERNETES_TOKEN` (and `KUBERNETES_CA_FILE`): an explicit server;
 * 2. inside a pod (`KUBERNETES_SERVICE_HOST`): the pod's ServiceAccount;
 * 3. `KUBECONFIG` or `~/.kube/config`: the current context, as kubectl would.
 */
export function kubeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): KubeConfig {
  if (env.KUBERNETES_URL) {
    if (!env.KUBERNETES_TOKEN) throw new KubernetesConfigError('KUBERNETES_URL is set but KUBERNETES_TOKEN is not');
    return kubeConfigFor({ url: env.KUBERNETES_URL, token: env.KUBERNETES_TOKEN, ...(env.KUBERNETES_CA_FILE ? { caFile: env.KUBERNETES_CA_FILE } : {}) });
  }
  const config = new KubeConfig();
  if (env.KUBERNETES_SERVICE_HOST) {
    config.loadFromCluster();
    return config;
  }
  const file = env.KUBECONFIG ?? (env.HOME ? `${env.HOME}/.kube/config` : undefined);
  if (file && existsSync(file.split(':')[0]!)) {
    config.loadFromDefault();
    return config;
  }
  throw new KubernetesConfigError('no Kubernetes API server configured: set KUBERNETES_URL and KUBERNETES_TOKEN, run in a pod, or give KUBECONFIG');
}

/** Where a pod's ServiceAccount mount says which namespace the pod runs in. */
export { podNamespace, SERVICE_ACCOUNT_NAMESPACE_FILE } from './pod-namespace.js';
