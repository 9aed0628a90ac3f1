/**
 * Avro single-object encoding: C3 01, the 8-byte little-endian CRC-64-AVRO fingerprint of the
 * writer schema's parsing canonical form, then the Avro body. A batch is the same with an Avro
 * array of the record as the schema (its own fingerprint). Decoding finds the writer among every
 * released version and resolves it to the current reader.
 */
import type { Resolver } from 'avsc';
import { type AvroType, invalidValues } from './avro-type.js';
import { BoundsError, type BoundsCheck, createBoundsCheck } from './bounds.js';
import {
  BadMagicError,
  CorruptPayloadError,
  IncompatibleSchemaError,
  InvalidRecordError,
  UnexpectedSchemaError,
  UnknownFingerprintError,
} from './errors.js';
import { fingerprintBytes, fingerprintHex } from './fingerprint.js';
import { schemaRegistry, type SchemaRegistry, type SchemaVersion, type WriterVersion } from './registry.js';
import type { RecordTypes, SchemaName } from './types.js';

export const MAGIC = Buffer.from([0xc3, 0x01]);
export const HEADER_SIZE = 10;

export interface RecordCodec<T> {
  readonly name: SchemaName;
  /** One record as one message. */
  encode(record: T): Buffer;
  /** Several records as one message (an Avro array). */
  encodeBatch(records: readonly T[]): Buffer;
  /** A message holding one record; a batch message is an UnexpectedSchemaError. */
  decode(bytes: Uint8Array): T;
  /** A message holding a batch; a single-record message is an UnexpectedSchemaError. */
  decodeBatch(bytes: Uint8Array): T[];
  /** Either form, as a list of records. */
  decodeAll(bytes: Uint8Array): T[];
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function headerOf(fingerprint: bigint): Buffer {
  return Buffer.concat([MAGIC, fingerprintBytes(fingerprint)]);
}

function describe(found: WriterVersion): string {
  return `${found.version.name} v${found.version.version}${found.batch ? ' batch' : ''}`;
}

/** Reused for every encode; the output is a copy of the bytes written. */
let scratch = Buffer.allocUnsafe(64 * 1024);

function writeMessage(type: AvroType, header: Buffer, value: unknown): Buffer {
  header.copy(scratch, 0);
  let end = type.encode(value, scratch, HEADER_SIZE);
  while (end < 0) {
    scratch = Buffer.allocUnsafe(2 * (scratch.length - end));
    header.copy(scratch, 0);
    end = type.encode(value, scratch, HEADER_SIZE);
  }
  const message = Buffer.allocUnsafe(end);
  scratch.copy(message, 0, 0, end);
  return message;
}

interface Reader {
  readonly check: BoundsCheck;
  readonly resolver: Resolver | undefined;
}

class AvroRecordCodec<T> implements RecordCodec<T> {
  private readonly current: SchemaVersion;
  private readonly header: Buffer;
  private readonly batchHeader: Buffer;
  private readonly readers = new Map<string, Reader>();

  constructor(
    private readonly registry: SchemaRegistry,
    readonly name: SchemaName,
  ) {
    this.current = registry.entry(name).current;
    this.header = headerOf(this.current.fingerprint);
    this.batchHeader = headerOf(this.current.batchFingerprint);
  }

  encode(record: T): Buffer {
    return this.write(this.current.type, this.header, record);
  }

  encodeBatch(records: readonly T[]): Buffer {
    return this.write(this.current.batchType, this.batchHeader, records);
  }

  decode(bytes: Uint8Array): T {
    const buf = asBuffer(bytes);
    const writer = this.writerOf(buf);
    if (writer.batch) throw unexpected(buf, this.name, writer);
    return this.read(buf, writer) as T;
  }

  decodeBatch(bytes: Uint8Array): T[] {
    const buf = asBuffer(bytes);
    const writer = this.writerOf(buf);
    if (!writer.batch) throw unexpected(buf, `${this.name} batch`, writer);
    return this.read(buf, writer) as T[];
  }

  decodeAll(bytes: Uint8Array): T[] {
    const buf = asBuffer(bytes);
    const writer = this.writerOf(buf);
    const value = this.read(buf, writer);
    return writer.batch ? (value as T[]) : [value as T];
  }

  private write(type: AvroType, header: Buffer, value: unknown): Buffer {
    try {
      return writeMessage(type, header, value);
    } catch (error) {
      const problems = invalidValues(type, value);
      throw new InvalidRecordError(this.name, problems.length > 0 ? problems : [String(error)]);
    }
  }

