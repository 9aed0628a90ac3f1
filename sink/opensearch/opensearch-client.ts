/**
 * The OpenSearch client every part of the sink and the query layer uses, and how it
 * authenticates: none, HTTP basic (user and password), TLS with a custom CA, and AWS SigV4 for
 * Amazon OpenSearch Service (`es`) or Serverless (`aoss`), with credentials from the AWS SDK's
 * default chain (environment, profile, web identity, instance role).
 *
 * The client's own retries are off (`maxRetries: 0`): the bulk writer decides what to retry,
 * item by item, and a query that fails says so at once.
 */
import { readFileSync } from 'node:fs';
import { Client, type ClientOptions } from '@opensearch-project/opensearch';
import { AwsSigv4Signer } from '@opensearch-project/opensearch/aws-v3';

export interface OpenSearchConnection {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** PEM file of the CA that signed the cluster's certificate. */
  readonly caFile?: string;
  /** Accept any certificate (testing only). */
  readonly insecure?: boolean;
  /** Sign every request with AWS SigV4 for this service, in `region`. */
  readonly sigv4?: { readonly service: 'es' | 'aoss'; readonly region: string };
  readonly requestTimeoutMs?: number;
}

export const openSearchVariables = {
  OPENSEARCH_URL: 'OpenSearch base URL',
  OPENSEARCH_USERNAME: 'user for HTTP basic authentication',
  OPENSEARCH_PASSWORD: 'password for HTTP basic authentication',
  OPENSEARCH_CA_FILE: 'PEM file of the CA that signed the cluster certificate',
  OPENSEARCH_SIGV4: "'es' (Amazon OpenSearch Service) or 'aoss' (Serverless): sign requests with AWS SigV4 in AWS_REGION",
} as const;

/** The connection the environment describes, or a problem naming the variable; undefined without OPENSEARCH_URL. */
export function openSearchConnectionFromEnv(env: NodeJS.ProcessEnv = process.env): OpenSearchConnection | undefined {
  const url = env.OPENSEARCH_URL;
  if (!url) return undefined;
  const sigv4 = env.OPENSEARCH_SIGV4;
  if (sigv4 !== undefined && sigv4 !== '' && sigv4 !== 'es' && sigv4 !== 'aoss') {
    throw new Error(`OPENSEARCH_SIGV4: '${sigv4}' is neither 'es' nor 'aoss'`);
  }
  return {
    url,
    ...(env.OPENSEARCH_USERNAME ? { username: env.OPENSEARCH_USERNAME } : {}),
    ...(env.OPENSEARCH_PASSWORD ? { password: env.OPENSEARCH_PASSWORD } : {}),
    ...(env.OPENSEARCH_CA_FILE ? { caFile: env.OPENSEARCH_CA_FILE } : {}),
    ...(sigv4 ? { sigv4: { service: sigv4, region: env.AWS_REGION ?? 'us-east-1' } } : {}),
  };
}

/** The client options of a connection: what `openSearchClient` builds from. */
export function clientOptionsOf(connection: OpenSearchConnection): ClientOptions {
  const options: ClientOptions = {
    node: connection.url,
    maxRetries: 0,
    requestTimeout: connection.requestTimeoutMs ?? 60_000,
    agent: { keepAlive: true, maxSockets: 16 },
  };
  if (connection.username !== undefined) options.auth = { username: connection.username, password: connection.password ?? '' };
  if (connection.caFile !== undefined || connection.insecure) {
    options.ssl = {
      ...(connection.caFile !== undefined ? { ca: readFileSync(connection.caFile) } : {}),
      ...(connection.insecure ? { rejectUnauthorized: false } : {}),
    };
  }
  if (connection.sigv4) Object.assign(options, AwsSigv4Signer({ region: connection.sigv4.region, service: connection.sigv4.service }));
  return options;
}

export function openSearchClient(connection: OpenSearchConnection): Client {
  return new Client(clientOptionsOf(connection));
}
