/**
 * @module translate/x12/eligibility-benefits — the 2110C/D EB loops of one patient → the `insurance.item`s of a
 * CoverageEligibilityResponse (the recommended 271 mapping of `../shared/notes/x12.md` §3), pure.
 *
 * EBs that share EB01, EB02, the EB03 set, EB04, EB12 and EB13 describe one benefit seen from several sides
 * (a deductible's calendar-year amount, EB06 23, and what remains of it, EB06 29), so they form one item. EB06
 * splits a group only where it names a different term (23 calendar year vs 32 lifetime); 24 (year to date) and
 * 29 (remaining) are amounts of the term beside them, 33 (lifetime remaining) of the lifetime one. FHIR's
 * `item.category` holds one concept, so an EB03 with several service types gives one item per type, and since
 * `ces-1` wants a category or a code but not both, EB13 wins over EB03; an EB with neither speaks of the plan
 * (service type 30). An EB that says nothing FHIR can hold (EB*L without its 2120C) gives no item but a line
 * in `unmapped`, as does every element and segment the mapping does not read.
 */
import type {
  CodeableConcept, CoverageEligibilityResponseInsuranceItem as Item,
  CoverageEligibilityResponseInsuranceItemBenefit as ItemBenefit, Money, Practitioner, PractitionerRole, Reference,
} from '@medplum/fhirtypes';
import type { Benefit, X12Name } from './eligibility-271-model.ts';
import { BENEFIT_TYPES, COVERAGE_LEVELS, EB01, SERVICE_TYPES, TERMS, TIME_PERIODS } from './eligibility-codes.ts';
import { SYSTEMS } from './systems.ts';

export const REMAINING_EXTENSION = 'urn:frontdesk:extension:remaining';

/** EB01 codes whose meaning the response holds elsewhere (inforce, benefit, excluded). */
const READ_EB01 = new Set(['1', '2', '3', '4', '5', '6', '7', '8', 'A', 'B', 'C', 'G', 'I', 'E']);
const NETWORK = { Y: ['in'], N: ['out'], W: ['in', 'out'] } as const;
const NETWORK_DISPLAY = { in: 'In Network', out: 'Out of Network' } as const;

/** The items of one patient's EB loops; what was not read goes to `unmapped` (`2110C EB09 DY`). */
export function benefitItems(benefits: readonly Benefit[], x: 'C' | 'D', unmapped: Set<string>): Item[] {
  const items: Item[] = [];
  for (const group of groups(benefits)) {
    const first = group[0] as Benefit;
    const item = shared(group, x, unmapped);
    const kinds: Item[] = first.procedure?.qualifier === 'HC'
      ? [{ productOrService: procedure(first.procedure.code) }]
      : (first.serviceTypes.length ? first.serviceTypes : ['30']).map((code) => ({ category: serviceType(code) }));
    if (first.procedure?.qualifier === 'HC' && first.serviceTypes.length) unmapped.add(`2110${x} EB03 with EB13`);
    const says = Object.keys(item).length > 0 || first.serviceTypes.length > 0 || first.procedure?.qualifier === 'HC';
    if (!READ_EB01.has(first.info) && !item.benefit && !item.description && !item.provider) {
      unmapped.add(`2110${x} EB01 ${first.info}`);
    }
    // Each service type gets an item of its own, and EB12 W (applies in and out of network) one per network: the
    // codings of one CodeableConcept must mean the same thing. Built again rather than cloned (structuredClone
    // cost 25 µs a 271).
    const networks = item.network?.coding?.map((c) => ({ coding: [c] })) ?? [undefined];
    if (says) {
      kinds.forEach((k, i) =>
        networks.forEach((network, j) => {
          const built = i === 0 && j === 0 ? item : shared(group, x, unmapped);
          items.push({ ...k, ...built, ...(network ? { network } : {}) });
        })
      );
    }
  }
  return items;
}

/** Groups by the shared elements, then by term bucket (see the module comment); order of first appearance. */
function groups(benefits: readonly Benefit[]): Benefit[][] {
  const byKey = new Map<string, Benefit[]>();
  for (const b of benefits) {
    const p = b.procedure;
    const key = [b.info, b.coverageLevel, [...b.serviceTypes].sort().join('^'), b.insuranceType, b.network,
      p && [p.qualifier, p.code, ...p.modifiers].join(':')].join('|');
    byKey.set(key, [...(byKey.get(key) ?? []), b]);
  }
  const out: Benefit[][] = [];
  for (const group of byKey.values()) {
    const buckets = new Map<string, Benefit[]>();
    const put = (k: string, b: Benefit) => buckets.set(k, [...(buckets.get(k) ?? []), b]);
    for (const b of group) {
      const k = bucket(b);
      if (k !== undefined) put(k, b);
    }
    for (const b of group) {
      if (bucket(b) !== undefined) continue;
      const lifetime = b.timePeriod === '33';
      const prefer = lifetime ? ['lifetime'] : ['annual', ''];
      put(prefer.find((k) => buckets.has(k)) ?? [...buckets.keys()][0] ?? (lifetime ? 'lifetime' : 'amounts'), b);
    }
    out.push(...buckets.values());
  }
  return out;
}

