/**
 * End to end with a real sending system built on node-hl7-client: ADT^A04 over MLLP, AA back, the patient found
 * through FHIR search; a duplicate resend creates nothing new.
 */
import { Client, Message } from 'node-hl7-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';

let g: TestGateway;
beforeAll(async () => {
  g = await testGateway();
});
afterAll(async () => g?.stop());

describe('a node-hl7-client sender', () => {
  it('gets AA for an ADT^A04, the patient is searchable, and a resend creates nothing new', async () => {
    const mrn = unique('E2E');
    const control = unique('n').slice(-20);
    const text = [
      `MSH|^~\\&|PMS|CLINIC|FRONTDESK|FD|20260105120000||ADT^A04^ADT_A01|${control}|P|2.5.1`,
      'EVN|A04|20260105120000',
      `PID|1||${mrn}^^^CLINIC&2.16.840.1.113883.3.999.77&ISO^MR||Sender^Sam||19900101|M`,
    ].join('\r');
    const acks: string[] = [];
    const sender = new Client({ host: '127.0.0.1', version: '2.5.1' });
    const conn = sender.createConnection({ port: g.mllp.port, waitAck: true, version: '2.5.1' }, async (res) => {
      acks.push(res.getMessage().get('MSA.1').toString() + '|' + res.getMessage().get('MSA.2').toString());
    });
    try {
      await conn.sendMessage(new Message({ text }));
      for (let i = 0; i < 300 && acks.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
      expect(acks[0]).toBe(`AA|${control}`);
      const fhir = client(g);
      const found = await fhir('GET', `Patient?identifier=urn:oid:2.16.840.1.113883.3.999.77|${mrn}`);
      expect(found.body.entry).toHaveLength(1);
      expect(found.body.entry[0].resource.name[0]).toEqual({ family: 'Sender', given: ['Sam'] });

      await conn.sendMessage(new Message({ text }));
      for (let i = 0; i < 300 && acks.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(acks[1]).toBe(`AA|${control}`);
      const again = await fhir('GET', `Patient?identifier=urn:oid:2.16.840.1.113883.3.999.77|${mrn}`);
      expect(again.body.entry).toHaveLength(1);
      expect(again.body.entry[0].resource.meta.versionId).toBe('1');
      const [{ n }] = (await g.db.sql`SELECT count(*)::int AS n FROM message WHERE control_id = ${control}`) as unknown as [{ n: number }];
      expect(n).toBe(1);
    } finally {
      await conn.close();
      sender.closeAll?.();
    }
  });
});
