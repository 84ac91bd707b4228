/**
 * @module translate/hl7v2/ref-out — a referral (ServiceRequest and what it names) as REF^I12 (new), I13 (modify)
 * or I14 (cancel), structure REF_I12, pure: the inverse of the inbound ./ref.ts, which reads every field written
 * here back into the same FHIR.
 *
 * RF1 from mappings/hl7v2/referral.json plus RF1-3 (the category that is not the referral's) and RF1-6 (the
 * referral's identifier as an EI); PRD RP (the requester) and RT (the performer): name, address, telecom and
 * identifiers (PLN) of the practitioner, name and identifier (XON) of the organization; PID from
 * mappings/hl7v2/patient.json; IN1 from coverage.json, payer.json and subscriber.json; DG1 from condition.json
 * (the `reasonReference` Conditions, and the `reasonCode`s that are coded diagnoses rather than table 0336 reasons);
 * each `supportingInfo` document as an OBX in an OBR group — its content as ED (Base64) when the attachment
 * carries it, else a reference pointer (RP) to its URL; then a PV1 (outpatient), so the message's NTEs (the
 * notes) are not read as notes of the last OBX.
 */
import type {
  CodeableConcept,
  Condition,
  Coverage,
  DocumentReference,
  Identifier,
  Organization,
  Patient,
  Practitioner,
  RelatedPerson,
  ServiceRequest,
} from '@medplum/fhirtypes';
import { cwe, cx, dtm, ei, xad, xpn, xtn } from './datatypes-out.ts';
import type { Field, OutSegment, Repetition } from './encode.ts';
import { fieldMap } from './fieldmap.ts';
import { fieldsFromMap } from './fieldmap-out.ts';
import { systemNamespace, reverseLookup } from './mappings.ts';
import { mshSegment, pidSegment, segmentOf, type Envelope } from './out-segments.ts';

export const REFERRAL_CATEGORY = { system: 'http://snomed.info/sct', code: '3457005' };
const REFERRAL_REASON = 'http://terminology.hl7.org/CodeSystem/v2-0336';

/** The people and organizations on either side of the referral. */
export type Party = { practitioner?: Practitioner; organization?: Organization };

export type InsuranceOut = { coverage: Coverage; payer?: Organization; subscriber?: RelatedPerson };

/** Everything a REF says, read from the store by the workflow (src/workflows/referral-out.ts). */
export type ReferralOut = {
  event: 'I12' | 'I13' | 'I14';
  referral: ServiceRequest;
  /** RF1-6: the identifier the specialist answers with (RRI RF1-6, SIU SCH-26). */
  referralId: Identifier;
  patient: Patient;
  requester: Party;
  performer: Party;
  insurance: InsuranceOut[];
  conditions: Condition[];
  documents: DocumentReference[];
};

/** The REF^I12/I13/I14 as segments, ready for ./encode.ts. */
export function referralMessage(env: Envelope, r: ReferralOut): OutSegment[] {
  const segments: OutSegment[] = [mshSegment(env, ['REF', r.event, 'REF_I12']), rf1(r)];
  segments.push(...prd('RP', r.requester), ...prd('RT', r.performer));
  segments.push(pidSegment(r.patient));
  r.insurance.forEach((ins, i) => segments.push(in1(ins, i)));
  [...r.conditions, ...diagnosesIn(r.referral)].forEach((c, i) => segments.push(dg1(c, i)));
  const observations = r.documents.flatMap((d) => (d.content ?? []).map((c) => ({ doc: d, attachment: c.attachment })));
  if (observations.length) {
    segments.push(
      segmentOf(
        'OBR',
        new Map([
          [1, [['1']]],
          [4, [cwe(r.documents[0]?.type) ?? [undefined, 'Referral documents']]],
        ])
      )
    );
    observations.forEach((o, i) => segments.push(obx(o.doc, o.attachment, i)));
    segments.push(
      segmentOf(
        'PV1',
        new Map([
          [1, [['1']]],
          [2, [['O']]],
        ])
      )
    );
  }
  const notes = r.referral.note?.map((n) => n.text).filter((t): t is string => !!t) ?? [];
  notes.forEach((t, i) =>
    segments.push(
      segmentOf(
        'NTE',
        new Map([
          [1, [[String(i + 1)]]],
          [3, [[t]]],
        ])
      )
    )
  );
  return segments;
}

/** RF1-10 is the referral reason of table 0336 (or a reason in words); a coded diagnosis goes in a DG1. */
function isReferralReason(c: CodeableConcept): boolean {
  const coded = c.coding?.filter((k) => k.code) ?? [];
  return !coded.length || coded.some((k) => k.system === REFERRAL_REASON);
}

/** The coded `reasonCode`s that are diagnoses (ICD-10, SNOMED, …), as the Conditions a DG1 is written from. */
function diagnosesIn(sr: ServiceRequest): Condition[] {
  const subject = { reference: sr.subject?.reference };
  return (sr.reasonCode ?? [])
    .filter((c) => !isReferralReason(c))
    .map((code) => ({ resourceType: 'Condition', code, subject }));
}

function rf1(r: ReferralOut): OutSegment {
  const reasons = r.referral.reasonCode?.filter(isReferralReason);
  const fields = fieldsFromMap(fieldMap('referral'), 'RF1', { ...r.referral, reasonCode: reasons });
  const type = r.referral.category?.find(
    (c) => !c.coding?.some((k) => k.system === REFERRAL_CATEGORY.system && k.code === REFERRAL_CATEGORY.code)
  );
  const t = cwe(type);
  if (t) fields.set(3, [t]);
  fields.set(6, [ei(r.referralId) as Repetition]);
  return segmentOf('RF1', fields);
}

