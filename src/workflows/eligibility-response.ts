/**
 * @module workflows/eligibility-response — the CoverageEligibilityResponse an exchange ends in: the 271 mapped
 * (translate/x12), the answer for our trace chosen when a 271 carries several, or — when the payer could not
 * answer — a response with `outcome: error` whose `error.code` says why in X12's own terms where one exists
 * (AAA03 42 "unable to respond at current time", 80 "no response received") plus the gateway's own code.
 *
 * Each response is linked to its request and, once stored, to the stored 271 ({@link withMessage}, `identifier`
 * urn:frontdesk:message); it carries the key under which it may be reused.
 */
import type {
  CoverageEligibilityRequest,
  CoverageEligibilityResponse,
  HumanName,
  Identifier,
} from '@medplum/fhirtypes';
import { personName } from '../translate/x12/eligibility-270.ts';
import { read271 } from '../translate/x12/eligibility-271.ts';
import { toEligibilityResponses } from '../translate/x12/eligibility-response.ts';
import { SYSTEMS } from '../translate/x12/systems.ts';
import type { GatheredInquiry } from './eligibility-inquiry.ts';
import type { Exchange } from './payer-exchange.ts';

export const MESSAGE_SYSTEM = 'urn:frontdesk:message';
export const REUSE_SYSTEM = 'urn:frontdesk:eligibility-reuse-key';
/** The response pointing at the stored message it was read from (the 271, or the 270 when nothing came back). */
export function withMessage(r: CoverageEligibilityResponse, messageId: string): CoverageEligibilityResponse {
  return { ...r, identifier: [{ system: MESSAGE_SYSTEM, value: messageId }, ...(r.identifier ?? [])] };
}

/** Why the gateway has no answer from the payer: unreachable, timeout, http-error, circuit-open, … */
export const PROBLEM_SYSTEM = 'urn:frontdesk:payer-problem';

export type MappedAnswer = { response: CoverageEligibilityResponse; unmapped: string[]; problem?: string };

export function responseFor(
  request: CoverageEligibilityRequest & { id: string },
  g: GatheredInquiry,
  ex: Exchange,
  created: string
): MappedAnswer {
  const identifier: Identifier[] = [{ system: REUSE_SYSTEM, value: g.reuseKey }];
  const refs = {
    request: { reference: `CoverageEligibilityRequest/${request.id}` },
    patient: { reference: `Patient/${g.inquiry.patient.id}` },
    insurer: { reference: g.insurerRef },
    coverage: { reference: g.coverageRef },
    ...(request.provider ? { requestor: request.provider } : {}),
    purpose: request.purpose?.length ? request.purpose : (['benefits'] as CoverageEligibilityResponse['purpose']),
    created,
  };
  const answer = ex.answer;
  if (answer.kind !== '271') {
    const code = answer.kind === 'failed' ? answer.failure : answer.by === 'TA1' ? 'ta1-rejected' : '999-rejected';
    const aaa = answer.kind === 'failed' ? (answer.failure === 'timeout' ? '80' : '42') : undefined;
    return { response: errorResponse(refs, identifier, code, aaa, answer.message), unmapped: [] };
  }
  const subscriber = g.inquiry.subscriber ?? g.inquiry.patient;
  // Compared with the name the 270 carried (official, else usual; suffix apart), not whichever name comes first.
  const name = sentName(subscriber.name);
  const results = answer.sets.flatMap((tx) =>
    toEligibilityResponses(read271(tx, answer.ix.delimiters), {
      ...refs,
      sent: {
        ...(g.inquiry.coverage.subscriberId ? { memberId: g.inquiry.coverage.subscriberId } : {}),
        ...(name?.last ? { lastName: name.last } : {}),
        ...(name?.first ? { firstName: name.first } : {}),
        ...(subscriber.birthDate ? { birthDate: subscriber.birthDate } : {}),
        ...(subscriber.gender ? { gender: subscriber.gender } : {}),
      },
    })
  );
  const ours = results.find((r) => r.trace === g.inquiry.trace.reference) ?? results[0];
  if (!ours) {
    const message = 'The payer answered with a 271 that holds no answer for this patient';
    return { response: errorResponse(refs, identifier, 'bad-response', '42', message), unmapped: [], problem: message };
  }
  const response = { ...ours.response, identifier: [...(ours.response.identifier ?? []), ...identifier] };
  const unmapped = [...ours.unmapped, ...ours.corrections.map((c) => `correction ${c.who} ${c.field}`)];
  return { response, unmapped };
}

function sentName(names: HumanName[] | undefined) {
  try {
    return personName(names, 'name');
  } catch {
    return undefined;
  }
}

type Refs = Pick<
  CoverageEligibilityResponse,
  'request' | 'patient' | 'insurer' | 'requestor' | 'purpose' | 'created'
> & {
  coverage: { reference: string };
};

function errorResponse(
  refs: Refs,
  identifier: Identifier[],
  code: string,
  aaa: string | undefined,
  message: string
): CoverageEligibilityResponse {
  const { coverage, ...base } = refs;
  return {
    resourceType: 'CoverageEligibilityResponse',
    status: 'active',
    ...base,
    identifier,
    outcome: 'error',
    disposition: message,
    insurance: [{ coverage }],
    error: [
      {
        code: {
          coding: [
            ...(aaa
              ? [
                  {
                    system: SYSTEMS.rejectReason,
                    code: aaa,
                    display:
                      aaa === '80'
                        ? 'No Response received - Transaction Terminated'
                        : 'Unable to Respond at Current Time',
                  },
                ]
              : []),
            { system: PROBLEM_SYSTEM, code },
          ],
          text: message,
        },
      },
    ],
  };
}
