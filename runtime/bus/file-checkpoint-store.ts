import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { emptyCheckpoints, type CheckpointStore, type GroupCheckpoints, type VersionedCheckpoints } from './checkpoint-store.js';

export interface FileCheckpointStoreOptions {
  /** Flush each version to disk before it becomes visible, so a power loss cannot leave it empty (default on). */
  readonly fsync?: boolean;
  /** Versions kept behind the newest; older ones are deleted. */
  readonly keepVersions?: number;
}

const versionFile = /^(\d{16})\.json$/;
const fileName = (version: number) => `${String(version).padStart(16, '0')}.json`;
const isCode = (error: unknown, code: string) => (error as NodeJS.ErrnoException | undefined)?.code === code;

/**
 * Checkpoints in local files: a directory per namespace holding one file per version
 * (`0000000000000042.json`). A version is written to a temporary file and then hard-linked to
 * its final name, which fails when that name exists: the link is the compare-and-set, and a
 * reader never sees a partial file. Safe for several consumers in one process and for several
 * processes on one machine; no lock is held, so a crashed writer blocks nobody.
 */
export class FileCheckpointStore implements CheckpointStore {
  private readonly keep: number;

  constructor(
    readonly dir: string,
    private readonly options: FileCheckpointStoreOptions = {},
  ) {
    this.keep = Math.max(options.keepVersions ?? 16, 2);
  }

  async load(namespace: string): Promise<VersionedCheckpoints> {
    const dir = this.namespaceDir(namespace);
    for (;;) {
      const versions = await this.versions(dir);
      if (versions.length === 0) return { version: 0, state: emptyCheckpoints };
      try {
        const version = versions.at(-1)!;
        return { version, state: JSON.parse(await readFile(join(dir, fileName(version)), 'utf8')) as GroupCheckpoints };
      } catch (error) {
        // Deleted by a writer's clean-up since the listing: list again.
        if (!isCode(error, 'ENOENT')) throw error;
      }
    }
  }

  async compareAndSet(namespace: string, version: number, next: GroupCheckpoints): Promise<boolean> {
    const dir = this.namespaceDir(namespace);
    await mkdir(dir, { recursive: true });
    const temporary = join(dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    const handle = await open(temporary, 'wx');
    try {
      await handle.writeFile(JSON.stringify(next));
      if (this.options.fsync ?? true) await handle.sync();
    } finally {
      await handle.close();
    }
    const target = join(dir, fileName(version + 1));
    try {
      await link(temporary, target);
    } catch (error) {
      if (isCode(error, 'EEXIST')) return false;
      throw error;
    } finally {
      await unlink(temporary).catch(() => undefined);
    }
    const versions = await this.versions(dir);
    const newest = versions.at(-1) ?? version + 1;
    if (newest >= version + 1 + this.keep) {
      // Our name had been cleaned up behind a newer version: this write never became current.
      await unlink(target).catch(() => undefined);
      return false;
    }
    await Promise.all(
      versions.filter((old) => old <= newest - this.keep).map((old) => unlink(join(dir, fileName(old))).catch(() => undefined)),
    );
    return true;
  }

  private namespaceDir(namespace: string): string {
    return join(this.dir, encodeURIComponent(namespace).replaceAll('.', '%2E'));
  }

  private async versions(dir: string): Promise<number[]> {
    try {
      const names = await readdir(dir);
      return names.flatMap((name) => {
        const match = versionFile.exec(name);
        return match ? [Number(match[1])] : [];
      }).sort((a, b) => a - b);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return [];
      throw error;
    }
  }
}
