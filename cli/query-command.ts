import { MetricsRegistry } from '../runtime/metrics.js';
import { opsServerSettings } from '../runtime/ops/ops-server.js';
import { ask } from '../sink/query/ask.js';
import { formatAnswer, nextCursorOf, outputFormats, type OutputFormat } from '../sink/query/output-format.js';
import { startQueryServer, type QueryServer } from '../sink/query/http-api.js';
import { QueryError } from '../sink/query/query-errors.js';
import { flagOf, flagSource, parameterHelp, parametersOf, parseQuery, questions, type Question } from '../sink/query/query-params.js';
import { flowStoreFromEnv, indexPrefixPattern } from '../sink/query/store-from-env.js';
import { optionProblems, parseOptions, type CliCommand } from './command.js';
import { runUntilStopped } from './stage-process.js';

const helpLines = (names: readonly string[]) => names.map((name) => `  ${`${flagOf(name)} ${name === 'label' ? 'K=V' : 'VALUE'}`.padEnd(24)} ${parameterHelp[name] ?? ''}`);

const usage = `flowsentry query <flows|timeline|top-talkers|graph|who-talked-to|serve> [options]

Forensic questions over stored flows, in OpenSearch (the indices <prefix>-flows-*) or in the
embedded store \`flowsentry run\` keeps:
  flows            matching flows by time, a page at a time (--limit, --cursor)
  timeline         what one pod did, as either end, around a moment (--pod ns/name or --ip, --at)
  top-talkers      top sources, destinations or pairs by bytes (--by, --key, --limit)
  graph            every edge between workloads: flows, bytes, ports, denied (--node)
  who-talked-to    every source that sent flows to an address or block (--ip), first and last seen
  serve            the same questions over HTTP: GET /v1/<question>?<flag>=<value> (--port, --host)
The store: OpenSearch when OPENSEARCH_URL is set (and OPENSEARCH_USERNAME/PASSWORD,
OPENSEARCH_CA_FILE or OPENSEARCH_SIGV4); otherwise the embedded store at FLOWSENTRY_STORE_PATH
(default .flowsentry/store.db under the current directory), read while \`flowsentry run\` writes
it. No store there: run \`flowsentry run\` (or \`npm start\`) first, or set OPENSEARCH_URL.

filters (every question; a flag takes several values, repeated or comma-separated, any of them
matching; different flags must all hold; source- and dest- flags constrain that end, the bare
ones either end):
${helpLines(['from', 'to', 'namespace', 'name', 'name_aggr', 'workload', 'label', 'ip', 'port', 'proto', 'action', 'reporter', 'host']).join('\n')}
  --source-namespace ... --dest-port   the same per end: source-/dest- + namespace, name,
                           name-aggr, workload, label, ip, port

questions:
${helpLines(['pod', 'at', 'before', 'after', 'by', 'key', 'node', 'limit', 'cursor']).join('\n')}
  --ip VALUE               timeline: the pod's address; who-talked-to: the address or block

output and connection:
  --format FORMAT          table (default), jsonl or csv
  --index-prefix PREFIX    OpenSearch: the prefix the sink writes under (default flowsentry)
  --port N, --host ADDR    serve: where to listen (host default 127.0.0.1)

examples:
  flowsentry query flows --from -1h --dest-namespace data --action deny
  flowsentry query timeline --pod stars/frontend-7d9f8c6b5-f4x2k --at 2026-11-27T12:05:00Z --before 10m
  flowsentry query top-talkers --by pair --key workload --from -24h --format csv
  flowsentry query graph --from -1h --namespace stars --format csv
  flowsentry query who-talked-to --ip 203.0.113.66 --from -7d
  flowsentry query serve --port 8088   # curl 'localhost:8088/v1/graph?namespace=stars&from=-1h'`;

type Subcommand = Question | 'serve';
const subcommands: readonly Subcommand[] = [...questions, 'serve'];

const asOption = (name: string) => name.replace(/_/g, '-');

