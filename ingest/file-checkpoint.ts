/**
 * A small JSON document in a local file, replaced atomically: written to a temporary file beside
 * it, flushed, then renamed over it (and the directory flushed), so a reader — or a process
 * restarted after a kill -9 or a power loss — sees the old document or the new one, never a mix.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface CheckpointWriteOptions {
  /** Flush the file and its directory before returning (default on). */
  readonly fsync?: boolean;
}

const isCode = (error: unknown, code: string) => (error as NodeJS.ErrnoException | undefined)?.code === code;

/** The parsed document, or undefined when there is none. Throws on a file that is not JSON. */
export async function readCheckpoint(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw error;
  }
  return JSON.parse(text) as unknown;
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not every platform can flush a directory; the rename itself is still atomic.
  }
}

/** Replaces the document at `path` with `value` as JSON. */
export async function writeCheckpoint(path: string, value: unknown, options: CheckpointWriteOptions = {}): Promise<void> {
  const fsync = options.fsync ?? true;
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temporary = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(temporary, 'wx');
    try {
      await handle.writeFile(`${JSON.stringify(value)}\n`);
      if (fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  if (fsync) await syncDirectory(dir);
}
