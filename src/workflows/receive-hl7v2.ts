/**
 * @module workflows/receive-hl7v2 — what happens to an HL7 v2 message once a door (MLLP, HTTP) has it.
 *
 * Checked, then handed to the handler of its type; the raw message is stored with its outcome, in the transaction
 * of the resources it produced (one commit), or on its own when it was refused or failed (nothing is lost: a
 * message that fails is stored with the error and can be reprocessed). A resend of the same (sender, MSH-10) gets
 * the first acknowledgment again: its own writes are rolled back. The acknowledgment is returned only after the
 * database has recorded the outcome and the audit trail the exchange (durability before acknowledgement); a
 * message whose transaction never committed was never acknowledged, and its sender sends it again. Message types
 * without a handler get AR with the reason (HL7 table 0357 code 200), never a silent drop. A stored message can
 * be processed again (`reprocessHl7v2`), e.g. after a mapping was fixed.
 *
 * Bytes become text with the sending partner's configured character set, else MSH-18 (./charset.ts).
 * Acknowledgment modes (v2.5 §2.9): original mode (AA/AE/AR) unless MSH-15 or MSH-16 is valued; then enhanced
 * mode: a commit acknowledgment (CA once the message is stored, CR when it is refused: type, processing id) as
 * MSH-15 asks (AL always, NE never, ER only on error, SU only on success; empty → AL), followed on the same
 * connection by the application acknowledgment (AA/AE) as MSH-16 asks. What a door hands over — a batch, several
 * messages, an oversized frame — is taken apart in ./hl7v2-input.ts, which passes each message here.
 */
import { OperationOutcomeError } from '@medplum/core';
import type { Sql } from 'postgres';
import { messageEvent } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Logger } from '../log.ts';
import { httpError, outcome } from '../outcome.ts';
import type { Partner, PartnerRegistry } from '../partners.ts';
import { finishMessage, recordInbound, type MessageOutcome, type NewInbound } from '../store/messages.ts';
import { buildAck, errorCode, type AckCode, type AckError } from '../translate/hl7v2/ack.ts';
import { decodeHl7 } from '../translate/hl7v2/charset.ts';
import { HeaderError, readHeader, type MessageHeader } from '../translate/hl7v2/header.ts';

export type Hl7Applied = { resources: string[]; unmapped: string[] };

/**
 * `within`, when the handler writes in a transaction, is run inside it after its writes: the message's outcome
 * is then committed together with the resources (one commit instead of two). A handler may ignore it.
 */
export type Hl7Handler = (header: MessageHeader, text: string, within?: (sql: Sql, applied: Hl7Applied) => Promise<void>) => Promise<Hl7Applied>;

export type ReceiveContext = {
  sql: Sql;
  log: Logger;
  /** Handlers by `CODE^TRIGGER` (e.g. `ADT^A04`); the types listed in the README as supported. */
  handlers: ReadonlyMap<string, Hl7Handler>;
  newControlId: () => string;
  audit: AuditTrail;
  /** The configured trading partners: their character sets, Organizations and certificate identities. */
  partners?: PartnerRegistry;
  /** MSH-11 values accepted (FRONTDESK_HL7_PROCESSING_ID); default P, D and T. */
  processingIds?: readonly string[];
};

/**
 * Where a message came from: the remote address; the partner the connection's credentials belong to (its TLS
 * client certificate, or the OAuth client a partner lists), which MSH-3/MSH-4 must then agree with; and when the
 * door received its bytes (the message log's received time, before any wait in the connection's queue).
 */
export type Hl7Peer = { address: string; partner?: string; receivedAt?: Date };

/** `acks`: the acknowledgment messages to send back, in order (none, one, or commit + application). */
export type Hl7Result = { acks: string[]; messageId: string; status: string };

/** HL7 table 0103; all three are accepted unless the context says otherwise (FRONTDESK_HL7_PROCESSING_ID). */
const PROCESSING_NAMES: Record<string, string> = { P: 'production', D: 'debugging', T: 'training' };
const PROCESSING_IDS = Object.keys(PROCESSING_NAMES);

