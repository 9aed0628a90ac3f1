/**
 * Where the outside systems are. The pipeline reads these from the environment, in production
 * and in tests alike; it never knows whether it talks to a test service.
 */
export const endpointVariables = {
  KAFKA_BROKERS: 'comma-separated Kafka bootstrap brokers, host:port',
  OPENSEARCH_URL: 'OpenSearch base URL, e.g. https://search.example:9200',
  AWS_ENDPOINT_URL: 'override for every AWS API endpoint (an emulator, a VPC endpoint); unset means AWS itself',
  AWS_REGION: 'AWS region for CloudWatch Logs and Kinesis',
} as const;

export type EndpointVariable = keyof typeof endpointVariables;

export interface Endpoints {
  readonly kafkaBrokers: readonly string[] | undefined;
  readonly openSearchUrl: string | undefined;
  readonly awsEndpointUrl: string | undefined;
  readonly awsRegion: string;
}

export class EndpointConfigError extends Error {
  override readonly name = 'EndpointConfigError';
  constructor(
    readonly variable: EndpointVariable,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
  }
}

function url(variable: EndpointVariable, value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    return new URL(value).toString().replace(/\/$/, '');
  } catch {
    throw new EndpointConfigError(variable, `'${value}' is not a URL`);
  }
}

export function endpointsFromEnv(env: NodeJS.ProcessEnv = process.env): Endpoints {
  const brokers = env.KAFKA_BROKERS?.split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
  for (const broker of brokers ?? []) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker)) {
      throw new EndpointConfigError('KAFKA_BROKERS', `'${broker}' is not host:port`);
    }
  }
  return {
    kafkaBrokers: brokers && brokers.length > 0 ? brokers : undefined,
    openSearchUrl: url('OPENSEARCH_URL', env.OPENSEARCH_URL),
    awsEndpointUrl: url('AWS_ENDPOINT_URL', env.AWS_ENDPOINT_URL),
    awsRegion: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
  };
}
