/**
 * @module translate/hl7v2/datatypes-out — FHIR data types to HL7 v2 data types, the inverse of ./datatypes.ts
 * (HumanName → XPN, Address → XAD, ContactPoint → XTN, CodeableConcept → CWE, dateTime → DTM, Identifier → CX
 * and EI) with the same code tables read backwards (`reverseLookup`): what one writes, the other reads back.
 */
import type { Address, CodeableConcept, ContactPoint, HumanName, Identifier } from '@medplum/fhirtypes';
import type { Component, Repetition } from './encode.ts';
import { identifierSystem, reverseLookup, systemNamespace } from './mappings.ts';

/** HumanName → XPN: 1 family, 2 first given, 3 the other given names, 4 suffix, 5 prefix, 7 type (table 0200). */
export function xpn(n: HumanName): Repetition {
  const [first, ...others] = n.given ?? [];
  return [
    n.family,
    first,
    others.join(' ') || undefined,
    n.suffix?.[0],
    n.prefix?.[0],
    undefined,
    reverseLookup('0200', n.use),
  ];
}

/** Address → XAD: 1 and 2 the lines, 3 city, 4 state, 5 postal code, 6 country, 7 type (table 0190). */
export function xad(a: Address): Repetition {
  const lines = a.line ?? [];
  const second = lines.slice(1).join(', ') || undefined;
  return [lines[0], second, a.city, a.state, a.postalCode, a.country, reverseLookup('0190', a.use)];
}

/**
 * ContactPoint → XTN: 2 use (table 0201), 3 equipment (0202); a phone's number in 1 (and 12, the unformatted
 * number of v2.6+), an e-mail address in 4.
 */
export function xtn(cp: ContactPoint): Repetition | undefined {
  if (!cp.value) return undefined;
  const equipment = reverseLookup('0202', cp.system) ?? (cp.system === 'email' ? 'Internet' : undefined);
  const use = reverseLookup('0201', cp.use);
  if (cp.system === 'email') return [undefined, use, equipment, cp.value];
  return [cp.value, use, equipment];
}

/**
 * CodeableConcept → CWE: 1–3 the first coding (code, display or the text, coding system name), 4–6 the second,
 * 9 the text when it says more than the display; a text alone goes in 2 (and 9), as a CWE without code.
 */
export function cwe(cc: CodeableConcept | undefined): Repetition | undefined {
  if (!cc) return undefined;
  const [a, b] = cc.coding?.filter((k) => k.code) ?? [];
  if (!a) return cc.text ? [undefined, cc.text] : undefined;
  const out: Component[] = [a.code, a.display ?? cc.text, systemName(a.system)];
  if (b) out.push(b.code, b.display, systemName(b.system));
  if (cc.text && cc.text !== (a.display ?? cc.text)) {
    while (out.length < 8) out.push(undefined);
    out.push(cc.text);
  }
  return out;
}

/** A coding system URI → the HL7 name ./datatypes.ts `codeSystem` reads back to it (table 0396, `HL7nnnn`, URIs). */
export function systemName(system: string | undefined): string | undefined {
  if (!system) return undefined;
  const named = reverseLookup('0396', system);
  if (named) return named;
  const table = /^http:\/\/terminology\.hl7\.org\/CodeSystem\/v2-(\d{4})$/.exec(system);
  if (table) return `HL7${table[1]}`;
  const local = /^urn:frontdesk:cs:(.+)$/.exec(system);
  return local ? decodeURIComponent(local[1] as string) : system;
}

/** A code with its system as a CWE (`code^^system`), for codes that stand alone (table values). */
export function codedAs(code: string | undefined, display?: string, system?: string): Repetition | undefined {
  return code ? [code, display, system] : undefined;
}

/**
 * The assigning authority of an identifier system, as HD (namespace, universal id, universal id type): the name
 * `mappings/identifier-systems.json` gives it, a `urn:frontdesk:id:` namespace, an OID (ISO) or the URI itself.
 * `identifierSystem` reads each back to the same system.
 */
export function authority(system: string | undefined): [string | undefined, string | undefined, string | undefined] {
  if (!system) return [undefined, undefined, undefined];
  const named = systemNamespace(system);
  if (named) return [named, undefined, undefined];
  const local = /^urn:frontdesk:id:(.+)$/.exec(system);
  if (local) return [decodeURIComponent(local[1] as string), undefined, undefined];
  const oid = /^urn:oid:([0-9.]+)$/.exec(system);
  if (oid) return [undefined, oid[1], 'ISO'];
  return [undefined, system, 'URI'];
}

/** Identifier → CX: 1 value, 4 assigning authority (HD, as sub-components), 5 type (table 0203). */
export function cx(id: Identifier): Repetition | undefined {
  if (!id.value) return undefined;
  const type = id.type?.coding?.find((k) => k.system === 'http://terminology.hl7.org/CodeSystem/v2-0203')?.code;
  const hd = authority(id.system);
  return [id.value, undefined, undefined, hd.some(Boolean) ? hd : undefined, type];
}

/** Identifier → EI: 1 value, 2 namespace, 3 universal id, 4 its type. */
export function ei(id: Identifier): Repetition | undefined {
  return id.value ? [id.value, ...authority(id.system)] : undefined;
}

/** FHIR date → DT (`2026-03-05` → `20260305`). */
export function dt(date: string | undefined): string | undefined {
  return date ? date.slice(0, 10).replaceAll('-', '') : undefined;
}

/**
 * FHIR dateTime/instant → DTM with the offset it was written in (`2026-03-05T09:30:00-06:00` →
 * `20260305093000-0600`); a date alone keeps its precision.
 */
export function dtm(at: string | undefined): string | undefined {
  if (!at) return undefined;
  const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$/.exec(
    at
  );
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const time = h ? `${h}${mi}${s ?? '00'}${frac ? frac.slice(0, 5) : ''}` : '';
  const offset = tz === 'Z' ? '+0000' : tz ? tz.replace(':', '') : '';
  return `${y}${mo ?? ''}${d ?? ''}${time}${h ? offset : ''}`;
}

/** Whether `identifierSystem` reads the authority `authority(system)` writes back to `system`. */
export function roundTrips(system: string): boolean {
  const [ns, uid, type] = authority(system);
  return identifierSystem(ns, uid, type) === system;
}
