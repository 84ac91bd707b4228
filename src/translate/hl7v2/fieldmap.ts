/**
 * @module translate/hl7v2/fieldmap — the field maps of mappings/hl7v2/ (one file per FHIR target: which HL7 v2 field
 * feeds which element, through which data type converter and code table) and the small interpreter that applies one
 * to a message's segments, pure. The format: mappings/hl7v2/README.md.
 *
 * What a field says is exact (v2.5 §2.5.3): a value sets what the field feeds, `""` removes it, an empty field
 * leaves what is stored alone. What a field feeds is a part of the resource (`Part`, ./plan.ts): the element, or —
 * where several fields feed one element — a member of it (`period.start`) or a slice of it (`telecom[use=work]`),
 * which the merge then replaces or removes alone. What needs logic (identifiers and matches, references to other
 * entries) stays in code, which reports its fields the same way through `feed`.
 */
import type { ContactPoint } from '@medplum/fhirtypes';
import { address, codeableConcept, contactPoint, date, dateTime, each, humanName, type Comp } from './datatypes.ts';
import { hasTable, lookup, readFieldMap } from './mappings.ts';
import { DELETE, type Segment } from './parse.ts';
import { parsePart } from './plan.ts';

export type FieldRule = {
  /** Segment and field, `PID-13`. */
  field: string;
  /** Where the value goes: a path in the resource, `[]` after an array (`name[]`, `communication[].language`). */
  element: string;
  /** The HL7 v2 data type converter (`CONVERTERS`). */
  type: string;
  /** Every repetition, one item each of the last array in `element`; else the first repetition only. */
  repeats?: boolean;
  /** The code table (mappings/hl7v2/tables.json) the code (component 1, or `component`) is looked up in. */
  table?: string;
  /** Coding system: of the code made (`as`), or, converting a whole CWE, the one used when CWE-3 names none. */
  system?: string;
  /** The FHIR type made from the code (or number) alone; without it a CWE becomes a whole CodeableConcept. */
  as?: (typeof SHAPES)[number];
  component?: number;
  /** XTN: the use when XTN-2 gives none; `use`: the use whatever XTN-2 says (the field's slice is by use). */
  defaultUse?: ContactPoint['use'];
  use?: ContactPoint['use'];
  /** The slice of an array element this field owns, when other fields feed the same element: `use=work`. */
  slice?: string;
  /** Rules of one choice element (`deceased[x]`): the first with a value sets it, the others' variants go. */
  choice?: string;
  /** The code (after `table`) when the field gives none: set only on a resource being created; `""` resets to it. */
  default?: string;
  /** Another field of the segment read when this one is empty. */
  else?: string;
  /** No resource is made from the segment when this field has no value. */
  required?: boolean;
};

export type FieldMap = { resourceType: string; fixed?: Record<string, unknown>; fields: FieldRule[] };

/** What a field map made of the segments: the elements, the parts deleted and set in part, the create-only ones. */
export type Mapped = { resource: Record<string, unknown>; remove: string[]; partial: string[]; defaults: Record<string, unknown> };

type Options = { timeZone: string };
type Convert = (c: Comp, r: FieldRule, where: string, o: Options) => unknown;

const SHAPES = ['code', 'boolean', 'Coding', 'CodeableConcept', 'integer', 'positiveInt'] as const;

const coded: Convert = (c, r) => {
  if (!r.as && !r.table && (r.type === 'CWE' || r.type === 'CE' || r.type === 'CNE')) return codeableConcept(c, r.system);
  const raw = c(r.component ?? 1);
  return shaped(r.table ? lookup(r.table, raw) : raw, r);
};

const CONVERTERS: Record<string, Convert> = {
  XPN: (c) => humanName(c),
  XAD: (c) => address(c),
  XTN: (c, r) => {
    const cp = contactPoint(c, r.defaultUse);
    if (cp && r.use) cp.use = r.use;
    return cp;
  },
  CWE: coded,
  CE: coded,
  CNE: coded,
  ID: coded,
  IS: coded,
  ST: (c, r) => c(r.component ?? 1),
  NM: (c, r) => {
    const n = Number(c(1) ?? NaN);
    if (r.as === 'positiveInt') return Number.isInteger(n) && n > 0 ? n : undefined;
    if (r.as === 'integer') return Number.isInteger(n) ? n : undefined;
    return Number.isFinite(n) ? n : undefined;
  },
  DT: (c, _r, where) => date(c(1), where),
  DTM: (c, _r, where, o) => dateTime(c(1), where, o.timeZone),
  /** PL → the location's display: point of care, room, bed, facility. */
  PL: (c) => [c(1), c(2), c(3), c(4)].filter(Boolean).join(' ') || undefined,
};

/** A code as the FHIR type the rule asks for. */
function shaped(code: string | undefined, r: FieldRule): unknown {
  if (code === undefined) return undefined;
  const coding = r.system ? { system: r.system, code } : { code };
  switch (r.as ?? 'code') {
    case 'boolean':
      return code === 'true' ? true : code === 'false' ? false : undefined;
    case 'Coding':
      return coding;
    case 'CodeableConcept':
      return { coding: [coding] };
    case 'integer':
    case 'positiveInt':
      return Number(code);
    default:
      return code;
  }
}

