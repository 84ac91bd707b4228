/**
 * @module store/sent — what the outbound message log says about a resource's messages: the questions the referral
 * and appointment workflows ask before they queue another one (is it new, what was last sent, was anything sent),
 * and which referral an answer that names only our MSH-10 is about.
 */
import type { Sql } from 'postgres';

/** The raw text of the last message of `types` queued about `subject` for `destination`. */
export async function lastSentRaw(
  sql: Sql,
  subject: string,
  destination: string,
  types: string[]
): Promise<Buffer | undefined> {
  const [row] = await sql<{ raw: Buffer }[]>`
    SELECT raw FROM message
    WHERE direction = 'outbound' AND subject = ${subject} AND destination = ${destination}
      AND message_type = ANY(${types})
    ORDER BY id DESC LIMIT 1`;
  return row?.raw;
}

/** The type of the last message of `types` queued about `subject` for `destination` that is not a dead letter. */
export async function lastLiveType(
  sql: Sql,
  subject: string,
  destination: string,
  types: string[]
): Promise<string | undefined> {
  const [row] = await sql<{ type: string }[]>`
    SELECT message_type AS type FROM message
    WHERE direction = 'outbound' AND subject = ${subject} AND destination = ${destination}
      AND message_type = ANY(${types}) AND status <> 'failed'
    ORDER BY id DESC LIMIT 1`;
  return row?.type;
}

/** Whether any message of `types` about `subject` was ever queued, to any destination. */
export async function everQueued(sql: Sql, subject: string, types: string[]): Promise<boolean> {
  const [row] = await sql`
    SELECT 1 FROM message WHERE direction = 'outbound' AND subject = ${subject} AND message_type = ANY(${types}) LIMIT 1`;
  return !!row;
}

/** The ServiceRequest of the last REF sent with MSH-10 `control` to the office `receiver` (or partner). */
export async function referralSentAs(
  sql: Sql,
  control: string,
  receiver: string,
  partner: string | undefined
): Promise<string | undefined> {
  const [row] = await sql<{ subject: string }[]>`
    SELECT subject FROM message
    WHERE direction = 'outbound' AND control_id = ${control} AND message_type LIKE 'REF^%'
      AND subject LIKE 'ServiceRequest/%' AND (receiver = ${receiver} OR partner = ${partner ?? null})
    ORDER BY id DESC LIMIT 1`;
  return row?.subject;
}
