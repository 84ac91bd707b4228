/**
 * @module store/messages — the message store: raw bytes, identity and fate of every message exchanged.
 */
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';

export type NewInbound = {
  protocol: 'hl7v2' | 'x12';
  transport: 'mllp' | 'http';
  peer: string;
  sender: string;
  receiver: string;
  controlId: string;
  messageType: string;
  raw: Buffer;
};

export type StoredMessage = { id: string; status: string; response: string | null };

/**
 * Records a received message. When (protocol, sender, control id) was seen before, nothing is inserted and the
 * earlier row is returned with `duplicate: true`, so the caller can answer with the first acknowledgment.
 */
export async function recordInbound(sql: Sql, m: NewInbound): Promise<StoredMessage & { duplicate: boolean }> {
  const [row] = await sql<StoredMessage[]>`
    INSERT INTO message (direction, protocol, transport, peer, sender, receiver, control_id, message_type, status, raw)
    VALUES ('inbound', ${m.protocol}, ${m.transport}, ${m.peer}, ${m.sender}, ${m.receiver}, ${m.controlId},
            ${m.messageType}, 'received', ${m.raw})
    ON CONFLICT (protocol, sender, control_id) WHERE direction = 'inbound' AND control_id <> '' DO NOTHING
    RETURNING id::text, status, response`;
  if (row) return { ...row, duplicate: false };
  const [first] = await sql<StoredMessage[]>`
    SELECT id::text, status, response FROM message
    WHERE direction = 'inbound' AND protocol = ${m.protocol} AND sender = ${m.sender} AND control_id = ${m.controlId}`;
  if (!first) throw new Error('message vanished between insert and select');
  return { ...first, duplicate: true };
}

export async function finishMessage(
  sql: Sql,
  id: string,
  f: { status: 'processed' | 'rejected' | 'error'; response: string; outcome?: OperationOutcome; resources?: string[]; unmapped?: string[] }
): Promise<void> {
  await sql`
    UPDATE message SET status = ${f.status}, response = ${f.response}, outcome = ${f.outcome ? sql.json(f.outcome as never) : null}::jsonb,
      resources = ${f.resources ?? []}, unmapped = ${f.unmapped ?? []}, processed_at = now()
    WHERE id = ${id}`;
}
