/** The errors of the quarantine responder. Refusals are not errors: they are `skipped` actions. */

/** An invalid response policy, with every problem found (`<source>: <path>: <problem>`). Raised at start. */
export class ResponsePolicyError extends Error {
  override readonly name = 'ResponsePolicyError';
  readonly code = 'QUARANTINE_BAD_POLICY';
  readonly retriable = false;

  constructor(readonly problems: readonly string[]) {
    super(`invalid response policy: ${problems.join('; ')}`);
  }
}

/**
 * A Kubernetes API call that failed, naming the call and the object. `status` is the HTTP status
 * (undefined when no answer came); timeouts, 429 and 5xx are worth retrying, 403 (RBAC) is not.
 */
export class QuarantineApiError extends Error {
  override readonly name = 'QuarantineApiError';
  readonly code = 'QUARANTINE_API_FAILED';
  readonly retriable: boolean;

  constructor(
    readonly operation: string,
    readonly status: number | undefined,
    detail: string,
  ) {
    super(`${operation}: ${status === undefined ? '' : `HTTP ${status}: `}${detail}`);
    this.retriable = status === undefined || status === 429 || status >= 500;
  }

  /** The object changed between our read and our write (a resourceVersion precondition failed). */
  get conflict(): boolean {
    return this.status === 409;
  }

  get notFound(): boolean {
    return this.status === 404;
  }
}
