/**
 * Streaming input of the VPC file source: a file's bytes (gunzipped when the file is gzip, told
 * by its magic bytes rather than its name, as S3 delivers `.log.gz` objects) cut into lines of
 * bounded length. readline would buffer a line of any length; this keeps at most `maxLineBytes`
 * of one and reports the rest as cut off.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';

export interface InputLine {
  /** 1-based line number in the (decompressed) file. */
  readonly number: number;
  /** The line without its newline; a view on the read buffer, copy it to keep it. */
  readonly bytes: Buffer;
  /** The line was longer than the limit: `bytes` holds its beginning only. */
  readonly cut: boolean;
}

const NEWLINE = 0x0a;

/** Cuts a stream of chunks into lines of at most `maxLineBytes`; the last line needs no newline. */
export async function* splitLines(chunks: AsyncIterable<Buffer>, maxLineBytes: number): AsyncGenerator<InputLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let cut = false;
  let number = 0;
  const take = (): InputLine => {
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    const line = { number: ++number, bytes, cut };
    parts = [];
    size = 0;
    cut = false;
    return line;
  };
  for await (const chunk of chunks) {
    let from = 0;
    while (from <= chunk.length) {
      const newline = chunk.indexOf(NEWLINE, from);
      const end = newline === -1 ? chunk.length : newline;
      const room = Math.min(end - from, maxLineBytes - size);
      if (room > 0) {
        parts.push(chunk.subarray(from, from + room));
        size += room;
      }
      if (end - from > room) cut = true;
      if (newline === -1) break;
      yield take();
      from = newline + 1;
    }
  }
  if (size > 0 || cut) yield take();
}

/** True when the file starts with the gzip magic bytes. */
async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** A file's bytes, decompressed when it is gzip (concatenated members included). Stops reading when the consumer stops. */
export async function* fileChunks(path: string, chunkBytes = 64 * 1024): AsyncGenerator<Buffer> {
  const gzip = await isGzip(path);
  const file = createReadStream(path, { highWaterMark: chunkBytes });
  if (!gzip) {
    try {
      yield* file as AsyncIterable<Buffer>;
    } finally {
      file.destroy();
    }
    return;
  }
  const gunzip = createGunzip({ chunkSize: chunkBytes });
  file.on('error', (error) => gunzip.destroy(error));
  file.pipe(gunzip);
  try {
    yield* gunzip as AsyncIterable<Buffer>;
  } finally {
    file.destroy();
    gunzip.destroy();
  }
}

/** True for zlib's errors about the data (corrupt or truncated gzip), as opposed to I/O errors. */
export function isCorruptGzip(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}