/** `refusal`: the door's reason to refuse the message whole, before its content is read (see {@link handle}). */
export async function receiveHl7v2(ctx: ReceiveContext, raw: Buffer, transport: 'mllp' | 'http', peer: Hl7Peer, refusal?: AckError): Promise<Hl7Result> {
  const peek = tryHeader(raw.subarray(0, 4096).toString('latin1'));
  const claimed = peek.header ? partnerOf(ctx, peek.header) : undefined;
  const decoded = decodeHl7(raw, claimed?.hl7v2.charset);
  const text = decoded.text;
  const { header, error } = tryHeader(text);
  const partner = partnerFor(ctx, peer, claimed);
  const inbound = inboundRow(header, raw, transport, peer, partner);
  const result = await handle(ctx, { inbound }, text, header, error, decoded.problem, refusal ?? notTheirs(peer.partner, header, claimed));
  await auditExchange(ctx, result.messageId, header, peer.address, result, partner);
  return { acks: result.acks, messageId: result.messageId, status: result.status };
}

/** The message store's row of a message received: who sent it, as what, through which door, when. */
export function inboundRow(header: MessageHeader | undefined, raw: Buffer, transport: 'mllp' | 'http', peer: Hl7Peer, partner: Partner | undefined): NewInbound {
  return {
    protocol: 'hl7v2',
    transport,
    peer: peer.address,
    sender: header ? senderOf(header) : '',
    receiver: header ? `${header.receivingApplication}^${header.receivingFacility}` : '',
    controlId: header?.controlId ?? '',
    messageType: header?.messageType ?? '',
    raw,
    partner: partner?.id,
    partnerAuthenticated: !!peer.partner,
    ...(peer.receivedAt ? { receivedAt: peer.receivedAt } : {}),
  };
}

/** A certificate speaks for one partner: it cannot send under another's (or an unknown) MSH-3/MSH-4. */
function notTheirs(certified: string | undefined, header: MessageHeader | undefined, claimed: Partner | undefined): AckError | undefined {
  if (!certified || !header || claimed?.id === certified) return undefined;
  return { code: '207', text: `MSH-3/MSH-4 (${senderOf(header)}) is not a sender of partner "${certified}", whose credentials (client certificate or OAuth client) this connection presented`, location: 'MSH^1^4' };
}

/** The partner a message belongs to: the one the connection's credentials speak for, else the one MSH-3/MSH-4 names. */
export function partnerFor(ctx: ReceiveContext, peer: Hl7Peer, claimed: Partner | undefined): Partner | undefined {
  return peer.partner ? ctx.partners?.partners.find((p) => p.id === peer.partner) : claimed;
}

/** The configured partner whose sender keys match MSH-3/MSH-4. */
export function partnerOf(ctx: ReceiveContext, h: MessageHeader): Partner | undefined {
  return ctx.partners?.bySender(h.sendingApplication, h.sendingFacility, h.delimiters.component);
}

/** Processes a stored message again (same checks, current mappings), replacing its outcome and acknowledgment. */
export async function reprocessHl7v2(ctx: ReceiveContext, messageId: string): Promise<Hl7Result | undefined> {
  const [row] = await ctx.sql<{ raw: Buffer; peer: string; partner: string | null; partner_authenticated: boolean; truncated: boolean }[]>`
    SELECT raw, peer, partner, partner_authenticated, coalesce(outcome #>> '{issue,0,code}' = 'too-costly', false) AS truncated
    FROM message WHERE id = ${messageId} AND direction = 'inbound' AND protocol = 'hl7v2'`;
  if (!row) return undefined;
  // An oversized frame was kept only in part: processing its first bytes would commit a message cut mid-segment.
  if (row.truncated) throw httpError(409, 'too-costly', `Message ${messageId} was over the frame size limit and only its first ${row.raw.length} bytes were kept: it cannot be reprocessed; ask the sender for it again`);
  const raw = Buffer.from(row.raw);
  const peek = tryHeader(raw.subarray(0, 4096).toString('latin1'));
  const claimed = peek.header ? partnerOf(ctx, peek.header) : undefined;
  const decoded = decodeHl7(raw, claimed?.hl7v2.charset);
  const { header, error } = tryHeader(decoded.text);
  // A message that came with a partner's credentials (certificate, OAuth client) is held to that partner's senders again.
  const certified = row.partner_authenticated && row.partner ? row.partner : undefined;
  const partner = certified ? ctx.partners?.partners.find((p) => p.id === certified) : claimed;
  const result = await handle(ctx, { id: messageId }, decoded.text, header, error, decoded.problem, notTheirs(certified, header, claimed));
  await auditExchange(ctx, messageId, header, row.peer, result, partner);
  return { acks: result.acks, messageId, status: result.status };
}

