/**
 * @module store/messages — the message store: raw bytes, identity and fate of every message exchanged.
 */
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { Hl7v2Message } from '../translate/hl7v2/parse.ts';

export type NewInbound = {
  protocol: 'hl7v2' | 'x12';
  transport: 'mllp' | 'http';
  peer: string;
  sender: string;
  receiver: string;
  controlId: string;
  messageType: string;
  raw: Buffer;
  /** The configured partner it came from (src/partners.ts), if any. */
  partner?: string;
  /** The partner was established by the connection's credentials (certificate, OAuth client), not by MSH-3/4. */
  partnerAuthenticated?: boolean;
  /** When the door received it (before any queueing); the database's time otherwise. */
  receivedAt?: Date;
  /**
   * false: refused for who sent it or how, before its content was read; it does not claim (sender, control id), so a
   * genuine message with that id is not taken for its duplicate (migration 0012).
   */
  dedupe?: boolean;
  /** The message this one answers or forwards (`message.related`, migration 0013). */
  related?: string;
};

/** What the gateway sends: stored before it leaves, so a crash mid-exchange still shows what was sent. */
export type NewOutbound = Omit<NewInbound, 'partnerAuthenticated' | 'dedupe' | 'receivedAt'>;

/** `ageSeconds`: how long ago the row was received (for a duplicate: whether its first copy may still be running). */
export type StoredMessage = { id: string; status: string; response: string | null; ageSeconds?: number };

/** A message's fate: what {@link finishMessage} records, or {@link recordInbound} with the row. */
export type MessageOutcome = {
  status: 'processed' | 'rejected' | 'error';
  response: string;
  outcome?: OperationOutcome;
  resources?: string[];
  unmapped?: string[];
};

/**
 * Records a received message; with `done`, in its final state (processed or refused) in the same row write.
 * When (protocol, sender, control id) was seen before, nothing is inserted and the earlier row is returned with
 * `duplicate: true`, so the caller can answer with the first acknowledgment.
 */
export async function recordInbound(sql: Sql, m: NewInbound, done?: MessageOutcome): Promise<StoredMessage & { duplicate: boolean }> {
  const [row] = await sql<StoredMessage[]>`
    INSERT INTO message (direction, protocol, transport, peer, sender, receiver, control_id, message_type, status, raw, partner,
                         partner_authenticated, dedupe, received_at, response, outcome, resources, unmapped,
                         processed_at, related)
    VALUES ('inbound', ${m.protocol}, ${m.transport}, ${m.peer}, ${m.sender}, ${m.receiver}, ${m.controlId},
            ${m.messageType}, ${done?.status ?? 'received'}, ${m.raw}, ${m.partner ?? null},
            ${m.partnerAuthenticated ?? false}, ${m.dedupe ?? true}, ${m.receivedAt ? sql`${m.receivedAt.toISOString()}::timestamptz` : sql`now()`},
            ${done ? done.response : null}, ${done?.outcome ? sql.json(done.outcome as never) : null}::jsonb,
            ${done?.resources ?? []}, ${done?.unmapped ?? []}, ${done ? sql`clock_timestamp()` : null},
            ${m.related ?? null})
    ON CONFLICT (protocol, sender, control_id) WHERE direction = 'inbound' AND control_id <> '' AND dedupe DO NOTHING
    RETURNING id::text, status, response`;
  return row ? { ...row, duplicate: false } : firstCopy(sql, m);
}

/** The row an inbound message's earlier copy left (same protocol, sender and control id), as a duplicate. */
export async function firstCopy(sql: Sql, m: NewInbound): Promise<StoredMessage & { duplicate: true }> {
  const [first] = await sql<StoredMessage[]>`
    SELECT id::text, status, response, EXTRACT(EPOCH FROM clock_timestamp() - received_at)::float8 AS "ageSeconds"
    FROM message
    WHERE direction = 'inbound' AND protocol = ${m.protocol} AND sender = ${m.sender} AND control_id = ${m.controlId} AND dedupe`;
  if (!first) throw new Error('message vanished between insert and select');
  return { ...first, duplicate: true };
}

