/**
 * A front office's FHIR for referral tests, created through the gateway's FHIR API: a specialist office (an
 * Organization whose Endpoint is an MLLP listener, MSH-5 CARDIOAPP, MSH-6 CARDIO), a second office that refuses,
 * a patient with a coverage, a diagnosis and a referral letter; and the messages the specialist office sends back.
 * Every name and number is synthetic.
 */
import pino from 'pino';
import { MllpClient } from '../../src/outbound/mllp-client.ts';
import { seg } from './hl7.ts';

type Fhir = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

export type ReferralWorld = Awaited<ReturnType<typeof createReferralWorld>>;

const MLLP = { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7v2-mllp' };

export async function createReferralWorld(fhir: Fhir, officePort: number, refusingPort = officePort) {
  const id = async (type: string, body: object): Promise<string> => {
    const res = await fhir('POST', type, { resourceType: type, ...body });
    if (res.status !== 201) throw new Error(`${type}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  };
  const endpoint = (port: number, app: string, fac: string) =>
    id('Endpoint', {
      status: 'active',
      connectionType: MLLP,
      payloadType: [{ text: 'HL7 v2' }],
      address: `mllp://127.0.0.1:${port}`,
      header: [`MSH-5=${app}`, `MSH-6=${fac}`],
    });
  const specialistOrg = await id('Organization', {
    name: 'Cardio Partners',
    identifier: [{ system: 'urn:frontdesk:id:CARDIO', value: 'CP-1' }],
    endpoint: [{ reference: `Endpoint/${await endpoint(officePort, 'CARDIOAPP', 'CARDIO')}` }],
  });
  const refusingOrg = await id('Organization', {
    name: 'Busy Ortho',
    endpoint: [{ reference: `Endpoint/${await endpoint(refusingPort, 'ORTHOAPP', 'ORTHO')}` }],
  });
  const payerOrg = await id('Organization', {
    name: 'Acme Health',
    identifier: [{ system: 'urn:frontdesk:id:PAYERS', value: 'ACME01' }],
  });
  const patient = await id('Patient', {
    identifier: [{ system: 'urn:frontdesk:id:NORTHCLINIC', value: `MRN-${Date.now()}` }],
    name: [{ family: 'Quill', given: ['Ada'] }],
    birthDate: '1984-02-29',
    gender: 'female',
  });
  const practitioner = await id('Practitioner', {
    identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }],
    name: [{ family: 'Lovelace', given: ['Byron'] }],
  });
  await id('Coverage', {
    status: 'active',
    beneficiary: { reference: `Patient/${patient}` },
    payor: [{ reference: `Organization/${payerOrg}` }],
    subscriberId: 'W123456789',
    relationship: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: 'self' }],
    },
  });
  const condition = await id('Condition', {
    subject: { reference: `Patient/${patient}` },
    code: {
      coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'I20.9', display: 'Angina pectoris, unspecified' }],
    },
  });
  const letter = await id('DocumentReference', {
    status: 'current',
    type: { text: 'Referral letter' },
    subject: { reference: `Patient/${patient}` },
    content: [
      { attachment: { contentType: 'application/pdf', data: Buffer.from('%PDF-1.4 synthetic').toString('base64') } },
    ],
  });

  const referral = (performer = specialistOrg) => ({
    resourceType: 'ServiceRequest',
    status: 'active',
    intent: 'order',
    priority: 'routine',
    category: [{ coding: [{ system: 'http://snomed.info/sct', code: '3457005', display: 'Patient referral' }] }],
    code: { text: 'Cardiology consult' },
    subject: { reference: `Patient/${patient}` },
    requester: { reference: `Practitioner/${practitioner}` },
    performer: [{ reference: `Organization/${performer}` }],
    reasonReference: [{ reference: `Condition/${condition}` }],
    supportingInfo: [{ reference: `DocumentReference/${letter}` }],
    note: [{ text: 'Please see within two weeks.' }],
  });
  const msh = (type: string, control: string) =>
    `MSH|^~\\&|CARDIOAPP|CARDIO|FRONTDESK|NORTHCLINIC|${now()}+0000||${type}|${control}|P|2.5.1`;
  /** The office's answer: RF1-1 A accepted, R rejected; RF1-6 as the REF sent it (or empty, with MSA-2). */
  const rri = (control: string, status: string, rf16: string, msa2?: string) =>
    [
      msh('RRI^I12^RRI_I12', control),
      ...(msa2 ? [`MSA|AA|${msa2}`] : []),
      seg('RF1', { 1: `${status}^^HL70283`, 6: rf16 }),
      'PRD|RT|Hopper^Grace|||||1098765432^NPI',
    ].join('\r');
  /** The office books: SCH-2 its own id, SCH-26 the referral (RF1-6 of the REF). */
  const siu = (control: string, sch26: string) =>
    [
      msh('SIU^S12^SIU_S12', control),
      seg('SCH', {
        2: 'APPT-77',
        7: '^Consult',
        9: '30',
        10: 'min',
        11: '^^^20261215090000^20261215093000',
        25: 'Booked',
        26: sch26,
      }),
      `PID|1||MRN-X^^^NORTHCLINIC||Quill^Ada||19840229|F`,
      'RGS|1',
      'AIP|1||1098765432^Hopper^Grace^^^^^^NPI',
    ].join('\r');
  /** Another office: its Endpoint (MSH-5/6 as given) and Organization; the Organization's id. */
  const addOffice = async (port: number, app: string, fac: string, name: string) =>
    id('Organization', { name, endpoint: [{ reference: `Endpoint/${await endpoint(port, app, fac)}` }] });
  return { specialistOrg, refusingOrg, payerOrg, patient, referral, rri, siu, addOffice };
}

/** This instant as an HL7 DTM in UTC, to the second. */
const now = () => new Date().toISOString().replace(/\D/g, '').slice(0, 14);

/** A message sent to the gateway's MLLP door (`host:port`) as an office would; the ACK code, or what went wrong. */
export async function sendToGateway(mllpAddress: string, text: string): Promise<string> {
  const [host, port] = mllpAddress.split(':');
  const c = new MllpClient({ host: host as string, port: Number(port) }, { log: pino({ level: 'silent' }) });
  try {
    const control = text.split('\r')[0]?.split('|')[9] as string;
    const r = await c.send(Buffer.from(text), control);
    return r.ok ? r.code : `${'code' in r ? r.code : r.kind}: ${r.text}`;
  } finally {
    await c.close();
  }
}
