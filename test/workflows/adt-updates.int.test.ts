/**
 * ADT updates end to end (POST /hl7v2, real PostgreSQL): a field sent as `""` removes exactly what it feeds, an
 * empty field leaves the stored value alone, a valued field replaces what it feeds and no more — where two fields
 * feed one array (PID-13 home and PID-14 work phones) each its own slice; patients found by any PID-3 identifier.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, getToken, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';
import { postHl7, seg } from '../helpers/hl7.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;
beforeAll(async () => {
  g = await testGateway({ FRONTDESK_TIME_ZONE: 'America/Chicago' });
  fhir = client(g);
});
afterAll(async () => g?.stop());

async function post(message: string): Promise<string> {
  const { segments, text } = await postHl7(g, message);
  expect(segments[1], text).toMatch(/^MSA\|AA\|/);
  return text;
}

const id = () => unique('u').replace(/[^A-Za-z0-9]/g, '').slice(-18);
/** An ADT message: MSH, EVN, then the segments given. */
const adt = (event: string, ...segments: string[]) =>
  [`MSH|^~\\&|PMS|NORTHCLINIC|FRONTDESK|FD|20260105120000||ADT^${event}^ADT_A01|${id()}|P|2.5.1`, `EVN|${event}|20260105120000`, ...segments].join('\r');
const SYSTEM = 'urn:frontdesk:id:NORTHCLINIC';

async function patientOf(mrn: string) {
  const found = await fhir('GET', `Patient?identifier=${SYSTEM}|${mrn}`);
  expect(found.body.entry).toHaveLength(1);
  return found.body.entry[0].resource;
}
const phones = (p: { telecom?: { value: string; use?: string }[] }) => (p.telecom ?? []).map((t) => `${t.use}:${t.value}`);

describe('PID-13 and PID-14 each own their slice of Patient.telecom', () => {
  const registered = async () => {
    const mrn = id();
    const pid = (f: Record<number, string>) => seg('PID', { 1: '1', 3: `${mrn}^^^NORTHCLINIC^MR`, 5: 'Telford^Ines', 7: '19800101', 8: 'F', ...f });
    await post(adt('A04', pid({ 13: '^PRN^PH^^^217^5550101', 14: '^WPN^PH^^^217^5550202' })));
    expect(phones(await patientOf(mrn))).toEqual(['home:(217) 5550101', 'work:(217) 5550202']);
    return { mrn, pid };
  };

  it('PID-13 "" with PID-14 empty removes the home phone and keeps the work phone', async () => {
    const { mrn, pid } = await registered();
    await post(adt('A08', pid({ 13: '""' })));
    expect(phones(await patientOf(mrn))).toEqual(['work:(217) 5550202']);
  });

  it('PID-13 empty with a new work phone in PID-14 keeps the home phone and replaces the work phone', async () => {
    const { mrn, pid } = await registered();
    await post(adt('A08', pid({ 14: '^WPN^PH^^^217^5550303' })));
    const p = await patientOf(mrn);
    expect(phones(p)).toEqual(['home:(217) 5550101', 'work:(217) 5550303']);
    // The same message again changes nothing: no new version.
    await post(adt('A08', pid({ 14: '^WPN^PH^^^217^5550303' })));
    expect((await patientOf(mrn)).meta.versionId).toBe(p.meta.versionId);
  });
});

