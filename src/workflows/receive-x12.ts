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

export type X12Handler = (ix: X12Interchange, group: X12Group, tx: X12Transaction) => Promise<{ resources: string[]; unmapped: string[] }>;

export type X12Context = {
  sql: Sql;
  log: Logger;
  audit: AuditTrail;
  /** Handlers by transaction set id (ST01: `270`, `837`, …). */
  handlers: ReadonlyMap<string, X12Handler>;
  newControlId: () => string;
};

export type X12Result =
  | { ok: true; response: string; messageId: string; status: string }
  | { ok: false; error: X12EnvelopeError; messageId: string };

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
  if (stored.duplicate && stored.response !== null) {
    ctx.log.info({ messageId: stored.id, control: ix.control }, 'x12 duplicate: first answer resent');
    await audit(ctx, stored.id, ix, types, peer, stored.status, []);
    return { ok: true, response: stored.response, messageId: stored.id, status: stored.status };
  }
  const resources: string[] = [];
  const unmapped: string[] = [];
  const refused: string[] = [];
  const results = new Map<X12Transaction, string | undefined>();
  for (const g of ix.groups) {
    for (const tx of g.transactions) {
      const handler = ctx.handlers.get(tx.id);
      if (!handler || g.problems.length || ix.problems.length) {
        results.set(tx, handler ? '5' : '1');
        refused.push(`${tx.id} ${tx.control}: ${handler ? g.problems.concat(ix.problems.map((p) => p.text)).join('; ') : `transaction set ${tx.id} is not supported by this gateway`}`);
        continue;
      }
      try {
        const r = await handler(ix, g, tx);
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
  const response = acknowledge(ix, (tx) => results.get(tx), { interchange: numeric(ctx.newControlId()), group: numeric(ctx.newControlId()), now: new Date() });
  const status = refused.length === 0 ? 'processed' : resources.length ? 'partial' : 'rejected';
  await finishMessage(ctx.sql, stored.id, {
    status: status === 'partial' ? 'error' : status,
    response,
    resources,
    unmapped,
    ...(refused.length ? { outcome: outcome(resources.length ? 'processing' : 'not-supported', refused.join('\n')) } : {}),
  });
  await audit(ctx, stored.id, ix, types, peer, status, resources);
  return { ok: true, response, messageId: stored.id, status };
}

/** Control numbers are numeric in X12: digits taken from the gateway's random control id. */
function numeric(id: string): string {
  const digits = BigInt(`0x${id.replace(/[^0-9a-f]/gi, '').slice(0, 15) || '0'}`).toString();
  return digits.slice(-9).padStart(9, '0');
}

async function audit(ctx: X12Context, messageId: string, ix: X12Interchange | undefined, types: string, peer: string, status: string, resources: string[]): Promise<void> {
  await ctx.audit.record(
    messageEvent({
      direction: 'inbound',
      protocol: 'x12',
      messageType: types,
      controlId: ix?.control ?? '',
      messageId,
      peer,
      sender: ix ? `${ix.senderQualifier}:${ix.sender}` : '',
      ack: status === 'processed' ? '999-A' : status === 'partial' ? '999-P' : '999-R',
      resources,
    })
  );
}
