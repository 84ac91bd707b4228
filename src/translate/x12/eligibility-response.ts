/**
 * @module translate/x12/eligibility-response — a read 271 (./eligibility-271.ts) → one CoverageEligibilityResponse
 * per patient the payer answered about, pure.
 *
 * The answer hangs at the patient's level: the subscriber (2000C), or each dependent (2000D) when there is one.
 * A 271 that stops at 2000A/2000B carries only AAA rejections (the payer, or the provider, was refused) and gives
 * one error response. Any AAA that applies — the patient's own loops, the subscriber's 2100C above a dependent,
 * 2000A/2100A and 2100B — makes the outcome `error`, with one `error` per AAA in X12's terms (AAA03 reason, AAA04
 * follow-up) and in plain words. The benefits are ./eligibility-benefits.ts's; corrections are
 * ./eligibility-corrections.ts's. `disposition` is the one sentence the front desk reads.
 */
import type {
  CodeableConcept, Coverage, CoverageEligibilityRequest, CoverageEligibilityResponse, CoverageEligibilityResponseError,
  Organization, Patient, Period, Practitioner, PractitionerRole, Reference,
} from '@medplum/fhirtypes';
import type {
  Aaa, DateRef, Eligibility271, InformationReceiver, InformationSource, Member,
} from './eligibility-271-model.ts';
import { benefitItems } from './eligibility-benefits.ts';
import { FOLLOW_UPS, REJECT_REASONS } from './eligibility-codes.ts';
import { corrections, type Correction } from './eligibility-corrections.ts';
import { SYSTEMS } from './systems.ts';

export type { Correction } from './eligibility-corrections.ts';
export { REMAINING_EXTENSION } from './eligibility-benefits.ts';

export type MapContext = {
  request: Reference<CoverageEligibilityRequest>;
  patient: Reference<Patient>;
  insurer: Reference<Organization>;
  coverage?: Reference<Coverage>;
  requestor?: Reference<Practitioner | PractitionerRole | Organization>;
  purpose?: CoverageEligibilityResponse['purpose'];
  /** ISO date-time. */
  created: string;
  /** What the 270's 2100C said, to report what the payer corrected. */
  sent?: { memberId?: string; lastName?: string; firstName?: string; birthDate?: string; gender?: string };
};

export type EligibilityResult = {
  hl: string;
  level: 'subscriber' | 'dependent';
  /** TRN02 of 2000C/D: the 270's trace echoed (TRN01 2), else the first. */
  trace?: string;
  response: CoverageEligibilityResponse;
  corrections: Correction[];
  /** Segments and elements the mapping did not read (`2110C HSD`, `2110C EB09 DY`), for the message log. */
  unmapped: string[];
};

/** Who an AAA speaks about, by the loop it sits in. */
const AAA_SUBJECT: Readonly<Record<Aaa['loop'], string>> = {
  '2000A': 'payer',
  '2100A': 'payer',
  '2100B': 'provider',
  '2100C': 'subscriber',
  '2110C': 'subscriber benefit',
  '2100D': 'dependent',
  '2110D': 'dependent benefit',
};

export function toEligibilityResponses(r: Eligibility271, ctx: MapContext): EligibilityResult[] {
  const results: EligibilityResult[] = [];
  const upper: { aaa: Aaa[]; unmapped: string[]; hl: string }[] = [];
  for (const source of r.sources) {
    for (const receiver of source.receivers) {
      const above: Above = {
        aaa: [...source.aaa, ...receiver.aaa],
        unmapped: [...r.unmapped, ...levelUnmapped(source, receiver)],
      };
      upper.push({ ...above, hl: receiver.hl });
      for (const sub of receiver.subscribers) {
        for (const dep of sub.dependents) results.push(result(ctx, above, sub, dep));
        if (!sub.dependents.length || sub.benefits.length) results.push(result(ctx, above, sub, undefined));
      }
    }
    if (!source.receivers.length) {
      upper.push({ aaa: source.aaa, unmapped: [...r.unmapped, ...levelUnmapped(source)], hl: source.hl });
    }
  }
  if (results.length) return results;
  // No patient level: only AAAs of 2000A/2100A/2100B can be the answer (the payer or the provider was refused).
  const aaa = upper.flatMap((u) => u.aaa);
  if (!aaa.length) return [];
  const response = base(ctx, { coverage: ctx.coverage ?? { display: 'Coverage not identified by the payer' } });
  Object.assign(response, errorsOf(aaa));
  const unmapped = [...new Set(upper.flatMap((u) => u.unmapped))];
  return [{ hl: upper.at(-1)?.hl ?? '', level: 'subscriber', response, corrections: [], unmapped }];
}

