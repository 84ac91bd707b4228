/**
 * @module store/outbox — outbound HL7 v2 messages waiting for delivery, kept in the message table (migration 0014).
 *
 * {@link enqueue} is called inside the transaction of the change that causes the message, so the message exists
 * exactly when the change does; it takes a lock on the destination, so a destination's queue order (`queue_seq`)
 * is the order its messages committed in. A worker sends a destination's messages only while it holds that
 * destination's lease ({@link claim}: one compare-and-set on `outbox_lease`), so one message per destination is
 * in flight, in order, across every gateway process sharing the database; every write of a delivery's fate is
 * conditional on the lease still being the caller's, so a worker whose lease ran out cannot overwrite the next
 * holder's result. A head waiting for its retry time holds its queue: order is kept through an outage.
 */
import { randomUUID } from 'node:crypto';
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
  /** The message this one follows from, for the message log. */
  related?: string;
  /** The resource the message is about (`ServiceRequest/<id>`), migration 0015. */
  subject?: string;
};

export type Claimed = {
  id: string;
  destination: string;
  controlId: string;
  messageType: string;
  partner: string | null;
  /** The resource the message is about (`ServiceRequest/<id>`), when a workflow queued it. */
  subject: string | null;
  raw: Buffer;
  attempts: number;
  queuedAt: Date;
  /** The lease this delivery holds; its fate is written only while it does. */
  holder: string;
};

export async function enqueue(sql: Sql, m: NewOutboundHl7): Promise<string> {
  // Until this transaction ends, no other enqueuer of the destination draws a queue_seq: queue order = commit order.
  await sql`SELECT pg_advisory_xact_lock(7271, hashtext(${m.destination}))`;
  const [row] = await sql<{ id: string }[]>`
    INSERT INTO message (direction, protocol, transport, sender, receiver, control_id, message_type, status, raw,
                         partner, related, subject, resources, destination, queue_seq, queued_at, next_attempt_at)
    VALUES ('outbound', 'hl7v2', 'mllp', ${m.sender}, ${m.receiver}, ${m.controlId}, ${m.messageType}, 'pending',
            ${m.raw}, ${m.partner ?? null}, ${m.related ?? null}, ${m.subject ?? null},
            ${sql.array(m.subject ? [m.subject] : [])}::text[], ${m.destination}, nextval('outbox_queue_seq'),
            now(), now())
    RETURNING id::text`;
  if (!row) throw new Error('outbox insert returned no row');
  return row.id;
}

/**
 * Leases up to `limit` destinations whose head is due, skipping `busy` ones (this process is sending there), and
 * returns their heads. A destination leased by another live worker is left alone.
 */
export async function claim(sql: Sql, o: { leaseMs: number; limit: number; busy: readonly string[] }): Promise<Claimed[]> {
  const holder = randomUUID();
  const leased = await sql<{ destination: string }[]>`
    WITH heads AS (
      SELECT DISTINCT ON (destination) destination, next_attempt_at
      FROM message
      WHERE direction = 'outbound' AND status = 'pending' AND destination IS NOT NULL
      ORDER BY destination, queue_seq
    )
    INSERT INTO outbox_lease (destination, holder, lease_until)
    SELECT destination, ${holder}, clock_timestamp() + ${o.leaseMs} * interval '1 millisecond'
    FROM heads
    WHERE next_attempt_at <= clock_timestamp() AND NOT (destination = ANY(${sql.array(o.busy as string[])}::text[]))
    ORDER BY next_attempt_at
    LIMIT ${o.limit}
    ON CONFLICT (destination) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until
      WHERE outbox_lease.lease_until < clock_timestamp()
    RETURNING destination`;
  if (!leased.length) return [];
  // The heads read again under the leases: a retry committed meanwhile is not due, and its lease goes back.
  const heads = await sql<Omit<Claimed, 'holder'>[]>`
    SELECT DISTINCT ON (destination) id::text, destination, control_id AS "controlId", message_type AS "messageType",
      partner, subject, raw, attempts, queued_at AS "queuedAt"
    FROM message
    WHERE direction = 'outbound' AND status = 'pending' AND destination = ANY(${sql.array(leased.map((l) => l.destination))}::text[])
      AND next_attempt_at <= clock_timestamp()
    ORDER BY destination, queue_seq`;
  const taken = new Set(heads.map((h) => h.destination));
  const idle = leased.map((l) => l.destination).filter((d) => !taken.has(d));
  if (idle.length) await sql`DELETE FROM outbox_lease WHERE holder = ${holder} AND destination = ANY(${sql.array(idle)}::text[])`;
  return heads.map((h) => ({ ...h, holder }));
}

/**
 * The fate of a delivery, and the destination's lease given back — only if the caller still holds it (else
 * nothing is written and false is returned: another worker has the message now).
 */
export async function settle(
  sql: Sql,
  row: Claimed,
  f:
    | { status: 'processed' | 'failed'; ack?: string; error?: string }
    | { status: 'retry'; delayMs: number; error: string }
): Promise<boolean> {
  return (await sql.begin(async (tx) => {
    const [lease] = await tx`
      DELETE FROM outbox_lease WHERE destination = ${row.destination} AND holder = ${row.holder} RETURNING 1 AS ok`;
    if (!lease) return false;
    if (f.status === 'retry') {
      await tx`
        UPDATE message SET attempts = attempts + 1, last_error = ${f.error},
          next_attempt_at = clock_timestamp() + ${f.delayMs} * interval '1 millisecond'
        WHERE id = ${row.id} AND status = 'pending'`;
    } else {
      await tx`
        UPDATE message SET status = ${f.status}, response = ${f.ack ?? null}, last_error = ${f.error ?? null},
          attempts = attempts + 1, processed_at = clock_timestamp(), follow_up_pending = subject IS NOT NULL
        WHERE id = ${row.id} AND status = 'pending'`;
    }
    return true;
  })) as boolean;
}

/**
 * A dead letter sent again (`$resend`): at the end of its destination's queue (after what was sent meanwhile: an
 * older message must not overtake newer ones), with its attempts and age counted afresh.
 */
export async function requeue(sql: Sql, id: string): Promise<boolean> {
  if (!/^\d{1,18}$/.test(id)) return false;
  return (await sql.begin(async (tx) => {
    const [row] = await tx<{ destination: string }[]>`
      SELECT destination FROM message
      WHERE id = ${id} AND direction = 'outbound' AND status = 'failed' AND destination IS NOT NULL FOR UPDATE`;
    if (!row) return false;
    await tx`SELECT pg_advisory_xact_lock(7271, hashtext(${row.destination}))`;
    await tx`
      UPDATE message SET status = 'pending', queue_seq = nextval('outbox_queue_seq'), queued_at = now(), attempts = 0,
        next_attempt_at = now(), last_error = NULL
      WHERE id = ${id}`;
    return true;
  })) as boolean;
}

/** A final fate a workflow still has to act on (migration 0016). */
export type FollowUp = { id: string; subject: string; messageType: string; delivered: boolean; reason: string | null };

/** The final fates not yet acted on, oldest first: what a crash between the fate and its follow-up left. */
export async function pendingFollowUps(sql: Sql, limit: number): Promise<FollowUp[]> {
  return sql<FollowUp[]>`
    SELECT id::text, subject, message_type AS "messageType", status = 'processed' AS delivered, last_error AS reason
    FROM message WHERE follow_up_pending ORDER BY id LIMIT ${limit}`;
}

export async function followedUp(sql: Sql, id: string): Promise<void> {
  await sql`UPDATE message SET follow_up_pending = false WHERE id = ${id}`;
}
