/**
 * @module workflows/eligibility-pass-through — a 270 posted to `POST /x12` by a practice system: routed by its
 * 2100A payer id (NM109) to the partner with that `x12.payerId`, re-enveloped with the gateway's own ISA/GS ids
 * and control numbers (the payer knows the gateway, not the practice), sent, and answered with the payer's 271
 * sets in an interchange addressed back to the practice — as a clearinghouse does.
 *
 * Both sides are kept in the message store and linked (the forwarded 270 and the payer's answer point at the
 * practice's interchange through `related`), and translated to FHIR: the 270 as a CoverageEligibilityRequest (its
 * people and payer contained), the 271 as a CoverageEligibilityResponse. When the payer cannot answer, the practice
 * still gets a 271: an AAA at 2100A saying why (42 unable to respond now, 80 no response), never silence; when the
 * payer rejects the 270 (TA1, 999), the practice's set is rejected in the gateway's 999 with the payer's reason.
 */
import { randomUUID } from 'node:crypto';
import type { CoverageEligibilityRequest } from '@medplum/fhirtypes';
import { read271 } from '../translate/x12/eligibility-271.ts';
import { payerIdOf270, requestFrom270 } from '../translate/x12/eligibility-270-read.ts';
import { toEligibilityResponses } from '../translate/x12/eligibility-response.ts';
import type { X12Interchange, X12Transaction } from '../translate/x12/envelope.ts';
import { writeInterchange } from '../translate/x12/interchange.ts';
import { restructure, serialize, X12SerializeError, type X12Out } from '../translate/x12/serialize.ts';
import type { X12Delimiters } from '../translate/x12/tokens.ts';
import { invalid, OperationOutcomeError } from '../outcome.ts';
import { SYSTEMS } from '../translate/x12/systems.ts';
import { withMessage } from './eligibility-response.ts';
import type { EligibilityContext } from './eligibility-submit.ts';
import { nextControl, sendToPayer, settleExchange, type Exchange, type PayerPartner } from './payer-exchange.ts';
import type { Repository } from '../store/repository.ts';
import type { X12Handler, X12Reply } from './receive-x12.ts';

export function passThrough270(ctx: EligibilityContext): X12Handler {
  return async (ix, group, tx, messageId) => {
    const payerId = payerIdOf270(tx, ix.delimiters);
    const partner = payerId ? ctx.partners.byPayerId(payerId) : undefined;
    if (!partner?.x12)
      invalid(`No payer in the partners file has the 2100A payer id "${payerId ?? ''}"`, '2100A NM109');
    const payer: PayerPartner = { ...partner, x12: partner.x12 };
    // Read and checked before anything is sent: a 270 the gateway cannot read is refused before a paid check.
    const request = { ...requestFrom270(tx, ix.delimiters), id: randomUUID() };
    ctx.repo.options.validate(request);
    const version = tx.reference || group.version || '005010X279A1';
    const ex = await forward(ctx, payer, tx, ix, { version, related: messageId, request });
    if (ex.answer.kind === 'rejected') {
      // CAQH CORE real time: a rejection is answered with a 999, so the practice corrects rather than resends.
      await settle(ctx, ex, { resources: [], unmapped: [] });
      invalid(ex.answer.message);
    }
    const responses = mapAnswers(ex, request);
    const resources = responses.map(() => `CoverageEligibilityResponse/${randomUUID()}`);
    const unmapped = responses.flatMap((r) => r.unmapped);
    await settle(ctx, ex, { resources, unmapped }, async (repo, answerId) => {
      for (const [i, r] of responses.entries()) {
        await repo.createWithId(
          withMessage(r.response, answerId ?? ex.outboundId),
          (resources[i] as string).split('/')[1] as string
        );
      }
    }).catch(async (err: unknown) => {
      if (!(err instanceof OperationOutcomeError)) throw err;
      // The payer's answer still goes back to the practice; the message log says why it was not translated.
      await settle(ctx, ex, {
        resources: [],
        unmapped,
        problem: err.outcome.issue?.[0]?.diagnostics ?? 'not translated',
      });
      resources.length = 0;
    });
    return {
      resources: [`CoverageEligibilityRequest/${request.id}`, ...resources],
      unmapped,
      reply: replyOf(ex, tx, ix, version),
    };
  };
}

type Forward = { version: string; related: string; request: CoverageEligibilityRequest & { id: string } };

/** The practice's set re-enveloped for the payer; the request read from it is stored with the 270 (commit 1). */
async function forward(
  ctx: EligibilityContext,
  partner: PayerPartner,
  tx: X12Transaction,
  ix: X12Interchange,
  f: Forward
) {
  const x12 = partner.x12;
  const control = await nextControl(ctx.sql);
  const out = writeInterchange(
    {
      senderQualifier: x12.senderQualifier,
      senderId: x12.senderId,
      receiverQualifier: x12.receiverQualifier,
      receiverId: x12.receiverId,
      interchangeControl: control,
      groupControl: control,
      usage: x12.usage,
      ackRequested: false,
      functionalId: 'HS',
      version: f.version,
      now: new Date(),
    },
    [{ id: '270', control: String(control).padStart(4, '0'), body: bodyOf(tx, ix) }]
  );
  return sendToPayer(ctx, partner, out, {
    control,
    related: f.related,
    before: (repo) => repo.createWithId(f.request, f.request.id),
  });
}

/** Commit 2: the answer's rows and what `write` adds, then the audit of both exchanges. */
async function settle(
  ctx: EligibilityContext,
  ex: Exchange,
  result: { resources: string[]; unmapped: string[]; problem?: string },
  write?: (repo: Repository, answerId: string | undefined) => Promise<void>
): Promise<void> {
  const audited = await ctx.repo.transaction(async (repo) => {
    const settled = await settleExchange(ctx, repo.sql, ex, result);
    await write?.(repo, settled.answerId);
    return settled.audited;
  });
  await audited;
}

function bodyOf(tx: X12Transaction, ix: X12Interchange): X12Out[] {
  return tx.segments.slice(1, -1).map((s) => restructure(s, ix.delimiters));
}

function mapAnswers(ex: Exchange, request: CoverageEligibilityRequest & { id: string }) {
  if (ex.answer.kind !== '271') return [];
  const requestId = request.id;
  const insurer = ex.partner.reference;
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
    })
  );
}

/**
 * The practice's own delimiters when the payer's data holds none of them (what its system reads best), else the
 * payer's, which its data cannot hold; X12 has no escapes, so a value is never altered to fit.
 */
function writable(body: X12Out[], practice: X12Delimiters, payer: X12Delimiters): X12Delimiters | undefined {
  for (const d of [practice, payer]) {
    if (!d.repetition) continue;
    try {
      serialize(body, d);
      return d;
    } catch (err) {
      if (!(err instanceof X12SerializeError)) throw err;
    }
  }
  return undefined;
}

/** The payer's 271 sets, or one saying at 2100A why there is no answer (AAA 42 or 80, CORE 259). */
function replyOf(ex: Exchange, tx: X12Transaction, ix: X12Interchange, version: string): X12Reply {
  if (ex.answer.kind === '271') {
    const a = ex.answer;
    const sets = a.sets.map((s) => ({
      id: '271',
      body: s.segments.slice(1, -1).map((g) => restructure(g, a.ix.delimiters)),
    }));
    return {
      functionalId: 'HB',
      version,
      sets,
      delimiters: writable(
        sets.flatMap((x) => x.body),
        ix.delimiters,
        a.ix.delimiters
      ),
    };
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