/** The term an EB06 names (annual, lifetime, day, or the X12 code itself); undefined for 24, 29, 33 (amounts). */
function bucket(b: Benefit): string | undefined {
  const t = b.timePeriod;
  if (t === '24' || t === '29' || t === '33') return undefined;
  return t === undefined ? '' : (TERMS[t]?.code ?? t);
}

/** Everything but category / productOrService, the same for each service type of the group. */
function shared(group: Benefit[], x: 'C' | 'D', unmapped: Set<string>): Item {
  const first = group[0] as Benefit;
  const loop = `2110${x}`;
  const item: Item = {};
  const name = group.find((b) => b.planDescription)?.planDescription;
  if (name) item.name = name;
  const network = first.network && first.network in NETWORK
    ? NETWORK[first.network as keyof typeof NETWORK]
    : undefined;
  if (network) {
    // W gives both codings here; benefitItems splits them into one item each.
    item.network = {
      coding: network.map((code) => ({ system: SYSTEMS.benefitNetwork, code, display: NETWORK_DISPLAY[code] })),
    };
  } else if (first.network) unmapped.add(`${loop} EB12 ${first.network}`);
  if (first.coverageLevel) item.unit = unit(first.coverageLevel);
  const termed = group.find((b) => b.timePeriod && b.timePeriod !== '24' && b.timePeriod !== '29');
  if (termed?.timePeriod) item.term = term(termed.timePeriod);
  if (group.some((b) => b.info === 'I' || b.info === 'E')) item.excluded = true;
  const auth = group.find((b) => b.authorization === 'Y') ?? group.find((b) => b.authorization === 'N');
  if (auth) item.authorizationRequired = auth.authorization === 'Y';
  const messages = [...new Set(group.flatMap((b) => b.messages))];
  if (messages.length) item.description = messages.join(' ');
  const provider = group.flatMap((b) => b.entities).find((e) => e.name.entity === 'P3');
  if (provider) item.provider = pcp(provider.name, unmapped, x);
  const benefit = benefitsOf(group, x, unmapped);
  if (benefit.length) item.benefit = benefit;
  for (const b of group) unreadParts(b, x, unmapped, provider?.name);
  return item;
}

/** EB07/EB08/EB10 by EB01: copay, co-insurance, deductible, out of pocket, visits (`benefit.type` + EB01 coding). */
function benefitsOf(group: Benefit[], x: 'C' | 'D', unmapped: Set<string>): ItemBenefit[] {
  const out: ItemBenefit[] = [];
  const money: Amounts = {};
  const visits: Amounts = {};
  for (const b of group) {
    if (b.amount !== undefined) {
      if (b.info === 'B') out.push({ type: type('copay', b.info), allowedMoney: usd(b.amount) });
      else if (b.info === 'C' || b.info === 'G') add(money, b.timePeriod, b.amount);
      else unmapped.add(`2110${x} EB07 (EB01 ${b.info})`);
    }
    if (b.percent !== undefined) {
      // EB08 is a fraction (0.2 = 20 %); FHIR wants the whole percent.
      if (b.info === 'A' && b.percent >= 0) {
        out.push({ type: type('copay-percent', b.info), allowedUnsignedInt: Math.round(b.percent * 100) });
      } else unmapped.add(`2110${x} EB08 (EB01 ${b.info})`);
    }
    const visitCount = b.quantityQualifier === 'VS' ? b.quantity : undefined;
    if (visitCount !== undefined && visitCount >= 0) add(visits, b.timePeriod, visitCount);
    else if (b.quantityQualifier) unmapped.add(`2110${x} EB09 ${b.quantityQualifier}`);
    else if (b.quantity !== undefined) unmapped.add(`2110${x} EB10`);
  }
  const info = (group[0] as Benefit).info;
  const moneyType = info === 'C' ? 'deductible' : 'benefit';
  if (Object.keys(money).length) out.push({ type: type(moneyType, info), ...amounts(money, true) });
  if (Object.keys(visits).length) out.push({ type: type('visit', info), ...amounts(visits, false) });
  return out;
}

type Amounts = { allowed?: number; used?: number; remaining?: number };

/** EB06 24 year to date → used, 29/33 remaining → remaining, anything else (or none) → allowed; first one wins. */
function add(a: Amounts, period: string | undefined, value: number): void {
  const role = period === '24' ? 'used' : period === '29' || period === '33' ? 'remaining' : 'allowed';
  a[role] ??= value;
}

