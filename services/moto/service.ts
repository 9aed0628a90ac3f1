import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isHttpUp, runCommand } from '../exec.js';
import type { ServiceDefinition } from '../service.js';

const host = '127.0.0.1';
const port = 15000;
const endpoint = `http://${host}:${port}`;

/** moto in server mode, from PyPI, in a virtualenv under the cache directory. */
export const motoService: ServiceDefinition = {
  name: 'moto',
  env: {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  },

  async install(ctx) {
    const requirements = join(ctx.repoDir, 'services', 'moto', 'requirements.txt');
    const wanted = createHash('sha256').update(await readFile(requirements)).digest('hex');
    const marker = join(ctx.cacheDir, 'installed.sha256');
    if (existsSync(marker) && (await readFile(marker, 'utf8')) === wanted) return;
    const venv = join(ctx.cacheDir, 'venv');
    const python = process.env.PYTHON ?? 'python3';
    ctx.log(`creating virtualenv ${venv}`);
    await runCommand(python, ['-m', 'venv', '--clear', venv]);
    ctx.log('installing moto[server] from PyPI');
    await runCommand(join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', '-r', requirements]);
    await writeFile(marker, wanted);
  },

  async prepare(ctx) {
    return {
      command: join(ctx.cacheDir, 'venv', 'bin', 'moto_server'),
      args: ['-H', host, '-p', String(port)],
      env: { MOTO_ALLOW_NONEXISTENT_REGION: 'true' },
    };
  },

  isReady() {
    return isHttpUp(`${endpoint}/moto-api/`);
  },
};
