import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { logger, type Logger } from '../log.js';
import { MetricsRegistry } from '../metrics.js';

/**
 * The operations endpoint of a process: one HTTP server, shared by every stage running in it,
 * for Prometheus and the kubelet's probes.
 *
 * - `/metrics`: every registered registry rendered together, plus the process's own figures
 *   (uptime, resident memory, heap, event-loop lag), in the Prometheus text format 0.0.4;
 * - `/healthz`: 200 unless a component reports itself unhealthy (503 naming it): liveness;
 * - `/readyz`: 200 only when every component is ready and healthy (503 naming the others):
 *   readiness, false while a stage starts and while it drains;
 * - anything else 404.
 */
export interface OpsComponent {
  readonly name: string;
  readonly metrics: MetricsRegistry;
  /** Taking work: started, and not draining. */
  readonly ready: () => boolean;
  /** False once the component failed for good; default: always healthy. */
  readonly healthy?: () => boolean;
}

export interface OpsListenOptions {
  readonly port: number;
  readonly host?: string;
}

export const defaultOpsPort = 9464;
export const defaultOpsHost = '0.0.0.0';

/** Where the ops server listens: FLOWSENTRY_SERVER_PORT (default 9464; 0 takes any free port) and FLOWSENTRY_SERVER_HOST (default 0.0.0.0). */
export function opsServerSettings(env: NodeJS.ProcessEnv = process.env, problems: string[] = []): { port: number; host: string } {
  const text = env.FLOWSENTRY_SERVER_PORT?.trim();
  let port = defaultOpsPort;
  if (text !== undefined && text !== '') {
    if (/^\d{1,5}$/.test(text) && Number(text) <= 65_535) port = Number(text);
    else problems.push(`FLOWSENTRY_SERVER_PORT: '${text}' is not a port (0-65535; 0 takes any free port)`);
  }
  const host = env.FLOWSENTRY_SERVER_HOST?.trim() || defaultOpsHost;
  return { port, host };
}

export type OpsServerErrorCode = 'OPS_PORT_IN_USE' | 'OPS_LISTEN_FAILED';

/** The server could not listen; a port in use is OPS_PORT_IN_USE. */
export class OpsServerError extends Error {
  override readonly name = 'OpsServerError';
  constructor(
    readonly code: OpsServerErrorCode,
    message: string,
    readonly port: number,
    readonly host: string,
  ) {
    super(message);
  }
}

interface Registered {
  readonly component: OpsComponent;
}

interface Family {
  help?: string;
  type?: string;
  readonly samples: Map<string, number>;
}

const asked = (check: (() => boolean) | undefined, otherwise: boolean): boolean => {
  if (!check) return otherwise;
  try {
    return check();
  } catch {
    return false;
  }
};

const sampleValue = (value: number) => (Number.isNaN(value) ? 'NaN' : value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : String(value));

/**
 * Several registries' Prometheus texts as one exposition: each metric family once (its HELP and
 * TYPE from the first registry that has it), and a series two registries both have summed.
 */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, Family>();
  const familyOf = (name: string) => {
    let family = families.get(name);
    if (!family) families.set(name, (family = { samples: new Map() }));
    return family;
  };
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const comment = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (comment) {
        const family = familyOf(comment[2]!);
        if (comment[1] === 'HELP') family.help ??= line;
        else family.type ??= line;
        continue;
      }
      if (line.startsWith('#')) continue;
      const split = line.lastIndexOf(' ');
      const series = line.slice(0, split);
      const name = /^[^{\s]+/.exec(series)?.[0] ?? series;
      const value = Number(line.slice(split + 1));
      const family = familyOf(name);
      family.samples.set(series, (family.samples.get(series) ?? 0) + value);
    }
  }
  const out: string[] = [];
  for (const family of families.values()) {
    if (family.help) out.push(family.help);
    if (family.type) out.push(family.type);
    for (const [series, value] of family.samples) out.push(`${series} ${sampleValue(value)}`);
  }
  return `${out.join('\n')}\n`;
}

