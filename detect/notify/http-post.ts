/**
 * One POST over Node's fetch, reduced to what the retry rules need. Never throws: a network error,
 * a timeout or an abort (the notifier closing) is a result too. Redirects are not followed.
 */

export interface PostRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timeoutMs: number;
  /** Aborted when the notifier gives up waiting at close. */
  readonly signal: AbortSignal;
}

export type PostResult =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly statusText: string;
      /** The Retry-After header, as sent. */
      readonly retryAfter: string | null;
      /** The start of the response body, for the dead-letter message (Slack says why it refused there). */
      readonly bodyStart: string;
    }
  | { readonly kind: 'error'; readonly error: 'timeout' | 'network' | 'aborted'; readonly detail: string };

export type HttpPost = (request: PostRequest) => Promise<PostResult>;

const BODY_START_BYTES = 512;

async function bodyStart(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < BODY_START_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // the status is what matters; a body cut short is no reason to retry
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, BODY_START_BYTES).toString('utf8').replace(/\s+/g, ' ').trim();
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** The default HttpPost: global fetch with a per-attempt AbortSignal.timeout. */
export const fetchPost: HttpPost = async ({ url, headers, body, timeoutMs, signal }) => {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.any([signal, timeout]) });
    return {
      kind: 'response',
      status: response.status,
      statusText: response.statusText,
      retryAfter: response.headers.get('retry-after'),
      bodyStart: await bodyStart(response),
    };
  } catch (error) {
    if (signal.aborted) return { kind: 'error', error: 'aborted', detail: 'notifier closed' };
    if (timeout.aborted) return { kind: 'error', error: 'timeout', detail: `no answer within ${timeoutMs} ms` };
    return { kind: 'error', error: 'network', detail: describe(error) };
  }
};
