/** `npm run bench -- <name>`: runs bench/<name>.ts. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const benches = readdirSync(dir)
  .filter((file) => file.endsWith('.ts') && !['run.ts', 'report.ts', 'measure.ts'].includes(file))
  .map((file) => file.slice(0, -3));
const [name, ...args] = process.argv.slice(2);
if (!name || !existsSync(`${dir}/${name}.ts`)) {
  console.error(`usage: npm run bench -- <${benches.join('|')}>`);
  process.exit(2);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', `${dir}/${name}.ts`, ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
