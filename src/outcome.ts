/**
 * @module outcome — the one error type of the gateway and its HTTP mapping.
 *
 * Domain code throws `OperationOutcomeError` (from `@medplum/core`) built with the helpers re-exported here;
 * each edge maps it exactly once (Hono `app.onError` via {@link toHttpError}; the MLLP ACK builder later).
 */
import {
  OperationOutcomeError,
  badRequest,
  getStatus,
  isOperationOutcome,
  normalizeOperationOutcome,
} from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export {
  OperationOutcomeError,
  allOk,
  badRequest,
  conflict,
  created,
  forbidden,
  gone,
  notFound,
  preconditionFailed,
  getStatus,
} from '@medplum/core';

type IssueCode = OperationOutcomeIssue['code'];

/** Builds an outcome with one error issue; `expression` names the offending element (FHIRPath). */
export function outcome(
  code: IssueCode,
  diagnostics: string,
  expression?: string | string[],
  severity: OperationOutcomeIssue['severity'] = 'error'
): OperationOutcome {
  const issue: OperationOutcomeIssue = { severity, code, details: { text: diagnostics }, diagnostics };
  if (expression !== undefined) {
    issue.expression = Array.isArray(expression) ? expression : [expression];
  }
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

/** Throws a 400 with the element path: the everyday bad-input error. */
export function invalid(diagnostics: string, expression?: string): never {
  throw new OperationOutcomeError(badRequest(diagnostics, expression));
}

/** An error with an explicit HTTP status for the cases `getStatus()` cannot infer (405, 406, 413, 415). */
export function httpError(status: number, code: IssueCode, diagnostics: string, expression?: string): OperationOutcomeError {
  const err = new OperationOutcomeError(outcome(code, diagnostics, expression));
  (err as OperationOutcomeError & { status?: number }).status = status;
  return err;
}

/**
 * Maps anything thrown to `[status, OperationOutcome]`. Unknown errors become a 500 whose body never carries
 * the message or the stack (they may hold PHI or internals).
 */
export function toHttpError(err: unknown): {
  status: number;
  body: OperationOutcome;
  internal: boolean;
  headers?: Record<string, string>;
} {
  if (err instanceof OperationOutcomeError) {
    const extra = err as OperationOutcomeError & { status?: number; headers?: Record<string, string> };
    const body = withDiagnostics(err.outcome);
    return { status: extra.status ?? getStatus(body), body, internal: false, headers: extra.headers };
  }
  if (isOperationOutcome(err)) {
    return { status: getStatus(err), body: withDiagnostics(err), internal: false };
  }
  const normalized = normalizeOperationOutcome(err);
  const status = getStatus(normalized);
  if (status >= 500 || !(err instanceof OperationOutcomeError)) {
    return { status: 500, body: outcome('exception', 'Internal server error'), internal: true };
  }
  return { status, body: normalized, internal: false };
}

/** Medplum's outcome constants carry `details.text` only; clients read `diagnostics`. */
function withDiagnostics(o: OperationOutcome): OperationOutcome {
  return {
    ...o,
    issue: (o.issue ?? []).map((i) => ({ ...i, diagnostics: i.diagnostics ?? i.details?.text ?? i.code })),
  };
}
