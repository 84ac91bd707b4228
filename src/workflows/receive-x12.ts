/**
 * @module workflows/receive-x12 — what happens to an ASC X12 interchange once a door (HTTP `POST /x12`) has it:
 * the same contract as HL7 v2 (./receive-hl7v2.ts). Stored raw first; a resend of the same (sender, ISA13) gets
 * the first answer again; the envelope is checked; each transaction set goes to the handler of its type (ST01);
 * the answer — TA1 when asked for or when the envelope is broken, a 999 per functional group — is returned only
 * after the outcome is recorded and the exchange audited.
 *
 * The eligibility, claim and remittance issues plug their handlers in `handlers`; until a type has one, its sets
 * are answered `IK5*R*1` (transaction set not supported): a clear refusal, never a silent drop. Input that is not
 * an interchange at all cannot be acknowledged in X12: the caller gets an OperationOutcome, the raw bytes stay.
 */
import { messageEvent } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Logger } from '../log.ts';
import { outcome } from '../outcome.ts';
import { finishMessage, recordInbound } from '../store/messages.ts';
import { acknowledge, readInterchange, X12EnvelopeError, type X12Group, type X12Interchange, type X12Transaction } from '../translate/x12/envelope.ts';
import type { Sql } from 'postgres';
import { writeInterchange } from '../translate/x12/interchange.ts';
import type { X12Out } from '../translate/x12/serialize.ts';
import type { X12Delimiters } from '../translate/x12/tokens.ts';
import { nextControl } from './payer-exchange.ts';

/**
 * What a handler made of one transaction set; `reply`: the sets that answer it (a pass-through 270 gets the payer's
 * 271s), sent back in one interchange instead of the 999 when every set of the interchange was accepted — CAQH
 * CORE real-time: a 999 only on rejection.
 */
export type X12Handled = { resources: string[]; unmapped: string[]; reply?: X12Reply };
export type X12Reply = {
  functionalId: string;
  version: string;
  sets: { id: string; body: X12Out[] }[];
  /** The delimiters to write them with; default the sender's own. */
  delimiters?: X12Delimiters;
};
export type X12Handler = (
  ix: X12Interchange,
  group: X12Group,
  tx: X12Transaction,
  messageId: string
) => Promise<X12Handled>;

export type X12Context = {
  sql: Sql;
  log: Logger;
  audit: AuditTrail;
  /** Handlers by transaction set id (ST01: `270`, `837`, …). */
  handlers: ReadonlyMap<string, X12Handler>;
};

export type X12Result =
  | { ok: true; response: string; messageId: string; status: string }
  | { ok: false; error: X12EnvelopeError; messageId: string }
  /** A resend of an interchange whose first copy is still being answered (a payer may take 20 s). */
  | { ok: false; pending: true; messageId: string };

/** A first copy unanswered for longer than this died with its process: the resend is processed. */
const ABANDONED_AFTER_SECONDS = 180;

