/**
 * A structural pass over an Avro body before avsc decodes it. avsc trusts the lengths and counts
 * it reads: a corrupt array count of 2^31 makes it allocate and loop until the process dies.
 * This pass walks the writer schema over the bytes without allocating and stops at the first
 * length, count or index that cannot be right, with its byte offset.
 */
import type { types } from 'avsc';
import type { AvroType } from './avro-type.js';

interface Cursor {
  buf: Buffer;
  pos: number;
}

type Skip = (cursor: Cursor) => void;

export class BoundsError extends Error {
  constructor(
    readonly offset: number,
    readonly detail: string,
  ) {
    super(`${detail} at byte ${offset}`);
  }
}

function need(cursor: Cursor, size: number, what: string): void {
  if (cursor.pos + size > cursor.buf.length) {
    throw new BoundsError(cursor.pos, `${what} needs ${size} bytes, ${cursor.buf.length - cursor.pos} left`);
  }
}

/** A zig-zag varint as a JS number (exact up to 2^53, which is all a bound needs). */
function readLong(cursor: Cursor): number {
  const first = cursor.buf[cursor.pos];
  if (first !== undefined && first < 0x80) {
    cursor.pos += 1; // one byte: by far the most common case
    return first % 2 === 0 ? first / 2 : -(first + 1) / 2;
  }
  return readLongSlow(cursor);
}

function readLongSlow(cursor: Cursor): number {
  const start = cursor.pos;
  let unsigned = 0;
  let scale = 1;
  for (let length = 1; ; length++) {
    if (cursor.pos >= cursor.buf.length) throw new BoundsError(start, 'varint runs past the end');
    if (length > 10) throw new BoundsError(start, 'varint longer than 10 bytes');
    const byte = cursor.buf[cursor.pos++] as number;
    unsigned += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) break;
  }
  return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
}

function skipLength(cursor: Cursor, what: string): void {
  const start = cursor.pos;
  const length = readLong(cursor);
  if (length < 0) throw new BoundsError(start, `negative ${what} length ${length}`);
  need(cursor, length, what);
  cursor.pos += length;
}

function skipIndex(cursor: Cursor, count: number, what: string): number {
  const start = cursor.pos;
  const index = readLong(cursor);
  if (index < 0 || index >= count) throw new BoundsError(start, `${what} index ${index} out of range 0..${count - 1}`);
  return index;
}

/** Blocks of an array or map: counts are bounded by the bytes left, so loops stay short. */
function skipBlocks(itemSkip: Skip, what: string): Skip {
  return (cursor) => {
    for (;;) {
      const start = cursor.pos;
      let count = readLong(cursor);
      if (count === 0) return;
      if (count < 0) {
        count = -count;
        readLong(cursor); // block size in bytes, not needed
      }
      if (count > cursor.buf.length - cursor.pos) {
        throw new BoundsError(start, `${what} count ${count} exceeds the ${cursor.buf.length - cursor.pos} bytes left`);
      }
      for (let i = 0; i < count; i++) itemSkip(cursor);
    }
  };
}

function fixedSize(size: number, what: string): Skip {
  return (cursor) => {
    need(cursor, size, what);
    cursor.pos += size;
  };
}

function recordSkipper(type: types.RecordType, memo: Map<AvroType, Skip>): Skip {
  let fields: Skip[] = [];
  const skip: Skip = (cursor) => {
    for (const field of fields) field(cursor);
  };
  memo.set(type, skip); // before the fields, so a recursive record finds itself
  fields = type.fields.map((field) => skipperOf(field.type, memo));
  return skip;
}

function skipperOf(type: AvroType, memo: Map<AvroType, Skip>): Skip {
  const known = memo.get(type);
  if (known) return known;
  switch (type.typeName) {
    case 'null':
      return () => undefined;
    case 'boolean':
      return (cursor) => {
        need(cursor, 1, 'boolean');
        if ((cursor.buf[cursor.pos] as number) > 1) throw new BoundsError(cursor.pos, 'boolean byte is neither 0 nor 1');
        cursor.pos += 1;
      };
    case 'int':
    case 'long':
      return (cursor) => void readLong(cursor);
    case 'float':
      return fixedSize(4, 'float');
    case 'double':
      return fixedSize(8, 'double');
    case 'string':
    case 'bytes':
      return (cursor) => skipLength(cursor, type.typeName);
    case 'fixed':
      return fixedSize((type as types.FixedType).size, 'fixed');
    case 'enum': {
      const count = (type as types.EnumType).symbols.length;
      return (cursor) => void skipIndex(cursor, count, 'enum');
    }
    case 'array':
      return skipBlocks(skipperOf((type as types.ArrayType).itemsType, memo), 'array');
    case 'map': {
      const value = skipperOf((type as types.MapType).valuesType as AvroType, memo);
      return skipBlocks((cursor) => {
        skipLength(cursor, 'map key');
        value(cursor);
      }, 'map');
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branches = (type as types.UnwrappedUnionType).types.map((branch) => skipperOf(branch, memo));
      return (cursor) => (branches[skipIndex(cursor, branches.length, 'union')] as Skip)(cursor);
    }
    case 'record':
    case 'error':
      return recordSkipper(type as types.RecordType, memo);
    default:
      throw new Error(`no bounds check for Avro type '${type.typeName}'`);
  }
}

export type BoundsCheck = (buf: Buffer, start: number) => void;

/** Checks that one value of `type` fills buf[start..] exactly; throws BoundsError otherwise. */
export function createBoundsCheck(type: AvroType): BoundsCheck {
  const skip = skipperOf(type, new Map());
  return (buf, start) => {
    const cursor: Cursor = { buf, pos: start };
    skip(cursor);
    if (cursor.pos !== buf.length) {
      throw new BoundsError(cursor.pos, `${buf.length - cursor.pos} trailing bytes after the value`);
    }
  };
}
