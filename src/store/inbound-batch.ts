/**
 * @module store/inbound-batch — the rows of inbound messages recorded together go in with one statement.
 *
 * HL7 v2 messages in flight together are applied in one transaction (workflows/plan-batch.ts), and each records its
 * row there, all in the same turn. Sent one by one, those rows cost a statement each (built, sent, planned and run
 * apart); queued until the turn's synchronous work is done, they go as one insert of a JSON array. Each caller still
 * gets its own row, or, when its (protocol, sender, control id) was recorded before, the earlier row as a duplicate,
 * exactly as {@link recordInbound} answers one message. A lone row keeps recordInbound's statement.
 */
import type { Sql } from 'postgres';
import { firstCopy, recordInbound, type MessageOutcome, type NewInbound, type StoredMessage } from './messages.ts';

type Recorded = StoredMessage & { duplicate: boolean };
type Asked = { m: NewInbound; done: MessageOutcome; resolve: (r: Recorded) => void; reject: (e: unknown) => void };

export class InboundBatcher {
  private readonly sql: Sql;
  private queue: Asked[] = [];

  constructor(sql: Sql) {
    this.sql = sql;
  }

  /** Records a received message in its final state; see {@link recordInbound}. */
  record(m: NewInbound, done: MessageOutcome): Promise<Recorded> {
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) queueMicrotask(() => void this.flush());
      this.queue.push({ m, done, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0);
    try {
      if (batch.length === 1) {
        const a = batch[0]!;
        a.resolve(await recordInbound(this.sql, a.m, a.done));
        return;
      }
      const rows = await this.insert(batch);
      await Promise.all(
        batch.map(async (a, k) => {
          const row = rows[k];
          a.resolve(row ? { ...row, duplicate: false } : await firstCopy(this.sql, a.m));
        })
      );
    } catch (err) {
      for (const a of batch) a.reject(err);
    }
  }

  /** One insert for the batch; each message's new row, in the order asked, or undefined where it is a duplicate. */
  private async insert(batch: Asked[]): Promise<(StoredMessage | undefined)[]> {
    const json = JSON.stringify(batch.map(({ m, done }, k) => rowOf(m, done, k + 1)));
    const rows = await this.sql<(StoredMessage & { n: string })[]>`
      WITH x AS (
        SELECT x.*, nextval(pg_get_serial_sequence('message', 'id')) AS id
        FROM json_to_recordset(${json}::text::json) AS x(
          protocol text, transport text, peer text, sender text, receiver text, control_id text, message_type text,
          status text, raw text, partner text, partner_authenticated boolean, dedupe boolean, received_at timestamptz,
          response text, outcome jsonb, resources json, unmapped json, related bigint, n bigint)
      ), ins AS (
        INSERT INTO message (id, direction, protocol, transport, peer, sender, receiver, control_id, message_type,
                             status, raw, partner, partner_authenticated, dedupe, received_at, response, outcome,
                             resources, unmapped, processed_at, related)
        SELECT id, 'inbound', protocol, transport, peer, sender, receiver, control_id, message_type, status,
               decode(raw, 'base64'), partner, partner_authenticated, dedupe, coalesce(received_at, now()), response,
               outcome, ARRAY(SELECT json_array_elements_text(resources)),
               ARRAY(SELECT json_array_elements_text(unmapped)), clock_timestamp(), related
        FROM x ORDER BY n
        ON CONFLICT (protocol, sender, control_id) WHERE direction = 'inbound' AND control_id <> '' AND dedupe
        DO NOTHING
        RETURNING id, status, response)
      SELECT x.n, ins.id::text, ins.status, ins.response FROM x JOIN ins ON ins.id = x.id`;
    const out: (StoredMessage | undefined)[] = new Array(batch.length);
    for (const { n, ...row } of rows) out[Number(n) - 1] = row;
    return out;
  }
}

/** A message and its outcome as one element of the insert's JSON array; `n`: its place in the batch. */
function rowOf(m: NewInbound, done: MessageOutcome, n: number) {
  return {
    n,
    protocol: m.protocol,
    transport: m.transport,
    peer: m.peer,
    sender: m.sender,
    receiver: m.receiver,
    control_id: m.controlId,
    message_type: m.messageType,
    status: done.status,
    raw: m.raw.toString('base64'),
    partner: m.partner ?? null,
    partner_authenticated: m.partnerAuthenticated ?? false,
    dedupe: m.dedupe ?? true,
    received_at: m.receivedAt?.toISOString() ?? null,
    response: done.response,
    outcome: done.outcome ?? null,
    resources: done.resources ?? [],
    unmapped: done.unmapped ?? [],
    related: m.related ?? null,
  };
}

const batchers = new WeakMap<Sql, InboundBatcher>();

/** The batcher of a pool or a transaction: rows recorded in one turn on it share a statement. */
export function inboundBatcherFor(sql: Sql): InboundBatcher {
  let b = batchers.get(sql);
  if (!b) batchers.set(sql, (b = new InboundBatcher(sql)));
  return b;
}
