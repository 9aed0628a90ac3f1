import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { BusError } from './errors.js';

/** The part of the Kinesis client the bus uses; a test passes any object with `send`. */
export type KinesisApi = Pick<KinesisClient, 'send'>;

/** Kinesis' own limits. */
export const kinesisLimits = {
  recordsPerPut: 500,
  bytesPerPut: 5 * 1024 * 1024,
  /** Data plus partition key of one record. */
  bytesPerRecord: 1024 * 1024,
  partitionKeyChars: 256,
  recordsPerGet: 10_000,
  maxRetentionHours: 8_760,
} as const;

/** The service's exception name (`ResourceNotFoundException`, …), or the error's name. */
export function awsErrorName(error: unknown): string {
  return (error as { name?: unknown } | undefined)?.name?.toString() ?? 'Error';
}

const throttles = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'ThrottlingException',
  'KMSThrottlingException',
]);

export const isThrottle = (error: unknown) => throttles.has(awsErrorName(error));

/** Per-record PutRecords failures worth another attempt. */
export const retriableRecordCodes = new Set([
  'ProvisionedThroughputExceededException',
  'InternalFailure',
  'KMSThrottlingException',
  /** A response without a result for the entry. */
  'MissingResult',
]);

/** Failures of a whole request that will not go away by retrying. */
const permanent = new Set([
  'ResourceNotFoundException',
  'ValidationException',
  'InvalidArgumentException',
  'AccessDeniedException',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
  'KMSOptInRequired',
]);

export const isRetriable = (error: unknown) => !permanent.has(awsErrorName(error));

/** A bus error for a failed Kinesis call about `stream`. */
export function kinesisError(stream: string, what: string, cause: unknown): BusError {
  const name = awsErrorName(cause);
  const detail = cause instanceof Error ? cause.message : String(cause);
  if (name === 'ResourceNotFoundException') {
    return new BusError('UNKNOWN_TOPIC', `stream '${stream}' does not exist (${what}: ${detail})`, false, stream, { cause });
  }
  const code = name === 'ValidationException' || name === 'InvalidArgumentException' ? 'INVALID_ARGUMENT' : 'SEND_FAILED';
  return new BusError(code, `${what} on stream '${stream}' failed: ${name}: ${detail}`, isRetriable(cause), stream, { cause });
}