export async function receiveX12(ctx: X12Context, raw: Buffer, transport: 'http', peer: string): Promise<X12Result> {
  const text = raw.toString('latin1');
  let ix: X12Interchange | undefined;
  let envelopeError: X12EnvelopeError | undefined;
  try {
    ix = readInterchange(text);
  } catch (err) {
    if (!(err instanceof X12EnvelopeError)) throw err;
    envelopeError = err;
  }
  const types = ix ? [...new Set(ix.groups.flatMap((g) => g.transactions.map((t) => t.id)))].join(',') : '';
  const stored = await recordInbound(ctx.sql, {
    protocol: 'x12',
    transport,
    peer,
    sender: ix ? `${ix.senderQualifier}:${ix.sender}` : '',
    receiver: ix ? `${ix.receiverQualifier}:${ix.receiver}` : '',
    controlId: ix?.control ?? '',
    messageType: types,
    raw,
  });
  if (!ix) {
    const error = envelopeError as X12EnvelopeError;
    await finishMessage(ctx.sql, stored.id, { status: 'rejected', response: '', outcome: outcome('structure', error.message, 'ISA') });
    await audit(ctx, stored.id, undefined, '', peer, 'rejected', []);
    return { ok: false, error, messageId: stored.id };
  }
  if (stored.duplicate && stored.response === null && (stored.ageSeconds ?? 0) < ABANDONED_AFTER_SECONDS) {
    // Running the handlers again would ask the payer twice (a paid check) and store everything twice.
    ctx.log.info({ messageId: stored.id, control: ix.control }, 'x12 duplicate while the first copy is in progress');
    return { ok: false, pending: true, messageId: stored.id };
  }
  if (stored.duplicate && stored.response !== null) {
    ctx.log.info({ messageId: stored.id, control: ix.control }, 'x12 duplicate: first answer resent');
    await audit(ctx, stored.id, ix, types, peer, stored.status, []);
    return { ok: true, response: stored.response, messageId: stored.id, status: stored.status };
  }
  const resources: string[] = [];
  const unmapped: string[] = [];
  const refused: string[] = [];
  const results = new Map<X12Transaction, string | undefined>();
  const replies: X12Reply[] = [];
  for (const g of ix.groups) {
    for (const tx of g.transactions) {
      const handler = ctx.handlers.get(tx.id);
      if (!handler || g.problems.length || ix.problems.length) {
        results.set(tx, handler ? '5' : '1');
        refused.push(`${tx.id} ${tx.control}: ${handler ? g.problems.concat(ix.problems.map((p) => p.text)).join('; ') : `transaction set ${tx.id} is not supported by this gateway`}`);
        continue;
      }
      try {
        const r = await handler(ix, g, tx, stored.id);
        if (r.reply) replies.push(r.reply);
        resources.push(...r.resources);
        unmapped.push(...r.unmapped);
        results.set(tx, undefined);
      } catch (err) {
        ctx.log.warn({ messageId: stored.id, set: tx.id, err: { name: (err as Error).name } }, 'x12 transaction set failed');
        results.set(tx, '5');
        refused.push(`${tx.id} ${tx.control}: ${(err as Error).message}`);
      }
    }
  }
  // Every interchange the gateway writes takes its control number from the one sequence: never reused.
  const control = await nextControl(ctx.sql);
  const response =
    replies.length && refused.length === 0
      ? replyInterchange(control, ix, replies)
      : acknowledge(ix, (tx) => results.get(tx), { interchange: String(control), group: String(control), now: new Date() });
  const status = refused.length === 0 ? 'processed' : resources.length ? 'partial' : 'rejected';
  await finishMessage(ctx.sql, stored.id, {
    status: status === 'partial' ? 'error' : status,
    response,
    resources,
    unmapped,
    ...(refused.length ? { outcome: outcome(resources.length ? 'processing' : 'not-supported', refused.join('\n')) } : {}),
  });
  await audit(ctx, stored.id, ix, types, peer, status, resources, replies.length && !refused.length ? '271' : undefined);
  return { ok: true, response, messageId: stored.id, status };
}

/** The answering sets in one interchange back to the sender (ids swapped), numbered from the control sequence. */
function replyInterchange(control: number, ix: X12Interchange, replies: X12Reply[]): string {
  const sets = replies.flatMap((r) => r.sets).map((s, i) => ({ ...s, control: String(i + 1).padStart(4, '0') }));
  return writeInterchange(
    {
      senderQualifier: ix.receiverQualifier, senderId: ix.receiver,
      receiverQualifier: ix.senderQualifier, receiverId: ix.sender,
      applicationSender: ix.groups[0]?.receiver ?? ix.receiver, applicationReceiver: ix.groups[0]?.sender ?? ix.sender,
      interchangeControl: control, groupControl: control, usage: ix.usage === 'T' ? 'T' : 'P', ackRequested: false,
      functionalId: replies[0]?.functionalId ?? 'HB', version: replies[0]?.version ?? '005010X279A1', now: new Date(),
    },
    sets,
    replies[0]?.delimiters ?? (ix.delimiters.repetition ? ix.delimiters : undefined)
  );
}

async function audit(
  ctx: X12Context,
  messageId: string,
  ix: X12Interchange | undefined,
  types: string,
  peer: string,
  status: string,
  resources: string[],
  answeredWith?: string
): Promise<void> {
  await ctx.audit.record(
    messageEvent({
      direction: 'inbound',
      protocol: 'x12',
      messageType: types,
      controlId: ix?.control ?? '',
      messageId,
      peer,
      sender: ix ? `${ix.senderQualifier}:${ix.sender}` : '',
      ack: answeredWith ?? (status === 'processed' ? '999-A' : status === 'partial' ? '999-P' : '999-R'),
      succeeded: status === 'processed',
      resources,
    })
  );
}
