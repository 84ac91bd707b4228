/**
 * HL7 v2 messages in flight together share one transaction (src/workflows/plan-batch.ts), over real MLLP sockets:
 * each AA comes after its own message and resources are visible to another connection; messages sent at once
 * share commits; two senders registering one new patient (or naming one new payer) at once make one of each; a
 * resend or a refused message among them takes no other with it.
 */
import { Writable } from 'node:stream';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testGateway, unique, type TestGateway } from '../helpers/gateway.ts';
import { connectMllp, type MllpTestClient } from '../helpers/hl7.ts';
import { statementsWhile } from '../helpers/database.ts';

let g: TestGateway;
let other: postgres.Sql;
const RUN = unique('b').slice(-8);
const MRN_OID = '2.16.840.1.113883.3.999.61';
const PAYER_OID = '2.16.840.1.113883.3.999.62';

/** The gateway's log lines (info and above), as parsed JSON. */
const logged: { msg?: string; messages?: number; err?: { name?: string } }[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logged.push(JSON.parse(line));
      done();
    },
  });
  g = await testGateway({ FRONTDESK_LOG_LEVEL: 'info' }, undefined, sink);
  other = postgres(inject('databaseUrl'), { max: 1, onnotice: () => undefined });
});
afterAll(async () => {
  await other?.end();
  await g?.stop();
});

/** A synthetic A04 with an IN1 naming payer `payer`. */
function a04(control: string, mrn: string, payer: string): string {
  const in1 = ['IN1', '1', 'PLAN-1', `${payer}^^^BATCHFAC&${PAYER_OID}&ISO`, `Synthetic Mutual ${payer}`];
  Object.assign(in1, { 12: '20260101', 17: 'SEL', 36: `POL${control}`, 49: `MEM${control}` });
  return (
    [
      `MSH|^~\\&|REGAPP|BATCHFAC|FRONTDESK|FD|20260105120000||ADT^A04^ADT_A01|${control}|P|2.5.1`,
      'EVN|A04|20260105120000',
      `PID|1||${mrn}^^^BATCHFAC&${MRN_OID}&ISO^MR||Batchperson^Sam||19800405|F`,
      'PV1|1|O',
      Array.from({ length: 50 }, (_, k) => in1[k] ?? '').join('|'),
    ].join('\r') + '\r'
  );
}

/** An A40 merging away a patient nobody registered: refused inside the batch (AE 204). */
function a40Unknown(control: string): string {
  return (
    [
      `MSH|^~\\&|REGAPP|BATCHFAC|FRONTDESK|FD|20260105120000||ADT^A40^ADT_A39|${control}|P|2.5.1`,
      'EVN|A40|20260105120000',
      `PID|1||K${control}^^^BATCHFAC&${MRN_OID}&ISO^MR||Keeper^Ann||19900101|F`,
      `MRG|NOBODY${control}^^^BATCHFAC&${MRN_OID}&ISO^MR`,
    ].join('\r') + '\r'
  );
}

async function connections(n: number): Promise<MllpTestClient[]> {
  return Promise.all(Array.from({ length: n }, () => connectMllp(g.mllp.port)));
}

const msaOf = (ack: string) => ack.split('\r').find((s) => s.startsWith('MSA|')) ?? '';

/** What another connection sees of a message and its resources the moment its ACK arrives. */
async function seenElsewhere(control: string) {
  const [m] = await other<{ status: string; resources: string[]; xmin: string }[]>`
    SELECT status, resources, xmin::text AS xmin FROM message
    WHERE direction = 'inbound' AND sender = 'REGAPP^BATCHFAC' AND control_id = ${control}`;
  const refs = m?.resources ?? [];
  const found = await other<{ n: number }[]>`
    SELECT count(*)::int AS n FROM resource r
    JOIN unnest(${refs.map((r) => r.split('/')[0] as string)}::text[], ${refs.map((r) => r.split('/')[1] as string)}::text[])
      AS k(t, i) ON r.resource_type = k.t AND r.id = k.i`;
  return { message: m, refs, stored: found[0]?.n ?? 0 };
}

const countBy = async (type: string, system: string, value: string) =>
  (
    await other<{ n: number }[]>`
      SELECT count(DISTINCT t.id)::int AS n FROM search_token t JOIN resource r USING (resource_type, id)
      WHERE t.resource_type = ${type} AND t.code = 'identifier' AND t.system = ${system} AND t.value = ${value}
        AND NOT r.deleted`
  )[0]?.n;