/** The process's own figures, brought up to date at each scrape. */
class ProcessMetrics {
  readonly registry = new MetricsRegistry();
  private readonly startedAt = Date.now() - process.uptime() * 1000;
  private readonly start = this.registry.gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds');
  private readonly uptime = this.registry.gauge('flowsentry_process_uptime_seconds', 'Seconds since the process started');
  private readonly resident = this.registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes');
  private readonly heap = this.registry.gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes');
  private readonly lag = this.registry.gauge('flowsentry_event_loop_lag_seconds', 'Event-loop delay since the previous scrape: mean, p50, p99 and max');
  private histogram: IntervalHistogram | undefined;

  enable(): void {
    if (this.histogram) return;
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
  }

  disable(): void {
    this.histogram?.disable();
    this.histogram = undefined;
  }

  render(): string {
    const memory = process.memoryUsage();
    this.start.set(Math.round(this.startedAt) / 1000);
    this.uptime.set(Math.round(process.uptime() * 1000) / 1000);
    this.resident.set(memory.rss);
    this.heap.set(memory.heapUsed);
    const histogram = this.histogram;
    if (histogram && histogram.count > 0) {
      // The histogram is in nanoseconds; max is reported without the sampling resolution's floor.
      const seconds = (nanoseconds: number) => Math.round(nanoseconds / 1000) / 1e6;
      this.lag.set(seconds(histogram.mean), { stat: 'mean' });
      this.lag.set(seconds(histogram.percentile(50)), { stat: 'p50' });
      this.lag.set(seconds(histogram.percentile(99)), { stat: 'p99' });
      this.lag.set(seconds(histogram.max), { stat: 'max' });
      histogram.reset();
    }
    return this.registry.render();
  }
}

const json = (response: ServerResponse, status: number, body: unknown, head: boolean) => {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  response.end(head ? undefined : text);
};

/** The ops server of this process: see `opsServer()`. */
export class OpsServer {
  private readonly registered = new Set<Registered>();
  private readonly processMetrics = new ProcessMetrics();
  private readonly log: Logger;
  private server: Server | undefined;
  private listening: Promise<{ port: number }> | undefined;

  /** `log`: where it says which port it bound (default: the `ops` component's JSON lines on stderr). */
  constructor(options: { readonly log?: Logger } = {}) {
    this.log = options.log ?? logger('ops');
  }

  /** Adds a component to every endpoint; the function returned takes it away again. */
  register(component: OpsComponent): () => void {
    const entry: Registered = { component };
    this.registered.add(entry);
    return () => void this.registered.delete(entry);
  }

  /** How many components are registered. */
  get size(): number {
    return this.registered.size;
  }

  /**
   * Starts listening (port 0: any free port) and resolves with the port bound, which is logged.
   * Idempotent: while it listens (or is starting to), the same port is given again, whatever
   * the options. A port in use rejects with an OpsServerError of code OPS_PORT_IN_USE.
   */
  listen(options: OpsListenOptions): Promise<{ port: number }> {
    this.listening ??= this.bind(options.port, options.host ?? defaultOpsHost).catch((error: unknown) => {
      this.listening = undefined;
      throw error;
    });
    return this.listening;
  }

  /** Stops listening and drops open connections; `listen` may be called again afterwards. */
  async close(): Promise<void> {
    const listening = this.listening;
    this.listening = undefined;
    await listening?.catch(() => undefined);
    const server = this.server;
    this.server = undefined;
    this.processMetrics.disable();
    if (!server) return;
    await new Promise<void>((resolveClose) => {
      server.close(() => resolveClose());
      server.closeAllConnections();
    });
  }

  /** The `/metrics` text: the process's figures, then every registered registry (each one once). */
  renderMetrics(): string {
    const registries = new Set([...this.registered].map((entry) => entry.component.metrics));
    return mergeExpositions([this.processMetrics.render(), ...[...registries].map((registry) => registry.render())]);
  }

