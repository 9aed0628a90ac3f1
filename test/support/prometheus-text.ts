/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for tests: throws on the first
 * line a scraper would refuse (bad names, label syntax or values, HELP/TYPE after samples or
 * twice, a family split in two, a series twice), and returns what it read.
 */
export interface Exposition {
  /** `name{labels}` (labels as written) → value. */
  readonly samples: ReadonlyMap<string, number>;
  /** Family name → its TYPE. */
  readonly types: ReadonlyMap<string, string>;
}

const metricName = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const labelPair = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const sampleLine = new RegExp(`^(${metricName})(\\{(?:${labelPair}(?:,${labelPair})*,?)?\\})? (\\S+)(?: -?\\d+)?$`);
const types = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** The family a sample belongs to: histogram and summary series carry suffixes. */
const familyOfSample = (name: string, known: ReadonlyMap<string, string>) => {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && (known.get(base) === 'histogram' || known.get(base) === 'summary')) return base;
  }
  return name;
};

export function parseExposition(text: string): Exposition {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const samples = new Map<string, number>();
  const typesOf = new Map<string, string>();
  const helped = new Set<string>();
  const sampled = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const enter = (family: string, line: number) => {
    if (family === current) return;
    if (closed.has(family)) throw new Error(`line ${line}: the family ${family} is split in two`);
    if (current !== undefined) closed.add(current);
    current = family;
  };
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, index) => {
    const at = index + 1;
    if (line === '') return;
    const comment = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment;
      if (!new RegExp(`^${metricName}$`).test(name!)) throw new Error(`line ${at}: '${name}' is not a metric name`);
      enter(name!, at);
      if (sampled.has(name!)) throw new Error(`line ${at}: ${kind} of ${name} after its samples`);
      if (kind === 'HELP') {
        if (helped.has(name!)) throw new Error(`line ${at}: a second HELP of ${name}`);
        helped.add(name!);
      } else {
        if (typesOf.has(name!)) throw new Error(`line ${at}: a second TYPE of ${name}`);
        if (!types.has(rest ?? '')) throw new Error(`line ${at}: '${rest}' is not a metric type`);
        typesOf.set(name!, rest!);
      }
      return;
    }
    if (line.startsWith('#')) return;
    const sample = sampleLine.exec(line);
    if (!sample) throw new Error(`line ${at}: not a sample: ${line}`);
    const [, name, labels = '', valueText] = sample;
    const value = valueText === 'NaN' ? Number.NaN : valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (!/^(NaN|[+-]Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$/.test(valueText!) || (Number.isNaN(value) && valueText !== 'NaN')) {
      throw new Error(`line ${at}: '${valueText}' is not a value`);
    }
    const family = familyOfSample(name!, typesOf);
    enter(family, at);
    sampled.add(family);
    const series = `${name}${labels}`;
    if (samples.has(series)) throw new Error(`line ${at}: the series ${series} twice`);
    samples.set(series, value);
  });
  return { samples, types: typesOf };
}
