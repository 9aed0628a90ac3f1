/**
 * Counters and gauges with labels, rendered in the Prometheus text format. Small on purpose:
 * the pipeline needs counts by reason, stage and topic, not a metrics framework.
 */
type Labels = Readonly<Record<string, string>>;

const labelKey = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((name) => `${name}="${String(labels[name]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

abstract class Metric {
  protected readonly values = new Map<string, number>();
  abstract readonly type: 'counter' | 'gauge';

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }

  /** The sum over every label set. */
  total(): number {
    let sum = 0;
    for (const value of this.values.values()) sum += value;
    return sum;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [key, value] of this.values) lines.push(`${this.name}${key ? `{${key}}` : ''} ${value}`);
    return lines.join('\n');
  }
}

export class Counter extends Metric {
  readonly type = 'counter';

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
}

export class Gauge extends Metric {
  readonly type = 'gauge';

  set(value: number, labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();

  counter(name: string, help: string): Counter {
    return this.register(name, () => new Counter(name, help), Counter);
  }

  gauge(name: string, help: string): Gauge {
    return this.register(name, () => new Gauge(name, help), Gauge);
  }

  /** The Prometheus text exposition of every metric. */
  render(): string {
    return `${[...this.metrics.values()].map((metric) => metric.render()).join('\n')}\n`;
  }

  private register<T extends Metric>(name: string, create: () => T, kind: abstract new (...args: never[]) => T): T {
    const existing = this.metrics.get(name);
    if (existing) {
      if (!(existing instanceof kind)) throw new Error(`metric ${name} is already registered as a ${existing.type}`);
      return existing;
    }
    const metric = create();
    this.metrics.set(name, metric);
    return metric;
  }
}