/** used = allowed − remaining when the group knows both; a lone remaining is kept in an extension, not guessed. */
function amounts(a: Amounts, isMoney: boolean): Partial<ItemBenefit> {
  const out: Partial<ItemBenefit> = {};
  // toFixed(6) drops the float noise (500 − 125.5 must be 374.5, not 374.49999999999994) and keeps the cents.
  const { allowed, remaining } = a;
  const derived = allowed !== undefined && remaining !== undefined
    ? Number((allowed - remaining).toFixed(6))
    : undefined;
  const used = a.used ?? (derived !== undefined && derived >= 0 ? derived : undefined);
  if (isMoney) {
    if (a.allowed !== undefined) out.allowedMoney = usd(a.allowed);
    if (used !== undefined) out.usedMoney = usd(used);
  } else {
    if (a.allowed !== undefined) out.allowedUnsignedInt = Math.round(a.allowed);
    if (used !== undefined) out.usedUnsignedInt = Math.round(used);
  }
  if (a.remaining !== undefined && used === undefined) {
    out.extension = [isMoney
      ? { url: REMAINING_EXTENSION, valueMoney: usd(a.remaining) }
      : { url: REMAINING_EXTENSION, valueUnsignedInt: Math.round(a.remaining) }];
  }
  return out;
}

/** EB07 is dollars (X12 type R, as sent; ISA and the TR3 know no other currency). */
function usd(value: number): Money {
  return { value, currency: 'USD' };
}

function type(code: keyof typeof BENEFIT_TYPES, eb01: string): CodeableConcept {
  return {
    coding: [
      { system: SYSTEMS.benefitType, code, display: BENEFIT_TYPES[code] },
      { system: SYSTEMS.eb01, code: eb01, ...display(EB01[eb01]) },
    ],
  };
}

function serviceType(code: string): CodeableConcept {
  return { coding: [{ system: SYSTEMS.serviceType, code, ...display(SERVICE_TYPES[code]) }] };
}

/** EB13 `HC:{code}`: five digits look like CPT, anything else (G0438, J1100) is HCPCS level II. */
function procedure(code: string): CodeableConcept {
  return { coding: [{ system: /^\d{5}$/.test(code) ? SYSTEMS.cpt : SYSTEMS.hcpcs, code }] };
}

/** EB02 IND / FAM → benefit-unit; the other coverage levels (EMP, ESP, …) have no FHIR code and keep X12's. */
function unit(level: string): CodeableConcept {
  if (level === 'IND') return { coding: [{ system: SYSTEMS.benefitUnit, code: 'individual', display: 'Individual' }] };
  if (level === 'FAM') return { coding: [{ system: SYSTEMS.benefitUnit, code: 'family', display: 'Family' }] };
  return { coding: [{ system: SYSTEMS.coverageLevel, code: level, ...display(COVERAGE_LEVELS[level]) }] };
}

/** EB06 → benefit-term where one fits, always followed by the X12 code itself. */
function term(period: string): CodeableConcept {
  const fhir = TERMS[period];
  return {
    coding: [
      ...(fhir ? [{ system: SYSTEMS.benefitTerm, code: fhir.code, display: fhir.display }] : []),
      { system: SYSTEMS.timePeriod, code: period, ...display(TIME_PERIODS[period]) },
    ],
  };
}

/** 2120C NM1*P3: the primary care provider, by name, with its NPI when NM108 is XX. */
function pcp(n: X12Name, unmapped: Set<string>, x: 'C' | 'D'): Reference<Practitioner | PractitionerRole> {
  const person = [n.first, n.middle, n.last, n.suffix].filter(Boolean).join(' ');
  const displayName = n.entityType === '1' ? person : (n.last ?? '');
  if (n.idQualifier && n.idQualifier !== 'XX') unmapped.add(`2120${x} NM108 ${n.idQualifier}`);
  return {
    ...(displayName ? { display: displayName } : {}),
    ...(n.idQualifier === 'XX' && n.id ? { identifier: { system: SYSTEMS.npi, value: n.id } } : {}),
  };
}

/** What an EB loop carries that the item does not hold. */
function unreadParts(b: Benefit, x: 'C' | 'D', unmapped: Set<string>, pcpName: unknown): void {
  const loop = `2110${x}`;
  if (b.insuranceType) unmapped.add(`${loop} EB04 ${b.insuranceType}`);
  if (b.authorization && !['Y', 'N', 'U'].includes(b.authorization)) unmapped.add(`${loop} EB11 ${b.authorization}`);
  if (b.procedure && b.procedure.qualifier !== 'HC') unmapped.add(`${loop} EB13 ${b.procedure.qualifier}`);
  if (b.procedure?.modifiers.length) unmapped.add(`${loop} EB13 modifiers`);
  if (b.diagnosisPointers.length) unmapped.add(`${loop} EB14`);
  if (b.delivery.length) unmapped.add(`${loop} HSD`);
  for (const r of b.refs) unmapped.add(`${loop} REF ${r.qualifier}`);
  for (const d of b.dates) unmapped.add(`${loop} DTP ${d.qualifier}`);
  if (b.additional.length) unmapped.add(`2115${x} III`);
  for (const e of b.entities) {
    if (e.name !== pcpName) unmapped.add(`2120${x} NM1 ${e.name.entity}`);
    if (e.address) unmapped.add(`2120${x} N3/N4`);
    if (e.contacts.length) unmapped.add(`2120${x} PER`);
    if (e.provider) unmapped.add(`2120${x} PRV`);
  }
}

function display(text: string | undefined): { display?: string } {
  return text ? { display: text } : {};
}
