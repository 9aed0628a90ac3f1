/**
 * An HTTP receiver of Standard Webhooks deliveries (https://www.standardwebhooks.com/) that checks
 * each signature itself, from the specification rather than with the product's own verifier: the
 * key is the base64 part of a `whsec_` secret, the signature `v1,<base64 HMAC-SHA256>` over
 * `<webhook-id>.<webhook-timestamp>.<raw body>`, and the timestamp within five minutes of now.
 * A delivery that fails the check is answered 401 and recorded; every other one is answered 200.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SignedDelivery {
  readonly id: string;
  readonly timestamp: number;
  readonly receivedAt: number;
  readonly path: string;
  readonly body: string;
  readonly json: unknown;
}

export interface RefusedDelivery {
  readonly id: string | undefined;
  readonly why: string;
}

/** A fresh secret in the specification's form. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(' ') : value;
};

/** Why a delivery must not be trusted, or undefined when one of its v1 signatures is right. */
export function signatureProblem(secret: string, headers: IncomingHttpHeaders, body: Buffer, nowMs: number, toleranceSeconds = 300): string | undefined {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) return 'a webhook header is missing';
  if (!/^\d+$/.test(timestamp)) return `webhook-timestamp '${timestamp}' is not whole seconds`;
  if (Math.abs(Math.floor(nowMs / 1000) - Number(timestamp)) > toleranceSeconds) return `webhook-timestamp ${timestamp} is out of tolerance`;
  if (!secret.startsWith('whsec_')) throw new Error('the receiver expects a whsec_ secret');
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), body])).digest();
  const matches = signatures
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'))
    .some((offered) => offered.length === expected.length && timingSafeEqual(offered, expected));
  return matches ? undefined : `no v1 signature of ${id} matches the secret`;
}

export class SignedWebhookReceiver {
  readonly delivered: SignedDelivery[] = [];
  readonly refused: RefusedDelivery[] = [];
  private readonly server: Server;

  private constructor(private readonly secret: string) {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        const id = header(request.headers, 'webhook-id');
        const why = signatureProblem(this.secret, request.headers, body, Date.now());
        if (why) {
          this.refused.push({ id, why });
          response.writeHead(401).end(why);
          return;
        }
        const text = body.toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        this.delivered.push({ id: id!, timestamp: Number(header(request.headers, 'webhook-timestamp')), receivedAt: Date.now(), path: request.url ?? '/', body: text, json });
        response.writeHead(200).end();
      });
    });
  }

  static async start(secret: string): Promise<SignedWebhookReceiver> {
    const receiver = new SignedWebhookReceiver(secret);
    await new Promise<void>((resolveListen) => receiver.server.listen(0, '127.0.0.1', resolveListen));
    return receiver;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolveClose) => this.server.close(() => resolveClose()));
  }
}
