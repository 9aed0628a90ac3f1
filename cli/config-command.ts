import { readFileSync } from 'node:fs';
import { configReference } from '../runtime/config/config-reference.js';
import { resolvedConfigYaml } from '../runtime/config/config-yaml.js';
import { processConfig } from '../runtime/config/process-config.js';
import { parseOptions, type CliCommand } from './command.js';

/** The commented example configuration, at the root of the repository (and of the image). */
export const exampleConfigUrl = new URL('../flowsentry.example.yaml', import.meta.url);

const subcommands = ['check', 'reference', 'example'] as const;
type Subcommand = (typeof subcommands)[number];

const usage = `flowsentry config <check|reference|example> [--config FILE]

The configuration: one YAML file (--config FILE on any command, or FLOWSENTRY_CONFIG) and
FLOWSENTRY_<SECTION>_<KEY> variables; a command-line option beats a variable, a variable beats
the file, the file beats the default. Every command validates it before it starts and stops with
exit code 2, listing every problem with its path.

  check        validate the file and the FLOWSENTRY_* variables; print "ok" and the resolved
               configuration as YAML (secrets redacted, each value's variable or default noted),
               or every problem and exit 2
  reference    the reference of every section and key, in Markdown (docs/configuration.md)
  example      a commented example configuration (flowsentry.example.yaml)

options:
  --config FILE            the file to check (default $FLOWSENTRY_CONFIG; none: variables and defaults)

examples:
  flowsentry config check --config flowsentry.yaml
  FLOWSENTRY_KAFKA_BROKERS=kafka-0:9092,kafka-1:9092 flowsentry config check --config flowsentry.yaml
  flowsentry config reference > docs/configuration.md
  flowsentry config example > flowsentry.yaml`;

export const configCommand: CliCommand = {
  name: 'config',
  summary: 'check the configuration file and FLOWSENTRY_* variables, or print the reference or an example',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    if (!subcommands.includes(sub as Subcommand)) {
      console.error(`flowsentry config: ${sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub}'`}: one of ${subcommands.join(', ')}\n\n${usage}`);
      return 2;
    }
    if (sub === 'check') {
      if (!parseOptions('config check', usage, rest, {})) return 2;
      const loaded = processConfig();
      process.stdout.write(`ok\n${resolvedConfigYaml(loaded, loaded.environment.kept)}`);
      return 0;
    }
    if (rest.length > 0) {
      console.error(`flowsentry config ${sub}: takes no options, found '${rest[0]}'\n\n${usage}`);
      return 2;
    }
    process.stdout.write(sub === 'reference' ? configReference() : readFileSync(exampleConfigUrl, 'utf8'));
    return 0;
  },
};
