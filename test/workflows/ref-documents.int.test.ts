/**
 * A referral letter that arrives with a REF^I12 (OBX of value type ED, a PDF in Base64, in an OBR group) is
 * stored as a DocumentReference about the patient, named by the referral's `supportingInfo`; the same referral
 * sent again (I13) updates that document instead of adding a second one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';
import { postHl7 } from '../helpers/hl7.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;
beforeAll(async () => {
  g = await testGateway({ FRONTDESK_TIME_ZONE: 'America/Chicago' });
  fhir = client(g);
});
afterAll(async () => g?.stop());

const id = () => unique('d').replace(/[^A-Za-z0-9]/g, '').slice(-20);
const PDF = Buffer.from('%PDF-1.4 synthetic referral letter').toString('base64');

function referral(event: string, ref: string, mrn: string, status: string): string {
  return [
    `MSH|^~\\&|PMS|NORTHCLINIC|FRONTDESK|FD|20260105120000||REF^${event}^REF_I12|${id()}|P|2.5.1`,
    `RF1|P^Pending^HL70283|R^Routine^HL70280|Med^Medical^HL70281||O|${ref}^NORTHCLINIC|||20260105`,
    `PID|1||${mrn}^^^NORTHCLINIC^MR||Okafor^Ada||19800101|F`,
    'OBR|1|||57133-1^Referral note^LN',
    `OBX|1|ED|57133-1^Referral note^LN||^AP^PDF^Base64^${PDF}||||||${status}|||20260105113000`,
    'PV1|1|O',
  ].join('\r');
}

describe('a referral letter sent with a REF', () => {
  it('becomes a DocumentReference of the referral, kept as one when the referral is sent again', async () => {
    const [ref, mrn] = [id(), id()];
    const first = await postHl7(g, referral('I12', ref, mrn, 'P'));
    expect(first.segments[1], first.text).toMatch(/^MSA\|AA/);
    const found = await fhir('GET', `ServiceRequest?identifier=urn:frontdesk:id:NORTHCLINIC|${ref}`);
    const sr = found.body.entry[0].resource;
    expect(sr.supportingInfo).toHaveLength(1);
    const doc = (await fhir('GET', sr.supportingInfo[0].reference)).body;
    expect(doc).toMatchObject({
      resourceType: 'DocumentReference', status: 'current', docStatus: 'preliminary',
      subject: { reference: sr.subject.reference },
      date: '2026-01-05T11:30:00-06:00',
      content: [{ attachment: { contentType: 'application/pdf', data: PDF } }],
    });
    expect(doc.type.coding[0]).toMatchObject({ system: 'http://loinc.org', code: '57133-1' });

    const again = await postHl7(g, referral('I13', ref, mrn, 'F'));
    expect(again.segments[1], again.text).toMatch(/^MSA\|AA/);
    const docs = await fhir('GET', `DocumentReference?subject=${sr.subject.reference}`);
    expect(docs.body.entry.map((e: any) => e.resource.id)).toEqual([doc.id]);
    expect(docs.body.entry[0].resource.docStatus).toBe('final');
  });
});
