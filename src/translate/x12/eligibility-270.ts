/**
 * @module translate/x12/eligibility-270 — a CoverageEligibilityRequest (with its Coverage, patient, subscriber,
 * payer and provider) → the body of an 005010X279A1 270 eligibility inquiry, BHT to the last EQ (ST/SE and the
 * envelope are ./interchange.ts's), pure.
 *
 * Layout (TR3 / stupidedi `X279A1-HS270.rb`): 2000A `HL*1**20*1` + 2100A payer `NM1*PR*2`; 2000B `HL*2*1*21*1` +
 * 2100B provider `NM1*1P`; 2000C `HL*3*2*22*…` + TRN + 2100C subscriber `NM1*IL` (member id), REF 6P/18, DMG,
 * DTP*291 and 2110C EQ. When `Coverage.relationship` is not self the patient is a dependent: 2000D `HL*4*3*23*0`
 * carries the TRN, 2100D `NM1*03` (no id of its own), DMG, `INS*N*{01|19|34}` (the only codes the TR3 allows),
 * DTP and 2110D EQ.
 *
 * Names are cleaned as CAQH CORE 258 describes (upper case, accents and special characters removed, a trailing
 * JR/SR/II… moved to the suffix) since X12 has no escape for a delimiter. Identifiers are never altered: one that
 * holds a delimiter or a character outside the X12 sets is refused with the FHIRPath of where it came from, as is
 * anything the payer needs and the resources lack (member id, birth date, name).
 */
import type { Coverage, CoverageEligibilityRequest, HumanName, Patient, RelatedPerson } from '@medplum/fhirtypes';
import { invalid } from '../../outcome.ts';
import { DEFAULT_DELIMITERS, type X12Out } from './serialize.ts';
import { SYSTEMS } from './systems.ts';

export type EligibilityInquiry = {
  request: CoverageEligibilityRequest;
  coverage: Coverage;
  /** The beneficiary: the person the question is about. */
  patient: Patient;
  /** The subscriber when `Coverage.relationship` is not self. */
  subscriber?: Patient | RelatedPerson;
  /** 2100A `NM1*PR*2*{name}*****PI*{payerId}`. */
  payer: { name: string; payerId: string };
  /** 2100B `NM1*1P*{1 person|2 organization}*…*XX*{npi}`. */
  provider: { name: string; npi: string; person?: { family: string; given?: string } };
  /** `TRN*1*{reference}*{originator}`: originator 10 characters ("1" + EIN, or an assigned id). */
  trace: { reference: string; originator: string };
  /** YYYY-MM-DD: the date of service when the request names none. */
  today: string;
};

export type Built270 = { body: X12Out[] };

/** INS02 of 2100D by FHIR subscriber-relationship code: the TR3 allows 01 spouse, 19 child, 34 other adult only. */
export const INS02_BY_RELATIONSHIP: Readonly<Record<string, string>> = {
  spouse: '01',
  common: '01', // common-law spouse: X12 has no code of its own in the 270
  child: '19',
  parent: '34',
  injured: '34',
  other: '34',
};

/** DMG03 by Patient.gender. */
const GENDER: Readonly<Record<string, string>> = { male: 'M', female: 'F', other: 'U', unknown: 'U' };

/** CAQH CORE 258: suffixes that follow the last name after a space or punctuation belong in NM107. */
const SUFFIXES = ['JR', 'SR', 'II', 'III', 'IV', '2ND', '3RD', 'MD', 'PHD', 'ESQ'];

const REQ = 'CoverageEligibilityRequest';

