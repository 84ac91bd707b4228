/**
 * ADT registration over a real MLLP socket: AA only after the resources are stored, found again through FHIR
 * search; identity by identifiers; `""` versus empty; content errors answered AE with ERR.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registrationPlan } from '../../src/translate/hl7v2/adt.ts';
import { Hl7v2Message } from '../../src/translate/hl7v2/parse.ts';
import { client, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';
import { connectMllp, seg, type MllpTestClient } from '../helpers/hl7.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;
let mllp: MllpTestClient;

beforeAll(async () => {
  // Public samples are often sent as training (MSH-11 T): accepted here, as a test system would.
  g = await testGateway({ FRONTDESK_HL7_PROCESSING_ID: 'P,D,T' });
  fhir = client(g);
  mllp = await connectMllp(g.mllp.port);
});
afterAll(async () => {
  mllp?.close();
  await g?.stop();
});

/** One message over the file's connection: its ACK's segments. */
const send = async (message: string) => (await mllp.send(message.replace(/\r?\n/g, '\r'))).split('\r');

const FAC = 'FDTESTFAC';
function adt(o: { control: string; event?: string; mrn: string; pid?: string[]; in1?: string }) {
  const pid = o.pid ?? [];
  const field = (n: number, dflt: string) => pid[n] ?? dflt;
  const segs = [
    `MSH|^~\\&|REGAPP|${FAC}|FRONTDESK|FD|20260105120000||ADT^${o.event ?? 'A04'}^ADT_A01|${o.control}|P|2.5.1`,
    'EVN|A04|20260105120000',
    seg('PID', {
      1: '1', 3: field(3, `${o.mrn}^^^${FAC}&2.16.840.1.113883.3.999.42&ISO^MR`), 5: field(5, 'Testperson^Alex^J'),
      7: field(7, '19800405'), 8: field(8, 'F'), 11: field(11, '1 Main St^^Springfield^IL^62701^USA^H'),
      13: field(13, '^PRN^PH^^^555^0101234'), 16: field(16, 'M'),
    }),
    'PV1|1|O',
  ];
  if (o.in1) segs.push(o.in1);
  segs.push('ZFD|custom|data');
  return segs.join('\r') + '\r';
}
const MRN_SYSTEM = 'urn:oid:2.16.840.1.113883.3.999.42';

