import type { CliCommand } from './command.js';

export const runCommand: CliCommand = {
  name: 'run',
  summary: 'run the whole pipeline (embedded defaults when no broker is configured)',
  usage: 'flowsentry run [--config flowsentry.yaml]',
  async run() {
    console.error(
      'flowsentry run: the pipeline stages (ingest, enrich, detect, sink) are not built yet; ' +
        'this release provides the workspace, the test services and the schemas. See README.md.',
    );
    return 3;
  },
};
