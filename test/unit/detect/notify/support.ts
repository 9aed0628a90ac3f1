import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { NotifyClock } from '../../../../detect/notify/notify-clock.js';
import { verifyWebhook, WebhookVerificationError } from '../../../../detect/notify/standard-webhooks.js';
import { samples } from '../../../../schemas/samples.js';
import type { Alert } from '../../../../schemas/types.js';

/** The spec's example secret, and a second one for rotation tests. */
export const OLD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const NEW_SECRET = `whsec_${Buffer.from('flowsentry-rotation-secret-0002').toString('base64')}`;

/**
 * Real wall time shifted by `offset`. Back-offs are recorded and skipped (they move the clock
 * on), and timers (group windows, the close wait) fire only when a test calls advance().
 */
export class TestClock implements NotifyClock {
  offset = 0;
  readonly sleeps: number[] = [];
  private timers: { at: number; callback: () => void }[] = [];

  now(): number {
    return Date.now() + this.offset;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.offset += ms;
    await nextTurn();
  }

  setTimer(ms: number, callback: () => void): () => void {
    const timer = { at: this.now() + ms, callback };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((candidate) => candidate !== timer);
    };
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves the clock on and fires the timers that fell due, earliest first. */
  advance(ms: number): void {
    this.offset += ms;
    const due = this.timers.filter((timer) => timer.at <= this.now()).sort((a, b) => a.at - b.at);
    this.timers = this.timers.filter((timer) => !due.includes(timer));
    for (const timer of due) timer.callback();
  }
}

export interface ReceivedRequest {
  readonly index: number;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly json: unknown;
}

export interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface ReceiverOptions {
  /** When given, every request must carry a valid Standard Webhooks signature under each of these sets of secrets (tried separately), else 401. */
  readonly verifyWith?: readonly (readonly string[])[];
  /** The receiver's clock, for the timestamp tolerance. */
  readonly now?: () => number;
  /** The answer to each request (default 200); may wait, to play a slow receiver. */
  readonly answer?: (request: ReceivedRequest) => Answer | Promise<Answer>;
}

/** A real HTTP receiver on 127.0.0.1 that verifies every signature and counts what it took. */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** Requests it answered with a 2xx. */
  readonly delivered: ReceivedRequest[] = [];
  readonly signatureFailures: string[] = [];
  private readonly server: Server;

  private constructor(private readonly options: ReceiverOptions) {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => void this.handle(request.url ?? '/', request.headers, Buffer.concat(chunks), response));
    });
  }

  static async start(options: ReceiverOptions = {}): Promise<TestReceiver> {
    const receiver = new TestReceiver(options);
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** webhook-id of every delivered request. */
  get deliveredIds(): string[] {
    return this.delivered.map((request) => String(request.headers['webhook-id']));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(path: string, headers: IncomingHttpHeaders, raw: Buffer, response: ServerResponse): Promise<void> {
    const body = raw.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    const request: ReceivedRequest = { index: this.requests.length, path, headers, body, json };
    this.requests.push(request);
    for (const secrets of this.options.verifyWith ?? []) {
      try {
        verifyWebhook(secrets, headers, raw, { now: this.options.now });
      } catch (error) {
        this.signatureFailures.push(error instanceof WebhookVerificationError ? error.code : String(error));
        response.writeHead(401).end('bad signature');
        return;
      }
    }
    const answer = (await this.options.answer?.(request)) ?? { status: 200 };
    if (answer.status >= 200 && answer.status < 300) this.delivered.push(request);
    response.writeHead(answer.status, answer.headers).end(answer.body ?? '');
  }
}

/** A URL nothing listens on: a port the system gave out, then closed. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/hook`;
}

/** The sample alert with changes; `n` makes a distinct alert (id, fingerprint, subject). */
export function alertOf(changes: Partial<Alert> = {}, n?: number): Alert {
  const distinct =
    n === undefined
      ? {}
      : { alert_id: `scan:${n}:1530810851000`, fingerprint: `scan:${n}`, source_ip: `10.0.${Math.floor(n / 250)}.${n % 250}`, source_name: `pod-${n}` };
  return { ...samples.Alert, samples: [...samples.Alert.samples], ...distinct, ...changes };
}

/** A promise and the function that settles it, for receivers that hold their answer. */
export function gate(): { readonly opened: Promise<void>; open(): void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}
