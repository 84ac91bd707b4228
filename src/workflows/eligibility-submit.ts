/**
 * @module workflows/eligibility-submit — `CoverageEligibilityRequest/$submit`: is this coverage active, what
 * will the patient owe. The request is stored, its 270 sent to the payer the partners file names, and the answer
 * stored as a CoverageEligibilityResponse before it is returned (durability before acknowledgement).
 *
 * Every way a payer can fail — unreachable, too slow, HTTP 5xx, a TA1 or 999 refusal, an answer that is not a 271
 * — ends in a response with `outcome: error` and a sentence a clerk can act on, never in an HTTP 500: the front
 * desk must know that the check did not happen. Payers and clearinghouses charge per check, so a complete answer
 * for the same coverage, provider, date and service types younger than `reuseMinutes` is returned again unless the
 * caller asks for a fresh one.
 */
import { randomUUID } from 'node:crypto';
import { parseSearchRequest } from '@medplum/core';
import type { CoverageEligibilityRequest, CoverageEligibilityResponse, Parameters } from '@medplum/fhirtypes';
import { invalid } from '../outcome.ts';
import type { PartnerRegistry } from '../partners.ts';
import type { Repository } from '../store/repository.ts';
import { build270 } from '../translate/x12/eligibility-270.ts';
import { writeInterchange } from '../translate/x12/interchange.ts';
import { gatherInquiry, type GatheredInquiry } from './eligibility-inquiry.ts';
import { responseFor, REUSE_SYSTEM, withMessage } from './eligibility-response.ts';
import { nextControl, sendToPayer, settleExchange, type ExchangeContext } from './payer-exchange.ts';

export type EligibilityContext = ExchangeContext & {
  partners: PartnerRegistry;
  /** 0: never reuse. */
  reuseMinutes: number;
  /** The practice's zone: "today" as the front desk sees it, the default date of service. */
  timeZone: string;
};

export type SubmitResult = { response: CoverageEligibilityResponse & { id: string }; reused: boolean };

/** `$submit` with a CoverageEligibilityRequest, or Parameters naming a stored one (`request`) and `fresh`. */
export async function submitEligibility(ctx: EligibilityContext, body: unknown, fresh = false): Promise<SubmitResult> {
  const { request, stored, fresh: asked } = await requestOf(ctx.repo, body);
  return checkEligibility(ctx, request, fresh || asked, stored);
}

/**
 * Checks one request: reuses a recent complete answer, else asks the payer. A request not stored yet (`stored`
 * false: it came in the body) is written with the 270, in the exchange's first commit.
 */
export async function checkEligibility(
  ctx: EligibilityContext,
  request: CoverageEligibilityRequest & { id: string },
  fresh: boolean,
  stored = true
): Promise<SubmitResult> {
  const today = localDate(new Date(), ctx.timeZone);
  const gathered = await gatherInquiry(ctx.repo, ctx.partners, request, today);
  if (!fresh && ctx.reuseMinutes > 0) {
    const recent = await recentAnswer(ctx.repo, gathered.reuseKey, ctx.reuseMinutes);
    if (recent) {
      if (!stored) await ctx.repo.createWithId(request, request.id);
      return { response: recent, reused: true };
    }
  }
  return { response: await askPayer(ctx, request, gathered, stored), reused: false };
}

async function askPayer(
  ctx: EligibilityContext,
  request: CoverageEligibilityRequest & { id: string },
  g: GatheredInquiry,
  stored: boolean
): Promise<CoverageEligibilityResponse & { id: string }> {
  const control = await nextControl(ctx.sql);
  const now = new Date();
  const { body } = build270(g.inquiry, String(control), now);
  const x12 = writeInterchange(
    {
      senderQualifier: g.partner.x12.senderQualifier,
      senderId: g.partner.x12.senderId,
      receiverQualifier: g.partner.x12.receiverQualifier,
      receiverId: g.partner.x12.receiverId,
      interchangeControl: control,
      groupControl: control,
      usage: g.partner.x12.usage,
      ackRequested: false,
      functionalId: 'HS',
      version: '005010X279A1',
      now,
    },
    [{ id: '270', control: String(control).padStart(4, '0'), body }]
  );
  const before = stored ? undefined : (repo: Repository) => repo.createWithId(request, request.id);
  const ex = await sendToPayer(ctx, g.partner, x12, { control, ...(before ? { before } : {}) });
  const mapped = responseFor(request, g, ex, now.toISOString());
  const responseId = randomUUID();
  const ref = `CoverageEligibilityResponse/${responseId}`;
  const { response, audited } = await ctx.repo.transaction(async (tx) => {
    const settled = await settleExchange(ctx, tx.sql, ex, {
      resources: [ref],
      unmapped: mapped.unmapped,
      ...(mapped.problem ? { problem: mapped.problem } : {}),
    });
    const linked = withMessage(mapped.response, settled.answerId ?? ex.outboundId);
    return { response: await tx.createWithId(linked, responseId), audited: settled.audited };
  });
  await audited;
  return response as CoverageEligibilityResponse & { id: string };
}

/** The request to check: stored already (named in Parameters), or from the body with the id it will be stored under. */
async function requestOf(
  repo: Repository,
  body: unknown
): Promise<{ request: CoverageEligibilityRequest & { id: string }; stored: boolean; fresh: boolean }> {
  const resource = body as { resourceType?: string } | undefined;
  if (resource?.resourceType === 'CoverageEligibilityRequest') {
    // Checked now, so a bad body is told so before any lookup; stored with the 270.
    repo.options.validate(resource as CoverageEligibilityRequest);
    return { request: { ...(resource as CoverageEligibilityRequest), id: randomUUID() }, stored: false, fresh: false };
  }
  if (resource?.resourceType !== 'Parameters') {
    invalid('$submit takes a CoverageEligibilityRequest, or Parameters with "request" (a reference or the resource)');
  }
  const params = (body as Parameters).parameter ?? [];
  const fresh = params.find((p) => p.name === 'fresh')?.valueBoolean === true;
  const param = params.find((p) => p.name === 'request');
  if (param?.resource?.resourceType === 'CoverageEligibilityRequest') {
    return { ...(await requestOf(repo, param.resource)), fresh };
  }
  const ref = param?.valueReference?.reference;
  const [type, id] = (ref ?? '').split('/');
  if (type !== 'CoverageEligibilityRequest' || !id) {
    invalid(
      'Parameters "request" must be a reference to a stored CoverageEligibilityRequest',
      "Parameters.parameter.where(name='request')"
    );
  }
  return { request: await repo.read<CoverageEligibilityRequest>(type, id), stored: true, fresh };
}

async function recentAnswer(repo: Repository, key: string, minutes: number) {
  const search = parseSearchRequest('CoverageEligibilityResponse', {
    identifier: [`${REUSE_SYSTEM}|${key}`],
    _sort: ['-_lastUpdated'],
    _count: ['5'],
  });
  const { resources } = await repo.search(search);
  const cutoff = Date.now() - minutes * 60_000;
  return (resources as (CoverageEligibilityResponse & { id: string })[]).find(
    (r) => r.outcome === 'complete' && Date.parse(r.created ?? '') >= cutoff
  );
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** `YYYY-MM-DD` of an instant in a time zone (a formatter per zone, kept: building one costs more than a check). */
export function localDate(at: Date, timeZone: string): string {
  let f = formats.get(timeZone);
  if (!f)
    formats.set(
      timeZone,
      (f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }))
    );
  return f.format(at);
}