const maps = new Map<string, FieldMap>();

/** The field map `mappings/hl7v2/<name>.json`, checked once: a mistake in it is named at start-up. */
export function fieldMap(name: string): FieldMap {
  let m = maps.get(name);
  if (!m) {
    const { file, data } = readFieldMap(name);
    m = checkFieldMap(data, file);
    maps.set(name, m);
  }
  return m;
}

/**
 * Applies a field map to the segments it names (`{ PID, PD1 }`); `label` gives a segment's name in error
 * locations (`NK1[2]`). Undefined when a required field has no value.
 */
export function applyMap(map: FieldMap, segments: Readonly<Record<string, Segment | undefined>>, label: (segment: string) => string, opts: Options): Mapped | undefined {
  const rules = compiled(map);
  const read = (r: Compiled, segment: string, n: number): { value: unknown; deleted: boolean } => {
    const seg = segments[segment];
    if (!seg) return { value: undefined, deleted: false };
    const convert = CONVERTERS[r.rule.type] as Convert;
    const where = `${label(segment)}-${n}`;
    const value = r.rule.repeats ? each(seg, n, (c) => convert(c, r.rule, where, opts)) : convert(seg.rep(n, 0), r.rule, where, opts);
    const none = value === undefined || (Array.isArray(value) && value.length === 0);
    // A field holding a value is not `""`: only an empty result needs the second look.
    return { value: none ? undefined : value, deleted: none && seg.get(n) === DELETE };
  };
  const results = new Map<Compiled, { value: unknown; deleted: boolean }>();
  for (const r of rules.required) {
    const got = read(r, r.segment, r.n);
    if (got.value === undefined) return undefined;
    results.set(r, got);
  }
  const out: Mapped = { resource: rules.fixed ? (JSON.parse(rules.fixed) as Record<string, unknown>) : {}, remove: [], partial: [], defaults: {} };
  const chosen = new Set<string>();
  for (const r of rules.all) {
    const got = results.get(r) ?? read(r, r.segment, r.n);
    let value = got.value === undefined && r.elseN ? read(r, r.segment, r.elseN).value : got.value;
    const { rule, part } = r;
    if (rule.choice && chosen.has(rule.choice)) value = undefined;
    if (value === undefined && got.deleted && rule.default !== undefined) value = shaped(rule.default, rule);
    if (value !== undefined) {
      place(out.resource, r, value);
      if (r.partial) out.partial.push(part);
      if (rule.choice) {
        chosen.add(rule.choice);
        // A `true` says less than the other variants (a death date implies "deceased"): it does not remove them;
        // the merge keeps a stored one instead of the flag (apply-plan.ts). Any other value replaces them.
        if (value !== true) for (const other of rules.all) if (other.rule.choice === rule.choice && other.part !== part) out.remove.push(other.part);
      }
    } else if (got.deleted) out.remove.push(part);
    else if (rule.default !== undefined) place(out.defaults, r, shaped(rule.default, rule));
  }
  return { ...out, remove: [...new Set(out.remove)], partial: [...new Set(out.partial)] };
}

/** A rule read once: its segment and field numbers, its path as steps, what it feeds. */
type Compiled = {
  rule: FieldRule;
  segment: string;
  n: number;
  elseN: number | undefined;
  steps: { name: string; array: boolean }[];
  part: string;
  /** The part is a member or a slice: other fields feed the rest of the element. */
  partial: boolean;
};

const compiledMaps = new WeakMap<FieldMap, { all: Compiled[]; required: Compiled[]; fixed: string | undefined }>();

function compiled(map: FieldMap) {
  let c = compiledMaps.get(map);
  if (!c) {
    const all = map.fields.map((rule): Compiled => {
      const part = partOf(rule);
      return {
        rule,
        segment: rule.field.slice(0, 3),
        n: Number(rule.field.slice(4)),
        elseN: rule.else ? Number(rule.else.slice(4)) : undefined,
        steps: rule.element.split('.').map((s) => ({ name: s.replace('[]', ''), array: s.endsWith('[]') })),
        part,
        partial: part.includes('.') || part.includes('['),
      };
    });
    c = { all, required: all.filter((r) => r.rule.required), fixed: map.fixed && Object.keys(map.fixed).length ? JSON.stringify(map.fixed) : undefined };
    compiledMaps.set(map, c);
  }
  return c;
}

/**
 * A field that code maps (identifiers, references to other entries), with the same semantics: a value set at
 * `part` (appended to its slice), `""` a removal of it.
 */
export function feed(m: Mapped, seg: Segment, n: number, part: string, value: unknown): void {
  const p = parsePart(part);
  const r = m.resource;
  if (value !== undefined && !(Array.isArray(value) && value.length === 0)) {
    if (p.slice) r[p.element] = [...((r[p.element] as unknown[] | undefined) ?? []), ...(Array.isArray(value) ? value : [value])];
    else if (p.member) r[p.element] = { ...(r[p.element] as object | undefined), [p.member]: value };
    else r[p.element] = value;
    if (p.slice || p.member) m.partial.push(part);
  } else if (seg.get(n) === DELETE) m.remove.push(part);
}

