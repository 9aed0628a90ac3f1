import { down, status, up } from './manager.js';
import { serviceEnv, servicesNamed } from './registry.js';

const usage = `usage: npm run services -- <up|down|status|env> [kafka|opensearch|moto|kubernetes ...]

  up      install what is missing (cached under $FLOWSENTRY_CACHE or ~/.cache/flowsentry),
          start on loopback and wait until ready; services already up are left alone
  down    stop the services started by 'up'
  status  show whether each service runs and answers
  env     print the export lines that point the pipeline and tests at the services`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...names] = argv;
  const log = (line: string) => console.error(line);
  if (command === undefined || command === '--help' || command === '-h') {
    console.log(usage);
    return command === undefined ? 2 : 0;
  }
  const services = servicesNamed(names);
  switch (command) {
    case 'up': {
      const results = await up(services, log);
      for (const result of results) {
        console.error(`${result.name}: ${result.started ? `ready in ${result.seconds.toFixed(1)}s` : 'already up'}`);
      }
      printEnv(services);
      return 0;
    }
    case 'down':
      await down(services, log);
      return 0;
    case 'status': {
      const rows = await status(services);
      for (const row of rows) {
        const state = row.ready ? 'ready' : row.running ? 'starting' : 'stopped';
        console.log(`${row.name.padEnd(11)} ${state.padEnd(9)} pid=${row.pid ?? '-'} log=${row.logFile}`);
      }
      return rows.every((row) => row.ready) ? 0 : 1;
    }
    case 'env':
      printEnv(services);
      return 0;
    default:
      console.error(`unknown command '${command}'\n\n${usage}`);
      return 2;
  }
}

function printEnv(services: Parameters<typeof serviceEnv>[0]): void {
  for (const [key, value] of Object.entries(serviceEnv(services))) console.log(`export ${key}=${value}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
