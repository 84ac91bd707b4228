/**
 * @module store/errors — what the store refuses, said in its own terms: not found, gone, conflict, precondition
 * failed, several matches, a rule of the data broken. Each is an OperationOutcome whose `id` names the kind
 * (Medplum's outcome ids); the edges map the kind to their own answer once — HTTP through `getStatus` in
 * outcome.ts `toHttpError` (404, 410, 409, 412, 412, 422), HL7 v2 through the ACK builder.
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { OperationOutcomeError, outcome } from '../outcome.ts';

export type Kind = 'not-found' | 'gone' | 'conflict' | 'precondition-failed' | 'multiple-matches' | 'business-rule';

/** The kind of a store error, or undefined for anything else. */
export function errorKind(err: unknown): Kind | undefined {
  return err instanceof OperationOutcomeError ? (err.outcome.id as Kind | undefined) : undefined;
}

function storeError(kind: Kind, code: OperationOutcomeIssue['code'], text: string, at?: string): OperationOutcomeError {
  return new OperationOutcomeError({ ...outcome(code, text, at), id: kind });
}

/** No such resource, or no such version. */
export const notFound = (text: string) => storeError('not-found', 'not-found', text);
/** The resource (or the version asked for) was deleted. */
export const gone = (text: string) => storeError('gone', 'deleted', text);
/** What a write would create exists already. */
export const conflict = (text: string) => storeError('conflict', 'conflict', text);
/** A condition of the request does not hold: `If-Match`, a conditional reference. */
export const preconditionFailed = (text: string, code: OperationOutcomeIssue['code'] = 'conflict', at?: string) =>
  storeError('precondition-failed', code, text, at);
/** A condition that must name one resource names several. */
export const multipleMatches = (text: string) => storeError('multiple-matches', 'multiple-matches', text);
/** The request is well formed but cannot be applied to the data (a JSON Patch that fails). */
export const unprocessable = (text: string) => storeError('business-rule', 'processing', text);
