/**
 * @module workflows/hl7v2-input — what an HL7 v2 door hands over, taken apart into messages for ./receive-hl7v2.ts.
 *
 * One message goes on as it is. A batch (`[FHS] BHS … BTS [FTS]`) is split on its bytes: each message keeps its own
 * bytes and is decoded once, by its own MSH-18 or its partner's character set; the answer is a batch of their
 * acknowledgments, and a batch with segments outside any message is also kept whole. Several messages one after
 * the other without an envelope are a file of messages over HTTP (each answered) but a framing error over MLLP (one
 * frame, one AR). A frame over the size limit is kept in part and audited. Nothing that arrives is lost.
 */
import { outcome } from '../outcome.ts';
import { recordInbound, type NewInbound } from '../store/messages.ts';
import { hl7Time } from '../translate/hl7v2/ack.ts';
import { splitBatch } from '../translate/hl7v2/batch.ts';
import { peekHeader, type MessageHeader } from '../translate/hl7v2/header.ts';
import type { Partner } from '../partners.ts';
import {
  auditExchange,
  inboundRow,
  partnerFor,
  partnerOf,
  receiveHl7v2,
  type Hl7Peer,
  type Hl7Result,
  type ReceiveContext,
} from './receive-hl7v2.ts';

type Transport = 'mllp' | 'http';

/** An HL7 v2 input from a door: one message, or a batch of them. */
export async function receiveHl7v2Input(ctx: ReceiveContext, raw: Buffer, transport: Transport, peer: Hl7Peer): Promise<Hl7Result & { messageIds: string[] }> {
  // Read 1:1 as Latin-1 to find the messages: segment ends and names are ASCII in every HL7 character set, so each
  // message keeps its own bytes and is decoded once, by its own MSH-18 or its partner's character set.
  const bytes = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? raw.subarray(3) : raw;
  const latin1 = bytes.toString('latin1').replace(/^[\r\n ]+/, '');
  const enveloped = latin1.startsWith('FHS') || latin1.startsWith('BHS');
  // Several messages one after the other without an envelope (a file of messages): each answered on its own.
  const several = !enveloped && latin1.startsWith('MSH') && /[\r\n]MSH/.test(latin1);
  if (!enveloped && !several) {
    const one = await receiveHl7v2(ctx, raw, transport, peer);
    return { ...one, messageIds: [one.messageId] };
  }
  // An MLLP frame is one message (or a batch): a sender that matches ACKs to frames by order must get one ACK for
  // this frame, so it is refused whole and kept; over HTTP (a file of messages) each is answered.
  if (several && transport === 'mllp') {
    const count = latin1.split(/[\r\n]+(?=MSH)/).length;
    const text = `An MLLP frame carries one message, or a batch in BHS/BTS: this one holds ${count} messages one after the other`;
    const one = await receiveHl7v2(ctx, raw, transport, peer, { code: '100', text, location: 'MSH' });
    return { ...one, messageIds: [one.messageId] };
  }
  const batch = splitBatch(latin1);
  if (batch.problems.length) ctx.log.warn({ problems: batch.problems, messages: batch.messages.length }, 'hl7v2 batch envelope problems');
  const acks: string[] = [];
  const ids: string[] = [];
  for (const message of batch.messages) {
    const r = await receiveHl7v2(ctx, Buffer.from(message, 'latin1'), transport, peer);
    acks.push(...r.acks);
    ids.push(r.messageId);
  }
  if (several) return { acks, messageId: ids[0] ?? '', messageIds: ids, status: 'several' };
  const envelope = batchAck(ctx, batch.fhs, batch.bhs, acks, batch.problems);
  // Segments outside any message (or a batch with none) belong to no stored message: the whole input is kept too.
  if (!batch.messages.length || batch.problems.some((p) => p.includes('outside any message'))) {
    ids.push(await keepBatch(ctx, raw, transport, peer, batch.problems.length ? batch.problems : ['The batch holds no message'], envelope));
  }
  return { acks: [envelope], messageId: ids[0] ?? '', messageIds: ids, status: batch.problems.length ? 'batch-problems' : 'batch' };
}

