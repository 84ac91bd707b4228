/**
 * @module translate/hl7v2/datatypes — HL7 v2 data types to FHIR data types, after the HL7 v2-to-FHIR IG data type
 * maps (CX[Identifier], XPN[HumanName], XAD[Address], XTN[ContactPoint], DTM/DT[date]).
 */
import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Address, ContactPoint, HumanName, Identifier } from '@medplum/fhirtypes';
import { identifierSystem, lookup } from './mappings.ts';
import type { Segment } from './parse.ts';

type Comp = (c: number, s?: number) => string | undefined;

/** CX → Identifier: CX-1 value, CX-4 assigning authority → system, CX-5 type (table 0203). */
export function identifier(c: Comp): Identifier | undefined {
  const value = c(1);
  if (!value) return undefined;
  const id: Identifier = { value };
  const system = identifierSystem(c(4, 1), c(4, 2), c(4, 3));
  if (system) id.system = system;
  const type = c(5);
  if (type) id.type = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: type }] };
  return id;
}

/** XPN → HumanName: 1 family, 2 given, 3 further given, 4 suffix, 5 prefix, 7 name type (table 0200). */
export function humanName(c: Comp): HumanName | undefined {
  const name: HumanName = {};
  const family = c(1);
  if (family) name.family = family;
  const given = [c(2), ...(c(3)?.split(' ') ?? [])].filter((g): g is string => !!g);
  if (given.length) name.given = given;
  if (c(4)) name.suffix = [c(4) as string];
  if (c(5)) name.prefix = [c(5) as string];
  const use = lookup('0200', c(7));
  if (use) name.use = use as HumanName['use'];
  return Object.keys(name).length > 0 ? name : undefined;
}

/** XAD → Address: 1 street, 2 other designation, 3 city, 4 state, 5 postal code, 6 country, 7 type (0190). */
export function address(c: Comp): Address | undefined {
  const a: Address = {};
  const line = [c(1), c(2)].filter((l): l is string => !!l);
  if (line.length) a.line = line;
  if (c(3)) a.city = c(3);
  if (c(4)) a.state = c(4);
  if (c(5)) a.postalCode = c(5);
  if (c(6)) a.country = c(6);
  const use = lookup('0190', c(7));
  if (use) a.use = use as Address['use'];
  return Object.keys(a).length > 0 ? a : undefined;
}

/** XTN → ContactPoint: 2 use (0201), 3 equipment (0202), 4 e-mail, 6/7/8 area/local/extension, or 1 as text. */
export function contactPoint(c: Comp, defaultUse?: ContactPoint['use']): ContactPoint | undefined {
  const system = lookup('0202', c(3)) as ContactPoint['system'] | undefined;
  const email = c(4);
  const number = c(7) ? [c(5) ? `+${c(5)} ` : '', c(6) ? `(${c(6)}) ` : '', c(7), c(8) ? ` x${c(8)}` : ''].join('') : c(1);
  const value = system === 'email' || (email && !number) ? email : number;
  if (!value) return undefined;
  const cp: ContactPoint = { system: system ?? (email && !number ? 'email' : 'phone'), value };
  const use = (lookup('0201', c(2)) as ContactPoint['use'] | undefined) ?? (c(3) === 'CP' ? 'mobile' : defaultUse);
  if (use) cp.use = use;
  return cp;
}

/** DT/DTM → FHIR date (YYYY, YYYY-MM or YYYY-MM-DD): the precision given is kept. */
export function date(value: string | undefined, where: string): string | undefined {
  if (!value) return undefined;
  const m = /^(\d{4})(\d{2})?(\d{2})?/.exec(value);
  if (!m) throw contentError(`${where} is not an HL7 date (YYYY[MM[DD]]): "${value}"`, where);
  const [, y, mo, d] = m;
  const iso = [y, mo, d].filter(Boolean).join('-');
  if (mo && (Number(mo) < 1 || Number(mo) > 12)) throw contentError(`${where} has an impossible month: "${value}"`, where);
  if (d && Number.isNaN(Date.parse(`${iso}T00:00:00Z`))) throw contentError(`${where} is not a calendar date: "${value}"`, where);
  if (d && new Date(`${iso}T00:00:00Z`).toISOString().slice(0, 10) !== iso) throw contentError(`${where} is not a calendar date: "${value}"`, where);
  return iso;
}

/** All repetitions of field `n` through a converter, dropping empties. */
export function each<T>(seg: Segment, n: number, convert: (c: Comp) => T | undefined): T[] {
  const out: T[] = [];
  for (let r = 0; r < seg.count(n); r++) {
    const v = convert(seg.rep(n, r));
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** A content error in a message: AE with ERR table 0357 code 102 (data type error) at the field. */
export function contentError(text: string, where: string, code = '102'): OperationOutcomeError {
  const o = badRequest(text, where);
  const issue = o.issue?.[0];
  if (issue) issue.details = { text, coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0357', code }] };
  return new OperationOutcomeError(o);
}
