/**
 * @module workflows/receive-hl7v2 — what happens to an HL7 v2 message once a transport has framed it.
 *
 * Stored raw first; a resend of the same (sender, MSH-10) gets the first acknowledgment again; then it is
 * checked and handed to the handler of its type. The acknowledgment is returned only after the database has
 * recorded the outcome (durability before acknowledgement). Message types without a handler get AR with the
 * reason (HL7 table 0357 code 200), never a silent drop.
 */
import type { Logger } from '../log.ts';
import { finishMessage, recordInbound } from '../store/messages.ts';
import type { Sql } from 'postgres';
import { buildAck, type AckCode, type AckError } from '../translate/hl7v2/ack.ts';
import { HeaderError, readHeader, type MessageHeader } from '../translate/hl7v2/header.ts';
import { outcome } from '../outcome.ts';
import { messageEvent } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';

export type Hl7Handler = (header: MessageHeader, text: string) => Promise<{ resources: string[]; unmapped: string[] }>;

export type ReceiveContext = {
  sql: Sql;
  log: Logger;
  /** Handlers by `CODE^TRIGGER` (e.g. `ADT^A04`); the types listed in the README as supported. */
  handlers: ReadonlyMap<string, Hl7Handler>;
  newControlId: () => string;
  audit: AuditTrail;
};

const PROCESSING_IDS = new Set(['P', 'D', 'T']);

export async function receiveHl7v2(ctx: ReceiveContext, raw: Buffer, transport: 'mllp' | 'http', peer: string): Promise<string> {
  const { response, messageId, header, resources } = await process(ctx, raw, transport, peer);
  // Every exchange is audited, before its acknowledgment leaves.
  await ctx.audit.record(
    messageEvent({
      direction: 'inbound',
      protocol: 'hl7v2',
      messageType: header?.messageType ?? '',
      controlId: header?.controlId ?? '',
      messageId,
      peer,
      sender: header ? `${header.sendingApplication}^${header.sendingFacility}` : '',
      ack: response.split('\r')[1]?.slice(4, 6) ?? '', // MSA-1, whatever the field separator
      resources,
    })
  );
  return response;
}

type Processed = { response: string; messageId: string; header: MessageHeader | undefined; resources: string[] };

async function process(ctx: ReceiveContext, raw: Buffer, transport: 'mllp' | 'http', peer: string): Promise<Processed> {
  const text = raw.toString('utf8');
  let header: MessageHeader | undefined;
  let headerError: HeaderError | undefined;
  try {
    header = readHeader(text);
  } catch (err) {
    headerError = err instanceof HeaderError ? err : new HeaderError('Unreadable message');
  }
  const stored = await recordInbound(ctx.sql, {
    protocol: 'hl7v2',
    transport,
    peer,
    sender: header ? `${header.sendingApplication}^${header.sendingFacility}` : '',
    receiver: header ? `${header.receivingApplication}^${header.receivingFacility}` : '',
    controlId: header?.controlId ?? '',
    messageType: header?.messageType ?? '',
    raw,
  });
  const done = (response: string, resources: string[] = []): Processed => ({ response, messageId: stored.id, header, resources });
  if (stored.duplicate && stored.response) {
    ctx.log.info({ messageId: stored.id, controlId: header?.controlId }, 'hl7v2 duplicate: first acknowledgment resent');
    return done(stored.response);
  }
  const ack = (code: AckCode, error?: AckError): string =>
    buildAck(header, { code, controlId: ctx.newControlId(), time: new Date(), text: error?.text, error });
  const reject = async (error: AckError): Promise<Processed> => {
    const response = ack('AR', error);
    await finishMessage(ctx.sql, stored.id, { status: 'rejected', response, outcome: outcome('not-supported', error.text, error.location) });
    ctx.log.info({ messageId: stored.id, controlId: header?.controlId, type: header?.messageType, code: error.code }, 'hl7v2 rejected');
    return done(response);
  };
  if (!header) return reject({ code: headerError?.code ?? '100', text: headerError?.message ?? 'Unreadable message', location: 'MSH' });
  if (!header.controlId) return reject({ code: '101', text: 'MSH-10 (message control id) is empty', location: 'MSH^1^10' });
  if (!PROCESSING_IDS.has(header.processingId)) {
    return reject({ code: '202', text: `Processing id "${header.processingId}" (MSH-11) is not P, D or T`, location: 'MSH^1^11' });
  }
  const handler = ctx.handlers.get(`${header.code}^${header.trigger}`);
  if (!handler) {
    return reject({ code: '200', text: `Message type ${header.code}^${header.trigger} is not supported by this gateway`, location: 'MSH^1^9' });
  }
  const result = await handler(header, text);
  const response = ack('AA');
  await finishMessage(ctx.sql, stored.id, { status: 'processed', response, resources: result.resources, unmapped: result.unmapped });
  return done(response, result.resources);
}
