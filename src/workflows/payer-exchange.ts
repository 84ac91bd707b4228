/**
 * @module workflows/payer-exchange — one real-time X12 exchange with a payer, as both `$submit` and the `/x12`
 * pass-through need it, in two commits:
 *
 * 1. before anything leaves, the 270 interchange is stored (outbound, status `sending`) — with whatever the caller
 *    must store with it (the request) — so a crash mid-call still shows what was sent;
 * 2. after the answer, in the caller's transaction, the payer's answer is stored raw as an inbound message related
 *    to the 270, the 270's row gets its fate, and the caller's resources are written; both exchanges are audited
 *    while that transaction runs, and the caller answers only when both are committed.
 *
 * Each commit waits for the disk (a durable commit is most of an exchange's cost here), so there are no more
 * than these two. The answer is classified — a 271, a TA1 or 999 rejection, or no usable answer — for the caller.
 */
import { randomUUID } from 'node:crypto';
import type { Sql } from 'postgres';
import { messageEvent } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Logger } from '../log.ts';
import type { PayerClient, PayerFailure } from '../outbound/payer-client.ts';
import type { Partner } from '../partners.ts';
import { outcome } from '../outcome.ts';
import { finishMessage, recordInbound, recordOutbound } from '../store/messages.ts';
import type { Repository } from '../store/repository.ts';
import { ackOutcome, read999, readTa1 } from '../translate/x12/acks.ts';
import { readInterchange, type X12Interchange, type X12Transaction } from '../translate/x12/envelope.ts';
import { nextX12Control } from '../store/sequences.ts';

export type ExchangeContext = {
  sql: Sql;
  log: Logger;
  audit: AuditTrail;
  repo: Repository;
  /** One client per payer partner (its circuit breaker and token live there). */
  payers: ReadonlyMap<string, PayerClient>;
};

export type PayerPartner = Partner & { x12: NonNullable<Partner['x12']> };

export type PayerAnswer =
  | { kind: '271'; ix: X12Interchange; sets: X12Transaction[] }
  | { kind: 'rejected'; by: 'TA1' | '999'; message: string }
  | { kind: 'failed'; failure: PayerFailure; message: string };

/** A 270 sent and what came back, not yet recorded (see {@link settleExchange}). */
export type Exchange = {
  outboundId: string;
  partner: PayerPartner;
  control: string;
  peer: string;
  /** The answer's text as received, when there was one. */
  body?: string;
  answer: PayerAnswer;
};

/** Draws the next control number (ISA13/GS06/ST02): never reused, across processes. */
export const nextControl = nextX12Control;

/** Commit 1 (the 270, with `before`'s writes), then the call. Nothing about the answer is written yet. */
export async function sendToPayer(
  ctx: ExchangeContext,
  partner: PayerPartner,
  x12: string,
  meta: { control: number; related?: string; before?: (repo: Repository) => Promise<unknown> }
): Promise<Exchange> {
  const client = ctx.payers.get(partner.id);
  if (!client) throw new Error(`no payer client for partner ${partner.id}`);
  const peer = new URL(partner.x12.endpoint.url).host;
  const control = String(meta.control).padStart(9, '0');
  const outboundId = await ctx.repo.transaction(async (repo) => {
    await meta.before?.(repo);
    return recordOutbound(repo.sql, {
      protocol: 'x12',
      transport: 'http',
      peer,
      sender: senderOf(partner),
      controlId: control,
      messageType: '270',
      receiver: `${partner.x12.receiverQualifier}:${partner.x12.receiverId}`,
      raw: Buffer.from(x12, 'latin1'),
      partner: partner.id,
      ...(meta.related ? { related: meta.related } : {}),
    });
  });
  const sent = await client.send(x12, {
    senderId: partner.x12.senderId,
    receiverId: partner.x12.receiverId,
    payloadId: randomUUID(),
  });
  if (!sent.ok) {
    ctx.log.warn(
      { messageId: outboundId, partner: partner.id, failure: sent.failure, ms: sent.ms, attempts: sent.attempts },
      'payer exchange failed'
    );
    return {
      outboundId,
      partner,
      control,
      peer,
      answer: { kind: 'failed', failure: sent.failure, message: sent.message },
    };
  }
  ctx.log.info({ messageId: outboundId, partner: partner.id, ms: sent.ms, attempts: sent.attempts }, 'payer answered');
  return { outboundId, partner, control, peer, body: sent.body, answer: classify(sent.body) };
}

export type Settled = { answerId?: string; audited: Promise<void> };

/**
 * Commit 2, inside the caller's transaction (`sql`): the answer row with its fate and the 270's fate. The audit
 * events of both exchanges are queued at once (one group commit, running beside the caller's transaction); the
 * caller awaits `audited` before answering.
 */