/** What the payer (2000A/2100A) and provider (2100B) levels add to every answer below them. */
type Above = { aaa: Aaa[]; unmapped: string[] };

function result(ctx: MapContext, above: Above, sub: Member, dep: Member | undefined): EligibilityResult {
  const patient = dep ?? sub;
  const x = dep ? 'D' : 'C';
  const unmapped = new Set([...above.unmapped, ...sub.unmapped, ...memberUnmapped(sub, 'C')]);
  if (dep) for (const u of [...dep.unmapped, ...memberUnmapped(dep, 'D')]) unmapped.add(u);
  const items = benefitItems(patient.benefits, x, unmapped);
  const aaa = [...above.aaa, ...sub.aaa, ...(dep ? [] : sub.benefits.flatMap((b) => b.aaa)), ...(dep?.aaa ?? []),
    ...(dep?.benefits.flatMap((b) => b.aaa) ?? [])];
  const status = coverageStatus(patient);
  // A dependent's dates come first; the subscriber's (2100C) speak for the plan when the dependent has none.
  let period = benefitPeriod(patient.dates, x, unmapped);
  if (dep && period) for (const d of sub.dates) unmapped.add(`2100C DTP ${d.qualifier}`);
  else if (dep) period = benefitPeriod(sub.dates, 'C', unmapped);
  const memberId = sub.name?.id;
  // insurance.coverage is 1..1: without the caller's Coverage, a display of what the payer named.
  const named = [status.plan, memberId && `member ${memberId}`].filter(Boolean).join(', ');
  const coverage = ctx.coverage ?? { display: named || 'Coverage' };
  const response = base(ctx, {
    coverage,
    ...(status.inforce !== undefined ? { inforce: status.inforce } : {}),
    ...(period ? { benefitPeriod: period } : {}),
    ...(items.length ? { item: items } : {}),
  });
  const fixes = corrections(sub, dep, ctx.sent);
  if (aaa.length) Object.assign(response, errorsOf(aaa, fixes));
  else response.disposition = withCorrections(status.text, fixes);
  const traces = [...patient.traces, ...(dep ? sub.traces : [])];
  const trace = (traces.find((t) => t.type === '2') ?? traces[0])?.reference;
  return {
    hl: patient.hl,
    level: dep ? 'dependent' : 'subscriber',
    ...(trace ? { trace } : {}),
    response,
    corrections: fixes,
    unmapped: [...unmapped],
  };
}

type Insurance = NonNullable<CoverageEligibilityResponse['insurance']>[number];

function base(ctx: MapContext, insurance: Insurance): CoverageEligibilityResponse {
  return {
    resourceType: 'CoverageEligibilityResponse',
    status: 'active',
    purpose: ctx.purpose?.length ? ctx.purpose : ['benefits'],
    patient: ctx.patient,
    created: ctx.created,
    request: ctx.request,
    insurer: ctx.insurer,
    ...(ctx.requestor ? { requestor: ctx.requestor } : {}),
    outcome: 'complete',
    insurance: [insurance],
  };
}

/** `outcome: error`, one `error` per AAA, and the sentence that sums them up. */
function errorsOf(aaa: Aaa[], fixes: Correction[] = []): Partial<CoverageEligibilityResponse> {
  const error: CoverageEligibilityResponseError[] = aaa.map((a) => ({ code: aaaCode(a) }));
  const said = [...new Set(aaa.map((a) => `${a.reason} ${reasonText(a.reason)} — ${followUpText(a.followUp)}`))];
  const disposition = withCorrections(`Payer rejected the request: ${said.join('; ')}`, fixes);
  return { outcome: 'error', disposition, error };
}

function aaaCode(a: Aaa): CodeableConcept {
  const followUp = FOLLOW_UPS[a.followUp];
  return {
    coding: [
      { system: SYSTEMS.rejectReason, code: a.reason, ...display(REJECT_REASONS[a.reason]) },
      { system: SYSTEMS.followUp, code: a.followUp, ...display(followUp?.display) },
    ],
    text: `${a.reason} ${reasonText(a.reason)} — ${followUpText(a.followUp)} (${AAA_SUBJECT[a.loop]}, ${a.loop})`,
  };
}

const display = (text: string | undefined) => (text ? { display: text } : {});
const reasonText = (code: string) => REJECT_REASONS[code] ?? `reject reason ${code || 'not given'}`;
const followUpText = (code: string) => FOLLOW_UPS[code]?.plain ?? `follow-up ${code || 'not given'}`;

