/**
 * @module workflows/eligibility-pass-through — a 270 posted to `POST /x12` by a practice system: routed by its
 * 2100A payer id (NM109) to the partner with that `x12.payerId`, re-enveloped with the gateway's own ISA/GS ids
 * and control numbers (the payer knows the gateway, not the practice), sent, and answered with the payer's 271
 * sets in an interchange addressed back to the practice — as a clearinghouse does.
 *
 * Both sides are kept in the message store and linked (the forwarded 270 and the payer's answer point at the
 * practice's interchange through `related`), and translated to FHIR: the 270 as a CoverageEligibilityRequest (its
 * people and payer contained), the 271 as a CoverageEligibilityResponse. When the payer cannot answer, the practice
 * still gets a 271: an AAA at 2100A saying why (42 unable to respond now, 80 no response), never silence.
 */
import type { CoverageEligibilityRequest, CoverageEligibilityResponse } from '@medplum/fhirtypes';
import { read271 } from '../translate/x12/eligibility-271.ts';
import { payerIdOf270, requestFrom270 } from '../translate/x12/eligibility-270-read.ts';
import { toEligibilityResponses } from '../translate/x12/eligibility-response.ts';
import type { X12Interchange, X12Transaction } from '../translate/x12/envelope.ts';
import { writeInterchange } from '../translate/x12/interchange.ts';
import { restructure, type X12Out } from '../translate/x12/serialize.ts';
import { SYSTEMS } from '../translate/x12/systems.ts';
import { MESSAGE_SYSTEM } from './eligibility-response.ts';
import type { EligibilityContext } from './eligibility-submit.ts';
import { auditAnswer, exchangeWithPayer, finishAnswer, nextControl, type Exchange } from './payer-exchange.ts';
import type { X12Handler, X12Reply } from './receive-x12.ts';

export function passThrough270(ctx: EligibilityContext): X12Handler {
  return async (ix, group, tx, messageId) => {
    const payerId = payerIdOf270(tx, ix.delimiters);
    const partner = payerId ? ctx.partners.byPayerId(payerId) : undefined;
    if (!partner?.x12) throw new Error(`No payer in the partners file has the 2100A payer id "${payerId ?? ''}"`);
    const x12 = partner.x12;
    const control = await nextControl(ctx.sql);
    const version = tx.reference || group.version || '005010X279A1';
    const out = writeInterchange(
      {
        senderQualifier: x12.senderQualifier, senderId: x12.senderId, receiverQualifier: x12.receiverQualifier,
        receiverId: x12.receiverId, interchangeControl: control, groupControl: control, usage: x12.usage,
        ackRequested: false, functionalId: 'HS', version, now: new Date(),
      },
      [{ id: '270', control: String(control).padStart(4, '0'), body: bodyOf(tx, ix) }]
    );
    const ex = await exchangeWithPayer(ctx, { ...partner, x12 }, out, { control, related: messageId });
    const request = requestFrom270(tx, ix.delimiters);
    const stored = await ctx.repo.transaction(async (repo) => {
      const { resource: req } = await repo.create<CoverageEligibilityRequest>(request);
      const responses = ex.answer.kind === '271' ? mapAnswers(ex, req.id, request, partner.reference) : [];
      const resources = [`CoverageEligibilityRequest/${req.id}`];
      const unmapped: string[] = [];
      for (const r of responses) {
        const { resource } = await repo.create<CoverageEligibilityResponse>(r.response);
        resources.push(`CoverageEligibilityResponse/${resource.id}`);
        unmapped.push(...r.unmapped);
      }
      await finishAnswer(ctx, partner, ex, { resources: resources.slice(1), unmapped }, repo.sql);
      return { resources, unmapped };
    });
    await auditAnswer(ctx, partner, ex, stored.resources);
    return { ...stored, reply: replyOf(ex, tx, ix, version) };
  };
}

function bodyOf(tx: X12Transaction, ix: X12Interchange): X12Out[] {
  return tx.segments.slice(1, -1).map((s) => restructure(s, ix.delimiters));
}

function mapAnswers(ex: Exchange, requestId: string, request: CoverageEligibilityRequest, insurer: string | undefined) {
  if (ex.answer.kind !== '271') return [];
  const answer = ex.answer;
  const coverage = request.contained?.find((r) => r.resourceType === 'Coverage');
  const memberId = coverage?.resourceType === 'Coverage' ? coverage.subscriberId : undefined;
  return answer.sets.flatMap((tx) =>
    toEligibilityResponses(read271(tx, answer.ix.delimiters), {
      request: { reference: `CoverageEligibilityRequest/${requestId}` },
      // The practice's patient is known here only by the payer's member id: a logical reference (references.html#logical).
      patient: memberId ? { identifier: { system: SYSTEMS.memberId, value: memberId } } : { display: 'unknown member' },
      insurer: insurer ? { reference: insurer } : { display: 'payer' },
      created: new Date().toISOString(),
    }).map((r) => ({
      ...r,
      response: { ...r.response, identifier: [...(r.response.identifier ?? []), { system: MESSAGE_SYSTEM, value: ex.answerId ?? '' }] },
    }))
  );
}

/** The payer's 271 sets, or one saying at 2100A why there is no answer (AAA 42 or 80, CORE 259). */
function replyOf(ex: Exchange, tx: X12Transaction, ix: X12Interchange, version: string): X12Reply {
  if (ex.answer.kind === '271') {
    const a = ex.answer;
    return { functionalId: 'HB', version, sets: a.sets.map((s) => ({ id: '271', body: s.segments.slice(1, -1).map((g) => restructure(g, a.ix.delimiters)) })) };
  }
  const reason = ex.answer.kind === 'failed' && ex.answer.failure === 'timeout' ? '80' : '42';
  const bht = tx.segments.find((s) => s[0] === 'BHT') ?? [];
  const hl = tx.segments.find((s) => s[0] === 'HL' && s[3] === '20') ?? ['HL', '1', '', '20'];
  const nm1 = tx.segments.find((s) => s[0] === 'NM1' && s[1] === 'PR');
  const now = new Date().toISOString();
  const body: X12Out[] = [
    ['BHT', '0022', '11', bht[3] ?? '', now.slice(0, 10).replaceAll('-', ''), now.slice(11, 16).replace(':', '')],
    ['HL', hl[1] ?? '1', '', '20', '0'],
    ...(nm1 ? [restructure(nm1, ix.delimiters)] : []),
    ['AAA', 'Y', '', reason, reason === '80' ? 'P' : 'R'],
  ];
  return { functionalId: 'HB', version, sets: [{ id: '271', body }] };
}
