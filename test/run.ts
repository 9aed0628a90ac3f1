/**
 * `npm test`: runs the unit tests and the integration tests with Node's test runner.
 * Integration tests need Kafka, OpenSearch, moto and Kubernetes: endpoints given in the environment
 * (KAFKA_BROKERS, OPENSEARCH_URL, AWS_ENDPOINT_URL, KUBERNETES_URL) are used as they are; the missing ones are
 * started here from the project's services script and stopped afterwards.
 *
 *   npm test                      everything
 *   npm test -- --unit            unit tests only, no services
 *   npm test -- test/integration/kafka-smoke.test.ts   selected files
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { down, up } from '../services/manager.js';
import { repoDir } from '../services/paths.js';
import { servicesMissingFrom } from '../services/registry.js';

async function findTests(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => relative(repoDir, join(entry.parentPath, entry.name)))
    .sort();
}

function runNodeTests(files: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const args = [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=tap',
    '--test-concurrency=2',
    '--test-timeout=180000',
    ...files,
  ];
  return new Promise((resolveCode) => {
    const child = spawn(process.execPath, args, { cwd: repoDir, env, stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    child.on('close', (code, signal) => resolveCode(code ?? (signal ? 1 : 0)));
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const unitOnly = argv.includes('--unit');
  const selected = argv.filter((arg) => !arg.startsWith('--'));
  const files =
    selected.length > 0
      ? selected
      : [
          ...(await findTests(join(repoDir, 'test', 'unit'))),
          ...(unitOnly ? [] : await findTests(join(repoDir, 'test', 'integration'))),
        ];
  const needsServices = files.some((file) => !file.includes(join('test', 'unit')));
  const toStart = needsServices ? servicesMissingFrom(process.env) : [];
  const log = (line: string) => console.error(`# ${line}`);
  let stopping = false;
  const stop = async () => {
    if (stopping || toStart.length === 0) return;
    stopping = true;
    await down(toStart, log);
  };
  const onSignal = () => void stop().then(() => process.exit(130));
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);

  const env: NodeJS.ProcessEnv = { ...process.env };
  try {
    if (toStart.length > 0) {
      log(`starting ${toStart.map((service) => service.name).join(', ')} (endpoints not given in the environment)`);
      await up(toStart, log);
      for (const service of toStart) Object.assign(env, service.env);
    }
    const code = await runNodeTests(files, env);
    if (code !== 0 && toStart.length > 0) log('service logs stay under the cache directory: npm run services -- status');
    return code;
  } finally {
    await stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
