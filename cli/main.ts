import { configProblemsReport, loadProcessConfig } from '../runtime/config/process-config.js';
import { exitCodesHelp } from '../runtime/ops/exit-codes.js';
import { takeConfigOption } from './command.js';
import { commandIndex as commands } from './command-index.js';

function help(): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    'usage: flowsentry <command> [options]',
    '',
    'commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    "'flowsentry <command> --help' shows a command's options. Every command takes --config FILE",
    "(or FLOWSENTRY_CONFIG) and FLOWSENTRY_* variables: see 'flowsentry config --help'.",
    '',
    'Stages run until SIGTERM or SIGINT, then finish the batch in hand, commit and exit 0. Each',
    'process serves /metrics (Prometheus), /healthz and /readyz on FLOWSENTRY_SERVER_PORT (default',
    '9464; 0 takes any free port) and FLOWSENTRY_SERVER_HOST (default 0.0.0.0), and logs JSON lines',
    'on stderr (FLOWSENTRY_LOG_LEVEL: debug, info (default), warn, error).',
    '',
    'examples:',
    '  flowsentry replay --flows flows.log --inventory pods.json --enriched-out enriched.jsonl',
    '  KAFKA_BROKERS=kafka:9092 flowsentry enrich --cluster-cidr 10.0.0.0/16',
    '  flowsentry query top-talkers --from -1h --by pair',
    '',
    exitCodesHelp,
  ].join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  const entry = commands.find((candidate) => candidate.name === name);
  if (!entry) {
    console.error(`flowsentry: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    const command = await entry.load();
    console.log(`usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  // `flowsentry config` reads and reports the configuration itself (`config check`).
  if (entry.name === 'config') return (await entry.load()).run(rest);
  // Every other command starts only with a valid configuration: `--config FILE` (taken out of
  // its arguments, whichever way the command parses them) or FLOWSENTRY_CONFIG, and the
  // FLOWSENTRY_* variables, loaded once for the process.
  const { file, rest: args } = takeConfigOption(rest);
  if (file === null) {
    console.error(`flowsentry ${name}: Option '--config <value>' argument missing\n\nusage: ${(await entry.load()).usage}`);
    return 2;
  }
  const config = loadProcessConfig(file);
  if (config.problems.length > 0) {
    console.error(configProblemsReport(name, config));
    return 2;
  }
  // Loaded after the configuration, so what its modules set up at load (loggers) sees log.level.
  const command = await entry.load();
  return command.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
