import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { endpointsFromEnv, endpointVariables } from '../../../runtime/endpoints.js';
import { repoDir } from '../../../services/paths.js';

interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, unknown> | string[];
}

const compose = parse(readFileSync(join(repoDir, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;
const pipeline = services.flowsentry;

/** Container ports a service publishes ("127.0.0.1:9092:9092" → 9092). */
function containerPorts(service: ComposeService | undefined): number[] {
  return (service?.ports ?? []).map((mapping) => Number(mapping.split(':').at(-1)));
}

/** The compose service and port an endpoint value points at. */
function target(value: string): { host: string; port: number } {
  const url = new URL(value.includes('://') ? value : `tcp://${value}`);
  return { host: url.hostname, port: Number(url.port) };
}

describe('Deploy > docker-compose.yml', () => {
  it('has Kafka, OpenSearch with Dashboards, the AWS emulator and the pipeline', () => {
    assert.deepEqual(Object.keys(services).sort(), ['flowsentry', 'kafka', 'moto', 'opensearch', 'opensearch-dashboards']);
    assert.ok(pipeline?.build, 'the pipeline is built from the Dockerfile in the repo');
  });

  it('gives the pipeline only variables the code reads, and every endpoint variable', () => {
    const known = new Set([...Object.keys(endpointVariables), 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
    const given = Object.keys(pipeline?.environment ?? {});
    for (const key of given) assert.ok(known.has(key), `${key} is not read by the pipeline`);
    for (const key of Object.keys(endpointVariables)) assert.ok(given.includes(key), `${key} is missing`);
  });

  it('points each endpoint at a compose service that listens on that port, and the code accepts the values', () => {
    const environment = Object.fromEntries(
      Object.entries(pipeline?.environment ?? {}).map(([key, value]) => [key, String(value)]),
    );
    const endpoints = endpointsFromEnv(environment);
    const targets = [
      ...(endpoints.kafkaBrokers ?? []).map((broker) => ({ variable: 'KAFKA_BROKERS', ...target(broker) })),
      { variable: 'OPENSEARCH_URL', ...target(environment.OPENSEARCH_URL ?? '') },
      { variable: 'AWS_ENDPOINT_URL', ...target(environment.AWS_ENDPOINT_URL ?? '') },
    ];
    for (const { variable, host, port } of targets) {
      assert.ok(services[host], `${variable} points at '${host}', which is not a compose service`);
      assert.ok(containerPorts(services[host]).includes(port), `${variable}: '${host}' does not publish port ${port}`);
      const dependsOn = pipeline?.depends_on ?? {};
      const dependencies = Array.isArray(dependsOn) ? dependsOn : Object.keys(dependsOn);
      assert.ok(dependencies.includes(host), `the pipeline does not wait for '${host}'`);
    }
    const kafkaAdvertised = String(services.kafka?.environment?.KAFKA_ADVERTISED_LISTENERS ?? '');
    for (const broker of endpoints.kafkaBrokers ?? []) {
      assert.ok(kafkaAdvertised.includes(broker), `Kafka does not advertise ${broker}`);
    }
  });

  it('builds the pipeline image on a Node LTS base as a non-root user', () => {
    const dockerfile = readFileSync(join(repoDir, 'Dockerfile'), 'utf8');
    const nodeVersion = Number(/ARG NODE_VERSION=(\d+)/.exec(dockerfile)?.[1]);
    assert.ok(nodeVersion >= 20 && nodeVersion % 2 === 0, 'an even (LTS) Node major');
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /ENTRYPOINT \["node", "bin\/flowsentry.js"\]/);
  });
});
