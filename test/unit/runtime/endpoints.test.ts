import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndpointConfigError, endpointsFromEnv } from '../../../runtime/endpoints.js';

describe('Runtime > endpoints', () => {
  it('reads brokers, URLs and region from the environment', () => {
    const endpoints = endpointsFromEnv({
      KAFKA_BROKERS: 'a:9092, b:9093',
      OPENSEARCH_URL: 'http://127.0.0.1:19200/',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:15000',
      AWS_REGION: 'eu-west-1',
    });
    assert.deepEqual(endpoints, {
      kafkaBrokers: ['a:9092', 'b:9093'],
      openSearchUrl: 'http://127.0.0.1:19200',
      awsEndpointUrl: 'http://127.0.0.1:15000',
      awsRegion: 'eu-west-1',
    });
  });

  it('leaves unset endpoints undefined, which selects the embedded defaults', () => {
    assert.deepEqual(endpointsFromEnv({}), {
      kafkaBrokers: undefined,
      openSearchUrl: undefined,
      awsEndpointUrl: undefined,
      awsRegion: 'us-east-1',
    });
  });

  it('names the variable and the value it rejects', () => {
    assert.throws(() => endpointsFromEnv({ KAFKA_BROKERS: 'kafka' }), (error: unknown) => {
      assert.ok(error instanceof EndpointConfigError);
      assert.equal(error.variable, 'KAFKA_BROKERS');
      assert.match(error.message, /'kafka' is not host:port/);
      return true;
    });
    assert.throws(() => endpointsFromEnv({ OPENSEARCH_URL: 'not a url' }), /OPENSEARCH_URL: 'not a url' is not a URL/);
  });
});
