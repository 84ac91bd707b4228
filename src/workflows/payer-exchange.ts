/**
 * @module workflows/payer-exchange — one real-time X12 exchange with a payer, as both `$submit` and the `/x12`
 * pass-through need it: the 270 interchange is stored (outbound, status `sending`) before it leaves, so a crash
 * mid-call still shows what was sent; the payer's answer is stored raw as an inbound message related to it
 * before anything reads it; both are audited. The answer is then classified — a 271, a TA1 or 999 rejection, or
 * no usable answer — for the caller to map.
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
import { ackOutcome, read999, readTa1 } from '../translate/x12/acks.ts';
import { readInterchange, type X12Interchange, type X12Transaction } from '../translate/x12/envelope.ts';

export type ExchangeContext = {
  sql: Sql;
  log: Logger;
  audit: AuditTrail;
  /** One client per payer partner (its circuit breaker and token live there). */
  payers: ReadonlyMap<string, PayerClient>;
};

export type PayerAnswer =
  | { kind: '271'; ix: X12Interchange; sets: X12Transaction[] }
  | { kind: 'rejected'; by: 'TA1' | '999'; message: string }
  | { kind: 'failed'; failure: PayerFailure; message: string };

export type Exchange = { outboundId: string; answerId?: string; answer: PayerAnswer };

/** Draws the next control number (ISA13/GS06/ST02) from the database sequence: never reused, across processes. */
export async function nextControl(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: string }[]>`SELECT nextval('x12_control')::text AS n`;
  return Number(row?.n);
}

export async function exchangeWithPayer(
  ctx: ExchangeContext,
  partner: Partner & { x12: NonNullable<Partner['x12']> },
  x12: string,
  meta: { control: number; related?: string }
): Promise<Exchange> {
  const client = ctx.payers.get(partner.id);
  if (!client) throw new Error(`no payer client for partner ${partner.id}`);
  const peer = new URL(partner.x12.endpoint.url).host;
  const control = String(meta.control).padStart(9, '0');
  const sender = `${partner.x12.senderQualifier}:${partner.x12.senderId}`;
  const outboundId = await recordOutbound(ctx.sql, {
    protocol: 'x12', transport: 'http', peer, sender, receiver: `${partner.x12.receiverQualifier}:${partner.x12.receiverId}`,
    controlId: control, messageType: '270', raw: Buffer.from(x12, 'latin1'), partner: partner.id,
    ...(meta.related ? { related: meta.related } : {}),
  });
  const sent = await client.send(x12, { senderId: partner.x12.senderId, receiverId: partner.x12.receiverId, payloadId: randomUUID() });
  if (!sent.ok) {
    ctx.log.warn({ messageId: outboundId, partner: partner.id, failure: sent.failure, ms: sent.ms, attempts: sent.attempts }, 'payer exchange failed');
    await finishMessage(ctx.sql, outboundId, { status: 'error', response: '', outcome: outcome('transient', sent.message) });
    await auditExchange(ctx, 'outbound', { id: outboundId, type: '270', control, peer, sender, partner, ack: sent.failure, ok: false });
    return { outboundId, answer: { kind: 'failed', failure: sent.failure, message: sent.message } };
  }
  const answer = classify(sent.body);
  const ix = answer.kind === '271' ? answer.ix : tryRead(sent.body);
  const answerType = ix ? [...new Set(ix.groups.flatMap((g) => g.transactions.map((t) => t.id)))].join(',') || (ix.ta1.length ? 'TA1' : '') : '';
  const answerSender = ix ? `${ix.senderQualifier}:${ix.sender}` : peer;
  const stored = await recordInbound(ctx.sql, {
    protocol: 'x12', transport: 'http', peer, sender: answerSender, receiver: sender, controlId: ix?.control ?? '',
    messageType: answerType, raw: bytesOf(sent.body), partner: partner.id, related: outboundId, dedupe: false,
  });
  const ok = answer.kind === '271';
  await finishMessage(ctx.sql, outboundId, {
    status: ok ? 'processed' : 'error',
    response: sent.body,
    ...(ok ? {} : { outcome: outcome('processing', answer.message) }),
  });
  const ack = answer.kind === '271' ? '271' : answer.kind === 'rejected' ? `${answer.by}-R` : answer.failure;
  await auditExchange(ctx, 'outbound', { id: outboundId, type: '270', control, peer, sender, partner, ack, ok });
  ctx.log.info({ messageId: outboundId, answerId: stored.id, partner: partner.id, ms: sent.ms, answer: ack }, 'payer answered');
  return { outboundId, answerId: stored.id, answer };
}

