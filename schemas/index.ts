/** The schemas module: record types, the codec, the JSON form, and schema evolution. */
export type * from './types.js';
export { schemaNames } from './types.js';
export { codecFor, decodeMessage, HEADER_SIZE, MAGIC, type DecodedMessage, type RecordCodec } from './codec.js';
export { fromJson, toJson, type JsonObject, type JsonValue } from './json.js';
export * from './errors.js';
export { loadRegistry, schemaRegistry, type SchemaEntry, type SchemaRegistry, type SchemaVersion } from './registry.js';
export { checkBackwardTransitive, readProblems } from './compatibility.js';
export { checkSchemas, type CheckLine } from './check.js';
export { releaseSchema } from './release.js';
export { crc64Avro, fingerprintHex } from './fingerprint.js';
export { samples } from './samples.js';