export async function settleExchange(
  ctx: ExchangeContext,
  sql: Sql,
  ex: Exchange,
  result: { resources: string[]; unmapped: string[]; problem?: string }
): Promise<Settled> {
  const { answer, partner } = ex;
  const ok = answer.kind === '271' && !result.problem;
  const why = result.problem ?? (answer.kind === '271' ? undefined : answer.message);
  let answerId: string | undefined;
  if (ex.body !== undefined) {
    const ix = answer.kind === '271' ? answer.ix : tryRead(ex.body);
    const stored = await recordInbound(
      sql,
      {
        protocol: 'x12',
        transport: 'http',
        peer: ex.peer,
        sender: ix ? `${ix.senderQualifier}:${ix.sender}` : ex.peer,
        receiver: senderOf(partner),
        controlId: ix?.control ?? '',
        messageType: typesOf(ix),
        raw: bytesOf(ex.body),
        partner: partner.id,
        related: ex.outboundId,
        dedupe: false,
      },
      {
        status: ok ? 'processed' : 'error',
        response: '',
        resources: result.resources,
        unmapped: result.unmapped,
        ...(why ? { outcome: outcome('processing', why) } : {}),
      }
    );
    answerId = stored.id;
  }
  await finishMessage(sql, ex.outboundId, {
    status: answer.kind === '271' ? 'processed' : 'error',
    response: ex.body ?? '',
    ...(answer.kind === '271'
      ? {}
      : { outcome: outcome(answer.kind === 'failed' ? 'transient' : 'processing', answer.message) }),
  });
  const ack = answer.kind === '271' ? '271' : answer.kind === 'rejected' ? `${answer.by}-R` : answer.failure;
  const events = [
    event(ex, 'outbound', {
      id: ex.outboundId,
      type: '270',
      control: ex.control,
      ack,
      ok: answer.kind === '271',
      resources: [],
    }),
    ...(answerId
      ? [
          event(ex, 'inbound', {
            id: answerId,
            type: answer.kind === '271' ? '271' : ack,
            control: '',
            ack,
            ok,
            resources: result.resources,
          }),
        ]
      : []),
  ];
  const audited = Promise.all(events.map((e) => ctx.audit.record(e))).then(() => undefined);
  audited.catch(() => undefined); // awaited by the caller; never an unhandled rejection meanwhile
  return { answerId, audited };
}

function classify(body: string): PayerAnswer {
  let ix: X12Interchange;
  try {
    ix = readInterchange(body);
  } catch (err) {
    return {
      kind: 'failed',
      failure: 'bad-response',
      message: `The payer's answer is not X12 (${(err as Error).message})`,
    };
  }
  const ta1 = ix.ta1.map((s) => readTa1(s)).find((t) => !t.accepted);
  if (ta1)
    return { kind: 'rejected', by: 'TA1', message: `The payer refused the interchange: ${ta1.text} (TA1 ${ta1.code})` };
  const sets = ix.groups.flatMap((g) => g.transactions.filter((t) => t.id === '271'));
  if (sets.length) return { kind: '271', ix, sets };
  for (const tx of ix.groups.flatMap((g) => g.transactions.filter((t) => t.id === '999'))) {
    const ack = read999(tx, ix.delimiters);
    if (ack.sets.some((s) => !s.accepted) || ack.groupStatus === 'R') {
      const text = ackOutcome(ack)
        .issue?.map((i) => i.diagnostics)
        .join('; ');
      return { kind: 'rejected', by: '999', message: `The payer rejected the inquiry: ${text}` };
    }
  }
  return { kind: 'failed', failure: 'bad-response', message: 'The payer answered without a 271' };
}

function senderOf(partner: PayerPartner): string {
  return `${partner.x12.senderQualifier}:${partner.x12.senderId}`;
}

function typesOf(ix: X12Interchange | undefined): string {
  if (!ix) return '';
  return (
    [...new Set(ix.groups.flatMap((g) => g.transactions.map((t) => t.id)))].join(',') || (ix.ta1.length ? 'TA1' : '')
  );
}

/**
 * The answer as bytes: Latin-1 gives back exactly what an x12-mode payer sent (one character per byte); an X12 taken
 * out of JSON or a CORE part may hold characters beyond Latin-1, kept as UTF-8.
 */
function bytesOf(text: string): Buffer {
  return Buffer.from(text, /[^\x00-\xff]/.test(text) ? 'utf8' : 'latin1');
}

function tryRead(body: string): X12Interchange | undefined {
  try {
    return readInterchange(body);
  } catch {
    return undefined;
  }
}

type ExchangeAudit = { id: string; type: string; control: string; ack: string; ok: boolean; resources: string[] };

function event(ex: Exchange, direction: 'inbound' | 'outbound', a: ExchangeAudit) {
  const sender = direction === 'outbound' ? senderOf(ex.partner) : ex.partner.x12.payerId;
  return messageEvent({
    direction,
    protocol: 'x12',
    messageType: a.type,
    controlId: a.control,
    messageId: a.id,
    peer: ex.peer,
    sender,
    ack: a.ack,
    resources: a.resources,
    succeeded: a.ok,
    ...(ex.partner.reference ? { partner: ex.partner.reference } : {}),
  });
}
