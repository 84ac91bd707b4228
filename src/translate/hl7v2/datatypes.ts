/**
 * @module translate/hl7v2/datatypes — HL7 v2 data types to FHIR data types, after the HL7 v2-to-FHIR IG data type
 * maps (CX[Identifier], XPN[HumanName], XAD[Address], XTN[ContactPoint], DTM/DT[date]).
 */
import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Address, CodeableConcept, Coding, ContactPoint, HumanName, Identifier } from '@medplum/fhirtypes';
import { identifierSystem, lookup } from './mappings.ts';
import type { Segment } from './parse.ts';

export type Comp = (c: number, s?: number) => string | undefined;

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

/**
 * XTN → ContactPoint: 2 use (0201), 3 equipment (0202), 4 e-mail, 6/7/8 area/local/extension, else 1 as text,
 * else 12 (the unformatted number of v2.6+).
 */
export function contactPoint(c: Comp, defaultUse?: ContactPoint['use']): ContactPoint | undefined {
  const system = lookup('0202', c(3)) as ContactPoint['system'] | undefined;
  const email = c(4);
  const number = c(7) ? [c(5) ? `+${c(5)} ` : '', c(6) ? `(${c(6)}) ` : '', c(7), c(8) ? ` x${c(8)}` : ''].join('') : (c(1) ?? c(12));
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

const DTM = /^(\d{4})(\d{2})?(\d{2})?(?:(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,4}))?)?([+-]\d{4})?$/;

/**
 * DTM → FHIR dateTime. Date-only values keep their precision (`2026`, `2026-03`, `2026-03-05`); a time gets
 * seconds and an offset: the one the sender wrote, else the offset of `timeZone` (the sending partner's IANA
 * zone) at that wall-clock time, so 09:30 in Chicago is `09:30:00-06:00` in winter and `-05:00` in summer.
 */
export function dateTime(value: string | undefined, where: string, timeZone: string): string | undefined {
  if (!value) return undefined;
  const m = DTM.exec(value.trim());
  if (!m) throw contentError(`${where} is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]): "${value}"`, where);
  const [, y, mo, d, h, mi, sec, frac, tz] = m;
  const day = date(`${y}${mo ?? ''}${d ?? ''}`, where) as string;
  if (h === undefined) return day;
  if (!d) throw contentError(`${where} has a time without a full date: "${value}"`, where);
  if (Number(h) > 23 || Number(mi ?? 0) > 59 || Number(sec ?? 0) > 59) throw contentError(`${where} has an impossible time: "${value}"`, where);
  const time = `${h}:${mi ?? '00'}:${sec ?? '00'}${frac ? `.${frac}` : ''}`;
  const offset = tz ? writtenOffset(tz, value, where) : zoneOffset(`${day}T${time}`, timeZone);
  return `${day}T${time}${offset}`;
}

/** The sender's `+/-HHMM` as FHIR `+HH:MM`; UTC offsets run from -14:00 to +14:00 (and minutes to 59). */
function writtenOffset(tz: string, value: string, where: string): string {
  const hours = Number(tz.slice(1, 3));
  const minutes = Number(tz.slice(3));
  if (minutes > 59 || hours * 60 + minutes > 14 * 60) throw contentError(`${where} has an impossible time zone offset: "${value}"`, where);
  return `${tz.slice(0, 3)}:${tz.slice(3)}`;
}

/** Like `dateTime`, for FHIR `instant` elements: a date alone means its midnight in the sender's zone. */
export function instant(value: string | undefined, where: string, timeZone: string): string | undefined {
  const v = dateTime(value, where, timeZone);
  if (!v || v.includes('T')) return v;
  if (v.length !== 10) throw contentError(`${where} needs at least a full date: "${value}"`, where);
  return `${v}T00:00:00${zoneOffset(`${v}T00:00:00`, timeZone)}`;
}

