import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the repository. */
export const repoDir = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** One cache directory for every service download, build and run; `FLOWSENTRY_CACHE` overrides. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLOWSENTRY_CACHE) return resolve(env.FLOWSENTRY_CACHE);
  const base = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(base, 'flowsentry');
}