/** Records a message about to be sent (status `sending`); {@link finishMessage} records its fate. */
export async function recordOutbound(sql: Sql, m: NewOutbound): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    INSERT INTO message (direction, protocol, transport, peer, sender, receiver, control_id, message_type, status, raw,
                         partner, related)
    VALUES ('outbound', ${m.protocol}, ${m.transport}, ${m.peer}, ${m.sender}, ${m.receiver}, ${m.controlId},
            ${m.messageType}, 'sending', ${m.raw}, ${m.partner ?? null}, ${m.related ?? null})
    RETURNING id::text`;
  if (!row) throw new Error('message insert returned no row');
  return row.id;
}

export async function finishMessage(sql: Sql, id: string, f: MessageOutcome): Promise<void> {
  await sql`
    UPDATE message SET status = ${f.status}, response = ${f.response}, outcome = ${f.outcome ? sql.json(f.outcome as never) : null}::jsonb,
      resources = ${f.resources ?? []}, unmapped = ${f.unmapped ?? []}, processed_at = clock_timestamp()
    WHERE id = ${id}`;
}

export type MessageFilter = {
  status?: string;
  type?: string;
  sender?: string;
  partner?: string;
  since?: string;
  until?: string;
  direction?: string;
  count: number;
  offset: number;
};

export type MessageSummary = {
  id: string;
  direction: string;
  protocol: string;
  transport: string;
  peer: string;
  sender: string;
  receiver: string;
  controlId: string;
  messageType: string;
  receivedAt: string;
  processedAt: string | null;
  status: string;
  outcome: OperationOutcome | null;
  resources: string[];
  unmapped: string[];
  partner: string | null;
  /** The message this one answers or forwards. */
  related: string | null;
  /**
   * Outbound HL7 v2 (the outbox): where it goes, how often it was tried, when the next try is, why the last try
   * failed ({@link listedError}: in the list, never a partner's wording) and the partner's ACK, as codes.
   */
  destination: string | null;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string | null;
  ack?: AckSummary | null;
};

/**
 * A partner's ACK of an outbound message without its text: MSA-1 (HL7 table 0008), MSA-2 (our MSH-10), and when
 * the gateway recorded it. The text itself is on `GET /messages/{id}` (`response`).
 */
export type AckSummary = { code: string; controlId: string; receivedAt: string | null };

/** The message log, newest first, filtered; `type` matches MSH-9 by prefix (`ADT` or `ADT^A04`). */
export async function listMessages(sql: Sql, f: MessageFilter): Promise<{ messages: MessageSummary[]; hasMore: boolean }> {
  const rows = await sql<MessageRow[]>`
    SELECT id::text, direction, protocol, transport, peer, sender, receiver, control_id, message_type, received_at,
           processed_at, status, outcome, resources, unmapped, partner, related::text, destination, attempts,
           last_error, next_attempt_at, CASE WHEN destination IS NOT NULL THEN response END AS response
    FROM message
    WHERE true
      ${f.status ? sql`AND status = ${f.status}` : sql``}
      ${f.direction ? sql`AND direction = ${f.direction}` : sql``}
      ${f.type ? sql`AND message_type LIKE ${f.type.replace(/[\\%_]/g, '\\$&') + '%'}` : sql``}
      ${f.sender ? sql`AND sender = ${f.sender}` : sql``}
      ${f.partner ? sql`AND partner = ${f.partner}` : sql``}
      ${f.since ? sql`AND received_at >= ${f.since}` : sql``}
      ${f.until ? sql`AND received_at < ${f.until}` : sql``}
    ORDER BY received_at DESC, id DESC
    LIMIT ${f.count + 1} OFFSET ${f.offset}`;
  return { messages: rows.slice(0, f.count).map((r) => summary(r, 'listed')), hasMore: rows.length > f.count };
}

type FullMessage = MessageSummary & { raw: Buffer; response: string | null; relatedBy: string[] };

/**
 * One message with its raw bytes as stored (the door decides how to show them), and the messages that answer or
 * forward it (`relatedBy`): a 270 sent lists the payer's 271.
 */
export async function getMessage(sql: Sql, id: string): Promise<FullMessage | undefined> {
  if (!/^\d{1,18}$/.test(id)) return undefined;
  const [row] = await sql<(MessageRow & { raw: Buffer; related_by: string[] })[]>`
    SELECT id::text, direction, protocol, transport, peer, sender, receiver, control_id, message_type, received_at,
           processed_at, status, outcome, resources, unmapped, partner, related::text, destination, attempts, last_error,
           next_attempt_at, raw, response,
           ARRAY(SELECT r.id::text FROM message r WHERE r.related = message.id ORDER BY r.id) AS related_by
    FROM message WHERE id = ${id}`;
  if (!row) return undefined;
  return { ...summary(row, 'whole'), raw: Buffer.from(row.raw), response: row.response, relatedBy: row.related_by };
}

type MessageRow = {
  id: string;
  direction: string;
  protocol: string;
  transport: string;
  peer: string;
  sender: string;
  receiver: string;
  control_id: string;
  message_type: string;
  received_at: Date;
  processed_at: Date | null;
  status: string;
  outcome: OperationOutcome | null;
  resources: string[];
  unmapped: string[];
  partner: string | null;
  related: string | null;
  destination: string | null;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date | null;
  /** An outbox row's: the partner's ACK, as the worker read it. */
  response: string | null;
};

function summary(r: MessageRow, shown: 'listed' | 'whole'): MessageSummary {
  return {
    id: r.id,
    direction: r.direction,
    protocol: r.protocol,
    transport: r.transport,
    peer: r.peer,
    sender: r.sender,
    receiver: r.receiver,
    controlId: r.control_id,
    messageType: r.message_type,
    receivedAt: r.received_at.toISOString(),
    processedAt: r.processed_at?.toISOString() ?? null,
    status: r.status,
    outcome: r.outcome,
    resources: r.resources,
    unmapped: r.unmapped,
    partner: r.partner,
    related: r.related,
    destination: r.destination,
    attempts: r.attempts,
    lastError: shown === 'listed' ? listedError(r.last_error) : r.last_error,
    nextAttemptAt: r.next_attempt_at?.toISOString() ?? null,
    // Outbox rows only (an X12 270's answer is a message of its own). Pending: an ACK stored is from before a
    // `$resend`, not an answer to the copy on its way.
    ...(r.destination !== null ? { ack: r.status === 'pending' ? null : ackSummary(r.response, r.processed_at) } : {}),
  };
}

/**
 * The last error as the list shows it. The worker's own errors (no connection, no ACK in time, a malformed or
 * misdirected ACK, a dead letter) are its wording, with host:port and control ids at most. A refusal
 * (`AE: <MSA-3 or ERR text>`, outbound/outbox-worker.ts) carries the partner's free text, which often quotes the
 * value it refused — a name, a birth date, an MRN — so the list, which shows many messages at once and is audited
 * as one search, keeps the code only; `GET /messages/{id}`, audited as a read of that message, has the wording.
 */
function listedError(error: string | null): string | null {
  const refusal = /^(AE|AR|CE|CR): /.exec(error ?? '');
  return refusal ? `${refusal[1]}: refused by the partner (its reason is on GET /messages/{id})` : error;
}

/** MSA-1 and MSA-2 of an ACK stored whole; null when there is none (or it no longer reads as one). */
function ackSummary(ack: string | null, at: Date | null): AckSummary | null {
  if (!ack) return null;
  try {
    const msa = new Hl7v2Message(ack).first('MSA');
    if (!msa) return null;
    const code = msa.text(1)?.trim().toUpperCase() ?? '';
    return { code, controlId: msa.text(2)?.trim() ?? '', receivedAt: at?.toISOString() ?? null };
  } catch {
    return null;
  }
}

/** An inbound HL7 v2 message as stored, to be processed again; `truncated`: only its first bytes were kept. */
export async function storedInbound(
  sql: Sql, id: string
): Promise<{ raw: Buffer; peer: string; partner: string | null; partnerAuthenticated: boolean; truncated: boolean } | undefined> {
  const [row] = await sql<{ raw: Buffer; peer: string; partner: string | null; pa: boolean; truncated: boolean }[]>`
    SELECT raw, peer, partner, partner_authenticated AS pa,
           coalesce(outcome #>> '{issue,0,code}' = 'too-costly', false) AS truncated
    FROM message WHERE id = ${id} AND direction = 'inbound' AND protocol = 'hl7v2'`;
  return row && { raw: Buffer.from(row.raw), peer: row.peer, partner: row.partner, partnerAuthenticated: row.pa, truncated: row.truncated };
}
