import { Agent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Endpoints } from './endpoints.js';

/** Client settings shared by every AWS SDK client the pipeline creates. */
export interface AwsClientSettings {
  readonly region: string;
  readonly endpoint?: string;
  readonly maxAttempts: number;
  readonly requestHandler: NodeHttpHandler;
}

/**
 * HTTP/1.1 with keep-alive for every client. The Kinesis client would otherwise pick HTTP/2,
 * which the pipeline does not need (no SubscribeToShard) and which plain-HTTP endpoints such as
 * VPC proxies and emulators do not speak.
 */
export function awsClientSettings(endpoints: Endpoints): AwsClientSettings {
  return {
    region: endpoints.awsRegion,
    ...(endpoints.awsEndpointUrl ? { endpoint: endpoints.awsEndpointUrl } : {}),
    maxAttempts: 5,
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 16 }),
      httpsAgent: new Agent({ keepAlive: true, maxSockets: 16 }),
      requestTimeout: 30_000,
    }),
  };
}
