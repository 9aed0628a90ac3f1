/**
 * How bus messages map to Kinesis records. Kinesis has no headers and accepts partition keys of
 * 1 to 256 characters only, so a message with headers, or with a key Kinesis cannot take, is
 * framed: a 4-byte marker (0xFE 'F' 'S' 0x01, which no UTF-8 text, gzip, Avro or Confluent frame
 * starts with), a 4-byte big-endian length, a JSON object `{ k?: key, h?: headers }`, then the
 * value. Other messages are stored as their value alone, so plain producers and readers
 * interoperate. A key Kinesis cannot take is partitioned by its SHA-256, which keeps its order.
 */
import { createHash } from 'node:crypto';
import type { PutRecordsRequestEntry, _Record } from '@aws-sdk/client-kinesis';
import type { IncomingMessage, OutgoingMessage } from './bus.js';
import { BusError } from './errors.js';
import { kinesisLimits } from './kinesis-api.js';

const marker = Buffer.from([0xfe, 0x46, 0x53, 0x01]);
const headerBytes = marker.length + 4;

interface Frame {
  readonly k?: string;
  readonly h?: Readonly<Record<string, string>>;
}

const fitsPartitionKey = (key: string) => key.length >= 1 && key.length <= kinesisLimits.partitionKeyChars;

export function partitionKeyFor(key: string): string {
  return fitsPartitionKey(key) ? key : createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface EncodedRecord {
  readonly entry: PutRecordsRequestEntry;
  /** What Kinesis counts against its limits: data plus partition key. */
  readonly bytes: number;
}

/** The PutRecords entry of a message; a record over Kinesis' 1 MiB limit is refused here. */
export function encodeRecord(stream: string, message: OutgoingMessage): EncodedRecord {
  const partitionKey = partitionKeyFor(message.key);
  const frame: Frame = {
    ...(partitionKey !== message.key ? { k: message.key } : {}),
    ...(message.headers && Object.keys(message.headers).length > 0 ? { h: message.headers } : {}),
  };
  let data = message.value;
  if (frame.k !== undefined || frame.h !== undefined) {
    const meta = Buffer.from(JSON.stringify(frame), 'utf8');
    const head = Buffer.alloc(headerBytes);
    marker.copy(head);
    head.writeUInt32BE(meta.length, marker.length);
    data = Buffer.concat([head, meta, message.value]);
  }
  const bytes = data.length + Buffer.byteLength(partitionKey, 'utf8');
  if (bytes > kinesisLimits.bytesPerRecord) {
    throw new BusError(
      'INVALID_ARGUMENT',
      `a record of ${bytes} bytes (key '${message.key.slice(0, 64)}') exceeds the Kinesis limit of ` +
        `${kinesisLimits.bytesPerRecord} bytes per record`,
      false,
      stream,
    );
  }
  return { entry: { Data: data, PartitionKey: partitionKey }, bytes };
}

function unframe(data: Buffer): { frame: Frame; value: Buffer } {
  if (data.length < headerBytes || !data.subarray(0, marker.length).equals(marker)) return { frame: {}, value: data };
  const length = data.readUInt32BE(marker.length);
  if (headerBytes + length > data.length) return { frame: {}, value: data };
  try {
    const frame = JSON.parse(data.subarray(headerBytes, headerBytes + length).toString('utf8')) as Frame;
    return { frame, value: data.subarray(headerBytes + length) };
  } catch {
    return { frame: {}, value: data };
  }
}

export function decodeRecord(topic: string, partition: number, record: _Record): IncomingMessage {
  const data = record.Data ?? new Uint8Array();
  const { frame, value } = unframe(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  return {
    topic,
    partition,
    offset: record.SequenceNumber ?? '',
    timestamp: record.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
    key: frame.k ?? record.PartitionKey ?? '',
    value,
    ...(frame.h ? { headers: frame.h } : {}),
  };
}
