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
 * connection by the application acknowledgment (AA/AE) as MSH-16 asks. A batch (FHS/BHS…BTS/FTS) is split; each
 * message is stored and processed on its own, and the answer is a batch of their acknowledgments.
 */
import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { messageEvent } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Logger } from '../log.ts';
import { httpError, outcome } from '../outcome.ts';
import type { Partner, PartnerRegistry } from '../partners.ts';
import { finishMessage, recordInbound, type MessageOutcome, type NewInbound } from '../store/messages.ts';
import { buildAck, hl7Time, type AckCode, type AckError } from '../translate/hl7v2/ack.ts';
import { splitBatch } from '../translate/hl7v2/batch.ts';
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

const PROCESSING_IDS = ['P', 'D', 'T'];
const PROCESSING_NAMES: Record<string, string> = { P: 'production', D: 'debugging', T: 'training' };

/** An HL7 v2 input from a door: one message, or a batch of them. */
export async function receiveHl7v2Input(ctx: ReceiveContext, raw: Buffer, transport: 'mllp' | 'http', peer: Hl7Peer): Promise<Hl7Result & { messageIds: string[] }> {
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

/** `refusal`: the door's reason to refuse the message whole, before its content is read (see {@link handle}). */
export async function receiveHl7v2(ctx: ReceiveContext, raw: Buffer, transport: 'mllp' | 'http', peer: Hl7Peer, refusal?: AckError): Promise<Hl7Result> {
  const peek = tryHeader(raw.subarray(0, 4096).toString('latin1'));
  const claimed = peek.header ? partnerOf(ctx, peek.header) : undefined;
  const decoded = decodeHl7(raw, claimed?.hl7v2.charset);
  const text = decoded.text;
  const { header, error } = tryHeader(text);
  const partner = peer.partner ? ctx.partners?.partners.find((p) => p.id === peer.partner) : claimed;
  const inbound = inboundRow(header, raw, transport, peer, partner);
  const result = await handle(ctx, { inbound }, text, header, error, decoded.problem, refusal ?? notTheirs(peer.partner, header, claimed));
  await auditExchange(ctx, result.messageId, header, peer.address, result, partner);
  return { acks: result.acks, messageId: result.messageId, status: result.status };
}

/**
 * A frame over the size limit (MLLP): answered AR by the door, which keeps only its first bytes; they are stored as
 * a rejected message (with the size in its outcome) and the exchange audited, like any other refusal.
 */
export async function receiveOversized(ctx: ReceiveContext, head: Buffer, bytes: number, transport: 'mllp' | 'http', peer: Hl7Peer, ar: string): Promise<string> {
  const { header } = tryHeader(head.subarray(0, 4096).toString('latin1'));
  const claimed = header ? partnerOf(ctx, header) : undefined;
  const partner = peer.partner ? ctx.partners?.partners.find((p) => p.id === peer.partner) : claimed;
  const why = `Frame of at least ${bytes} bytes is over the size limit; refused, its first ${head.length} bytes kept`;
  const stored = await recordInbound(
    ctx.sql,
    // Not a claim on (sender, MSH-10): the same message sent again within the limit must be processed.
    { ...inboundRow(header, head, transport, peer, partner), dedupe: false },
    { status: 'rejected', response: ar, outcome: outcome('too-costly', why) }
  );
  ctx.log.info({ messageId: stored.id, bytes }, 'hl7v2 rejected: frame too large');
  await auditExchange(ctx, stored.id, header, peer.address, { acks: [ar], status: 'rejected', resources: [] }, partner);
  return ar;
}

/** A batch whose envelope lost something, stored whole as a rejected row (its problems in the outcome) and audited. */
async function keepBatch(ctx: ReceiveContext, raw: Buffer, transport: 'mllp' | 'http', peer: Hl7Peer, problems: string[], response: string): Promise<string> {
  const partner = peer.partner ? ctx.partners?.partners.find((p) => p.id === peer.partner) : undefined;
  const stored = await recordInbound(
    ctx.sql,
    { ...inboundRow(undefined, raw, transport, peer, partner), messageType: 'BATCH', dedupe: false },
    { status: 'rejected', response, outcome: outcome('structure', `Batch envelope: ${problems.join('; ')}; the whole input is kept here`) }
  );
  ctx.log.warn({ messageId: stored.id, problems: problems.length }, 'hl7v2 batch kept whole: segments outside any message');
  await auditExchange(ctx, stored.id, undefined, peer.address, { acks: [response], status: 'rejected', resources: [] }, partner);
  return stored.id;
}

/** The message store's row of a message received: who sent it, as what, through which door, when. */
function inboundRow(header: MessageHeader | undefined, raw: Buffer, transport: 'mllp' | 'http', peer: Hl7Peer, partner: Partner | undefined): NewInbound {
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

/** The configured partner whose sender keys match MSH-3/MSH-4. */
function partnerOf(ctx: ReceiveContext, h: MessageHeader): Partner | undefined {
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

type Processed = { acks: string[]; status: string; resources: string[] };

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

async function auditExchange(ctx: ReceiveContext, messageId: string, header: MessageHeader | undefined, peer: string, r: Processed, partner?: Partner): Promise<void> {
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