describe('"" removes what its field feeds, empty keeps it', () => {
  it('PID-15, PID-29/30, PD1-4, NK1, PV1 and IN1 fields', async () => {
    const [mrn, visit, gp, doc, ref] = [id(), `V${id()}`, `G${id()}`, `A${id()}`, `R${id()}`];
    const pid = (f: Record<number, string>) => seg('PID', { 1: '1', 3: `${mrn}^^^NORTHCLINIC^MR`, 5: 'Okafor^Ada', 7: '19450607', 8: 'F', 15: 'en^English', ...f });
    const pd1 = (gpField: string) => seg('PD1', { 4: gpField });
    const nk1 = (f: Record<number, string>) => seg('NK1', { 1: '1', 2: 'Okafor^Obi', 3: 'SPO^Spouse^HL70063', 5: '^PRN^PH^^^217^5550111', 6: '^WPN^PH^^^217^5550112', 16: '19440101', ...f });
    const pv1 = (f: Record<number, string>) =>
      seg('PV1', { 1: '1', 2: 'O', 3: 'CLINIC^101^^NORTHCLINIC', 7: `${doc}^Ng^Lee^^^Dr^^^NPI`, 8: `${ref}^Carver^Grace^^^Dr^^^NPI`, 19: `${visit}^^^NORTHCLINIC^VN`, 44: '202601051130', ...f });
    const in1 = (f: Record<number, string>) =>
      seg('IN1', { 1: '1', 3: `PAYER${mrn}^^^NPI`, 4: 'Prairie Health Plan', 12: '20260101', 13: '20261231', 17: 'SEL', 36: `POL${mrn}`, ...f });

    await post(adt('A04', pid({ 29: '202601010800', 30: 'Y' }), pd1(`${gp}^Carver^Grace^^^Dr^^^NPI`), nk1({}), pv1({}), in1({})));
    const before = await patientOf(mrn);
    expect(before).toMatchObject({ deceasedDateTime: '2026-01-01T08:00:00-06:00', communication: [{ language: { coding: [{ code: 'en' }] } }] });
    expect(before.generalPractitioner[0].reference).toMatch(/^Practitioner\//);

    // PID-15 "", PID-29 "" with PID-30 Y, PD1-4 "", NK1-5 and NK1-16 "", PV1-3 and PV1-7 "", IN1-13 "";
    // everything else empty (no information): kept. Each field is checked on its own (soft expectations).
    await post(adt('A08', pid({ 15: '""', 29: '""', 30: 'Y', 5: '', 7: '', 8: '' }), pd1('""'), nk1({ 5: '""', 6: '', 16: '""' }), pv1({ 3: '""', 7: '""', 8: '', 44: '' }), in1({ 12: '', 13: '""' })));
    const p = await patientOf(mrn);
    expect.soft(p.communication).toBeUndefined();
    expect.soft(p.deceasedDateTime).toBeUndefined();
    expect.soft(p.deceasedBoolean).toBe(true);
    expect.soft(p.generalPractitioner).toBeUndefined();
    expect.soft(p).toMatchObject({ name: [{ family: 'Okafor' }], birthDate: '1945-06-07', gender: 'female' });

    // PID-30 Y with PID-29 empty (no information) keeps a stored death date.
    const mrn2 = id();
    await post(adt('A04', seg('PID', { 1: '1', 3: `${mrn2}^^^NORTHCLINIC^MR`, 5: 'Dale^Dot', 29: '202601010800', 30: 'Y' })));
    await post(adt('A08', seg('PID', { 1: '1', 3: `${mrn2}^^^NORTHCLINIC^MR`, 5: 'Dale^Dot', 30: 'Y' })));
    const dated = await patientOf(mrn2);
    expect.soft(dated.deceasedDateTime).toBe('2026-01-01T08:00:00-06:00');
    expect.soft(dated.deceasedBoolean).toBeUndefined();
    expect.soft(dated.meta.versionId).toBe('1');

    const [kin] = (await fhir('GET', `RelatedPerson?patient=Patient/${p.id}`)).body.entry.map((e: any) => e.resource);
    expect.soft(phones(kin)).toEqual(['work:(217) 5550112']);
    expect.soft(kin.birthDate).toBeUndefined();
    expect.soft(kin.name[0].family).toBe('Okafor');

    const [encounter] = (await fhir('GET', `Encounter?identifier=${SYSTEM}|${visit}`)).body.entry.map((e: any) => e.resource);
    expect.soft(encounter.location).toBeUndefined();
    expect.soft(encounter.participant.map((x: any) => x.type[0].coding[0].code)).toEqual(['REF']);
    expect.soft(encounter.period).toEqual({ start: '2026-01-05T11:30:00-06:00' });

    const [coverage] = (await fhir('GET', `Coverage?beneficiary=Patient/${p.id}`)).body.entry.map((e: any) => e.resource);
    expect.soft(coverage.period).toEqual({ start: '2026-01-01' });
    expect.soft(coverage.subscriber.reference).toBe(`Patient/${p.id}`);

    // PID-30 "": the death indicator goes too.
    await post(adt('A08', pid({ 30: '""' })));
    const alive = await patientOf(mrn);
    expect(alive.deceasedBoolean).toBeUndefined();
    expect(alive.deceasedDateTime).toBeUndefined();
  });
});

describe('patients are matched by any PID-3 identifier', () => {
  it('a repeat listing another identifier first updates the same patient, which takes both identifiers', async () => {
    const [mrn, other] = [id(), id()];
    await post(adt('A04', `PID|1||${mrn}^^^NORTHCLINIC^MR||Lund^Eva||19700101|F`));
    await post(adt('A08', `PID|1||${other}^^^NORTHCLINIC^PI~${mrn}^^^NORTHCLINIC^MR||Lund^Eva||19700101|F`));
    const p = await patientOf(mrn);
    expect(p.identifier.map((i: any) => i.value)).toEqual([mrn, other]);
    const byOther = await fhir('GET', `Patient?identifier=${SYSTEM}|${other}`);
    expect(byOther.body.entry.map((e: any) => e.resource.id)).toEqual([p.id]);
  });

  it('never makes two people one Patient through a shared social security number in PID-3', async () => {
    const [a, b] = [id(), id()];
    // 999-99-9999: the placeholder front desks type when the patient has none at hand.
    await post(adt('A04', `PID|1||${a}^^^NORTHCLINIC^MR~999999999^^^USSSA^SS||Ames^Ada||19700101|F`));
    await post(adt('A04', `PID|1||${b}^^^NORTHCLINIC^MR~999999999^^^USSSA^SS||Byrd^Bo||19900101|M`));
    const [pa, pb] = [await patientOf(a), await patientOf(b)];
    expect(pa.id).not.toBe(pb.id);
    expect([pa.name[0].family, pb.name[0].family]).toEqual(['Ames', 'Byrd']);
    // A subscriber number the family shares is no key either; nor is an SSN alone in PID-3 when PID-2 has the MRN.
    const [c, d, sn] = [id(), id(), id()];
    await post(adt('A04', `PID|1||${c}^^^NORTHCLINIC^MR~${sn}^^^INS^SN||Cole^Cam||19700101|F`));
    await post(adt('A04', `PID|1||${d}^^^NORTHCLINIC^MR~${sn}^^^INS^SN||Cole^Dee||20100101|M`));
    expect((await patientOf(c)).id).not.toBe((await patientOf(d)).id);
    const [e, f] = [id(), id()];
    await post(adt('A04', `PID|1|${e}^^^NORTHCLINIC^MR|999999999^^^USSSA^SS||Eng^Eli||19700101|M`));
    await post(adt('A04', `PID|1|${f}^^^NORTHCLINIC^MR|999999999^^^USSSA^SS||Fox^Fay||19800101|F`));
    expect((await patientOf(e)).id).not.toBe((await patientOf(f)).id);
  });

  it('creates one Patient when two messages about a new patient, naming it by overlapping identifiers, arrive at once', async () => {
    const token = await getToken(g);
    const send = (m: string) => fetch(`${new URL(g.fhirUrl).origin}/hl7v2`, { method: 'POST', body: m, headers: { authorization: `Bearer ${token}` } }).then((r) => r.text());
    for (let round = 0; round < 8; round++) {
      const [a, b, c] = [id(), id(), id()];
      const acks = await Promise.all([
        send(adt('A04', `PID|1||${a}^^^NORTHCLINIC^MR~${b}^^^NORTHCLINIC^PI||Cole^Cy`)),
        send(adt('A04', `PID|1||${b}^^^NORTHCLINIC^PI~${c}^^^NORTHCLINIC^PT||Cole^Cy`)),
      ]);
      expect(acks.map((x) => x.split('\r')[1]?.slice(0, 7))).toEqual(['MSA|AA|', 'MSA|AA|']);
      const found = await fhir('GET', `Patient?identifier=${SYSTEM}|${b}`);
      expect(found.body.entry).toHaveLength(1);
    }
  });

  it('reads a comma inside an identifier as part of it, not as a second identifier to match', async () => {
    const [u, v] = [id(), id()];
    await post(adt('A04', `PID|1||${u}^^^NORTHCLINIC^MR||Ulm^Una`));
    await post(adt('A04', `PID|1||${v},${u}^^^NORTHCLINIC^MR||Vik^Val`));
    expect((await patientOf(u)).name[0].family).toBe('Ulm');
    const comma = await fhir('GET', `Patient?identifier=${SYSTEM}|${encodeURIComponent(`${v}\\,${u}`)}`);
    expect(comma.body.entry.map((e: any) => e.resource.name[0].family)).toEqual(['Vik']);
  });

  it('answers AE 205 when the PID-3 identifiers name two different patients', async () => {
    const [a, b] = [id(), id()];
    await post(adt('A04', `PID|1||${a}^^^NORTHCLINIC^MR||One^Ann`));
    await post(adt('A04', `PID|1||${b}^^^NORTHCLINIC^MR||Two^Ben`));
    const res = await fetch(`${new URL(g.fhirUrl).origin}/hl7v2`, { method: 'POST', body: adt('A08', `PID|1||${a}^^^NORTHCLINIC^MR~${b}^^^NORTHCLINIC^MR||One^Ann`), headers: { authorization: `Bearer ${await getToken(g)}` } });
    const ack = (await res.text()).split('\r');
    expect(ack[1]).toMatch(/^MSA\|AE\|/);
    expect(ack[2]).toContain('205^');
  });
});

describe('a message merged over a patient that changes meanwhile', () => {
  it('keeps the other writer\'s change: the merge runs again over the version committed in between', async () => {
    const mrn = id();
    const pid = (f: Record<number, string>) => seg('PID', { 1: '1', 3: `${mrn}^^^NORTHCLINIC^MR`, 5: 'Varga^Lia', 7: '19700302', 8: 'F', ...f });
    await post(adt('A04', pid({})));
    const before = await patientOf(mrn);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // Another writer changes the patient and holds its transaction open while the message is applied.
    const other = g.repo.transaction(async (tx) => {
      await tx.update({ ...before, maritalStatus: { text: 'Married' } });
      await held;
    });
    await new Promise((r) => setTimeout(r, 100));
    const message = post(adt('A08', pid({ 11: '1 Elm St^^Springfield^IL^62701' })));
    await new Promise((r) => setTimeout(r, 300)); // the message has read version 1 and waits on the row lock
    release();
    await other;
    await message;
    const after = await patientOf(mrn);
    expect(after.maritalStatus).toEqual({ text: 'Married' });
    expect(after.address?.[0]?.line).toEqual(['1 Elm St']);
    expect(Number(after.meta.versionId)).toBe(Number(before.meta.versionId) + 2);
  });
});