const LABEL: Readonly<Record<Correction['field'], string>> = {
  memberId: 'member id',
  name: 'name',
  birthDate: 'birth date',
  gender: 'gender',
  address: 'address',
  ins: 'identifying data',
};

/**
 * One clause naming what the payer's record says differently, with the payer's values: the clerk corrects the
 * registration from it (the gateway never applies them to the Patient or the Coverage itself).
 */
function withCorrections(text: string, fixes: Correction[]): string {
  if (!fixes.length) return text;
  const what = [...new Set(fixes.map((f) => {
    const label = `${f.who === 'dependent' ? "dependent's " : ''}${LABEL[f.field]}`;
    return f.received && f.field !== 'ins' ? `${label} ${f.received}${f.sent ? ` (sent ${f.sent})` : ''}` : label;
  }))];
  return `${text}. The payer's record differs from what was sent: ${what.join('; ')}. Check the registration`;
}

/** EB01 1–5 active, 6–8 inactive (2110C/D), and the plan name (EB05) of the plan-level EB. */
function coverageStatus(m: Member): { inforce?: boolean; plan?: string; text: string } {
  const active = m.benefits.filter((b) => ['1', '2', '3', '4', '5'].includes(b.info));
  const inactive = m.benefits.filter((b) => ['6', '7', '8'].includes(b.info));
  const planOf = (list: typeof active) =>
    (list.find((b) => b.planDescription && (!b.serviceTypes.length || b.serviceTypes.includes('30'))) ??
      list.find((b) => b.planDescription))?.planDescription;
  if (active.length) {
    const plan = planOf(active);
    return { inforce: true, ...(plan ? { plan } : {}), text: `Coverage active${plan ? `: ${plan}` : ''}` };
  }
  if (inactive.length) {
    const plan = planOf(inactive);
    return { inforce: false, ...(plan ? { plan } : {}), text: `Coverage inactive${plan ? `: ${plan}` : ''}` };
  }
  return { text: 'The payer did not say whether the coverage is active' };
}

/**
 * 2100C/D DTP → benefitPeriod: 346/347 (plan begin/end), else 356/357 (eligibility begin/end), else 291 or 307
 * (a D8 day, or an RD8 range). The DTPs not used are listed as unmapped.
 */
function benefitPeriod(dates: DateRef[], x: 'C' | 'D', unmapped: Set<string>): Period | undefined {
  const pairs = [['346', '347'], ['356', '357'], ['291', '307']] as const;
  for (const [a, b] of pairs) {
    const find = (q: string) => dates.find((d) => d.qualifier === q);
    const from = find(a) ?? (a === '291' ? find(b) : undefined);
    const to = a === '291' ? from : find(b);
    const start = from?.start ?? (to?.format === 'RD8' ? to.start : undefined);
    const end = to?.format === 'RD8' ? to.end : (to?.start ?? from?.end ?? (a === '291' ? from?.start : undefined));
    if (!start && !end) continue;
    for (const d of dates) if (d !== from && d !== to) unmapped.add(`2100${x} DTP ${d.qualifier}`);
    return { ...(start ? { start } : {}), ...(end ? { end } : {}) };
  }
  for (const d of dates) unmapped.add(`2100${x} DTP ${d.qualifier}`);
  return undefined;
}

/** What the payer and provider levels carry beyond their names and AAAs. */
function levelUnmapped(source: InformationSource, receiver?: InformationReceiver): string[] {
  const out = [...source.unmapped];
  if (source.contacts.length) out.push('2100A PER');
  if (!receiver) return out;
  out.push(...receiver.unmapped, ...receiver.refs.map((r) => `2100B REF ${r.qualifier}`));
  if (receiver.address) out.push('2100B N3/N4');
  if (receiver.provider) out.push('2100B PRV');
  return out;
}

/** 2100C/D parts no response element holds (the name, DMG and INS feed the corrections). */
function memberUnmapped(m: Member, x: 'C' | 'D'): string[] {
  const out = m.refs.map((r) => `2100${x} REF ${r.qualifier}`);
  const flagged = m.ins?.maintenanceType === '001' && m.ins.maintenanceReason === '25';
  if (m.address && !flagged) out.push(`2100${x} N3/N4`);
  if (m.provider) out.push(`2100${x} PRV`);
  if (m.ins && !flagged) out.push(`2100${x} INS ${m.ins.relationship}`);
  return out;
}
