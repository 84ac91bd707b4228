/**
 * The rows of inbound messages recorded in one turn share one insert (store/inbound-batch.ts): each message gets
 * its own row with what it carried, as recordInbound writes it; a message recorded before (same protocol, sender
 * and control id), or twice in one batch, gets the earlier row as a duplicate; messages without a control id are
 * never duplicates of one another.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Sql } from 'postgres';
import { connect } from '../../src/store/db.ts';
import { InboundBatcher } from '../../src/store/inbound-batch.ts';
import { recordInbound, type MessageOutcome, type NewInbound } from '../../src/store/messages.ts';
import { statementsWhile } from '../helpers/database.ts';
import { unique } from '../helpers/gateway.ts';

let sql: Sql;
beforeAll(() => {
  sql = connect(inject('databaseUrl'), 2);
});
afterAll(async () => sql?.end());

const sender = unique('IB');
const message = (controlId: string, extra: Partial<NewInbound> = {}): NewInbound => ({
  protocol: 'hl7v2',
  transport: 'mllp',
  peer: '127.0.0.1:4000',
  sender,
  receiver: 'FRONTDESK^FD',
  controlId,
  messageType: 'ADT^A04',
  raw: Buffer.from(`MSH|^~\\&|${sender}|||||ADT^A04|${controlId}|P|2.5.1\r\u00e9\u0000`, 'latin1'),
  ...extra,
});
const done = (k: number): MessageOutcome => ({
  status: 'processed',
  response: `MSH|ack ${k}\r`,
  resources: [`Patient/p${k}`, `Coverage/c${k}`],
  unmapped: k % 2 ? ['PID-99'] : [],
  outcome:
    k === 2
      ? { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] }
      : undefined,
});

const columns = `direction, protocol, transport, peer, sender, receiver, control_id, message_type, status, raw, partner,
  partner_authenticated, dedupe, received_at, response, outcome, resources, unmapped, processed_at IS NOT NULL AS done,
  related`;
const rowOf = async (id: string) => (await sql.unsafe(`SELECT ${columns} FROM message WHERE id = $1`, [id]))[0];

/** Records the messages in one turn inside one transaction, counting the statements that inserted them. */
async function together(items: [NewInbound, MessageOutcome][]) {
  let results: Awaited<ReturnType<InboundBatcher['record']>>[] = [];
  const sent = await statementsWhile(sql, () =>
    sql.begin(async (tx) => {
      const batcher = new InboundBatcher(tx as unknown as Sql);
      results = await Promise.all(items.map(([m, d]) => batcher.record(m, d)));
    })
  );
  return { results, inserts: sent.filter((q) => q.includes('INSERT INTO message')).length };
}

describe('inbound message rows recorded together', () => {
  it('writes each message its own row in one statement, the same row recordInbound writes', async () => {
    const at = new Date('2026-01-05T12:00:00.000Z');
    const items: [NewInbound, MessageOutcome][] = [0, 1, 2].map((k) => [
      message(`${sender}-${k}`, k === 1 ? { receivedAt: at, partner: 'acme', partnerAuthenticated: true } : {}),
      done(k),
    ]);
    const { results, inserts } = await together(items);
    expect(inserts).toBe(1);
    expect(results.map((r) => r.duplicate)).toEqual([false, false, false]);
    expect(new Set(results.map((r) => r.id)).size).toBe(3);
    for (const [k, r] of results.entries()) {
      expect(r.status).toBe('processed');
      expect(r.response).toBe(`MSH|ack ${k}\r`);
      // The same message recorded alone (another control id) leaves the same row.
      const [m, d] = items[k]!;
      const alone = await recordInbound(sql, { ...m, controlId: `${m.controlId}-alone` }, d);
      const [batched, single] = [await rowOf(r.id), await rowOf(alone.id)];
      const same = { control_id: '', received_at: k === 1 ? batched!.received_at : 'now()' };
      expect({ ...batched, ...same }).toEqual({ ...single, ...same });
      expect(Buffer.from(batched!.raw).equals(m.raw)).toBe(true);
      if (k === 1) expect(batched!.received_at.toISOString()).toBe(at.toISOString());
    }
  });

  it('answers a message recorded before, or twice in one batch, with the earlier row', async () => {
    const first = await recordInbound(sql, message(`${sender}-dup`), done(0));
    const { results } = await together([
      [message(`${sender}-dup`), done(1)],
      [message(`${sender}-twice`), done(2)],
      [message(`${sender}-twice`), done(3)],
      [message('', { dedupe: true }), done(4)],
      [message('', { dedupe: true }), done(5)],
    ]);
    expect(results[0]).toMatchObject({ id: first.id, duplicate: true, response: 'MSH|ack 0\r' });
    expect(results[1]).toMatchObject({ duplicate: false, response: 'MSH|ack 2\r' });
    expect(results[2]).toMatchObject({ id: results[1]!.id, duplicate: true, response: 'MSH|ack 2\r' });
    expect(results.slice(3).map((r) => r.duplicate)).toEqual([false, false]);
    expect(results[3]!.id).not.toBe(results[4]!.id);
  });
});
