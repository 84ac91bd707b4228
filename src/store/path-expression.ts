/**
 * @module store/path-expression — SearchParameter expressions that are plain paths, evaluated without the FHIRPath
 * engine.
 *
 * Most R4 search expressions, once restricted to one resource type, are unions of navigations such as
 * `Patient.name.family`, `Patient.telecom.where(system='phone')`, `(Condition.onset.ofType(dateTime))` or
 * `Appointment.participant.actor.where(resolve() is Patient)`. Walking them with `getTypedPropertyValue` (the
 * property access the engine itself uses, so types and choice elements come out the same) is several times
 * cheaper than a general evaluation, and search values are extracted on every write (bench/mllp). Anything
 * else (`exists()`, operators, other functions) is not compiled: the caller evaluates it with the engine.
 * test/store/path-expression.test.ts checks both give the same values on every R4 example we hold.
 */
import { getElementDefinition, getTypedPropertyValue, isEmpty, isResource, type TypedValue } from '@medplum/core';
import type { ElementDefinition } from '@medplum/fhirtypes';

export type PathEvaluator = (root: TypedValue[]) => TypedValue[];

type Step = (values: TypedValue[]) => TypedValue[];

const PROPERTY = /^\.([A-Za-z]\w*)/;
const OF_TYPE = /^\.ofType\(([A-Za-z]\w*)\)/;
const RESOLVES_TO = /^\.where\(resolve\(\) is ([A-Z]\w*)\)/;
const WHERE_EQUALS = /^\.where\(([a-z]\w*)\s*=\s*'([^'\\]*)'\)/;

/** The evaluator of `expression`'s branches for `type`, or undefined when one of them is not a plain path. */
export function compilePath(type: string, expression: string): PathEvaluator | undefined {
  const branches: Step[][] = [];
  for (const raw of splitUnion(expression)) {
    const branch = unwrap(raw.trim());
    // Branches about other types (`Practitioner.name` in Patient's `family`) select nothing on this one.
    const head = /^([A-Z]\w*)\./.exec(branch);
    if (!head) return undefined;
    if (head[1] !== type) continue;
    const steps = compileSteps(branch.slice(type.length));
    if (!steps) return undefined;
    branches.push(steps);
  }
  return (root) => {
    const out: TypedValue[] = [];
    for (const steps of branches) {
      let values = root;
      for (const step of steps) {
        values = step(values);
        if (values.length === 0) break;
      }
      out.push(...values);
    }
    return out;
  };
}

function compileSteps(rest: string): Step[] | undefined {
  const steps: Step[] = [];
  let s = rest;
  while (s.length > 0) {
    let m: RegExpExecArray | null;
    if ((m = OF_TYPE.exec(s))) {
      const wanted = m[1] as string;
      steps.push((vs) => vs.filter((v) => v.type === wanted));
    } else if ((m = RESOLVES_TO.exec(s))) {
      const wanted = m[1] as string;
      steps.push((vs) => vs.filter((v) => referencedType(v.value) === wanted));
    } else if ((m = WHERE_EQUALS.exec(s))) {
      const [, name, literal] = m as unknown as [string, string, string];
      steps.push((vs) => vs.filter((v) => property([v], name).some((p) => p.value === literal)));
    } else if ((m = PROPERTY.exec(s))) {
      const name = m[1] as string;
      if (name === 'where' || name === 'ofType' || name === 'resolve' || name === 'exists') return undefined;
      steps.push((vs) => property(vs, name));
    } else {
      return undefined;
    }
    s = s.slice(m[0].length);
  }
  return steps;
}

function property(values: TypedValue[], name: string): TypedValue[] {
  const out: TypedValue[] = [];
  for (const v of values) {
    const r = typedProperty(v, name);
    if (Array.isArray(r)) {
      for (const x of r) if (x?.value !== undefined && x.value !== null) out.push(x);
    } else if (r && r.value !== undefined && r.value !== null) {
      out.push(r);
    }
  }
  return out;
}

/**
 * How one element of one type is read: the JSON keys it may sit under (one, or one per type of a choice
 * element) with the type each gives. `undefined`: the element is not in the type's definition.
 */
type Accessor = { keys: { key: string; extension: string; type: string }[]; elementType: string } | undefined;

const accessors = new Map<string, Map<string, Accessor>>();

