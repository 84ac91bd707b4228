/**
 * @module translate/hl7v2/fieldmap-out — the field maps of mappings/hl7v2/ read backwards: a resource's elements
 * written into the HL7 v2 fields that feed them inbound, through the inverse data type converters
 * (./datatypes-out.ts) and the same code tables read backwards. One map, two directions: a field added to a map
 * is read from the partner's messages and written into the gateway's.
 *
 * What a map cannot say backwards is left out: `else` (the alternative field is only read), `fixed` and
 * `default` (what every resource gets says nothing about this one). A choice element writes the variant present.
 */
import type { FieldMap, FieldRule } from './fieldmap.ts';
import { cwe, dt, dtm, xad, xpn, xtn } from './datatypes-out.ts';
import type { Component, Field, Repetition } from './encode.ts';
import { reverseLookup } from './mappings.ts';

/** The fields of `segment` a resource feeds, by field number (`PID-5` → 5). */
export function fieldsFromMap(map: FieldMap, segment: string, resource: object): Map<number, Field> {
  const out = new Map<number, Field>();
  for (const rule of map.fields) {
    const [seg, n] = rule.field.split('-');
    if (seg !== segment || out.has(Number(n))) continue;
    const values = valuesAt(resource, rule);
    const reps = values.map((v) => written(v, rule)).filter((r): r is Repetition => r !== undefined);
    if (reps.length) out.set(Number(n), rule.repeats ? reps : reps.slice(0, 1));
  }
  return out;
}

/** The values a rule's element holds in the resource, the items of its slice only. */
function valuesAt(resource: object, rule: FieldRule): unknown[] {
  let values: unknown[] = [resource];
  for (const part of rule.element.split('.')) {
    const name = part.replace(/\[\]$/, '');
    values = values.flatMap((v) => {
      const x = v && typeof v === 'object' ? (v as Record<string, unknown>)[name] : undefined;
      return Array.isArray(x) ? x : x === undefined ? [] : [x];
    });
  }
  return rule.slice ? values.filter((v) => inSlice(v, rule.slice as string)) : values;
}

/** `use=work`, `use!=work`, `coding.system=<uri>`: whether an item belongs to the slice (absent ≠ the value). */
function inSlice(item: unknown, slice: string): boolean {
  const m = /^([\w.]+)(!?=)(.*)$/.exec(slice);
  if (!m) return true;
  const [, path, op, want] = m as unknown as [string, string, string, string];
  let got: unknown[] = [item];
  for (const key of path.split('.')) {
    got = got.flatMap((g) => {
      const x = g && typeof g === 'object' ? (g as Record<string, unknown>)[key] : undefined;
      return Array.isArray(x) ? x : x === undefined ? [] : [x];
    });
  }
  const has = got.includes(want);
  return op === '=' ? has : !has;
}

/** One value as the repetition the rule's converter reads back into it. */
function written(v: unknown, rule: FieldRule): Repetition | undefined {
  switch (rule.type) {
    case 'XPN':
      return xpn(v as never);
    case 'XAD':
      return xad(v as never);
    case 'XTN':
      return xtn(v as never);
    case 'DT':
      return at(rule, dt(v as string));
    case 'DTM':
      return at(rule, dtm(v as string));
    case 'NM':
    case 'ST':
    case 'PL':
      return typeof v === 'string' || typeof v === 'number' ? at(rule, String(v)) : undefined;
    default:
      if (!rule.as && !rule.table && ['CWE', 'CE', 'CNE'].includes(rule.type)) return cwe(v as never);
      return at(rule, codeOf(v, rule));
  }
}

/** The code a coded rule made its value of, before the table (`as` undone, then the table read backwards). */
function codeOf(v: unknown, rule: FieldRule): string | undefined {
  let code: string | undefined;
  if (typeof v === 'boolean' || typeof v === 'number') code = String(v);
  else if (typeof v === 'string') code = v;
  else if (v && typeof v === 'object') {
    const coding =
      'coding' in v ? (v as { coding?: { system?: string; code?: string }[] }).coding : [v as { code?: string }];
    const k = coding?.find((c) => !rule.system || !('system' in c) || c.system === rule.system) ?? coding?.[0];
    code = k?.code;
  }
  return rule.table ? reverseLookup(rule.table, code) : code;
}

/** A value in the rule's component (1 unless it says otherwise). */
function at(rule: FieldRule, value: string | undefined): Repetition | undefined {
  if (value === undefined || value === '') return undefined;
  const comps: Component[] = Array.from({ length: (rule.component ?? 1) - 1 }, () => undefined);
  comps.push(value);
  return comps;
}
