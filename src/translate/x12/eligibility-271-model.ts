/**
 * @module translate/x12/eligibility-271-model — the typed shape of an 005010X279A1 271 eligibility response, as
 * ./eligibility-271.ts reads it: one object per HL level (2000A payer, 2000B receiver, 2000C subscriber, 2000D
 * dependent) holding its name loop (2100x) and, for the people, their benefit loops (2110x EB …, 2120x LS … LE).
 *
 * Values stay as X12 sent them (codes, names) except dates (CCYYMMDD → YYYY-MM-DD) and the numbers of EB07, EB08
 * and EB10, which are parsed once here so that no consumer sees `NaN`: an element that is not a number is left
 * out and reported in the level's `unmapped`.
 */

/** The loops an AAA (request validation) can sit in; the mapping names it in the error it reports. */
export type AaaLoop = '2000A' | '2100A' | '2100B' | '2100C' | '2110C' | '2100D' | '2110D';

/** `AAA*{Y|N}**{reject reason}*{follow-up}`. AAA01 Y: the request was valid but is rejected all the same. */
export type Aaa = { loop: AaaLoop; valid: boolean; reason: string; followUp: string };

/** NM1: entity code (NM101), 1 person / 2 organization (NM102), name parts, id qualifier (NM108) and id (NM109). */
export type X12Name = {
  entity: string;
  entityType: string;
  last?: string;
  first?: string;
  middle?: string;
  suffix?: string;
  idQualifier?: string;
  id?: string;
};

/** PER: contact function (PER01), name, and up to three qualified numbers (TE phone, FX fax, EM e-mail, UR url). */
export type Contact = { function: string; name?: string; numbers: { qualifier: string; value: string }[] };

/** N3 + N4. */
export type Address = { lines: string[]; city?: string; state?: string; postalCode?: string; country?: string };

/** REF: qualifier (18 plan, 6P group, SY SSN, …), value and description. */
export type RefId = { qualifier: string; value: string; description?: string };

/** DTP: qualifier (346 plan begin, 347 plan end, 356/357 eligibility, 291 plan, 307 eligibility), D8 or RD8. */
export type DateRef = { qualifier: string; format: string; value: string; start?: string; end?: string };

/** TRN: 1 = the payer's own trace, 2 = the 270's trace echoed back. */
export type Trace = { type: string; reference: string; originator: string; additional?: string };

/** PRV: provider code, qualifier (PXC taxonomy), id. */
export type ProviderInfo = { code: string; qualifier?: string; id?: string };

/** INS: `Y*18` subscriber, `N*{relationship}` dependent; `001*25` says the payer changed identifying data. */
export type Ins = { insured: string; relationship: string; maintenanceType?: string; maintenanceReason?: string };

/** EB13 composite: qualifier (HC CPT/HCPCS, N4 NDC, …), code, up to four modifiers. */
export type Procedure = { qualifier: string; code: string; modifiers: string[] };

/** A 2120C/D related entity (LS*2120 … LE*2120): the PCP (NM1*P3), another payer (PR), … */
export type RelatedEntity = { name: X12Name; address?: Address; contacts: Contact[]; provider?: ProviderInfo };

/** A 2110C/D loop: the EB segment typed element by element, then what follows it up to the next EB. */
export type Benefit = {
  /** EB01: 1–5 active, 6–8 inactive, A co-insurance, B co-payment, C deductible, G out of pocket, … */
  info: string;
  /** EB02: IND, FAM, EMP, … */
  coverageLevel?: string;
  /** EB03, split on the ISA11 repetition separator (none in 4010). */
  serviceTypes: string[];
  /** EB04: HM HMO, PR PPO, MA/MB Medicare A/B, … */
  insuranceType?: string;
  /** EB05: plan coverage description. */
  planDescription?: string;
  /** EB06: 23 calendar year, 24 year to date, 29 remaining, … */
  timePeriod?: string;
  /** EB07, dollars. */
  amount?: number;
  /** EB08, a fraction: 0.2 is 20 %. */
  percent?: number;
  /** EB09: VS visits, DY days, … */
  quantityQualifier?: string;
  /** EB10. */
  quantity?: number;
  /** EB11: Y/N/U authorization or certification required. */
  authorization?: string;
  /** EB12: Y in network, N out, W both (not applicable), U unknown. */
  network?: string;
  /** EB13. */
  procedure?: Procedure;
  /** EB14: diagnosis code pointers. */
  diagnosisPointers: string[];
  /** HSD segments, elements as sent. */
  delivery: string[][];
  refs: RefId[];
  dates: DateRef[];
  aaa: Aaa[];
  /** MSG01 texts. */
  messages: string[];
  /** 2115C/D III segments, elements as sent. */
  additional: string[][];
  /** 2120C/D. */
  entities: RelatedEntity[];
};

/** 2000C + 2100C (subscriber) or 2000D + 2100D (dependent). */
export type Member = {
  hl: string;
  traces: Trace[];
  name?: X12Name;
  refs: RefId[];
  address?: Address;
  provider?: ProviderInfo;
  /** DMG: birth date (YYYY-MM-DD) and gender (F, M, U). */
  demographics?: { birthDate?: string; gender?: string };
  ins?: Ins;
  dates: DateRef[];
  aaa: Aaa[];
  benefits: Benefit[];
  /** Segments (and elements) read but not typed, as `{loop} {segment}` (`2100C HI`, `2110C EB07 not a number`). */
  unmapped: string[];
};

export type Subscriber = Member & { dependents: Member[] };

/** 2000B + 2100B: the provider who asked. */
export type InformationReceiver = {
  hl: string;
  name?: X12Name;
  refs: RefId[];
  address?: Address;
  provider?: ProviderInfo;
  aaa: Aaa[];
  subscribers: Subscriber[];
  unmapped: string[];
};

/** 2000A + 2100A: the payer who answers. */
export type InformationSource = {
  hl: string;
  name?: X12Name;
  contacts: Contact[];
  aaa: Aaa[];
  receivers: InformationReceiver[];
  unmapped: string[];
};

export type Eligibility271 = {
  /** ST02 and ST03 (005010X279A1; 005010X279 before the addenda). */
  control: string;
  implementation: string;
  /** BHT02 11 response / 06 confirmation, BHT03 the submitter's reference, BHT04/05 creation date and time. */
  bht: { purpose: string; reference?: string; date?: string; time?: string };
  sources: InformationSource[];
  /** Segments outside any level this reader knows (an HL of level 24, a segment before the first HL, …). */
  unmapped: string[];
  /** The HL tree's own complaints (./hl.ts). */
  problems: string[];
};