export function build270(inq: EligibilityInquiry, bhtReference: string, now: Date): Built270 {
  const { request, coverage, patient } = inq;
  const iso = now.toISOString();
  const relationship = relationshipOf(coverage);
  const memberId = memberIdOf(coverage);
  const dependent = relationship !== undefined;
  const subscriber = dependent ? inq.subscriber : patient;
  if (!subscriber) invalid(`Coverage.relationship is not self: the subscriber must be given`, 'Coverage.subscriber');
  const subscriberAt = dependent ? subscriber.resourceType : 'Patient';
  const trn: X12Out = ['TRN', '1', traceNumber(inq.trace.reference), originator(inq.trace.originator)];
  const sub = personName(subscriber.name, `${subscriberAt}.name`);
  const body: X12Out[] = [
    ['BHT', '0022', '13', x12Id(bhtReference, 'The BHT03 reference'),
      iso.slice(0, 10).replaceAll('-', ''), iso.slice(11, 16).replace(':', '')],
    ['HL', '1', '', '20', '1'],
    ['NM1', 'PR', '2', orgName(inq.payer.name, `${REQ}.insurer`), '', '', '', '',
      'PI', x12Id(inq.payer.payerId, 'The payer id', `${REQ}.insurer`)],
    ['HL', '2', '1', '21', '1'],
    providerName(inq.provider),
    ['HL', '3', '2', '22', dependent ? '1' : '0'],
    ...(dependent ? [] : [trn]),
    ['NM1', 'IL', '1', sub.last, sub.first, sub.middle, '', sub.suffix, 'MI', memberId],
    ...classRefs(coverage),
  ];
  const dates = [serviceDate(request, inq.today)];
  if (!dependent) {
    body.push(dmg(patient, 'Patient'), ...dates, ...inquiries(request));
    return { body };
  }
  if (subscriber.birthDate) body.push(dmg(subscriber, subscriberAt));
  const dep = personName(patient.name, 'Patient.name');
  body.push(
    ['HL', '4', '3', '23', '0'],
    trn,
    ['NM1', '03', '1', dep.last, dep.first, dep.middle, '', dep.suffix],
    dmg(patient, 'Patient'),
    ['INS', 'N', relationship],
    ...dates,
    ...inquiries(request)
  );
  return { body };
}

/** undefined for self (or no relationship: the subscriber is the patient), else INS02. */
function relationshipOf(c: Coverage): string | undefined {
  if (!c.relationship?.coding?.length) return undefined;
  const code = c.relationship.coding.find((x) => x.system === SYSTEMS.subscriberRelationship)?.code;
  if (code === 'self') return undefined;
  const ins02 = code ? INS02_BY_RELATIONSHIP[code] : undefined;
  if (!ins02) {
    invalid(
      `Coverage.relationship needs a code of ${SYSTEMS.subscriberRelationship} (self, spouse, child, …)`,
      'Coverage.relationship'
    );
  }
  return ins02;
}

/** 2100C NM109: Coverage.subscriberId, else a member identifier (type MB) of the Coverage. */
function memberIdOf(c: Coverage): string {
  if (c.subscriberId) return x12Id(c.subscriberId, 'The member id', 'Coverage.subscriberId');
  const i = (c.identifier ?? []).findIndex(
    (id) => id.value &&
      (id.system === SYSTEMS.memberId || id.type?.coding?.some((t) => t.code === 'MB' || t.code === 'member'))
  );
  const value = c.identifier?.[i]?.value;
  if (i < 0 || !value) {
    invalid('The Coverage has no member id (subscriberId, or an identifier of type MB)', 'Coverage.subscriberId');
  }
  return x12Id(value, 'The member id', `Coverage.identifier[${i}].value`);
}

function classRefs(c: Coverage): X12Out[] {
  const out: X12Out[] = [];
  for (const [type, qualifier] of [['group', '6P'], ['plan', '18']] as const) {
    const i = (c.class ?? []).findIndex(
      (k) => k.type?.coding?.some((t) => t.code === type && (!t.system || t.system === SYSTEMS.coverageClass))
    );
    const value = c.class?.[i]?.value;
    if (i >= 0 && value) out.push(['REF', qualifier, x12Id(value, `The ${type} id`, `Coverage.class[${i}].value`)]);
  }
  return out;
}

function dmg(person: Patient | RelatedPerson, at: string): X12Out {
  return [
    'DMG', 'D8', d8(person.birthDate, `${at}.birthDate`, 'a birth date'), GENDER[person.gender ?? 'unknown'] ?? 'U',
  ];
}

