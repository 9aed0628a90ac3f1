/**
 * CRC-64-AVRO, the 64-bit Rabin fingerprint the Avro specification defines for schemas
 * ("Schema Fingerprints"), computed over the UTF-8 bytes of a schema's parsing canonical form.
 */

const EMPTY = 0xc15d213aa4d7a795n;
const MASK_64 = 0xffffffffffffffffn;

function buildTable(): readonly bigint[] {
  const table: bigint[] = [];
  for (let i = 0n; i < 256n; i++) {
    let value = i;
    for (let bit = 0; bit < 8; bit++) {
      value = (value >> 1n) ^ (EMPTY & (-(value & 1n) & MASK_64));
    }
    table.push(value);
  }
  return table;
}

let table: readonly bigint[] | undefined;

/** The fingerprint as an unsigned 64-bit integer. */
export function crc64Avro(text: string): bigint {
  table ??= buildTable();
  let fingerprint = EMPTY;
  for (const byte of Buffer.from(text, 'utf8')) {
    fingerprint = (fingerprint >> 8n) ^ table[Number((fingerprint ^ BigInt(byte)) & 0xffn)];
  }
  return fingerprint;
}

/** The 8 bytes that follow the marker in single-object encoding (little-endian). */
export function fingerprintBytes(fingerprint: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(fingerprint);
  return bytes;
}

/** How fingerprints are printed: 16 hex digits of the unsigned value. */
export function fingerprintHex(fingerprint: bigint): string {
  return fingerprint.toString(16).padStart(16, '0');
}
