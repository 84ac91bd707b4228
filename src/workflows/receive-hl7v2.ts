/**
 * @module workflows/receive-hl7v2 — what happens to an HL7 v2 message once a door (MLLP, HTTP) has it.
 *
 * Stored raw first; a resend of the same (sender, MSH-10) gets the first acknowledgment again; then it is
 * checked and handed to the handler of its type. The acknowledgment is returned only after the database has
 * recorded the outcome and the audit trail the exchange (durability before acknowledgement). Message types
 * without a handler get AR with the reason (HL7 table 0357 code 200), never a silent drop. A stored message can
 * be processed again (`reprocessHl7v2`), e.g. after a mapping was fixed.
 */
import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { messageEvent } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Logger } from '../log.ts';
import { outcome } from '../outcome.ts';
import { finishMessage, recordInbound } from '../store/messages.ts';
import { buildAck, type AckCode, type AckError } from '../translate/hl7v2/ack.ts';
import { HeaderError, readHeader, type MessageHeader } from '../translate/hl7v2/header.ts';

export type Hl7Handler = (header: MessageHeader, text: string) => Promise<{ resources: string[]; unmapped: string[] }>;

export type ReceiveContext = {
  sql: Sql;
  log: Logger;
  /** Handlers by `CODE^TRIGGER` (e.g. `ADT^A04`); the types listed in the README as supported. */
  handlers: ReadonlyMap<string, Hl7Handler>;
  newControlId: () => string;
  audit: AuditTrail;
};

export type Hl7Result = { response: string; messageId: string; status: string };

const PROCESSING_IDS = new Set(['P', 'D', 'T']);

export async function receiveHl7v2(ctx: ReceiveContext, raw: Buffer, transport: 'mllp' | 'http', peer: string): Promise<Hl7Result> {
  const text = raw.toString('utf8');
  const { header, error } = tryHeader(text);
  const stored = await recordInbound(ctx.sql, {
    protocol: 'hl7v2',
    transport,
    peer,
    sender: header ? senderOf(header) : '',
    receiver: header ? `${header.receivingApplication}^${header.receivingFacility}` : '',
    controlId: header?.controlId ?? '',
    messageType: header?.messageType ?? '',
    raw,
  });
  let result: Processed;
  if (stored.duplicate && stored.response) {
    ctx.log.info({ messageId: stored.id, controlId: header?.controlId }, 'hl7v2 duplicate: first acknowledgment resent');
    result = { response: stored.response, status: stored.status, resources: [] };
  } else {
    result = await handle(ctx, stored.id, text, header, error);
  }
  await auditExchange(ctx, stored.id, header, peer, result);
  return { response: result.response, messageId: stored.id, status: result.status };
}

/** Processes a stored message again (same checks, current mappings), replacing its outcome and acknowledgment. */
export async function reprocessHl7v2(ctx: ReceiveContext, messageId: string): Promise<Hl7Result | undefined> {
  const [row] = await ctx.sql<{ raw: Buffer; peer: string }[]>`
    SELECT raw, peer FROM message WHERE id = ${messageId} AND direction = 'inbound' AND protocol = 'hl7v2'`;
  if (!row) return undefined;
  const text = Buffer.from(row.raw).toString('utf8');
  const { header, error } = tryHeader(text);
  const result = await handle(ctx, messageId, text, header, error);
  await auditExchange(ctx, messageId, header, row.peer, result);
  return { response: result.response, messageId, status: result.status };
}

type Processed = { response: string; status: string; resources: string[] };

async function handle(
  ctx: ReceiveContext,
  id: string,
  text: string,
  header: MessageHeader | undefined,
  headerError: HeaderError | undefined
): Promise<Processed> {
  const ack = (code: AckCode, error?: AckError): string =>
    buildAck(header, { code, controlId: ctx.newControlId(), time: new Date(), text: error?.text, error });
  const fail = async (code: 'AR' | 'AE', status: 'rejected' | 'error', error: AckError): Promise<Processed> => {
    const response = ack(code, error);
    await finishMessage(ctx.sql, id, { status, response, outcome: outcome(code === 'AR' ? 'not-supported' : 'invalid', error.text, error.location) });
    ctx.log.info({ messageId: id, controlId: header?.controlId, type: header?.messageType, code: error.code }, `hl7v2 ${status}`);
    return { response, status, resources: [] };
  };
  if (!header) return fail('AR', 'rejected', { code: headerError?.code ?? '100', text: headerError?.message ?? 'Unreadable message', location: 'MSH' });
  if (!header.controlId) return fail('AR', 'rejected', { code: '101', text: 'MSH-10 (message control id) is empty', location: 'MSH^1^10' });
  if (!PROCESSING_IDS.has(header.processingId)) {
    return fail('AR', 'rejected', { code: '202', text: `Processing id "${header.processingId}" (MSH-11) is not P, D or T`, location: 'MSH^1^11' });
  }
  const handler = ctx.handlers.get(`${header.code}^${header.trigger}`);
  if (!handler) {
    return fail('AR', 'rejected', { code: '200', text: `Message type ${header.code}^${header.trigger} is not supported by this gateway`, location: 'MSH^1^9' });
  }
  try {
    const result = await handler(header, text);
    const response = ack('AA');
    await finishMessage(ctx.sql, id, { status: 'processed', response, resources: result.resources, unmapped: result.unmapped });
    return { response, status: 'processed', resources: result.resources };
  } catch (err) {
    // Content errors (validation, missing fields) → AE with the element; anything else → AE 207, kept for reprocessing.
    if (err instanceof OperationOutcomeError) {
      const issue = err.outcome.issue?.[0];
      return fail('AE', 'error', { code: errorCode(issue), text: issue?.diagnostics ?? issue?.details?.text ?? 'Invalid content', location: issue?.expression?.[0] });
    }
    ctx.log.error({ messageId: id, err: { name: (err as Error).name } }, 'hl7v2 handler failed');
    return fail('AE', 'error', { code: '207', text: 'Application internal error; the message is kept and can be reprocessed' });
  }
}

/** HL7 table 0357 code of a content error: given by the handler (details.coding), else from the issue type. */
function errorCode(issue: OperationOutcomeIssue | undefined): string {
  const given = issue?.details?.coding?.find((c) => c.system === 'http://terminology.hl7.org/CodeSystem/v2-0357')?.code;
  if (given) return given;
  switch (issue?.code) {
    case 'required':
      return '101'; // required field missing
    case 'value':
    case 'invalid':
    case 'structure':
      return '102'; // data type error
    case 'code-invalid':
      return '103'; // table value not found
    default:
      return '207';
  }
}

function tryHeader(text: string): { header?: MessageHeader; error?: HeaderError } {
  try {
    return { header: readHeader(text) };
  } catch (err) {
    return { error: err instanceof HeaderError ? err : new HeaderError('Unreadable message') };
  }
}

function senderOf(h: MessageHeader): string {
  return `${h.sendingApplication}^${h.sendingFacility}`;
}

async function auditExchange(ctx: ReceiveContext, messageId: string, header: MessageHeader | undefined, peer: string, r: Processed): Promise<void> {
  await ctx.audit.record(
    messageEvent({
      direction: 'inbound',
      protocol: 'hl7v2',
      messageType: header?.messageType ?? '',
      controlId: header?.controlId ?? '',
      messageId,
      peer,
      sender: header ? senderOf(header) : '',
      ack: r.response.split('\r')[1]?.slice(4, 6) ?? '', // MSA-1, whatever the field separator
      resources: r.resources,
    })
  );
}
