/**
 * CloudWatch Logs subscription payloads: what a subscription filter delivers to a Kinesis stream
 * (or Firehose, or Lambda). One payload is a gzip-compressed JSON object:
 *
 *   { messageType: 'DATA_MESSAGE' | 'CONTROL_MESSAGE', owner, logGroup, logStream,
 *     subscriptionFilters: [name], logEvents: [{ id, timestamp, message }] }
 *
 * Kinesis hands over the gzip bytes; Lambda and some relays base64 them first: both are accepted
 * (so is JSON that was already decompressed). CONTROL_MESSAGEs (CloudWatch checking that the
 * destination is reachable) decode to no events. Anything else (bad gzip, bad JSON, a field of
 * the wrong type, more than `maxDecodedBytes` once decompressed) is an IngestError
 * INGEST_BAD_ENVELOPE. Pure: no I/O.
 */
import { gzipSync, gunzipSync } from 'node:zlib';
import { IngestError } from './problems.js';

export interface CloudWatchLogEvent {
  readonly id: string;
  /** Epoch milliseconds, as CloudWatch Logs recorded the event. */
  readonly timestamp: number;
  readonly message: string;
}

export interface CloudWatchSubscription {
  readonly messageType: 'DATA_MESSAGE' | 'CONTROL_MESSAGE';
  readonly owner: string;
  readonly logGroup: string;
  readonly logStream: string;
  readonly subscriptionFilters: readonly string[];
  /** Always empty for a CONTROL_MESSAGE. */
  readonly logEvents: readonly CloudWatchLogEvent[];
}

export interface SubscriptionDecodeOptions {
  /** Refuse payloads larger than this once decompressed (a Kinesis record is at most 1 MiB compressed). */
  readonly maxDecodedBytes?: number;
}

export const defaultMaxDecodedBytes = 16 * 1024 * 1024;

const bad = (message: string): never => {
  throw new IngestError('INGEST_BAD_ENVELOPE', `CloudWatch Logs subscription payload: ${message}`);
};

const isGzip = (bytes: Uint8Array) => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
/** base64 of gzip starts with 'H4sI' (1f 8b 08). */
const base64Gzip = /^H4sI[A-Za-z0-9+/]*={0,2}\s*$/;

function gunzip(bytes: Uint8Array, maxDecodedBytes: number): Buffer {
  try {
    return gunzipSync(bytes, { maxOutputLength: maxDecodedBytes });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return bad(`larger than ${maxDecodedBytes} bytes once decompressed`);
    return bad(`bad gzip data (${(error as Error).message})`);
  }
}

/** The JSON text of a payload: gunzipped, base64-decoded first when needed. */
function jsonText(data: Uint8Array, maxDecodedBytes: number): string {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (isGzip(bytes)) return gunzip(bytes, maxDecodedBytes).toString('utf8');
  const first = bytes.length > 0 ? bytes[0] : undefined;
  if (first === 0x7b /* { */) {
    if (bytes.length > maxDecodedBytes) bad(`larger than ${maxDecodedBytes} bytes`);
    return bytes.toString('utf8');
  }
  const text = bytes.toString('latin1');
  if (base64Gzip.test(text)) return gunzip(Buffer.from(text, 'base64'), maxDecodedBytes).toString('utf8');
  return bad(bytes.length === 0 ? 'empty' : 'neither gzip, base64 gzip nor JSON');
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function text(object: Record<string, unknown>, key: string, path = key): string {
  const value = object[key];
  return typeof value === 'string' ? value : bad(`${path} is not a string`);
}

function events(value: unknown): CloudWatchLogEvent[] {
  if (!Array.isArray(value)) return bad('logEvents is not an array');
  return value.map((event: unknown, i) => {
    if (!isRecord(event)) return bad(`logEvents[${i}] is not an object`);
    const timestamp = event.timestamp;
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp)) bad(`logEvents[${i}].timestamp is not an integer`);
    // AWS writes the id as a string of digits; moto writes a number.
    const id = typeof event.id === 'number' && Number.isSafeInteger(event.id) ? String(event.id) : text(event, 'id', `logEvents[${i}].id`);
    return { id, timestamp: timestamp as number, message: text(event, 'message', `logEvents[${i}].message`) };
  });
}

/** Decodes one subscription payload. Throws IngestError INGEST_BAD_ENVELOPE for anything but a well-formed one. */
export function decodeSubscriptionPayload(data: Uint8Array, options: SubscriptionDecodeOptions = {}): CloudWatchSubscription {
  const json = jsonText(data, options.maxDecodedBytes ?? defaultMaxDecodedBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    return bad(`bad JSON (${(error as Error).message})`);
  }
  if (!isRecord(parsed)) return bad('not a JSON object');
  const messageType = parsed.messageType;
  if (messageType !== 'DATA_MESSAGE' && messageType !== 'CONTROL_MESSAGE') {
    return bad(`messageType ${JSON.stringify(messageType)?.slice(0, 40) ?? 'undefined'} is not DATA_MESSAGE or CONTROL_MESSAGE`);
  }
  const control = messageType === 'CONTROL_MESSAGE';
  const filters = parsed.subscriptionFilters;
  if (!Array.isArray(filters) || !filters.every((name) => typeof name === 'string')) bad('subscriptionFilters is not a list of names');
  return {
    messageType,
    owner: text(parsed, 'owner'),
    logGroup: text(parsed, 'logGroup'),
    logStream: text(parsed, 'logStream'),
    subscriptionFilters: filters as string[],
    logEvents: control ? [] : events(parsed.logEvents),
  };
}

/**
 * The payload CloudWatch Logs would deliver for `subscription`: gzip JSON, or its base64 text.
 * For replaying captured log events through the Kinesis path, and for tests.
 */
export function encodeSubscriptionPayload(subscription: CloudWatchSubscription, options: { readonly base64?: boolean } = {}): Buffer {
  const gzip = gzipSync(Buffer.from(JSON.stringify(subscription), 'utf8'));
  return options.base64 ? Buffer.from(gzip.toString('base64'), 'latin1') : gzip;
}