/** DTP*291: servicedDate (D8) or servicedPeriod (RD8, or D8 when one end is open), else today. */
function serviceDate(r: CoverageEligibilityRequest, today: string): X12Out {
  if (r.servicedDate) return ['DTP', '291', 'D8', d8(r.servicedDate, `${REQ}.servicedDate`, 'a full date')];
  const { start, end } = r.servicedPeriod ?? {};
  if (start && end) {
    const [s, e] = [d8(start, `${REQ}.servicedPeriod.start`, 'a date'), d8(end, `${REQ}.servicedPeriod.end`, 'a date')];
    if (s > e) invalid('servicedPeriod ends before it starts', `${REQ}.servicedPeriod`);
    return ['DTP', '291', 'RD8', `${s}-${e}`];
  }
  if (start || end) return ['DTP', '291', 'D8', d8(start ?? end, `${REQ}.servicedPeriod`, 'a date')];
  return ['DTP', '291', 'D8', d8(today, `${REQ}.servicedDate`, 'a date (today)')];
}

/**
 * 2110C/D EQ: the service types of the items without a procedure in one EQ01, repeated (≤ 99); one EQ per item
 * with a CPT/HCPCS productOrService (`EQ*{its type}*HC:{code}:{modifiers}`); `EQ*30` when nothing is asked.
 */
function inquiries(r: CoverageEligibilityRequest): X12Out[] {
  const shared: string[] = [];
  const procedures: X12Out[] = [];
  (r.item ?? []).forEach((item, i) => {
    const at = `${REQ}.item[${i}]`;
    const types = (item.category?.coding ?? [])
      .filter((c) => c.system === SYSTEMS.serviceType && c.code)
      .map((c) => c.code as string);
    for (const t of types) {
      if (!/^[A-Z0-9]{1,2}$/.test(t)) invalid(`"${t}" is not an X12 service type code`, `${at}.category`);
    }
    const codings = item.productOrService?.coding ?? [];
    const proc = codings.find((c) => (c.system === SYSTEMS.cpt || c.system === SYSTEMS.hcpcs) && c.code);
    if (codings.length && !proc) {
      invalid(`A 270 asks about CPT (${SYSTEMS.cpt}) or HCPCS (${SYSTEMS.hcpcs}) codes only`, `${at}.productOrService`);
    }
    if (!proc) {
      shared.push(...types);
      return;
    }
    const mods = (item.modifier ?? []).map(
      (m, j) => x12Id(m.coding?.[0]?.code ?? '', 'A procedure modifier', `${at}.modifier[${j}]`)
    );
    if (mods.length > 4) invalid('EQ02 carries at most 4 procedure modifiers', `${at}.modifier`);
    procedures.push([
      'EQ',
      { repeat: types },
      ['HC', x12Id(proc.code as string, 'The procedure code', `${at}.productOrService`), ...mods],
    ]);
  });
  const types = [...new Set(shared)];
  if (types.length > 99) invalid(`${types.length} service types: a 270 asks for at most 99`, `${REQ}.item`);
  const out: X12Out[] = types.length || !procedures.length ? [['EQ', { repeat: types.length ? types : ['30'] }]] : [];
  out.push(...procedures);
  if (out.length > 99) invalid(`${out.length} inquiries: 2110C repeats at most 99 times`, `${REQ}.item`);
  return out;
}

function providerName(p: EligibilityInquiry['provider']): X12Out {
  const at = `${REQ}.provider`;
  if (!/^\d{10}$/.test(p.npi)) invalid(`The NPI "${p.npi}" is not 10 digits`, at);
  if (!p.person) return ['NM1', '1P', '2', orgName(p.name, at), '', '', '', '', 'XX', p.npi];
  const last = cleanName(p.person.family, 60);
  if (!last) invalid('The provider has no family name', at);
  return ['NM1', '1P', '1', last, cleanName(p.person.given ?? '', 35), '', '', '', 'XX', p.npi];
}

