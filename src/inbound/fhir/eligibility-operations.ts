/**
 * @module inbound/fhir/eligibility-operations — the eligibility workflows as FHIR operations (./operations.ts):
 * `CoverageEligibilityRequest/$submit` (one check, answered within the payer's timeout) and
 * `Appointment/$verify-coverage` (a day's appointments, tracked in a Task: answered 202 with the Task at once).
 *
 * Scopes: `$submit` creates a request and a response and may hand back a stored one, so it needs create on both and
 * read on the response (`system/CoverageEligibilityRequest.c`, `system/CoverageEligibilityResponse.cr`); naming a
 * stored request needs read on it. `$verify-coverage` searches
 * appointments and coverages and creates requests, responses and the Task.
 */
import type { Parameters } from '@medplum/fhirtypes';
import { demand } from '../../access/guard.ts';
import { invalid } from '../../outcome.ts';
import { submitEligibility, type EligibilityContext } from '../../workflows/eligibility-submit.ts';
import { isDay } from '../../workflows/verify-coverage.ts';
import type { VerificationRunner } from '../../workflows/verify-coverage-runner.ts';
import type { FhirOperation } from './operations.ts';

export function eligibilityOperations(ctx: EligibilityContext, runner: VerificationRunner): FhirOperation[] {
  return [
    {
      type: 'CoverageEligibilityRequest',
      name: '$submit',
      needs: [
        ['CoverageEligibilityRequest', 'c'],
        ['CoverageEligibilityResponse', 'c'],
        ['CoverageEligibilityResponse', 'r'],
      ],
      documentation:
        'Stores the request, sends its X12 270 to the payer and answers with the stored CoverageEligibilityResponse ' +
        '(outcome error with a reason when the payer cannot answer). Body: the request, or Parameters with ' +
        '"request" (reference or resource) and "fresh" (boolean: do not reuse a recent answer). ?fresh=true works too.',
      run: async ({ body, query, principal }) => {
        if ((body as { resourceType?: string } | undefined)?.resourceType === 'Parameters') {
          demand(principal, 'CoverageEligibilityRequest', 'r', 'naming a stored request');
        }
        const { response } = await submitEligibility(ctx, body, query.get('fresh') === 'true');
        return { status: 200, resource: response };
      },
    },
    {
      type: 'Appointment',
      name: '$verify-coverage',
      needs: [
        ['Appointment', 's'],
        ['Coverage', 's'],
        ['Task', 'c'],
        ['CoverageEligibilityRequest', 'c'],
        ['CoverageEligibilityResponse', 'c'],
      ],
      documentation:
        'Checks the coverage of every patient booked on ?date=YYYY-MM-DD (one check per patient and payer, bounded ' +
        'concurrency per payer) and answers 202 with the Task that tracks the run; its output lists each result and ' +
        'each problem. A run still in progress for that date is returned rather than started twice.',
      run: async ({ body, query }) => {
        const fromBody = (body as Parameters | undefined)?.parameter?.find((p) => p.name === 'date')?.valueDate;
        const date = query.get('date') ?? fromBody;
        if (!isDay(date)) {
          invalid('date must be a day, YYYY-MM-DD (?date= or Parameters "date")', 'date');
        }
        return { status: 202, resource: await runner.start(date) };
      },
    },
  ];
}