/** What a rule feeds: its slice, else the member of a non-array element (`period.start`), else the element. */
function partOf(r: FieldRule): string {
  const [top = '', next] = r.element.split('.');
  const name = top.replace('[]', '');
  if (r.slice) return `${name}[${r.slice}]`;
  if (!top.endsWith('[]') && next) return `${name}.${next.replace('[]', '')}`;
  return name;
}

/** Puts a value at the rule's path; repetitions become the items of its last array. Arrays met are appended to. */
function place(target: Record<string, unknown>, { rule: r, steps }: Compiled, value: unknown): void {
  const [only, ...more] = steps;
  if (only && !more.length && target[only.name] === undefined) {
    target[only.name] = only.array && !r.repeats ? [value] : value; // one element, nothing to merge with: the usual case
    return;
  }
  const wrap = (from: number, to: number, inner: unknown): unknown => {
    let v = inner;
    for (let i = to - 1; i >= from; i--) {
      const step = steps[i] as { name: string; array: boolean };
      v = { [step.name]: step.array ? [v] : v };
    }
    return v;
  };
  const last = steps.map((s) => s.array).lastIndexOf(true);
  let built: unknown;
  if (r.repeats && Array.isArray(value)) {
    const items = value.map((v) => (last + 1 < steps.length ? wrap(last + 1, steps.length, v) : v));
    built = wrap(0, last, { [(steps[last] as { name: string }).name]: items });
  } else built = wrap(0, steps.length, value);
  deepMerge(target, built as Record<string, unknown>);
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(source)) {
    const t = target[k];
    if (Array.isArray(t) && Array.isArray(v)) target[k] = [...t, ...v];
    else if (isObject(t) && isObject(v)) deepMerge(t, v);
    else target[k] = v;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const FIELD = /^[A-Z][A-Z0-9]{2}-[1-9]\d*$/;
const ELEMENT = /^[a-z][A-Za-z0-9]*(\[\])?(\.[a-z][A-Za-z0-9]*(\[\])?)*$/;
const KEYS = new Set(['$comment', 'field', 'element', 'type', 'repeats', 'table', 'system', 'as', 'component', 'defaultUse', 'use', 'slice', 'choice', 'default', 'else', 'required']);

/** The map as written, or an error naming the file, the rule and what is wrong with it. */
export function checkFieldMap(data: unknown, file: string): FieldMap {
  const fail = (where: string, msg: string): never => {
    throw new Error(`${file}${where ? ` ${where}` : ''}: ${msg}`);
  };
  if (!isObject(data) || typeof data.resourceType !== 'string' || !Array.isArray(data.fields)) return fail('', 'needs "resourceType" and "fields"');
  if (data.fixed !== undefined && !isObject(data.fixed)) fail('fixed', 'must be an object of elements');
  data.fields.forEach((rule: unknown, i) => {
    const r = (isObject(rule) ? rule : {}) as Record<string, unknown>;
    const at = `fields[${i}]${typeof r.field === 'string' ? ` (${r.field})` : ''}`;
    for (const k of Object.keys(r)) if (!KEYS.has(k)) fail(at, `unknown key "${k}"`);
    if (typeof r.field !== 'string' || !FIELD.test(r.field)) fail(at, '"field" must name a segment field, as "PID-13"');
    if (typeof r.element !== 'string' || !ELEMENT.test(r.element)) fail(at, '"element" must be a path such as "birthDate", "name[]", "period.start" or "communication[].language"');
    if (typeof r.type !== 'string' || !Object.hasOwn(CONVERTERS, r.type)) fail(at, `"type" must be one of ${Object.keys(CONVERTERS).join(', ')}`);
    if (r.table !== undefined && (typeof r.table !== 'string' || !hasTable(r.table))) fail(at, `no table "${String(r.table)}" in mappings/hl7v2/tables.json`);
    if (r.as !== undefined && !(SHAPES as readonly unknown[]).includes(r.as)) fail(at, `"as" must be one of ${SHAPES.join(', ')}`);
    if (r.repeats && !String(r.element).includes('[]')) fail(at, '"repeats" needs an array ("[]") in "element"');
    if (r.slice !== undefined) {
      if (!/^[a-z][A-Za-z0-9]*\[\]/.test(String(r.element))) fail(at, 'a "slice" needs an array element ("telecom[]")');
      try {
        if (!parsePart(`x[${String(r.slice)}]`).slice) throw new Error();
      } catch {
        fail(at, `"slice" must read path=value or path!=value, not "${String(r.slice)}"`);
      }
    }
    if (r.else !== undefined && (typeof r.else !== 'string' || !FIELD.test(r.else) || r.else.slice(0, 3) !== String(r.field).slice(0, 3))) fail(at, '"else" must name another field of the same segment');
  });
  return data as unknown as FieldMap;
}