  /** `/healthz`: unhealthy components by name (none: healthy). */
  health(): { status: number; body: { status: 'ok' | 'unhealthy'; components: Record<string, { ready: boolean; healthy: boolean }>; unhealthy?: string[] } } {
    const components = this.states();
    const unhealthy = Object.entries(components)
      .filter(([, state]) => !state.healthy)
      .map(([name]) => name);
    return unhealthy.length === 0 ? { status: 200, body: { status: 'ok', components } } : { status: 503, body: { status: 'unhealthy', components, unhealthy } };
  }

  /** `/readyz`: ready when something is registered and every component is ready and healthy. */
  readiness(): { status: number; body: { status: 'ready' | 'not ready'; components: Record<string, { ready: boolean; healthy: boolean }>; not_ready?: string[] } } {
    const components = this.states();
    const notReady = Object.entries(components)
      .filter(([, state]) => !state.ready || !state.healthy)
      .map(([name]) => name);
    if (Object.keys(components).length === 0) return { status: 503, body: { status: 'not ready', components, not_ready: [] } };
    return notReady.length === 0 ? { status: 200, body: { status: 'ready', components } } : { status: 503, body: { status: 'not ready', components, not_ready: notReady } };
  }

  /** Each component's state by name; a name registered twice gets `#2`, `#3`. */
  private states(): Record<string, { ready: boolean; healthy: boolean }> {
    const states: Record<string, { ready: boolean; healthy: boolean }> = {};
    for (const { component } of this.registered) {
      let name = component.name;
      for (let n = 2; name in states; n++) name = `${component.name}#${n}`;
      states[name] = { ready: asked(component.ready, false), healthy: asked(component.healthy, true) };
    }
    return states;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').split('?')[0];
    const known = path === '/metrics' || path === '/healthz' || path === '/readyz';
    if (!known) return json(response, 404, { error: `no ${path} here: /metrics, /healthz or /readyz` }, request.method === 'HEAD');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      return json(response, 405, { error: `${request.method} is not allowed: GET or HEAD` }, false);
    }
    const head = request.method === 'HEAD';
    if (path === '/healthz') {
      const { status, body } = this.health();
      return json(response, status, body, head);
    }
    if (path === '/readyz') {
      const { status, body } = this.readiness();
      return json(response, status, body, head);
    }
    let text: string;
    try {
      text = this.renderMetrics();
    } catch (error) {
      this.log.error('rendering the metrics failed', { error });
      return json(response, 500, { error: 'rendering the metrics failed' }, head);
    }
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    response.end(head ? undefined : text);
  }

  private async bind(port: number, host: string): Promise<{ port: number }> {
    const server = createServer((request, response) => this.handle(request, response));
    // The server never holds the process open: the process lives as long as its stages.
    server.unref();
    server.on('connection', (socket) => socket.unref());
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolveListen, rejectListen) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE') {
          rejectListen(new OpsServerError('OPS_PORT_IN_USE', `port ${port} on ${host} is already in use: set FLOWSENTRY_SERVER_PORT to a free port (0 takes any)`, port, host));
        } else {
          rejectListen(new OpsServerError('OPS_LISTEN_FAILED', `cannot listen on ${host}:${port}: ${error.message}`, port, host));
        }
      });
      server.listen(port, host, () => resolveListen());
    });
    server.on('error', (error) => this.log.error('server error', { error }));
    this.server = server;
    this.processMetrics.enable();
    const bound = (server.address() as AddressInfo).port;
    this.log.info(`listening on ${host}:${bound} (/metrics, /healthz, /readyz)`, { host, port: bound });
    return { port: bound };
  }
}

let instance: OpsServer | undefined;

/** The process's one ops server, shared by every stage running in it. */
export function opsServer(): OpsServer {
  instance ??= new OpsServer();
  return instance;
}