function optionsOf(sub: Subcommand) {
  const options: Record<string, { type: 'string'; multiple?: boolean }> = { 'index-prefix': { type: 'string' } };
  if (sub === 'serve') return { ...options, port: { type: 'string' as const }, host: { type: 'string' as const } };
  for (const name of parametersOf[sub]) options[asOption(name)] = { type: 'string', multiple: true };
  return { ...options, format: { type: 'string' as const } };
}

/**
 * `--from -1h` as `--from=-1h`: a value that starts with a dash and a digit (a relative time)
 * would otherwise read as an option.
 */
export function joinDashValues(args: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (arg.startsWith('--') && !arg.includes('=') && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

function readIndexPrefix(value: string | undefined, problems: string[]): string {
  if (value === undefined) return 'flowsentry';
  if (!indexPrefixPattern.test(value)) problems.push(`--index-prefix: '${value}' is not a lower-case index prefix (a-z, 0-9, '.', '_', '-')`);
  return value;
}

async function serve(values: Record<string, unknown>): Promise<number> {
  const problems: string[] = [];
  const prefix = readIndexPrefix(values['index-prefix'] as string | undefined, problems);
  const portText = values.port as string | undefined;
  const port = portText !== undefined && /^\d{1,5}$/.test(portText) && Number(portText) <= 65_535 ? Number(portText) : undefined;
  if (port === undefined) problems.push(portText === undefined ? '--port: missing' : `--port: '${portText}' is not a port (0-65535)`);
  opsServerSettings(process.env, problems);
  if (problems.length > 0 || port === undefined) {
    console.error(optionProblems('query serve', problems));
    return 2;
  }
  const store = flowStoreFromEnv(process.env, { prefix });
  let server: QueryServer | undefined;
  return runUntilStopped({
    name: 'query',
    metrics: new MetricsRegistry(),
    start: async () => {
      server = await startQueryServer({ store, port, host: (values.host as string | undefined) ?? '127.0.0.1' });
    },
    started: () => `serving on ${server!.url} (GET /v1/${questions.join(', /v1/')})`,
    close: async () => {
      await server?.close();
      await store.close();
    },
  });
}

async function answer(sub: Question, values: Record<string, unknown>): Promise<number> {
  const { format: formatValue, 'index-prefix': prefixValue, ...flags } = values;
  const problems: string[] = [];
  const prefix = readIndexPrefix(prefixValue as string | undefined, problems);
  const format = (formatValue as string | undefined) ?? 'table';
  if (!(outputFormats as readonly string[]).includes(format)) problems.push(`--format: '${format}' is not one of ${outputFormats.join(', ')}`);
  const parsed = parseQuery(sub, flagSource(flags as Record<string, string[]>), { now: Date.now() });
  problems.push(...parsed.problems);
  if (problems.length > 0 || !parsed.request) {
    console.error(optionProblems(`query ${sub}`, problems));
    return 2;
  }
  const store = flowStoreFromEnv(process.env, { prefix });
  try {
    const result = await ask(store, parsed.request);
    process.stdout.write(formatAnswer(result, format as OutputFormat));
    const next = nextCursorOf(result);
    if (next) console.error(`more: --cursor ${next}`);
    return 0;
  } finally {
    await store.close();
  }
}

export const queryCommand: CliCommand = {
  name: 'query',
  summary: 'forensic questions over stored flows (flows, timeline, top talkers, graph, who talked to), or serve them over HTTP',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    if (!subcommands.includes(sub as Subcommand)) {
      console.error(`flowsentry query: ${sub === undefined ? 'missing' : `unknown question '${sub}'`}: one of ${subcommands.join(', ')}\n\n${usage}`);
      return 2;
    }
    const question = sub as Subcommand;
    const values = parseOptions(`query ${question}`, usage, joinDashValues(rest), optionsOf(question));
    if (!values) return 2;
    try {
      return question === 'serve' ? await serve(values) : await answer(question, values);
    } catch (error) {
      if (error instanceof QueryError) {
        console.error(`flowsentry query ${question}: ${error.code}: ${error.message}`);
        return error.code === 'QUERY_NO_STORE' ? 2 : 1;
      }
      throw error;
    }
  },
};