type X12Name = { last: string; first: string; middle: string; suffix: string };

/** The official (else usual, else first current) name, cleaned; a family name is required (NM103). */
export function personName(names: HumanName[] | undefined, at: string): X12Name {
  const current = (names ?? []).filter((n) => n.use !== 'old' && !n.period?.end);
  const name = current.find((n) => n.use === 'official') ?? current.find((n) => n.use === 'usual') ?? current[0];
  if (!name) invalid('No name to send: the payer matches on it', at);
  let last = cleanName(name.family ?? '', 200, true);
  let suffix = cleanName(name.suffix?.[0] ?? '', 10);
  const tail = SUFFIXES.find((s) => new RegExp(`^.+[\\s.,]+${s}\\.?$`).test((name.family ?? '').toUpperCase().trim()));
  if (tail) {
    last = last.slice(0, -tail.length).trim();
    suffix ||= tail;
  }
  if (!last) invalid('The name has no family name (NM103)', `${at}.family`);
  return {
    last: last.slice(0, 60), first: cleanName(name.given?.[0] ?? '', 35), middle: cleanName(name.given?.[1] ?? '', 25),
    suffix,
  };
}

/**
 * A person's name as CORE 258 normalizes it (upper case, accents dropped, anything but letters, digits and spaces
 * removed: O'Brien-Núñez → OBRIENNUNEZ), or, with `person` false, an organization's: only what X12 cannot carry
 * (delimiters, characters outside the basic and extended sets) is removed.
 */
export function cleanName(value: string, max: number, person = true): string {
  const upper = value.normalize('NFD').replace(/\p{M}/gu, '').toUpperCase();
  const kept = person
    ? upper.replace(/[^A-Z0-9 ]/g, '')
    : [...upper.replace(/[^\x20-\x7E]/g, '')].filter((ch) => !isDelimiter(ch)).join('');
  return kept.replace(/\s+/g, ' ').trim().slice(0, max);
}

function orgName(name: string, at: string): string {
  const out = cleanName(name, 60, false);
  if (!out) invalid('The organization has no name', at);
  return out;
}

/** The characters this gateway writes as delimiters (./serialize.ts DEFAULT_DELIMITERS). */
const DELIMITERS = new Set(Object.values(DEFAULT_DELIMITERS).filter((x): x is string => !!x));

function isDelimiter(ch: string): boolean {
  return DELIMITERS.has(ch);
}

/** An identifier goes out exactly as given, or not at all; `at` is its FHIRPath when it comes from a resource. */
function x12Id(value: string, what: string, at?: string): string {
  if (!value) invalid(`${what} is empty`, at);
  const bad = [...value].find((ch) => isDelimiter(ch) || !/[\x20-\x7E]/.test(ch));
  if (bad !== undefined) {
    invalid(
      `${what} "${value}" holds "${bad}", which X12 cannot carry; ` +
        'identifiers are never altered, so fix it at the source',
      at
    );
  }
  if (value.length > 80) invalid(`${what} is longer than the 80 characters X12 allows`, at);
  return value;
}

/** TRN02: 1–50 characters (X12 element 127). */
function traceNumber(value: string): string {
  if (value.length > 50) invalid(`The trace number (TRN02) is longer than its 50 characters`);
  return x12Id(value, 'The trace number (TRN02)');
}

function originator(value: string): string {
  if (!/^[A-Za-z0-9]{10}$/.test(value)) invalid(`The trace originator (TRN03) "${value}" must be 10 letters or digits`);
  return value;
}

/** YYYY-MM-DD (or a dateTime's date part) → CCYYMMDD. */
function d8(value: string | undefined, at: string, what: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value ?? '');
  if (!m) {
    invalid(
      value ? `"${value}" is not ${what}: X12 needs year, month and day` : `${at.split('.').pop()} is missing`,
      at
    );
  }
  return `${m[1]}${m[2]}${m[3]}`;
}