/** The accessor of `type.name`, worked out from the element definition once. */
function accessor(type: string, name: string): Accessor {
  let ofType = accessors.get(type);
  if (!ofType) accessors.set(type, (ofType = new Map()));
  if (ofType.has(name)) return ofType.get(name);
  const element = getElementDefinition(type, name) as ElementDefinition | undefined;
  let made: Accessor;
  if (element?.type?.length && element.path) {
    const last = element.path.slice(element.path.lastIndexOf('.') + 1);
    const choice = last.endsWith('[x]');
    const base = choice ? last.slice(0, -3) : last;
    made = {
      keys: element.type.map((t) => {
        const key = choice ? base + (t.code as string).charAt(0).toUpperCase() + (t.code as string).slice(1) : base;
        return { key, extension: `_${key}`, type: t.code as string };
      }),
      elementType: element.type[0]?.code as string,
    };
  }
  ofType.set(name, made);
  return made;
}

/**
 * `getTypedPropertyValue` (@medplum/core) without looking the element definition up on every call: the same
 * keys tried in the same order, the same types given. Values with primitive extensions (`_name`), and elements
 * the definitions do not list, are left to @medplum/core, which merges and guesses as the engine does.
 */
function typedProperty(v: TypedValue, name: string): TypedValue | TypedValue[] | undefined {
  const value = v.value as Record<string, unknown> | undefined;
  if (!value || typeof value !== 'object') return getTypedPropertyValue(v, name);
  const a = accessor(v.type, name);
  if (!a) return getTypedPropertyValue(v, name);
  for (const k of a.keys) {
    const found = value[k.key];
    if (value[k.extension] !== undefined) return unboxed(getTypedPropertyValue(v, name));
    if (found === undefined) continue;
    if (isEmpty(found)) return undefined;
    const type = k.type === 'Element' || k.type === 'BackboneElement' ? a.elementType : k.type;
    return Array.isArray(found) ? found.map((x) => typed(x, type)) : typed(found, type);
  }
  return undefined;
}

/**
 * A primitive with an extension (`birthDate` beside `_birthDate`) comes from @medplum/core as a String (Number,
 * Boolean) object carrying the extension; the FHIRPath engine, and the search converters, want the primitive.
 */
function unboxed(r: TypedValue | TypedValue[] | undefined): TypedValue | TypedValue[] | undefined {
  const one = (t: TypedValue): TypedValue => {
    const inner: unknown = t?.value !== null && typeof t?.value === 'object' ? t.value.valueOf() : undefined;
    return inner !== undefined && inner !== t.value && typeof inner !== 'object' ? { ...t, value: inner } : t;
  };
  return Array.isArray(r) ? r.map(one) : r && one(r);
}

function typed(value: unknown, type: string): TypedValue {
  return { type: type === 'Resource' && isResource(value) ? value.resourceType : type, value };
}

/**
 * The type `resolve()` gives a Reference without fetching it (FHIRPath `resolve()` as @medplum/core evaluates it):
 * the contained resource's type, else the part of `reference` (or of `type?identifier=…`) before `?` or the first `/`.
 */
function referencedType(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return typeof value === 'string' ? typeOfReference(value) : undefined;
  const r = value as { resource?: { resourceType?: string }; reference?: string; type?: string; identifier?: unknown };
  if (r.resource) return r.resource.resourceType;
  if (r.reference) return typeOfReference(r.reference);
  if (r.type && r.identifier) return r.type;
  return undefined;
}

function typeOfReference(ref: string): string | undefined {
  if (ref.includes('?')) return ref.split('?')[0];
  if (ref.includes('/')) return ref.split('/')[0];
  return undefined;
}

/** Top-level `|` branches (a `|` inside parentheses or quotes belongs to its branch). */
function splitUnion(expression: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === "'") quoted = !quoted;
    else if (quoted) continue;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      out.push(expression.slice(start, i));
      start = i + 1;
    }
  }
  out.push(expression.slice(start));
  return out;
}

/** `(A.b.c)` → `A.b.c` when the parentheses enclose the whole branch. */
function unwrap(branch: string): string {
  let b = branch;
  while (b.startsWith('(') && b.endsWith(')') && closes(b) === b.length - 1) b = b.slice(1, -1).trim();
  return b;
}

function closes(s: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i;
  }
  return -1;
}