/**
 * PRD: 1 role (table 0286), 2 name, 3 address, 5 telecom, 7 identifiers; 10 the organization, 11 its address,
 * 13 its telecom.
 */
function prd(role: string, p: Party): OutSegment[] {
  const who = p.practitioner;
  const org = p.organization;
  if (!who && !org) return [];
  const fields = new Map<number, Field>([[1, [[role]]]]);
  const set = (n: number, reps: (Repetition | undefined)[] | undefined) => {
    const ok = (reps ?? []).filter((x): x is Repetition => x !== undefined);
    if (ok.length) fields.set(n, ok);
  };
  set(2, who?.name?.map(xpn));
  set(3, who?.address?.map(xad));
  set(5, who?.telecom?.map(xtn));
  set(7, who?.identifier?.map(pln));
  if (org) {
    set(10, [xon(org)]);
    set(11, org.address?.map(xad));
    set(13, org.telecom?.map(xtn));
  }
  return [segmentOf('PRD', fields)];
}

/** Identifier → PLN: 1 the id, 2 its type, the authority name (`NPI`) the inbound reads the system back from. */
function pln(id: Identifier): Repetition | undefined {
  if (!id.value || !id.system) return undefined;
  const type = systemNamespace(id.system) ?? /^urn:frontdesk:id:(.+)$/.exec(id.system)?.[1];
  return type ? [id.value, decodeURIComponent(type)] : undefined;
}

/** Organization → XON: 1 name, 6 assigning authority, 10 organization identifier. */
function xon(org: Organization): Repetition {
  const id = org.identifier?.find((i) => i.value && i.system);
  const hd = id ? (cx(id)?.[3] as Repetition[number]) : undefined;
  return [org.name, undefined, undefined, undefined, undefined, hd, undefined, undefined, undefined, id?.value];
}

/** IN1: 1 set id, 2 plan, 3 the payer's id, 4–5 (payer.json), 8–9 group, 12–22 (coverage.json), 16–19 the insured. */
function in1(ins: InsuranceOut, i: number): OutSegment {
  const c = ins.coverage;
  const fields = new Map<number, Field>([[1, [[String(i + 1)]]]]);
  const payerId = ins.payer?.identifier?.find((x) => x.value);
  if (payerId) fields.set(3, [cx(payerId) as Repetition]);
  if (ins.payer) for (const [n, f] of fieldsFromMap(fieldMap('payer'), 'IN1', ins.payer)) fields.set(n, f);
  if (!fields.has(4) && !payerId) {
    const display = c.payor?.[0]?.display;
    if (display) fields.set(4, [[display]]);
  }
  const cls = (code: string) => c.class?.find((k) => k.type.coding?.some((t) => t.code === code));
  const plan = cls('plan');
  if (plan) fields.set(2, [[plan.value]]);
  const group = cls('group');
  if (group) {
    fields.set(8, [[group.value]]);
    if (group.name) fields.set(9, [[group.name]]);
  }
  if (ins.subscriber)
    for (const [n, f] of fieldsFromMap(fieldMap('subscriber'), 'IN1', ins.subscriber)) fields.set(n, f);
  for (const [n, f] of fieldsFromMap(fieldMap('coverage'), 'IN1', c)) fields.set(n, f);
  const self =
    c.subscriber?.reference?.startsWith('Patient/') || c.relationship?.coding?.some((k) => k.code === 'self');
  if (self) fields.set(17, [['SEL']]);
  const policy = c.identifier?.find((x) => x.system?.startsWith('urn:frontdesk:policy:'))?.value ?? c.subscriberId;
  if (policy) fields.set(36, [[policy]]);
  return segmentOf('IN1', fields);
}

function dg1(c: Condition, i: number): OutSegment {
  const fields = fieldsFromMap(fieldMap('condition'), 'DG1', c);
  fields.set(1, [[String(i + 1)]]);
  return segmentOf('DG1', fields);
}

/** A document's content: ED (source, type of data, subtype, encoding, data) or RP (a pointer to its URL). */
function obx(
  doc: DocumentReference,
  a: NonNullable<DocumentReference['content']>[number]['attachment'],
  i: number
): OutSegment {
  const fields = new Map<number, Field>([[1, [[String(i + 1)]]]]);
  fields.set(3, [cwe(doc.type) ?? [undefined, a.title ?? doc.description ?? 'Document']]);
  if (a.data) {
    fields.set(2, [['ED']]);
    fields.set(5, [[undefined, dataType(a.contentType), dataSubtype(a.contentType), 'Base64', a.data]]);
  } else if (a.url) {
    fields.set(2, [['RP']]);
    fields.set(5, [[a.url, undefined, dataType(a.contentType), dataSubtype(a.contentType)]]);
  }
  fields.set(11, [[reverseLookup('0085', doc.docStatus) ?? 'F']]);
  const at = dtm(doc.date);
  if (at) fields.set(14, [[at]]);
  return segmentOf('OBX', fields);
}

/** ED-2 type of data (table 0191): AP application data, TX text, IM image. */
function dataType(mime: string | undefined): string {
  if (mime?.startsWith('text/')) return 'TX';
  if (mime?.startsWith('image/')) return 'IM';
  return 'AP';
}

/** ED-3 data subtype (table 0291): PDF, RTF, JPEG, … from the MIME type. */
function dataSubtype(mime: string | undefined): string | undefined {
  const sub = mime?.split('/')[1]?.split(';')[0]?.toUpperCase();
  return sub === 'PLAIN' ? undefined : sub;
}