  private writerOf(buf: Buffer): WriterVersion {
    if (buf.length < 2 || buf[0] !== 0xc3 || buf[1] !== 0x01) {
      throw new BadMagicError(buf.subarray(0, 2).toString('hex'));
    }
    if (buf.length < HEADER_SIZE) {
      throw new CorruptPayloadError(this.name, '?', buf.length, `header needs ${HEADER_SIZE} bytes, message has ${buf.length}`);
    }
    if (buf.compare(this.header, 2, HEADER_SIZE, 2, HEADER_SIZE) === 0) return { version: this.current, batch: false };
    if (buf.compare(this.batchHeader, 2, HEADER_SIZE, 2, HEADER_SIZE) === 0) return { version: this.current, batch: true };
    const found = this.registry.writer(buf.toString('latin1', 2, HEADER_SIZE));
    if (!found) throw new UnknownFingerprintError(headerFingerprint(buf), this.name);
    if (found.version.name !== this.name) throw unexpected(buf, this.name, found);
    return found;
  }

  private read(buf: Buffer, writer: WriterVersion): unknown {
    const reader = this.readerFor(writer);
    try {
      reader.check(buf, HEADER_SIZE);
    } catch (error) {
      if (!(error instanceof BoundsError)) throw error;
      throw new CorruptPayloadError(describe(writer), headerFingerprint(buf), error.offset, error.detail, { cause: error });
    }
    const type = writer.batch ? this.current.batchType : this.current.type;
    try {
      return type.decode(buf, HEADER_SIZE, reader.resolver).value as unknown;
    } catch (error) {
      throw new CorruptPayloadError(describe(writer), headerFingerprint(buf), HEADER_SIZE, String(error), { cause: error });
    }
  }

  private readerFor(writer: WriterVersion): Reader {
    const key = `${writer.version.version}${writer.batch ? 'b' : ''}`;
    let reader = this.readers.get(key);
    if (!reader) {
      reader = this.createReader(writer);
      this.readers.set(key, reader);
    }
    return reader;
  }

  private createReader({ version, batch }: WriterVersion): Reader {
    const writerType = batch ? version.batchType : version.type;
    const readerType = batch ? this.current.batchType : this.current.type;
    const same = version.fingerprint === this.current.fingerprint;
    try {
      return { check: createBoundsCheck(writerType), resolver: same ? undefined : readerType.createResolver(writerType) };
    } catch (error) {
      throw new IncompatibleSchemaError(this.name, version.version, [String(error)]);
    }
  }
}

function headerFingerprint(buf: Buffer): string {
  return fingerprintHex(buf.readBigUInt64LE(2));
}

function unexpected(buf: Buffer, expected: string, found: WriterVersion): UnexpectedSchemaError {
  return new UnexpectedSchemaError(headerFingerprint(buf), expected, describe(found));
}

const codecs = new WeakMap<SchemaRegistry, Map<SchemaName, RecordCodec<unknown>>>();

/** The codec of one record type (cached per registry). */
export function codecFor<N extends SchemaName>(name: N, registry: SchemaRegistry = schemaRegistry()): RecordCodec<RecordTypes[N]> {
  let byName = codecs.get(registry);
  if (!byName) {
    byName = new Map();
    codecs.set(registry, byName);
  }
  let codec = byName.get(name);
  if (!codec) {
    codec = new AvroRecordCodec<unknown>(registry, name);
    byName.set(name, codec);
  }
  return codec as RecordCodec<RecordTypes[N]>;
}

export type DecodedMessage = { [N in SchemaName]: { name: N; records: RecordTypes[N][] } }[SchemaName];

/** Decodes a message of any record type, single or batch, e.g. for a dead-letter inspector. */
export function decodeMessage(bytes: Uint8Array, registry: SchemaRegistry = schemaRegistry()): DecodedMessage {
  const buf = asBuffer(bytes);
  if (buf.length < 2 || buf[0] !== 0xc3 || buf[1] !== 0x01) throw new BadMagicError(buf.subarray(0, 2).toString('hex'));
  const found = buf.length >= HEADER_SIZE ? registry.writer(buf.toString('latin1', 2, HEADER_SIZE)) : undefined;
  if (!found) {
    if (buf.length < HEADER_SIZE) throw new CorruptPayloadError('message', '?', buf.length, 'header is truncated');
    throw new UnknownFingerprintError(headerFingerprint(buf), 'any record type');
  }
  const name = found.version.name;
  return { name, records: codecFor(name, registry).decodeAll(buf) } as DecodedMessage;
}
