/**
 * Typed errors of the schemas module. Every error has a stable `code` (listed in `schemaErrorCodes`
 * and documented in README.md) and `retriable: false`: bytes that failed to decode once will
 * fail again, so they belong on the dead-letter path, not in a retry loop.
 */

export const schemaErrorCodes = {
  SCHEMA_BAD_MAGIC: 'the message does not start with the single-object marker C3 01',
  SCHEMA_UNKNOWN_FINGERPRINT: 'no known version of any schema has the writer fingerprint',
  SCHEMA_UNEXPECTED_TYPE: 'the writer fingerprint belongs to another record type (or batch form) than the one expected',
  SCHEMA_CORRUPT_PAYLOAD: 'the header is fine but the body does not decode with the writer schema',
  SCHEMA_INVALID_RECORD: 'a record to encode or convert does not match its schema',
  SCHEMA_INCOMPATIBLE: 'the current schema cannot read data written with a released version',
  SCHEMA_LOAD_FAILED: 'a schema file or golden payload is missing or malformed',
  SCHEMA_RELEASE_REFUSED: 'a new version cannot be released (nothing changed, or it is incompatible)',
} as const;

export type SchemaErrorCode = keyof typeof schemaErrorCodes;

export abstract class SchemaError extends Error {
  abstract readonly code: SchemaErrorCode;
  readonly retriable = false;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class BadMagicError extends SchemaError {
  readonly code = 'SCHEMA_BAD_MAGIC';
  readonly offset = 0;

  /** @param found hex of the first bytes of the message */
  constructor(readonly found: string) {
    super(`not a single-object encoded message: expected marker c301 at offset 0, found '${found}'`);
  }
}

export class UnknownFingerprintError extends SchemaError {
  readonly code = 'SCHEMA_UNKNOWN_FINGERPRINT';
  readonly offset = 2;

  constructor(
    readonly fingerprint: string,
    readonly expected: string,
  ) {
    super(`unknown writer schema fingerprint ${fingerprint} (offset 2) while decoding ${expected}`);
  }
}

export class UnexpectedSchemaError extends SchemaError {
  readonly code = 'SCHEMA_UNEXPECTED_TYPE';
  readonly offset = 2;

  constructor(
    readonly fingerprint: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`expected ${expected} but the message was written as ${found} (fingerprint ${fingerprint})`);
  }
}

export class CorruptPayloadError extends SchemaError {
  readonly code = 'SCHEMA_CORRUPT_PAYLOAD';

  constructor(
    readonly writer: string,
    readonly fingerprint: string,
    readonly offset: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`corrupt ${writer} message (fingerprint ${fingerprint}) at byte ${offset}: ${detail}`, options);
  }
}

export class InvalidRecordError extends SchemaError {
  readonly code = 'SCHEMA_INVALID_RECORD';

  /** @param problems one entry per invalid value: `path: reason` */
  constructor(
    readonly schema: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid ${schema} record: ${problems.join('; ')}`);
  }
}

export class IncompatibleSchemaError extends SchemaError {
  readonly code = 'SCHEMA_INCOMPATIBLE';

  constructor(
    readonly schema: string,
    readonly version: number,
    readonly problems: readonly string[],
  ) {
    super(`${schema}: the current schema cannot read v${version} data: ${problems.join('; ')}`);
  }
}

export class SchemaLoadError extends SchemaError {
  readonly code = 'SCHEMA_LOAD_FAILED';

  constructor(
    readonly file: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: ${detail}`, options);
  }
}

export class ReleaseRefusedError extends SchemaError {
  readonly code = 'SCHEMA_RELEASE_REFUSED';

  constructor(
    readonly schema: string,
    detail: string,
  ) {
    super(`cannot release ${schema}: ${detail}`);
  }
}
