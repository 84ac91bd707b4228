/**
 * @module store/index-values — extracts the search values of a resource at write time (FHIR search.html).
 *
 * Each R4 SearchParameter's FHIRPath `expression` is evaluated on the resource; the values are turned into
 * rows of the `search_*` tables with `@medplum/core`'s converters. HumanName and Address are split into their
 * parts, because a string search on `name` matches any part (search.html#string), not the formatted whole.
 */
import {
  convertToSearchableDates,
  convertToSearchableNumbers,
  convertToSearchableQuantities,
  convertToSearchableReferences,
  convertToSearchableStrings,
  convertToSearchableTokens,
  convertToSearchableUris,
  evalFhirPathTyped,
  getParsedExpressionForResourceType,
  toTypedValue,
  type TypedValue,
} from '@medplum/core';
import type { Address, CodeableConcept, Coding, HumanName, Identifier, Reference, Resource } from '@medplum/fhirtypes';
import { compilePath, type PathEvaluator } from './path-expression.ts';
import { indexedParams, searchParam } from './search-params.ts';

export type IndexRows = {
  tokens: { code: string; system: string; value: string; text: string }[];
  numbers: { code: string; system: string; unit: string; low: number; high: number }[];
  strings: { code: string; value: string; raw: string }[];
  references: { code: string; target: string }[];
  dates: { code: string; low: string; high: string }[];
};

/** Digits only: "(555) 123-4567" and "555.123.4567" both become "5551234567" (and a leading + is kept). */
export function normalizePhone(s: string): string {
  return (s.trim().startsWith('+') ? '+' : '') + s.replace(/\D/g, '');
}