/** A FHIR dateTime with a time and an offset, `minutes` later, written in the same offset. */
export function addMinutes(at: string, minutes: number): string {
  const m = /([+-]\d{2}):(\d{2})$|Z$/.exec(at);
  const offset = m && m[1] ? (m[1].startsWith('-') ? -1 : 1) * (Math.abs(Number(m[1])) * 60 + Number(m[2])) : 0;
  const local = new Date(Date.parse(at) + (minutes + offset) * 60_000).toISOString().slice(0, 19);
  return `${local}${m ? m[0] : 'Z'}`;
}

/** The UTC offset (`-05:00`) of an IANA zone at a local wall-clock time. */
export function zoneOffset(local: string, timeZone: string): string {
  const asUtc = Date.parse(`${local.slice(0, 19)}Z`);
  const offsetAt = (t: number): number => {
    const name = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(t).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const o = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
    return o ? (o[1] === '-' ? -1 : 1) * (Number(o[2]) * 60 + Number(o[3])) : 0;
  };
  // The offset at the instant the wall-clock time would be in UTC, corrected once (right except inside a DST gap).
  let minutes = offsetAt(asUtc);
  minutes = offsetAt(asUtc - minutes * 60_000);
  if (minutes === 0) return timeZone === 'UTC' || timeZone === 'Etc/UTC' ? 'Z' : '+00:00';
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** CWE/CE → CodeableConcept: 1 code, 2 text, 3 coding system (HL7 table or a URI), 4–6 the alternate coding. */
export function codeableConcept(c: Comp, defaultSystem?: string): CodeableConcept | undefined {
  const coding: Coding[] = [];
  const one = (code: string | undefined, display: string | undefined, system: string | undefined, fallback?: string) => {
    if (!code) return;
    const k: Coding = { code };
    const sys = codeSystem(system) ?? fallback;
    if (sys) k.system = sys;
    if (display) k.display = display;
    coding.push(k);
  };
  one(c(1), c(2), c(3), defaultSystem);
  one(c(4), c(5), c(6));
  const text = c(2) ?? c(5) ?? (coding.length ? undefined : c(9));
  if (!coding.length && !text) return undefined;
  const cc: CodeableConcept = {};
  if (coding.length) cc.coding = coding;
  if (text) cc.text = text;
  return cc;
}

/** HL7 coding system names (table 0396) → FHIR system URIs; unknown names become `urn:frontdesk:cs:<name>`. */
export function codeSystem(name: string | undefined): string | undefined {
  if (!name) return undefined;
  if (/^(https?:|urn:)/.test(name)) return name;
  const known = lookup('0396', name);
  if (known) return known;
  if (/^HL7\d{4}$/.test(name)) return `http://terminology.hl7.org/CodeSystem/v2-${name.slice(3)}`;
  return `urn:frontdesk:cs:${encodeURIComponent(name)}`;
}

/** XCN → the practitioner's identifier (XCN-1 with XCN-9 assigning authority) and name (XCN-2..6). */
export function person(c: Comp): { identifier?: Identifier; name?: HumanName } | undefined {
  const id = c(1);
  const name = humanName((i, s) => (i === 7 ? undefined : c(i + 1, s)));
  if (!id && !name) return undefined;
  const out: { identifier?: Identifier; name?: HumanName } = {};
  if (id) {
    out.identifier = { value: id };
    const system = identifierSystem(c(9, 1), c(9, 2), c(9, 3));
    if (system) out.identifier.system = system;
  }
  if (name) out.name = name;
  return out;
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
export function contentError(message: string, where: string, code = '102'): OperationOutcomeError {
  // The text quotes the value as received; a NUL in it would make the outcome (jsonb) and the ACK unstorable.
  const text = message.replaceAll('\u0000', '\uFFFD');
  const o = badRequest(text, where);
  const issue = o.issue?.[0];
  if (issue) issue.details = { text, coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0357', code }] };
  return new OperationOutcomeError(o);
}
