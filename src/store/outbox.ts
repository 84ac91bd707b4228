/**
 * @module store/outbox — outbound HL7 v2 messages waiting for delivery, kept in the message table (migration 0014).
 *
 * {@link enqueue} is called inside the transaction of the change that causes the message, so the message exists
 * exactly when the change does. A destination's queue is its `pending` rows in id order; only its head is ever
 * handed out ({@link claimHeads}), by a compare-and-set of a lease, so one message per destination is in flight,
 * in order, across every gateway process sharing the database. A head waiting for its retry time holds its
 * queue: order per partner is kept even through an outage. Nothing here decides what a failure means: the worker
 * says whether to retry ({@link retryLater}) or to give up ({@link finishDelivery} with `failed`).
 */
import type { Sql } from 'postgres';

export type NewOutboundHl7 = {
  destination: string;
  /** The partner's receiving application and facility (MSH-5^MSH-6), as the message log shows senders. */
  receiver: string;
  sender: string;
  controlId: string;
  messageType: string;
  raw: Buffer;
  partner?: string;
  /** The message or resource change this one follows from, for the message log. */
  related?: string;
};

export type Claimed = {
  id: string;
  destination: string;
  controlId: string;
  messageType: string;
  partner: string | null;
  raw: Buffer;
  attempts: number;
  createdAt: Date;
};

export async function enqueue(sql: Sql, m: NewOutboundHl7): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    INSERT INTO message (direction, protocol, transport, sender, receiver, control_id, message_type, status, raw,
                         partner, related, destination, next_attempt_at)
    VALUES ('outbound', 'hl7v2', 'mllp', ${m.sender}, ${m.receiver}, ${m.controlId}, ${m.messageType}, 'pending',
            ${m.raw}, ${m.partner ?? null}, ${m.related ?? null}, ${m.destination}, now())
    RETURNING id::text`;
  if (!row) throw new Error('outbox insert returned no row');
  return row.id;
}

/**
 * Takes the head of each destination's queue that is due and not leased, for `leaseMs`; at most `limit` of
 * them, skipping `busy` destinations (those this process is already sending to).
 */
export async function claimHeads(sql: Sql, o: { leaseMs: number; limit: number; busy: readonly string[] }): Promise<Claimed[]> {
  return sql<Claimed[]>`
    WITH heads AS (
      SELECT DISTINCT ON (destination) id, destination, next_attempt_at, lease_until
      FROM message
      WHERE direction = 'outbound' AND status = 'pending' AND destination IS NOT NULL
      ORDER BY destination, id
    )
    UPDATE message m SET lease_until = clock_timestamp() + ${o.leaseMs} * interval '1 millisecond'
    FROM (
      SELECT id FROM heads
      WHERE next_attempt_at <= clock_timestamp() AND (lease_until IS NULL OR lease_until < clock_timestamp())
        AND NOT (destination = ANY(${sql.array(o.busy as string[])}::text[]))
      ORDER BY next_attempt_at LIMIT ${o.limit}
    ) due
    WHERE m.id = due.id AND m.status = 'pending' AND (m.lease_until IS NULL OR m.lease_until < clock_timestamp())
    RETURNING m.id::text, m.destination, m.control_id AS "controlId", m.message_type AS "messageType", m.partner,
      m.raw, m.attempts, m.received_at AS "createdAt"`;
}

/** The fate of a delivery: `processed` (ACK AA/CA) or `failed` (refused, or given up on: a dead letter). */
export async function finishDelivery(
  sql: Sql,
  id: string,
  f: { status: 'processed' | 'failed'; ack?: string; error?: string }
): Promise<void> {
  await sql`
    UPDATE message SET status = ${f.status}, response = ${f.ack ?? null}, last_error = ${f.error ?? null},
      attempts = attempts + 1, lease_until = NULL, processed_at = clock_timestamp()
    WHERE id = ${id}`;
}

/** Another try after `delayMs`; the queue of its destination waits for it. */
export async function retryLater(sql: Sql, id: string, delayMs: number, error: string): Promise<void> {
  await sql`
    UPDATE message SET attempts = attempts + 1, last_error = ${error}, lease_until = NULL,
      next_attempt_at = clock_timestamp() + ${delayMs} * interval '1 millisecond'
    WHERE id = ${id}`;
}

/** A dead letter sent again (`$resend`): back in its destination's queue at its place (its id), due now. */
export async function requeue(sql: Sql, id: string): Promise<boolean> {
  if (!/^\d{1,18}$/.test(id)) return false;
  const rows = await sql`
    UPDATE message SET status = 'pending', next_attempt_at = now(), lease_until = NULL, last_error = NULL
    WHERE id = ${id} AND direction = 'outbound' AND status = 'failed' AND destination IS NOT NULL
    RETURNING id`;
  return rows.length === 1;
}
