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
 * Bytes become text with the sending partner's configured character set, else MSH-18 (./charset.ts). The
 * acknowledgments, their modes and the stored outcome are ./hl7v2-exchange.ts's. What a door hands over — a batch,
 * several messages, an oversized frame — is taken apart in ./hl7v2-input.ts, which passes each message here.
 */
import type { Sql } from 'postgres';
import { messageEvent } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Logger } from '../log.ts';
import { httpError } from '../outcome.ts';
import type { Partner, PartnerRegistry } from '../partners.ts';
import { storedInbound, type NewInbound } from '../store/messages.ts';
import type { AckError } from '../translate/hl7v2/ack.ts';
import { decodeHl7 } from '../translate/hl7v2/charset.ts';
import { HeaderError, peekHeader, readHeader, type MessageHeader } from '../translate/hl7v2/header.ts';
import { Hl7Exchange, type Outcome, type Processed, type Slot } from './hl7v2-exchange.ts';

export { splitAcks, type Processed } from './hl7v2-exchange.ts';

export type Hl7Applied = { resources: string[]; unmapped: string[] };

/**
 * `within`, when the handler writes in a transaction, is run inside it after its writes: the message's outcome
 * is then committed together with the resources (one commit instead of two). A handler may ignore it.
 */
export type Hl7Handler = (
  header: MessageHeader,
  text: string,
  within?: (sql: Sql, applied: Hl7Applied) => Promise<void>
) => Promise<Hl7Applied>;

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

/** A message's bytes read: its text, header (or why there is none), and the partner its MSH-3/MSH-4 name. */
type Decoded = {
  text: string;
  header?: MessageHeader;
  headerError?: HeaderError;
  charsetProblem?: string;
  claimed?: Partner;
};

/** The partner is found from a Latin-1 peek at MSH first, because its configured character set decodes the rest. */
function decode(ctx: ReceiveContext, raw: Buffer): Decoded {
  const peek = peekHeader(raw);
  const claimed = peek ? partnerOf(ctx, peek) : undefined;
  const { text, problem } = decodeHl7(raw, claimed?.hl7v2.charset);
  const { header, error } = tryHeader(text);
  return { text, header, headerError: error, charsetProblem: problem, claimed };
}

/** `refusal`: the door's reason to refuse the message whole, before its content is read (see {@link handle}). */
export async function receiveHl7v2(
  ctx: ReceiveContext,
  raw: Buffer,
  transport: 'mllp' | 'http',
  peer: Hl7Peer,
  refusal?: AckError
): Promise<Hl7Result> {
  const m = decode(ctx, raw);
  const partner = partnerFor(ctx, peer, m.claimed);
  const slot = { inbound: inboundRow(m.header, raw, transport, peer, partner) };
  const result = await handle(ctx, slot, m, refusal ?? notTheirs(peer.partner, m.header, m.claimed));
  await auditExchange(ctx, result.messageId, m.header, peer.address, result, partner);
  return { acks: result.acks, messageId: result.messageId, status: result.status };
}

/** The message store's row of a message received: who sent it, as what, through which door, when. */
export function inboundRow(
  header: MessageHeader | undefined,
  raw: Buffer,
  transport: 'mllp' | 'http',
  peer: Hl7Peer,
  partner: Partner | undefined
): NewInbound {
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
function notTheirs(
  certified: string | undefined,
  header: MessageHeader | undefined,
  claimed: Partner | undefined
): AckError | undefined {
  if (!certified || !header || claimed?.id === certified) return undefined;
  return {
    code: '207',
    text:
      `MSH-3/MSH-4 (${senderOf(header)}) is not a sender of partner "${certified}", whose credentials ` +
      '(client certificate or OAuth client) this connection presented',
    location: 'MSH^1^4',
  };
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
  const row = await storedInbound(ctx.sql, messageId);
  if (!row) return undefined;
  // An oversized frame was kept only in part: processing its first bytes would commit a message cut mid-segment.
  if (row.truncated) {
    const why = `Message ${messageId} was over the frame size limit and only its first ${row.raw.length} bytes were kept`;
    throw httpError(409, 'too-costly', `${why}: it cannot be reprocessed; ask the sender for it again`);
  }
  const m = decode(ctx, row.raw);
  // A message that came with a partner's credentials (certificate, OAuth client) is held to that partner's senders again.
  const certified = row.partnerAuthenticated && row.partner ? row.partner : undefined;
  const partner = certified ? ctx.partners?.partners.find((p) => p.id === certified) : m.claimed;
  const result = await handle(ctx, { id: messageId }, m, notTheirs(certified, m.header, m.claimed));
  await auditExchange(ctx, messageId, m.header, row.peer, result, partner);
  return { acks: result.acks, messageId, status: result.status };
}

/**
 * The message's way, step by step: unreadable → AR; an acknowledgment → kept, not answered; refused by the door or
 * by its header → AR; otherwise its handler applies it (./hl7v2-exchange.ts).
 */
async function handle(ctx: ReceiveContext, slot: Slot, m: Decoded, refused: AckError | undefined): Promise<Outcome> {
  // Refused for who sent it or how: its row does not claim (sender, MSH-10), so the genuine message with that id
  // is not taken for its duplicate later (migration 0012).
  const where = refused && 'inbound' in slot ? { inbound: { ...slot.inbound, dedupe: false } } : slot;
  const exchange = new Hl7Exchange(ctx, where, m.header);
  if (!m.header) {
    return exchange.fail('reject', {
      code: m.headerError?.code ?? '100',
      text: m.headerError?.message ?? 'Unreadable message',
      location: 'MSH',
    });
  }
  if (m.header.code === 'ACK' || m.header.code === 'MCF') return exchange.keepAcknowledgment(refused);
  const refusal = refused ?? headerRefusal(ctx, m.header);
  if (refusal) return exchange.fail('reject', refusal);
  const handler = ctx.handlers.get(`${m.header.code}^${m.header.trigger}`) as Hl7Handler;
  return exchange.apply(handler, m.text, m.charsetProblem);
}

/** What in MSH makes the message one this gateway does not take: control id, processing id, version, type. */
function headerRefusal(ctx: ReceiveContext, h: MessageHeader): AckError | undefined {
  if (!h.controlId) return { code: '101', text: 'MSH-10 (message control id) is empty', location: 'MSH^1^10' };
  const accepted = ctx.processingIds ?? PROCESSING_IDS;
  if (!accepted.includes(h.processingId)) {
    const what = PROCESSING_NAMES[h.processingId] ? ` (${PROCESSING_NAMES[h.processingId]})` : '';
    const ours = accepted.map((p) => `${p} (${PROCESSING_NAMES[p]})`).join(', ');
    return {
      code: '202',
      text: `Processing id "${h.processingId}"${what} (MSH-11): this gateway accepts ${ours}`,
      location: 'MSH^1^11',
    };
  }
  if (h.version && !/^2\.[1-9](\.\d+)*$/.test(h.version)) {
    return {
      code: '203',
      text: `Version "${h.version}" (MSH-12) is not an HL7 version 2 this gateway reads (2.1 to 2.9)`,
      location: 'MSH^1^12',
    };
  }
  if (!ctx.handlers.has(`${h.code}^${h.trigger}`)) {
    return {
      code: '200',
      text: `Message type ${h.code}^${h.trigger} is not supported by this gateway`,
      location: 'MSH^1^9',
    };
  }
  return undefined;
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

export async function auditExchange(
  ctx: ReceiveContext,
  messageId: string,
  header: MessageHeader | undefined,
  peer: string,
  r: Processed,
  partner?: Partner
): Promise<void> {
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
