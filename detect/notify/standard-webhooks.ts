/**
 * Signing and verification per the Standard Webhooks specification (https://www.standardwebhooks.com/):
 * `webhook-id`, `webhook-timestamp` (integer Unix seconds) and `webhook-signature`, a space-separated
 * list of `v1,<base64 HMAC-SHA256>` over `<id>.<timestamp>.<body>`, one entry per secret so that a
 * secret can be rotated without a gap.
 *
 * Secrets: `whsec_<base64>` is the spec's form and its key is the base64-decoded part. Any other
 * string is used as its own UTF-8 bytes, so an existing shared secret works as it is; give receivers
 * that use a Standard Webhooks library the `whsec_` form, since those libraries base64-decode an
 * unprefixed secret too.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** The replay window the spec recommends, and the default of verifyWebhook. */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

export const webhookErrorCodes = {
  WEBHOOK_BAD_SECRET: 'a secret is empty, or its whsec_ part is not base64',
  WEBHOOK_MISSING_HEADER: 'webhook-id, webhook-timestamp or webhook-signature is missing or empty',
  WEBHOOK_BAD_TIMESTAMP: 'webhook-timestamp is not an integer number of seconds',
  WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE: 'webhook-timestamp is further from now than the tolerance (replay or clock skew)',
  WEBHOOK_NO_MATCHING_SIGNATURE: 'no v1 signature in webhook-signature matches any of the secrets',
} as const;

export type WebhookErrorCode = keyof typeof webhookErrorCodes;

/** A delivery that must not be trusted (answer 401), or a secret that cannot be used. Never retriable. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  readonly retriable = false;

  constructor(
    readonly code: WebhookErrorCode,
    message: string,
    /** The header at fault, if one is. */
    readonly header?: string,
  ) {
    super(message);
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The HMAC key of a secret: the decoded part of `whsec_<base64>`, else the string's UTF-8 bytes. */
export function webhookKey(secret: string): Buffer {
  if (secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
    if (encoded.length === 0 || !BASE64.test(encoded)) {
      throw new WebhookVerificationError('WEBHOOK_BAD_SECRET', `a ${WEBHOOK_SECRET_PREFIX} secret must be followed by base64 (the key bytes)`);
    }
    return Buffer.from(encoded, 'base64');
  }
  if (secret.length === 0) throw new WebhookVerificationError('WEBHOOK_BAD_SECRET', 'a webhook secret must not be empty');
  return Buffer.from(secret, 'utf8');
}

function digest(key: Buffer, id: string, timestamp: number | string, body: string | Uint8Array): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
}

/** The `webhook-signature` value: `v1,<base64>` for each secret, in the order given, space-separated. */
export function signWebhook(secrets: readonly string[], id: string, timestamp: number, body: string | Uint8Array): string {
  if (secrets.length === 0) throw new WebhookVerificationError('WEBHOOK_BAD_SECRET', 'at least one webhook secret is needed to sign');
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new WebhookVerificationError('WEBHOOK_BAD_TIMESTAMP', `webhook-timestamp must be whole seconds, got ${timestamp}`);
  }
  return secrets.map((secret) => `v1,${digest(webhookKey(secret), id, timestamp, body).toString('base64')}`).join(' ');
}

/** All three Standard Webhooks headers of one attempt. */
export function webhookHeaders(secrets: readonly string[], id: string, timestamp: number, body: string | Uint8Array): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secrets, id, timestamp, body),
  };
}

/** Request headers as node:http gives them (lower-case names), or as a fetch `Headers`. */
export type IncomingHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

function headerValue(headers: IncomingHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value.join(' ') : (value as string | undefined);
}

function requiredHeader(headers: IncomingHeaders, name: string): string {
  const value = headerValue(headers, name)?.trim();
  if (!value) throw new WebhookVerificationError('WEBHOOK_MISSING_HEADER', `missing header ${name}`, name);
  return value;
}

export interface VerifyWebhookOptions {
  /** How far webhook-timestamp may be from now, either way (default 300 s). */
  readonly toleranceSeconds?: number;
  /** Wall clock, epoch milliseconds (default Date.now). */
  readonly now?: () => number;
}

export interface VerifiedWebhook {
  /** webhook-id: the same for every attempt of one message, so a receiver can drop repeats. */
  readonly id: string;
  /** webhook-timestamp, seconds. */
  readonly timestamp: number;
}

/**
 * Checks a delivery: the three headers are present, the timestamp is within the tolerance, and one
 * `v1` signature matches one of the secrets (compared in constant time; other versions such as
 * `v1a` are ignored). `body` must be the raw bytes received, before any JSON parsing. Throws a
 * WebhookVerificationError naming what failed.
 */
export function verifyWebhook(
  secrets: readonly string[],
  headers: IncomingHeaders,
  body: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): VerifiedWebhook {
  const keys = secrets.map(webhookKey);
  if (keys.length === 0) throw new WebhookVerificationError('WEBHOOK_BAD_SECRET', 'at least one webhook secret is needed to verify');
  const id = requiredHeader(headers, 'webhook-id');
  const timestampText = requiredHeader(headers, 'webhook-timestamp');
  const signatures = requiredHeader(headers, 'webhook-signature');
  if (!/^\d{1,15}$/.test(timestampText)) {
    throw new WebhookVerificationError('WEBHOOK_BAD_TIMESTAMP', `webhook-timestamp must be whole seconds, got '${timestampText}'`, 'webhook-timestamp');
  }
  const timestamp = Number(timestampText);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000);
  if (Math.abs(nowSeconds - timestamp) > tolerance) {
    throw new WebhookVerificationError(
      'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE',
      `webhook-timestamp ${timestamp} is ${nowSeconds - timestamp} s from now, beyond the tolerance of ${tolerance} s`,
      'webhook-timestamp',
    );
  }
  const expected = keys.map((key) => digest(key, id, timestampText, body));
  const offered = signatures
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'));
  let matched = false;
  for (const candidate of offered) {
    for (const mac of expected) {
      if (candidate.length === mac.length && timingSafeEqual(candidate, mac)) matched = true;
    }
  }
  if (!matched) {
    throw new WebhookVerificationError(
      'WEBHOOK_NO_MATCHING_SIGNATURE',
      `none of the ${offered.length} v1 signature(s) of message ${id} matches any of the ${keys.length} secret(s)`,
      'webhook-signature',
    );
  }
  return { id, timestamp };
}
