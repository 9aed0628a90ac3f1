import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyEnvironmentDefaults, environmentFromConfig, optionValuesFromConfig } from '../../../runtime/config/config-effects.js';
import { loadConfig } from '../../../runtime/config/load-config.js';
import { readConfig } from '../../../runtime/config/process-config.js';
import { closest } from '../../../runtime/config/suggest.js';

const file = 'flowsentry.yaml';
const load = (text: string, env: Record<string, string> = {}) => loadConfig({ text, file, env });

describe('Runtime > config > load', () => {
  it('resolves a valid file, filling defaults and typing every value', () => {
    const loaded = load(['kafka:', '  brokers: [kafka-0:9092, kafka-1:9092]', 'detect:', '  learn: 24h', '  window: 90', '  sensitive-ports: [22, 5432]', 'log: {level: warn}'].join('\n'));
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.config.kafka.brokers, ['kafka-0:9092', 'kafka-1:9092']);
    assert.equal(loaded.config.detect.learn, '24h');
    assert.equal(loaded.config.detect.window, '90', 'a duration keeps its text, seconds included');
    assert.deepEqual(loaded.config.detect['sensitive-ports'], [22, 5432]);
    assert.equal(loaded.config.log.level, 'warn');
    assert.equal(loaded.config.server.port, 9464);
    assert.equal(loaded.config.store.path, '.flowsentry/store.db');
    assert.deepEqual(loaded.config.run.stages, ['enrich', 'detect', 'sink']);
    assert.equal(loaded.config.enrich.group, undefined);
    assert.deepEqual(loaded.sources['kafka.brokers'], { from: 'file', line: 2 });
    assert.deepEqual(loaded.sources['server.port'], { from: 'default' });
  });

  it('takes no file, an empty file and empty sections or keys as nothing set', () => {
    for (const text of [undefined, '', '# only a comment\n', 'enrich:\ndetect:\n  learn:\n']) {
      const loaded = loadConfig({ ...(text !== undefined ? { text } : {}), env: {} });
      assert.deepEqual(loaded.problems, [], String(text));
      assert.equal(loaded.config.detect.learn, undefined);
      assert.equal(loaded.config.log.level, 'info');
    }
  });

  it('names an unknown key and section with the nearest known one', () => {
    const { problems } = load(['detect:', '  lern: 2h', '  sensitive_ports: [22]', '  colour: blue', 'detet:', '  learn: 1h'].join('\n'));
    assert.deepEqual(problems, [
      'detect.lern: unknown key (did you mean learn?) (line 2)',
      'detect.sensitive_ports: unknown key (did you mean sensitive-ports?) (line 3)',
      'detect.colour: unknown key (line 4)',
      'detet: unknown section (did you mean detect?) (line 5)',
    ]);
    assert.equal(closest('port-scan-treshold', ['port-scan-threshold', 'ip-sweep-threshold']), 'port-scan-threshold');
  });

  it('rejects a value of the wrong type, saying what was expected and what was found', () => {
    const { problems } = load(
      [
        'enrich:',
        '  cluster-cidr: 12',
        '  allowed-level: 4',
        '  grace: soon',
        'sink:',
        '  emf: yes',
        '  replicas: 1.5',
        'opensearch:',
        '  url: search:9200',
        '  password: 12345',
        'kafka: [a:9092]',
      ].join('\n'),
    );
    assert.deepEqual(problems, [
      'enrich.cluster-cidr: expected a list of strings, got 12 (line 2)',
      'enrich.allowed-level: expected an integer from 0 to 3, got 4 (line 3)',
      "enrich.grace: expected a number ≥ 0, got 'soon' (line 4)",
      "sink.emf: expected true or false, got 'yes' (line 6)",
      'sink.replicas: expected an integer ≥ 0, got 1.5 (line 7)',
      "opensearch.url: expected an http(s) URL, got 'search:9200' (line 9)",
      'opensearch.password: expected a string, got 12345 (quote it to make it a string) (line 10)',
      'kafka: expected a mapping of keys, got a list (line 11)',
    ]);
  });

  it('rejects a word outside an enum, in a key and in a list item (with its index and line)', () => {
    const { problems } = load(['log:', '  level: verbose', 'detect:', '  detectors:', '    - port_scan', '    - sweep', 'kafka:', '  brokers: [kafka-0]'].join('\n'));
    assert.deepEqual(problems, [
      "log.level: expected one of debug, info, warn, error, got 'verbose' (line 2)",
      "detect.detectors[1]: expected one of ioc, port_scan, ip_sweep, lateral_movement, denied_spike, exfiltration, got 'sweep' (line 6)",
      "kafka.brokers[0]: expected host:port, got 'kafka-0' (line 8)",
    ]);
  });

  it('reports a YAML syntax error with its line and column, and a top level that is not a mapping', () => {
    const broken = load(['kafka:', '  brokers: [a:9092', 'log:', '  level: info'].join('\n'));
    assert.equal(broken.problems.length, 1);
    assert.match(broken.problems[0]!, /^flowsentry\.yaml:3:1: YAML syntax error: /);
    const duplicate = load(['log:', '  level: info', 'log:', '  level: warn'].join('\n'));
    assert.match(duplicate.problems[0]!, /^flowsentry\.yaml:3:1: YAML syntax error: .*unique/);
    assert.deepEqual(load('- kafka\n- log\n').problems, ['(top level): expected a mapping of sections, got a list']);
  });

  it('reports a file that cannot be read along with the problems of the variables', () => {
    const { problems } = readConfig('/nonexistent/flowsentry.yaml', { FLOWSENTRY_LOG_LEVEL: 'loud' });
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /^\/nonexistent\/flowsentry\.yaml: cannot be read: ENOENT/);
    assert.match(problems[1]!, /^FLOWSENTRY_LOG_LEVEL \(log\.level\): expected one of debug, info, warn, error, got 'loud'/);
  });

  it('reports every problem at once: file and variables together', () => {
    const { problems } = load(['enrich:', '  partitions: 0', '  clusters: []', 'respond:', '  max-quarantines: five'].join('\n'), {
      FLOWSENTRY_DETECT_LEARN: 'a while',
      FLOWSENTRY_SINK_KIND: 'flows',
    });
    assert.deepEqual(problems, [
      'enrich.partitions: expected an integer ≥ 1, got 0 (line 2)',
      'enrich.clusters: unknown key (line 3)',
      "respond.max-quarantines: expected N/DURATION such as 5/10m, got 'five' (line 5)",
      "FLOWSENTRY_DETECT_LEARN (detect.learn): expected a duration (seconds, or a number with s, m, h or d), got 'a while'",
      'FLOWSENTRY_SINK_KIND: unknown variable (did you mean FLOWSENTRY_SINK_KINDS?)',
    ]);
  });

  it('parses a variable by its key type: lists split, numbers, booleans, enum words in any case', () => {
    const loaded = load('', {
      FLOWSENTRY_KAFKA_BROKERS: 'kafka-0:9092, kafka-1:9092,',
      FLOWSENTRY_ENRICH_CLUSTER_CIDR: '10.0.0.0/16,172.20.0.0/16',
      FLOWSENTRY_ENRICH_NETWORK: 'corp=10.200.0.0/16,10.201.0.0/16;lab=192.168.0.0/16',
      FLOWSENTRY_ENRICH_PARTITIONS: '12',
      FLOWSENTRY_ENRICH_GRACE: '2.5',
      FLOWSENTRY_SINK_EMF: 'yes',
      FLOWSENTRY_COLLECT_FOLLOW: 'false',
      FLOWSENTRY_LOG_LEVEL: 'WARN',
      FLOWSENTRY_DETECT_SENSITIVE_PORTS: '22,3389',
    });
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.config.kafka.brokers, ['kafka-0:9092', 'kafka-1:9092']);
    assert.deepEqual(loaded.config.enrich['cluster-cidr'], ['10.0.0.0/16', '172.20.0.0/16']);
    assert.deepEqual(loaded.config.enrich.network, ['corp=10.200.0.0/16,10.201.0.0/16', 'lab=192.168.0.0/16']);
    assert.equal(loaded.config.enrich.partitions, 12);
    assert.equal(loaded.config.enrich.grace, 2.5);
    assert.equal(loaded.config.sink.emf, true);
    assert.equal(loaded.config.collect.follow, false);
    assert.equal(loaded.config.log.level, 'warn');
    assert.deepEqual(loaded.config.detect['sensitive-ports'], [22, 3389]);
    assert.deepEqual(loaded.sources['enrich.partitions'], { from: 'env', variable: 'FLOWSENTRY_ENRICH_PARTITIONS' });

    const bad = load('', { FLOWSENTRY_ENRICH_PARTITIONS: 'twelve', FLOWSENTRY_SINK_EMF: 'maybe', FLOWSENTRY_DETECT_SENSITIVE_PORTS: '22,ssh' });
    assert.deepEqual(bad.problems, [
      "FLOWSENTRY_DETECT_SENSITIVE_PORTS[1] (detect.sensitive-ports): expected an integer from 1 to 65535, got 'ssh'",
      "FLOWSENTRY_ENRICH_PARTITIONS (enrich.partitions): expected an integer ≥ 1, got 'twelve'",
      "FLOWSENTRY_SINK_EMF (sink.emf): expected true or false, got 'maybe'",
    ]);
  });

  it('calls an unknown FLOWSENTRY_ variable a problem, but not the allowed ones nor other variables', () => {
    const { problems } = load('', {
      FLOWSENTRY_DETECT_WINDOWS: '1m',
      FLOWSENTRY_CONFIG: 'flowsentry.yaml',
      FLOWSENTRY_CACHE: '/tmp/cache',
      FLOWSENTRY_SERVICE_READY_TIMEOUT_MS: '1000',
      KAFKA_BROKERS: 'a:9092',
      flowsentry_lower: 'x',
    });
    assert.deepEqual(problems, ['FLOWSENTRY_DETECT_WINDOWS: unknown variable (did you mean FLOWSENTRY_DETECT_WINDOW?)']);
  });

  it('takes a command-line option over a variable, a variable over the file, the file over the default', () => {
    const loaded = load(['enrich:', '  group: from-file', '  partitions: 3', '  cluster-cidr: [10.0.0.0/16]', '  retention: 600', 'log:', '  level: warn'].join('\n'), {
      FLOWSENTRY_ENRICH_PARTITIONS: '9',
      FLOWSENTRY_ENRICH_CLUSTER_CIDR: '10.1.0.0/16,10.2.0.0/16',
      FLOWSENTRY_LOG_LEVEL: 'error',
    });
    assert.deepEqual(loaded.problems, []);
    assert.equal(loaded.config.log.level, 'error');
    assert.equal(loaded.config.server.port, 9464);
    const specs = {
      group: { type: 'string' },
      partitions: { type: 'string' },
      grace: { type: 'string' },
      'cluster-cidr': { type: 'string', multiple: true },
      retention: { type: 'string' },
    } as const;
    const fromCommandLine = { group: 'from-cli' };
    assert.deepEqual(optionValuesFromConfig(loaded, 'enrich', specs, fromCommandLine), {
      partitions: '9',
      'cluster-cidr': ['10.1.0.0/16', '10.2.0.0/16'],
      retention: '600',
    });
    // A joined list becomes one comma-separated option; a boolean stays a boolean; defaults are not options.
    const run = load('sink:\n  kinds: [flows, alerts]\n  emf: true\n');
    assert.deepEqual(optionValuesFromConfig(run, 'sink', { kinds: { type: 'string' }, emf: { type: 'boolean' } }, {}), { kinds: 'flows,alerts', emf: true });
    assert.deepEqual(optionValuesFromConfig(load(''), 'run', { stages: { type: 'string' } }, {}), {});
  });

  it('makes the configured global keys defaults of the variables the code reads, never over a set one', () => {
    const loaded = load(['kafka:', '  brokers: [kafka-0:9092, kafka-1:9092]', 'opensearch:', '  url: https://search:9200', 'aws:', '  region: eu-west-1'].join('\n'), {
      FLOWSENTRY_OPENSEARCH_SIGV4: 'es',
    });
    assert.deepEqual(environmentFromConfig(loaded), {
      KAFKA_BROKERS: 'kafka-0:9092,kafka-1:9092',
      OPENSEARCH_URL: 'https://search:9200',
      OPENSEARCH_SIGV4: 'es',
      AWS_REGION: 'eu-west-1',
    });
    const env: NodeJS.ProcessEnv = { AWS_REGION: 'us-west-2', OPENSEARCH_URL: '' };
    assert.deepEqual(applyEnvironmentDefaults(loaded, env), { set: ['KAFKA_BROKERS', 'OPENSEARCH_URL', 'OPENSEARCH_SIGV4'], kept: ['AWS_REGION'] });
    assert.deepEqual(env, { AWS_REGION: 'us-west-2', KAFKA_BROKERS: 'kafka-0:9092,kafka-1:9092', OPENSEARCH_URL: 'https://search:9200', OPENSEARCH_SIGV4: 'es' });
    assert.deepEqual(environmentFromConfig(load('')), {}, 'defaults (store.path, server.port, log.level) set no variable');
  });
});