/** Lower case without accents: "Muñoz" and "MUNOZ" both become "munoz". */
export function normalizeString(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

type Atom = ReturnType<typeof getParsedExpressionForResourceType>;

/**
 * Parsed FHIRPath per (type, expression), keeping only the branches of `Patient.name | Practitioner.name | …`
 * that apply to the type: evaluating the other types' branches costs ten times more than the useful one.
 */
const parsed = new Map<string, Atom | null>();

function atom(type: string, expression: string): Atom | null {
  const key = `${type}\u0000${expression}`;
  let a = parsed.get(key);
  if (a === undefined) {
    try {
      a = getParsedExpressionForResourceType(type, expression);
    } catch {
      a = null; // an expression the engine cannot parse indexes nothing
    }
    parsed.set(key, a);
  }
  return a;
}

/** Per (type, expression): the plain path walked directly (./path-expression.ts), else the FHIRPath engine. */
const evaluators = new Map<string, PathEvaluator>();

function evaluatorOf(type: string, expression: string): PathEvaluator {
  const key = `${type}\u0000${expression}`;
  let e = evaluators.get(key);
  if (!e) {
    e = compilePath(type, expression) ?? ((root: TypedValue[]) => evaluateWithEngine(type, expression, root));
    evaluators.set(key, e);
  }
  return e;
}

/** The values of `expression` on `root` (a resource of `type`). */
export function evaluate(type: string, expression: string, root: TypedValue[]): TypedValue[] {
  return evaluatorOf(type, expression)(root);
}

/** The same values through the FHIRPath engine alone: what the fast path is tested against. */
export function evaluateWithEngine(type: string, expression: string, root: TypedValue[]): TypedValue[] {
  const parsedExpression = atom(type, expression);
  return parsedExpression ? evalFhirPathTyped(parsedExpression, root) : [];
}

/**
 * The `search_reference` targets that `resource` has for its reference parameter `code`: the same values its
 * search rows hold (written from the same content), computed without reading them back (`_include`).
 */
export function referenceTargets(resource: Resource, code: string): string[] {
  const param = searchParam(resource.resourceType, code);
  if (param?.type !== 'reference' || !param.expression) return [];
  try {
    return convertToSearchableReferences(evaluate(resource.resourceType, param.expression, [toTypedValue(resource)]));
  } catch {
    return []; // as at write time: an expression the engine cannot evaluate indexes nothing
  }
}

/** A type's indexed parameters, each with its evaluator: looked up once per type, not per parameter and write. */
type Extractor = { code: string; type: string; values: (root: TypedValue[]) => TypedValue[] };
const extractors = new Map<string, Extractor[]>();

function extractorsOf(type: string): Extractor[] {
  let list = extractors.get(type);
  if (!list) {
    list = indexedParams(type).map((param) => ({
      code: param.code as string,
      type: param.type as string,
      values: evaluatorOf(type, param.expression as string),
    }));
    extractors.set(type, list);
  }
  return list;
}

export function extractIndexRows(resource: Resource): IndexRows {
  const rows: IndexRows = { tokens: [], numbers: [], strings: [], references: [], dates: [] };
  const root = [toTypedValue(resource)];
  for (const param of extractorsOf(resource.resourceType)) {
    const code = param.code;
    let values: TypedValue[];
    try {
      values = param.values(root);
    } catch {
      continue; // an expression the engine cannot evaluate on this resource indexes nothing
    }
    if (values.length === 0) continue;
    switch (param.type) {
      case 'token':
        for (const v of values) tokenRows(code, v, rows.tokens);
        break;
      case 'uri':
        for (const u of convertToSearchableUris(values)) rows.tokens.push({ code, system: '', value: u, text: '' });
        break;
      case 'number':
        for (const [low, high] of convertToSearchableNumbers(values)) {
          if (low !== undefined || high !== undefined) rows.numbers.push({ code, system: '', unit: '', low: low ?? (high as number), high: high ?? (low as number) });
        }
        break;
      case 'quantity':
        for (const q of convertToSearchableQuantities(values)) {
          if (typeof q.value !== 'number') continue;
          const half = halfUnit(q.value);
          rows.numbers.push({ code, system: q.system ?? '', unit: q.code ?? q.unit ?? '', low: q.value - half, high: q.value + half });
        }
        break;
      case 'string':
        for (const s of stringParts(values)) rows.strings.push({ code, value: normalizeString(s), raw: s });
        break;
      case 'reference':
        for (const target of convertToSearchableReferences(values)) rows.references.push({ code, target });
        // `subject:identifier=system|value` (search.html#reference) searches Reference.identifier.
        for (const v of values) {
          const id = (v.value as Reference | undefined)?.identifier;
          if (id?.value) rows.tokens.push({ code: `${code}:identifier`, system: id.system ?? '', value: id.value, text: '' });
        }
        break;
      case 'date':
        for (const p of convertToSearchableDates(values)) {
          if (p.start || p.end) {
            rows.dates.push({ code, low: p.start ?? '-infinity', high: p.end ?? 'infinity' });
          }
        }
        break;
    }
  }
  return dedupe(rows);
}

/**
 * Token rows of one value, with its display text (for `:text`); identifiers also get `:of-type` rows keyed by
 * their type coding, and phone/fax numbers a digits-only row so "555-0101" finds "(555) 0101".
 */
function tokenRows(code: string, v: TypedValue, out: IndexRows['tokens']): void {
  const text = normalizeString(displayText(v).join(' '));
  for (const t of convertToSearchableTokens([v])) {
    if (t.value === undefined) continue;
    out.push({ code, system: t.system ?? '', value: t.value, text });
    if (v.type === 'ContactPoint' && (t.system === 'phone' || t.system === 'fax' || t.system === 'sms')) {
      const digits = normalizePhone(t.value);
      if (digits !== t.value && digits !== '') out.push({ code, system: t.system, value: digits, text });
    }
  }
  if (v.type === 'Identifier') {
    const id = v.value as Identifier;
    for (const c of id.type?.coding ?? []) {
      if (id.value && c.code) out.push({ code: `${code}:of-type`, system: `${c.system ?? ''}|${c.code}`, value: id.value, text: '' });
    }
  }
}

function displayText(v: TypedValue): string[] {
  switch (v.type) {
    case 'CodeableConcept': {
      const cc = v.value as CodeableConcept;
      return [cc.text, ...(cc.coding ?? []).map((c) => c.display)].filter(isText);
    }
    case 'Coding':
      return [(v.value as Coding).display].filter(isText);
    case 'Identifier':
      return [(v.value as Identifier).type?.text].filter(isText);
    default:
      return [];
  }
}

function halfUnit(n: number): number {
  const decimals = String(n).split('e')[0]?.split('.')[1]?.length ?? 0;
  return 0.5 * 10 ** -decimals;
}

function stringParts(values: TypedValue[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (v.type === 'HumanName') {
      const n = v.value as HumanName;
      out.push(...[n.text, n.family, ...(n.given ?? []), ...(n.prefix ?? []), ...(n.suffix ?? [])].filter(isText));
    } else if (v.type === 'Address') {
      const a = v.value as Address;
      out.push(
        ...[a.text, ...(a.line ?? []), a.city, a.district, a.state, a.postalCode, a.country].filter(isText)
      );
    } else {
      out.push(...convertToSearchableStrings([v]).filter(isText));
    }
  }
  return out;
}

function isText(s: string | undefined): s is string {
  return typeof s === 'string' && s.trim() !== '';
}

/** The rows once each: a row's key is its columns, joined by a character no value holds. */
function dedupe(rows: IndexRows): IndexRows {
  const uniq = <T>(list: T[], key: (x: T) => string): T[] => {
    if (list.length < 2) return list;
    const seen = new Set<string>();
    return list.filter((x) => {
      const k = key(x);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  };
  return {
    tokens: uniq(rows.tokens, (t) => `${t.code}\u0001${t.system}\u0001${t.value}\u0001${t.text}`),
    numbers: uniq(rows.numbers, (n) => `${n.code}\u0001${n.system}\u0001${n.unit}\u0001${n.low}\u0001${n.high}`),
    strings: uniq(rows.strings, (s) => `${s.code}\u0001${s.value}\u0001${s.raw}`),
    references: uniq(rows.references, (r) => `${r.code}\u0001${r.target}`),
    dates: uniq(rows.dates, (d) => `${d.code}\u0001${d.low}\u0001${d.high}`),
  };
}