describe('HL7 v2 group commit', () => {
  it('answers each of 8 senders AA only once its own message and resources are visible, sharing commits', async () => {
    const senders = await connections(8);
    const xmins: string[] = [];
    await Promise.all(
      senders.map(async (c, s) => {
        for (let i = 0; i < 5; i++) {
          const control = `${RUN}${s}x${i}`;
          const ack = await c.send(a04(control, `M${control}`, `P${RUN}${i % 2}`));
          expect(msaOf(ack)).toBe(`MSA|AA|${control}`);
          const seen = await seenElsewhere(control);
          expect(seen.message?.status).toBe('processed');
          expect(seen.refs.some((r) => r.startsWith('Patient/'))).toBe(true);
          expect(seen.refs.some((r) => r.startsWith('Coverage/'))).toBe(true);
          expect(seen.stored).toBe(seen.refs.length);
          xmins.push(seen.message?.xmin as string);
        }
      })
    );
    senders.forEach((c) => c.close());
    expect(xmins).toHaveLength(40);
    // Messages that were in flight together were committed by one transaction.
    expect(new Set(xmins).size).toBeLessThan(40);
    for (const p of [0, 1]) expect(await countBy('Organization', `urn:oid:${PAYER_OID}`, `P${RUN}${p}`)).toBe(1);
  });

  it('makes one Patient and one payer when six senders register the same new patient at once', async () => {
    const [leader, ...senders] = await connections(7);
    const mrn = `SAME${RUN}`;
    // The leader's message keeps the batcher busy, so that the six arrive together and meet in one batch.
    const led = (leader as MllpTestClient).send(a04(`${RUN}lead`, `L${RUN}`, `P${RUN}0`));
    const acks = await Promise.all(senders.map((c, s) => c.send(a04(`${RUN}same${s}`, mrn, `NEWPAYER${RUN}`))));
    expect(msaOf(await led)).toBe(`MSA|AA|${RUN}lead`);
    [leader as MllpTestClient, ...senders].forEach((c) => c.close());
    acks.forEach((ack, s) => expect(msaOf(ack)).toBe(`MSA|AA|${RUN}same${s}`));
    expect(await countBy('Patient', `urn:oid:${MRN_OID}`, mrn)).toBe(1);
    expect(await countBy('Organization', `urn:oid:${PAYER_OID}`, `NEWPAYER${RUN}`)).toBe(1);
    const seen = await Promise.all(senders.map((_, s) => seenElsewhere(`${RUN}same${s}`)));
    expect(new Set(seen.map((x) => x.refs.find((r) => r.startsWith('Patient/')))).size).toBe(1);
  });

  it('lets a resend and a refused message among others take none of them down', async () => {
    const [first] = await connections(1);
    const resent = `${RUN}again`;
    const firstAck = await (first as MllpTestClient).send(a04(resent, `R${RUN}`, `P${RUN}0`));
    expect(msaOf(firstAck)).toBe(`MSA|AA|${resent}`);
    const senders = await connections(6);
    const led = (first as MllpTestClient).send(a04(`${RUN}lead2`, `L2${RUN}`, `P${RUN}0`));
    const sends = senders.map((c, s) => {
      if (s === 0) return c.send(a04(resent, `R${RUN}`, `P${RUN}0`));
      if (s === 1) return c.send(a40Unknown(`${RUN}bad`));
      return c.send(a04(`${RUN}ok${s}`, `OK${RUN}${s}`, `P${RUN}1`));
    });
    const acks = await Promise.all(sends);
    expect(msaOf(await led)).toBe(`MSA|AA|${RUN}lead2`);
    senders.forEach((c) => c.close());
    (first as MllpTestClient).close();
    expect(acks[0]).toBe(firstAck); // the first acknowledgment again, nothing applied twice
    expect(msaOf(acks[1] as string)).toMatch(new RegExp(`^MSA\\|AE\\|${RUN}bad\\|No active Patient`));
    for (let s = 2; s < 6; s++) {
      expect(msaOf(acks[s] as string)).toBe(`MSA|AA|${RUN}ok${s}`);
      const seen = await seenElsewhere(`${RUN}ok${s}`);
      expect(seen.stored).toBe(seen.refs.length);
    }
    expect(await countBy('Patient', `urn:oid:${MRN_OID}`, `R${RUN}`)).toBe(1);
    expect((await seenElsewhere(`${RUN}bad`)).message?.status).toBe('error');
    // The split is logged with the error's kind, never its text (which may quote the message).
    const split = logged.filter((l) => l.msg === 'hl7v2 batch failed: its messages applied one by one');
    expect(split.length).toBeGreaterThan(0);
    expect(split.every((l) => (l.messages ?? 0) > 1 && typeof l.err?.name === 'string')).toBe(true);
    expect(JSON.stringify(split)).not.toContain(RUN);
  });

  it('writes the message rows of a batch with one statement, reads nothing apart, rolls nothing back', async () => {
    const [leader, ...senders] = await connections(7);
    const before = logged.length;
    const sent = await statementsWhile(g.db.sql, async () => {
      const led = (leader as MllpTestClient).send(a04(`${RUN}lead3`, `L3${RUN}`, `P${RUN}0`));
      const acks = await Promise.all(senders.map((c, s) => c.send(a04(`${RUN}row${s}`, `ROW${RUN}${s}`, `P${RUN}1`))));
      acks.forEach((ack, s) => expect(msaOf(ack)).toBe(`MSA|AA|${RUN}row${s}`));
      await led;
    });
    [leader as MllpTestClient, ...senders].forEach((c) => c.close());
    // 7 messages, the leader alone and the six that arrived during its write together: 2 inserts, not 7.
    expect(sent.filter((q) => q.includes('INSERT INTO message')).length).toBeLessThanOrEqual(3);
    expect(sent.filter((q) => q.trim() === 'rollback')).toEqual([]);
    expect(logged.slice(before).filter((l) => l.msg?.startsWith('hl7v2 batch failed'))).toEqual([]);
    // The payer they merge over came with its match: no statement of its own reads it.
    expect(sent.filter((q) => q.includes('SELECT r.content FROM resource r'))).toEqual([]);
    for (let s = 0; s < 6; s++) expect((await seenElsewhere(`${RUN}row${s}`)).message?.status).toBe('processed');
  });
});