/** Records what became of the answer (its resources, or why it could not be read) and audits its receipt. */
export async function finishAnswer(
  ctx: ExchangeContext,
  partner: Partner,
  ex: Exchange,
  result: { resources: string[]; unmapped: string[]; problem?: string },
  sql: Sql = ctx.sql
): Promise<void> {
  if (!ex.answerId) return;
  const ok = ex.answer.kind === '271' && !result.problem;
  await finishMessage(sql, ex.answerId, {
    status: ok ? 'processed' : 'error',
    response: '',
    resources: result.resources,
    unmapped: result.unmapped,
    ...(result.problem || ex.answer.kind !== '271'
      ? { outcome: outcome('processing', result.problem ?? (ex.answer as { message: string }).message) }
      : {}),
  });
}

/** Audits the receipt of a payer's answer (after its row is final). */
export async function auditAnswer(ctx: ExchangeContext, partner: Partner, ex: Exchange, resources: string[]): Promise<void> {
  if (!ex.answerId) return;
  const type = ex.answer.kind === '271' ? '271' : ex.answer.kind === 'rejected' ? ex.answer.by : 'unknown';
  await auditExchange(ctx, 'inbound', {
    id: ex.answerId, type, control: '', peer: new URL(partner.x12?.endpoint.url ?? 'http://payer').host,
    sender: partner.x12?.payerId ?? partner.id, partner, ack: ex.answer.kind === '271' ? 'processed' : type, ok: ex.answer.kind === '271', resources,
  });
}

function classify(body: string): PayerAnswer {
  let ix: X12Interchange;
  try {
    ix = readInterchange(body);
  } catch (err) {
    return { kind: 'failed', failure: 'bad-response', message: `The payer's answer is not X12 (${(err as Error).message})` };
  }
  const ta1 = ix.ta1.map((s) => readTa1(s)).find((t) => !t.accepted);
  if (ta1) return { kind: 'rejected', by: 'TA1', message: `The payer refused the interchange: ${ta1.text} (TA1 ${ta1.code})` };
  const sets = ix.groups.flatMap((g) => g.transactions.filter((t) => t.id === '271'));
  if (sets.length) return { kind: '271', ix, sets };
  const acks = ix.groups.flatMap((g) => g.transactions.filter((t) => t.id === '999'));
  for (const tx of acks) {
    const ack = read999(tx, ix.delimiters);
    if (ack.sets.some((s) => !s.accepted) || ack.groupStatus === 'R') {
      const text = ackOutcome(ack).issue?.map((i) => i.diagnostics).join('; ');
      return { kind: 'rejected', by: '999', message: `The payer rejected the inquiry: ${text}` };
    }
  }
  return { kind: 'failed', failure: 'bad-response', message: 'The payer answered without a 271' };
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

type ExchangeAudit = {
  id: string; type: string; control: string; peer: string; sender: string; partner: Partner; ack: string; ok: boolean;
  resources?: string[];
};

async function auditExchange(ctx: ExchangeContext, direction: 'inbound' | 'outbound', a: ExchangeAudit): Promise<void> {
  await ctx.audit.record(
    messageEvent({
      direction, protocol: 'x12', messageType: a.type, controlId: a.control, messageId: a.id, peer: a.peer,
      sender: a.sender, ack: a.ack, resources: a.resources ?? [], succeeded: a.ok,
      ...(a.partner.reference ? { partner: a.partner.reference } : {}),
    })
  );
}
