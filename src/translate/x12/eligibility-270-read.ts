/**
 * @module translate/x12/eligibility-270-read — an 005010X279A1 270 read into typed inquiries, and into a FHIR
 * CoverageEligibilityRequest whose people, coverage, payer and provider are contained (`#id`), pure. It is what a
 * 270 posted by a practice system becomes in the store, and the check that ./eligibility-270.ts writes what it
 * means to (round trip).
 *
 * One inquiry per patient: a 2000C subscriber level without dependents (or with its own EQ), and each 2000D
 * dependent under it, each with the 2000A payer and 2000B provider above it. Within a level, 2100 is the NM1 up to
 * the first EQ, each EQ opens a 2110 loop. BHT04/05 carry no zone; they are read as UTC, which is how the gateway
 * writes them.
 */
import type {
  CodeableConcept, Coverage, CoverageEligibilityRequest, CoverageEligibilityRequestItem, Identifier, Organization,
  Patient, Practitioner,
} from '@medplum/fhirtypes';
import { invalid } from '../../outcome.ts';
import type { X12Transaction } from './envelope.ts';
import { hlTree, loops, type HlNode } from './hl.ts';
import { components, repeats, type X12Delimiters, type X12Segment } from './tokens.ts';
import { SYSTEMS } from './systems.ts';

/** An NM1 as read: NM101 entity, NM102 1 person / 2 organization, names, NM108 qualifier and NM109 id. */
export type Entity270 = {
  entity: string; type: string; last: string; first: string; middle: string; suffix: string;
  idQualifier: string; id: string;
};

export type Inquiry270Loop = {
  serviceTypes: string[]; procedure?: { qualifier: string; code: string; modifiers: string[] }; date?: Date291;
};

export type Date291 = { date: string } | { start: string; end: string };

export type Party270 = Entity270 & {
  trace?: { reference: string; originator: string };
  refs: { qualifier: string; value: string }[];
  /** DMG02 as YYYY-MM-DD, DMG03 F/M/U. */
  birthDate?: string;
  gender?: string;
  /** INS02 (2100D: 01 spouse, 19 child, 34 other adult). */
  relationship?: string;
  /** DTP*291 of the 2100 loop. */
  date?: Date291;
  inquiries: Inquiry270Loop[];
};

export type Inquiry270 = { source: Entity270; receiver: Entity270; subscriber: Party270; dependent?: Party270 };

export type Read270 = {
  control: string;
  /** BHT02: 13 request, 01 cancellation. */
  purpose: string;
  /** BHT03. */
  reference: string;
  /** BHT04/BHT05 as a UTC dateTime. */
  created: string;
  inquiries: Inquiry270[];
  problems: string[];
};

export function read270(tx: X12Transaction, d: X12Delimiters): Read270 {
  const tree = hlTree(tx.segments);
  const bht = tree.header.find((s) => s[0] === 'BHT') ?? [];
  const out: Read270 = {
    control: tx.control, purpose: bht[2] ?? '', reference: bht[3] ?? '', created: dateTime(bht[4], bht[5]),
    inquiries: [], problems: [...tree.problems],
  };
  const byId = new Map(tree.nodes.map((n) => [n.id, n]));
  const up = (n: HlNode, level: string) => {
    const parent = byId.get(n.parentId);
    if (parent?.level !== level) out.problems.push(`HL ${n.id} (level ${n.level}) has no parent of level ${level}`);
    return parent;
  };
  for (const node of tree.nodes.filter((n) => n.level === '22')) {
    const receiverNode = up(node, '21');
    const sourceNode = receiverNode ? up(receiverNode, '20') : undefined;
    const source = entity(sourceNode?.segments);
    const receiver = entity(receiverNode?.segments);
    const subscriber = party(node.segments, d);
    const dependents = node.children.filter((c) => c.level === '23');
    if (!dependents.length || subscriber.inquiries.length) out.inquiries.push({ source, receiver, subscriber });
    for (const dep of dependents) {
      out.inquiries.push({ source, receiver, subscriber, dependent: party(dep.segments, d) });
    }
  }
  if (!out.inquiries.length) out.problems.push('The 270 holds no subscriber level (2000C, HL03 22)');
  return out;
}

/** 2100A NM109, the payer id a 270 is routed by (a simple element: the delimiters are not needed to read it). */
export function payerIdOf270(tx: X12Transaction, _d?: X12Delimiters): string | undefined {
  const source = hlTree(tx.segments).nodes.find((n) => n.level === '20');
  return (source
    ? entity(source.segments).id
    : tx.segments.find((s) => s[0] === 'NM1' && s[1] === 'PR')?.[9]?.trim()) || undefined;
}