describe('ADT registration over MLLP', () => {
  it('stores the patient before answering AA, and the patient is then found by MRN', async () => {
    const mrn = unique('M');
    const control = unique('c').slice(-20);
    const [, msa] = await send(adt({ control, mrn }));
    expect(msa).toBe(`MSA|AA|${control}`);
    const res = await fhir('GET', `Patient?identifier=${MRN_SYSTEM}|${mrn}`);
    expect(res.body.entry).toHaveLength(1);
    const p = res.body.entry[0].resource;
    expect(p).toMatchObject({
      name: [{ family: 'Testperson', given: ['Alex', 'J'] }],
      birthDate: '1980-04-05',
      gender: 'female',
      address: [{ line: ['1 Main St'], city: 'Springfield', state: 'IL', postalCode: '62701', country: 'USA', use: 'home' }],
      telecom: [{ system: 'phone', value: '(555) 0101234', use: 'home' }],
      maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] },
    });
    expect(p.identifier[0]).toMatchObject({ system: MRN_SYSTEM, value: mrn, type: { coding: [{ code: 'MR' }] } });
    const [log] = (await g.db.sql`SELECT status, resources, unmapped FROM message WHERE control_id = ${control}`) as unknown as { status: string; resources: string[]; unmapped: string[] }[];
    expect(log).toMatchObject({ status: 'processed', resources: [`Patient/${p.id}`] });
    expect(log!.unmapped).toEqual(expect.arrayContaining(['ZFD', 'PV1 (no PV1-19 visit number: no Encounter made)']));
  });

  it('updates the same patient on a repeat for the same MRN; "" removes a value, an empty field keeps it', async () => {
    const mrn = unique('M');
    await send(adt({ control: unique('c').slice(-20), mrn }));
    const [, msa] = await send(adt({ control: unique('c').slice(-20), event: 'A08', mrn, pid: Object.assign([], { 5: 'Testperson^Alexandra', 8: '""', 11: '', 16: '' }) }));
    expect(msa).toMatch(/^MSA\|AA\|/);
    const res = await fhir('GET', `Patient?identifier=${MRN_SYSTEM}|${mrn}`);
    expect(res.body.entry).toHaveLength(1);
    const p = res.body.entry[0].resource;
    expect(p.meta.versionId).toBe('2');
    expect(p.name).toEqual([{ family: 'Testperson', given: ['Alexandra'] }]);
    expect(p.gender).toBeUndefined(); // PID-8 was ""
    expect(p.address[0].city).toBe('Springfield'); // PID-11 was empty: no information, kept
    expect(p.maritalStatus.coding[0].code).toBe('M');
  });

  it('answers a resend of the same control id with the first ACK and creates nothing new', async () => {
    const mrn = unique('M');
    const control = unique('c').slice(-20);
    const first = await send(adt({ control, mrn }));
    const again = await send(adt({ control, mrn }));
    expect(again.slice(1)).toEqual(first.slice(1));
    const res = await fhir('GET', `Patient?identifier=${MRN_SYSTEM}|${mrn}`);
    expect(res.body.entry).toHaveLength(1);
    expect(res.body.entry[0].resource.meta.versionId).toBe('1');
  });

  it('keeps the first outcome when a resend carries other content: the resend changes nothing', async () => {
    const mrn = unique('M');
    const control = unique('c').slice(-20);
    const first = await send(adt({ control, mrn }));
    const again = await send(adt({ control, mrn, pid: Object.assign([], { 5: 'Otherperson^Sam' }) }));
    expect(again.slice(1)).toEqual(first.slice(1));
    const res = await fhir('GET', `Patient?identifier=${MRN_SYSTEM}|${mrn}`);
    expect(res.body.entry[0].resource.name[0].family).toBe('Testperson');
    expect(res.body.entry[0].resource.meta.versionId).toBe('1');
  });

  it('processes one message sent on several connections at once exactly once, and answers each alike', async () => {
    const mrn = unique('M');
    const control = unique('c').slice(-20);
    const peers = await Promise.all(Array.from({ length: 4 }, () => connectMllp(g.mllp.port)));
    try {
      const answers = await Promise.all(peers.map((p) => p.send(adt({ control, mrn }))));
      const msas = answers.map((a) => a.split('\r')[1]);
      expect(new Set(msas)).toEqual(new Set([`MSA|AA|${control}`]));
      const res = await fhir('GET', `Patient?identifier=${MRN_SYSTEM}|${mrn}`);
      expect(res.body.entry).toHaveLength(1);
      expect(res.body.entry[0].resource.meta.versionId).toBe('1');
      const [row] = await g.db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM message WHERE direction = 'inbound' AND control_id = ${control}`;
      expect(row!.n).toBe(1);
    } finally {
      for (const p of peers) p.close();
    }
  });

  it('makes the payer and the coverage from IN1, and does not duplicate them on a repeat', async () => {
    const mrn = unique('M');
    const policy = unique('POL');
    const in1 = seg('IN1', {
      1: '1', 2: 'PLAN-GOLD', 3: `PAYER42^^^${FAC}&2.16.840.1.113883.3.999.43&ISO`, 4: 'Synthetic Mutual', 8: 'GRP-7',
      9: 'Acme Corp', 12: '20260101', 13: '20261231', 17: 'SEL', 22: '1', 36: policy, 49: `MEM-${policy}`,
    });
    for (let i = 0; i < 2; i++) expect((await send(adt({ control: unique('c').slice(-20), mrn, in1 })))[1]).toMatch(/^MSA\|AA\|/);
    const p = (await fhir('GET', `Patient?identifier=${MRN_SYSTEM}|${mrn}`)).body.entry[0].resource;
    const cov = await fhir('GET', `Coverage?beneficiary=Patient/${p.id}&_include=Coverage:payor`);
    const coverages = cov.body.entry.filter((e: any) => e.search.mode === 'match').map((e: any) => e.resource);
    expect(coverages).toHaveLength(1);
    expect(coverages[0]).toMatchObject({
      status: 'active',
      subscriberId: `MEM-${policy}`,
      subscriber: { reference: `Patient/${p.id}` },
      relationship: { coding: [{ code: 'self' }] },
      period: { start: '2026-01-01', end: '2026-12-31' },
      order: 1,
    });
    const payer = cov.body.entry.find((e: any) => e.search.mode === 'include').resource;
    expect(payer).toMatchObject({ name: 'Synthetic Mutual', identifier: [{ system: 'urn:oid:2.16.840.1.113883.3.999.43', value: 'PAYER42' }] });
  });

  it('answers AE with ERR 101 at PID-3 when the patient has no identifier, and stores nothing', async () => {
    const control = unique('c').slice(-20);
    const lines = await send(adt({ control, mrn: 'x', pid: Object.assign([], { 3: '' }) }));
    expect(lines[1]).toMatch(new RegExp(`^MSA\\|AE\\|${control}\\|`));
    expect(lines[2]).toContain('ERR||PID^1^3|101^Required field missing^HL70357|E');
  });

  it('answers AE with ERR 102 at PID-7 for an impossible birth date', async () => {
    const lines = await send(adt({ control: unique('c').slice(-20), mrn: unique('M'), pid: Object.assign([], { 7: '19801345' }) }));
    expect(lines[1]).toMatch(/^MSA\|AE\|/);
    expect(lines[2]).toContain('ERR||PID^1^7|102^Data type error^HL70357|E');
  });
});

describe('ADT samples of the corpus', () => {
  const DIR = join(import.meta.dirname, '../fixtures/hl7v2');
  const files = readdirSync(DIR).filter((f) => /\.hl7$/.test(f)).filter((f) => {
    const t = new Hl7v2Message(readFileSync(join(DIR, f), 'utf8')).first('MSH')?.raw(9) ?? '';
    return /^ADT\^A(01|04|08|28|31)/.test(t);
  });

  it('has registration samples', () => expect(files.length).toBeGreaterThanOrEqual(10));

  it.each(files)('%s is accepted (AA) and its patient is found by identifier', async (file) => {
    const text = readFileSync(join(DIR, file), 'utf8').replace(/^\uFEFF/, '');
    // the samples share control ids: make each one unique so none is taken for a resend
    const msg = text.replace(/^(MSH(?:\|[^|\r\n]*){8}\|)[^|\r\n]*/, `$1${unique('s').slice(-20)}`);
    const lines = await send(msg);
    expect(lines[1], lines.join('\n')).toMatch(/^MSA\|AA\|/);
    const plan = registrationPlan(new Hl7v2Message(msg), { timeZone: 'UTC' });
    const patient = plan.entries.find((e) => e.resource.resourceType === 'Patient')!;
    const res = await fhir('GET', `Patient?${patient.match}`);
    expect(res.body.entry.length).toBeGreaterThanOrEqual(1);
  });
});