/** The stored acknowledgment text back into messages (each starts with MSH). */
export function splitAcks(response: string): string[] {
  if (!response) return [];
  return response.split(/\r(?=MSH)/).map((m) => (m.endsWith('\r') ? m : `${m}\r`));
}

export type Processed = { acks: string[]; status: string; resources: string[] };

/**
 * Where the outcome goes: the stored row of a message processed again, or a new row for a message just received
 * (written with its outcome, in the transaction of its resources when there is one).
 */
type Slot = { id: string } | { inbound: NewInbound };

/** Thrown inside the transaction of a message already recorded (a resend): rolls its writes back. */
class Resent extends Error {}

/** Table 0155: whether an acknowledgment is wanted for this outcome. Empty (in enhanced mode) counts as AL. */
function wanted(mode: string, success: boolean): boolean {
  return mode === '' || mode === 'AL' || (mode === 'ER' && !success) || (mode === 'SU' && success);
}

async function handle(
  ctx: ReceiveContext,
  slot: Slot,
  text: string,
  header: MessageHeader | undefined,
  headerError: HeaderError | undefined,
  charsetProblem?: string,
  refused?: AckError
): Promise<Processed & { messageId: string }> {
  // Refused for who sent it or how: its row does not claim (sender, MSH-10), so the genuine message with that id
  // is not taken for its duplicate later (migration 0012).
  if (refused && 'inbound' in slot) slot = { inbound: { ...slot.inbound, dedupe: false } };
  const enhanced = !!header && (header.acceptAckType !== '' || header.applicationAckType !== '');
  const ack = (code: AckCode, error?: AckError): string =>
    buildAck(header, { code, controlId: ctx.newControlId(), time: new Date(), text: error?.text, error });
  const acksFor = (level: 'reject' | 'error' | 'ok', error?: AckError): string[] => {
    if (!enhanced || !header) return [ack(level === 'reject' ? 'AR' : level === 'error' ? 'AE' : 'AA', error)];
    const out: string[] = [];
    if (wanted(header.acceptAckType, level !== 'reject')) out.push(ack(level === 'reject' ? 'CR' : 'CA', level === 'reject' ? error : undefined));
    if (level !== 'reject' && wanted(header.applicationAckType, level === 'ok')) out.push(ack(level === 'error' ? 'AE' : 'AA', error));
    return out;
  };
  // Records the outcome. A message received before (same sender and MSH-10) keeps its first outcome: `first`.
  const store = async (sql: Sql, done: MessageOutcome): Promise<{ id: string; first?: Processed }> => {
    if ('id' in slot) {
      await finishMessage(sql, slot.id, done);
      return { id: slot.id };
    }
    const s = await recordInbound(sql, slot.inbound, done);
    if (!s.duplicate) return { id: s.id };
    if (s.response === null) {
      await finishMessage(sql, s.id, done); // a row an interrupted earlier run left without an outcome
      return { id: s.id };
    }
    return { id: s.id, first: { acks: splitAcks(s.response), status: s.status, resources: [] } };
  };
  const resent = (s: { id: string; first?: Processed }) => {
    ctx.log.info({ messageId: s.id, controlId: header?.controlId }, 'hl7v2 duplicate: first acknowledgment resent');
    return { ...(s.first as Processed), messageId: s.id };
  };
  const fail = async (level: 'reject' | 'error', error: AckError): Promise<Processed & { messageId: string }> => {
    const acks = acksFor(level, error);
    const status = level === 'reject' ? 'rejected' : 'error';
    const s = await store(ctx.sql, { status, response: acks.join(''), outcome: outcome(level === 'reject' ? 'not-supported' : 'invalid', error.text, error.location) });
    if (s.first) return resent(s);
    ctx.log.info({ messageId: s.id, controlId: header?.controlId, type: header?.messageType, code: error.code }, `hl7v2 ${status}`);
    return { acks, status, resources: [], messageId: s.id };
  };
  if (!header) return fail('reject', { code: headerError?.code ?? '100', text: headerError?.message ?? 'Unreadable message', location: 'MSH' });
  // An acknowledgment is never acknowledged (v2.5 2.9.2): kept in the log, nothing sent back, whatever is wrong with it.
  if (header.code === 'ACK' || header.code === 'MCF') {
    const status = refused ? 'rejected' : 'processed';
    const why = refused ? refused.text : 'An acknowledgment: stored, not answered (an acknowledgment is never acknowledged)';
    const s = await store(ctx.sql, { status, response: '', outcome: outcome(refused ? 'forbidden' : 'informational', why, undefined, refused ? 'error' : 'information') });
    return { acks: [], status, resources: [], messageId: s.id };
  }
  if (refused) return fail('reject', refused);
  if (!header.controlId) return fail('reject', { code: '101', text: 'MSH-10 (message control id) is empty', location: 'MSH^1^10' });
  const accepted = ctx.processingIds ?? PROCESSING_IDS;
  if (!accepted.includes(header.processingId)) {
    const what = PROCESSING_NAMES[header.processingId] ? ` (${PROCESSING_NAMES[header.processingId]})` : '';
    const ours = accepted.map((p) => `${p} (${PROCESSING_NAMES[p]})`).join(', ');
    return fail('reject', { code: '202', text: `Processing id "${header.processingId}"${what} (MSH-11): this gateway accepts ${ours}`, location: 'MSH^1^11' });
  }
  const version = header.version;
  if (version && !/^2\.[1-9](\.\d+)*$/.test(version)) {
    return fail('reject', { code: '203', text: `Version "${version}" (MSH-12) is not an HL7 version 2 this gateway reads (2.1 to 2.9)`, location: 'MSH^1^12' });
  }

  const handler = ctx.handlers.get(`${header.code}^${header.trigger}`);
  if (!handler) {
    return fail('reject', { code: '200', text: `Message type ${header.code}^${header.trigger} is not supported by this gateway`, location: 'MSH^1^9' });
  }
  // Where `within` recorded the message (an object: the callback sets it, the catch reads it).
  const at: { stored?: { id: string; first?: Processed } } = {};
  try {
    const acks = acksFor('ok');
    // The message row goes in with its resources, in their transaction (one commit for both). A resend of a
    // message already recorded conflicts there: its writes are rolled back and the first acknowledgment stands.
    const within = async (sql: Sql, r: Hl7Applied) => {
      const unmapped = charsetProblem ? [...r.unmapped, `MSH-18: ${charsetProblem}`] : r.unmapped;
      at.stored = await store(sql, { status: 'processed', response: acks.join(''), resources: r.resources, unmapped });
      if (at.stored.first) throw new Resent();
    };
    const result = await handler(header, text, within);
    if (!at.stored) await within(ctx.sql, result); // a handler that writes without a transaction
    return { acks, status: 'processed', resources: result.resources, messageId: at.stored?.id ?? '' };
  } catch (err) {
    if (err instanceof Resent && at.stored?.first) return resent(at.stored);
    // Content errors (validation, missing fields) → AE with the element; anything else → AE 207, kept for reprocessing.
    if (err instanceof OperationOutcomeError) {
      const issue = err.outcome.issue?.[0];
      return fail('error', { code: errorCode(issue), text: issue?.diagnostics ?? issue?.details?.text ?? 'Invalid content', location: issue?.expression?.[0] });
    }
    ctx.log.error({ messageId: at.stored?.id, err: { name: (err as Error).name } }, 'hl7v2 handler failed');
    return fail('error', { code: '207', text: 'Application internal error; the message is kept and can be reprocessed' });
  }
}

export function tryHeader(text: string): { header?: MessageHeader; error?: HeaderError } {
  try {
    return { header: readHeader(text) };
  } catch (err) {
    return { error: err instanceof HeaderError ? err : new HeaderError('Unreadable message') };
  }
}

function senderOf(h: MessageHeader): string {
  return `${h.sendingApplication}^${h.sendingFacility}`;
}

export async function auditExchange(ctx: ReceiveContext, messageId: string, header: MessageHeader | undefined, peer: string, r: Processed, partner?: Partner): Promise<void> {
  await ctx.audit.record(
    messageEvent({
      direction: 'inbound',
      protocol: 'hl7v2',
      messageType: header?.messageType ?? '',
      controlId: header?.controlId ?? '',
      messageId,
      peer,
      sender: header ? senderOf(header) : '',
      ack: r.acks.map((a) => a.split('\r')[1]?.slice(4, 6) ?? '').join('+'), // MSA-1, whatever the field separator
      succeeded: r.status === 'processed',
      resources: r.resources,
      ...(partner?.reference ? { partner: partner.reference } : {}),
    })
  );
}