const RELATIONSHIP_BY_INS02: Readonly<Record<string, string>> = {
  '01': 'spouse', '19': 'child', '34': 'other', '53': 'common', G8: 'other', '18': 'self',
};
const GENDER_BY_DMG03: Readonly<Record<string, Patient['gender']>> = { F: 'female', M: 'male', U: 'unknown' };
const CLASS_BY_REF: Readonly<Record<string, string>> = { '6P': 'group', '18': 'plan' };

/** The identifier system of an NM108 / REF01 qualifier: XX NPI, PI payer id, MI member id, else by X12 code. */
export function identifierSystem(qualifier: string): string {
  return qualifier === 'XX' ? SYSTEMS.npi
    : qualifier === 'PI' ? SYSTEMS.payerId
      : qualifier === 'MI' ? SYSTEMS.memberId
        : `urn:frontdesk:x12:66:${qualifier}`;
}

/** TRN02 scoped by TRN03 (trace numbers are unique per originator). */
export function traceSystem(originator: string): string {
  return `urn:frontdesk:x12:trace:${originator}`;
}

/** The `index`th inquiry of a 270 as a CoverageEligibilityRequest with everything it names contained. */
export function requestFrom270(tx: X12Transaction, d: X12Delimiters, index = 0): CoverageEligibilityRequest {
  const r = read270(tx, d);
  const inq = r.inquiries[index];
  if (!inq) {
    invalid(
      `The 270 (ST02 ${tx.control}) holds no inquiry ${index + 1}: ` +
        `${r.problems.join('; ') || 'no subscriber level'}`,
    );
  }
  const { subscriber: sub, dependent: dep } = inq;
  const patient = dep ?? sub;
  const contained: CoverageEligibilityRequest['contained'] = [
    { resourceType: 'Organization', id: 'payer', name: inq.source.last, ...ids(inq.source) } satisfies Organization,
    provider(inq.receiver),
    person('subscriber', sub, true),
    ...(dep ? [person('dependent', dep, false)] : []),
    coverage(inq, dep ? 'dependent' : 'subscriber'),
  ];
  const trace = patient.trace ?? sub.trace;
  const date = patient.date ?? patient.inquiries.find((q) => q.date)?.date;
  const item = patient.inquiries.flatMap(items);
  return {
    resourceType: 'CoverageEligibilityRequest',
    contained,
    ...(trace ? { identifier: [{ system: traceSystem(trace.originator), value: trace.reference }] } : {}),
    status: r.purpose === '01' ? 'cancelled' : 'active',
    purpose: ['validation', 'benefits'],
    patient: { reference: dep ? '#dependent' : '#subscriber' },
    ...(date && 'date' in date ? { servicedDate: date.date } : {}),
    ...(date && 'start' in date ? { servicedPeriod: { start: date.start, end: date.end } } : {}),
    created: r.created,
    provider: { reference: '#provider' },
    insurer: { reference: '#payer' },
    insurance: [{ focal: true, coverage: { reference: '#coverage' } }],
    ...(item.length ? { item } : {}),
  };
}

function entity(segments: readonly X12Segment[] | undefined): Entity270 {
  const s = segments?.find((x) => x[0] === 'NM1') ?? [];
  const f = (n: number) => (s[n] ?? '').trim();
  return { entity: f(1), type: f(2), last: f(3), first: f(4), middle: f(5), suffix: f(7), idQualifier: f(8), id: f(9) };
}

function party(segments: readonly X12Segment[], d: X12Delimiters): Party270 {
  const firstEq = segments.findIndex((s) => s[0] === 'EQ');
  const head = firstEq < 0 ? segments : segments.slice(0, firstEq);
  const trn = head.find((s) => s[0] === 'TRN' && s[1] === '1');
  const dmg = head.find((s) => s[0] === 'DMG' && s[1] === 'D8');
  const ins = head.find((s) => s[0] === 'INS');
  const date = dtp291(head);
  const inquiries = firstEq < 0 ? [] : loops(segments.slice(firstEq), ['EQ']).map((loop): Inquiry270Loop => {
    const [eq = []] = loop;
    const [qualifier = '', code = '', ...modifiers] = components(eq[2], d);
    const when = dtp291(loop);
    return {
      serviceTypes: repeats(eq[1], d),
      ...(code ? { procedure: { qualifier, code, modifiers: modifiers.filter(Boolean) } } : {}),
      ...(when ? { date: when } : {}),
    };
  });
  return {
    ...entity(head),
    ...(trn ? { trace: { reference: trn[2] ?? '', originator: trn[3] ?? '' } } : {}),
    refs: head.filter((s) => s[0] === 'REF').map((s) => ({ qualifier: s[1] ?? '', value: s[2] ?? '' })),
    ...(dmg?.[2] ? { birthDate: isoDate(dmg[2]) } : {}),
    ...(dmg?.[3] ? { gender: dmg[3] } : {}),
    ...(ins?.[2] ? { relationship: ins[2] } : {}),
    ...(date ? { date } : {}),
    inquiries,
  };
}