/**
 * A frame over the size limit (MLLP): answered AR by the door, which keeps only its first bytes; they are stored as
 * a rejected message (with the size in its outcome) and the exchange audited, like any other refusal.
 */
export async function receiveOversized(ctx: ReceiveContext, head: Buffer, bytes: number, transport: Transport, peer: Hl7Peer, ar: string): Promise<string> {
  const header = peekHeader(head);
  const partner = partnerFor(ctx, peer, header ? partnerOf(ctx, header) : undefined);
  const why = `Frame of at least ${bytes} bytes is over the size limit; refused, its first ${head.length} bytes kept`;
  const id = await keepRefused(ctx, inboundRow(header, head, transport, peer, partner), header, partner, ar, outcome('too-costly', why));
  ctx.log.info({ messageId: id, bytes }, 'hl7v2 rejected: frame too large');
  return ar;
}

/** A batch whose envelope lost something, stored whole as a rejected row (its problems in the outcome) and audited. */
async function keepBatch(ctx: ReceiveContext, raw: Buffer, transport: Transport, peer: Hl7Peer, problems: string[], response: string): Promise<string> {
  const partner = partnerFor(ctx, peer, undefined);
  const row = { ...inboundRow(undefined, raw, transport, peer, partner), messageType: 'BATCH' };
  const id = await keepRefused(ctx, row, undefined, partner, response, outcome('structure', `Batch envelope: ${problems.join('; ')}; the whole input is kept here`));
  ctx.log.warn({ messageId: id, problems: problems.length }, 'hl7v2 batch kept whole: segments outside any message');
  return id;
}

/**
 * Stores an input refused whole and audits the exchange. Not a claim on (sender, MSH-10): the same message sent
 * again properly (within the size limit, outside a broken envelope) must be processed.
 */
async function keepRefused(ctx: ReceiveContext, row: NewInbound, header: MessageHeader | undefined, partner: Partner | undefined, response: string, why: ReturnType<typeof outcome>): Promise<string> {
  const stored = await recordInbound(ctx.sql, { ...row, dedupe: false }, { status: 'rejected', response, outcome: why });
  await auditExchange(ctx, stored.id, header, row.peer, { acks: [response], status: 'rejected', resources: [] }, partner);
  return stored.id;
}

/**
 * The batch acknowledgment (v2.5 §2.10.3): the acknowledgments of the batch's messages in a BHS/BTS envelope
 * (FHS/FTS too when the input had them); BHS-12 names the batch answered; envelope problems go in BTS-2.
 */
function batchAck(ctx: ReceiveContext, fhs: string | undefined, bhs: string | undefined, acks: string[], problems: string[]): string {
  const envelope = (fhs ?? bhs ?? 'BHS|^~\\&');
  const F = envelope.charAt(3) || '|';
  const theirs = (bhs ?? fhs ?? '').split(F);
  const enc = theirs[1] ?? '^~\\&';
  const now = hl7Time(new Date());
  // BHS-3..6 swapped: we answer from their receiver to their sender; BHS-11 ours, BHS-12 theirs.
  const head = (name: string, src: string[]) => [name, enc, src[4] ?? '', src[5] ?? '', src[2] ?? '', src[3] ?? '', now, '', '', '', ctx.newControlId(), src[10] ?? ''].join(F);
  const segments: string[] = [];
  if (fhs) segments.push(head('FHS', fhs.split(F)));
  segments.push(head('BHS', theirs));
  for (const a of acks) segments.push(...a.split('\r').filter(Boolean));
  segments.push(['BTS', String(acks.length), problems.join('; ').replaceAll(F, ' ')].join(F).replace(new RegExp(`\\${F}+$`), ''));
  if (fhs) segments.push(['FTS', '1'].join(F));
  return segments.join('\r') + '\r';
}
