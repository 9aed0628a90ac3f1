import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One measured figure: printed as one line, and kept in bench/results/<bench>.json. */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The baseline measured in the same run, and value / baseline. */
  readonly baseline?: { readonly name: string; readonly value: number; readonly ratio: number };
}

export function machine(): string {
  const cores = cpus();
  return `${cores.length} x ${cores[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
}

export function withBaseline(name: string, value: number, unit: string, baselineName: string, baseline: number): Figure {
  return { name, value, unit, baseline: { name: baselineName, value: baseline, ratio: value / baseline } };
}

const number = (value: number) => (value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2));

export function formatFigure(bench: string, figure: Figure): string {
  const base = `${bench} ${figure.name.padEnd(34)} ${number(figure.value).padStart(14)} ${figure.unit}`;
  if (!figure.baseline) return base;
  const { name, value, ratio } = figure.baseline;
  return `${base}  (${name} ${number(value)} ${figure.unit}, ratio ${ratio.toFixed(2)})`;
}

/**
 * Prints every figure on a line of its own and writes bench/results/<bench>.json. When
 * FLOWSENTRY_BENCH_RESULTS_LOG names a file (`npm run bench` gives each bench one), the path
 * written is appended to it: the runner's summary shows what each bench wrote.
 */
export function report(bench: string, figures: readonly Figure[], settings: Record<string, unknown> = {}): void {
  console.log(`# ${bench} on ${machine()}`);
  for (const figure of figures) console.log(formatFigure(bench, figure));
  const dir = fileURLToPath(new URL('results', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const result = { bench, machine: machine(), at: new Date().toISOString(), settings, figures };
  const file = join(dir, `${bench}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const log = process.env.FLOWSENTRY_BENCH_RESULTS_LOG;
  if (log) appendFileSync(log, `${file}\n`);
}