function dtp291(segments: readonly X12Segment[]): Date291 | undefined {
  const s = segments.find((x) => x[0] === 'DTP' && x[1] === '291');
  if (!s?.[3]) return undefined;
  if (s[2] === 'RD8') {
    const [start = '', end = ''] = s[3].split('-');
    return { start: isoDate(start), end: isoDate(end) };
  }
  return { date: isoDate(s[3]) };
}

function items(q: Inquiry270Loop): CoverageEligibilityRequestItem[] {
  const category = (code: string): CodeableConcept => ({ coding: [{ system: SYSTEMS.serviceType, code }] });
  if (!q.procedure) return q.serviceTypes.map((code) => ({ category: category(code) }));
  const { qualifier, code, modifiers } = q.procedure;
  const system = qualifier === 'HC'
    ? (/^[A-Z]\d{4}$/.test(code) ? SYSTEMS.hcpcs : SYSTEMS.cpt)
    : `urn:frontdesk:x12:235:${qualifier}`;
  const proc: CoverageEligibilityRequestItem = {
    productOrService: { coding: [{ system, code }] },
    ...(modifiers.length ? { modifier: modifiers.map((m) => ({ coding: [{ system, code: m }] })) } : {}),
  };
  return q.serviceTypes.length ? q.serviceTypes.map((t) => ({ category: category(t), ...proc })) : [proc];
}

function ids(e: Entity270): { identifier?: Identifier[] } {
  return e.id ? { identifier: [{ system: identifierSystem(e.idQualifier), value: e.id }] } : {};
}

function provider(e: Entity270): Organization | Practitioner {
  if (e.type === '1') {
    return { resourceType: 'Practitioner', id: 'provider', ...names(e), ...ids(e) };
  }
  return { resourceType: 'Organization', id: 'provider', ...(e.last ? { name: e.last } : {}), ...ids(e) };
}

function names(e: Entity270): Pick<Patient, 'name'> {
  if (!e.last && !e.first) return {};
  const given = [e.first, e.middle].filter(Boolean);
  return {
    name: [{
      ...(e.last ? { family: e.last } : {}),
      ...(given.length ? { given } : {}),
      ...(e.suffix ? { suffix: [e.suffix] } : {}),
    }],
  };
}

function person(id: string, p: Party270, subscriber: boolean): Patient {
  const gender = p.gender ? GENDER_BY_DMG03[p.gender] : undefined;
  return {
    resourceType: 'Patient',
    id,
    ...(subscriber && p.id
      ? {
          identifier: [{
            type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MB' }] },
            system: identifierSystem(p.idQualifier),
            value: p.id,
          }],
        }
      : {}),
    ...names(p),
    ...(gender ? { gender } : {}),
    ...(p.birthDate ? { birthDate: p.birthDate } : {}),
  };
}

function coverage(inq: Inquiry270, beneficiary: string): Coverage {
  const { subscriber: sub, dependent: dep } = inq;
  const relationship = dep
    ? (dep.relationship ? (RELATIONSHIP_BY_INS02[dep.relationship] ?? 'other') : undefined)
    : 'self';
  const refs = [...sub.refs, ...(dep?.refs ?? [])].filter(
    (r, i, all) => CLASS_BY_REF[r.qualifier] && all.findIndex((x) => x.qualifier === r.qualifier) === i,
  );
  return {
    resourceType: 'Coverage',
    id: 'coverage',
    status: 'active',
    subscriber: { reference: '#subscriber' },
    ...(sub.id ? { subscriberId: sub.id } : {}),
    beneficiary: { reference: `#${beneficiary}` },
    ...(relationship
      ? { relationship: { coding: [{ system: SYSTEMS.subscriberRelationship, code: relationship }] } }
      : {}),
    payor: [{ reference: '#payer' }],
    ...(refs.length
      ? {
          class: refs.map((r) => ({
            type: { coding: [{ system: SYSTEMS.coverageClass, code: CLASS_BY_REF[r.qualifier] as string }] },
            value: r.value,
          })),
        }
      : {}),
  };
}

/** CCYYMMDD → YYYY-MM-DD (left as is when it is not 8 digits, for the validator to report). */
function isoDate(v: string): string {
  return /^\d{8}$/.test(v) ? `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}` : v;
}

function dateTime(date: string | undefined, time: string | undefined): string {
  const day = isoDate(date ?? '');
  const t = /^(\d{2})(\d{2})(\d{2})?/.exec(time ?? '');
  return t ? `${day}T${t[1]}:${t[2]}:${t[3] ?? '00'}Z` : day;
}
