/**
 * @module validate/validator — `validate(resource)` for every write: throws a 400 OperationOutcome listing each
 * problem with its element path.
 *
 * Two R4 checks, each catching what the other misses (see `../shared/notes/fhir-server.md` §1.5): the JSON
 * schema (required-binding codes such as `gender: "x"`) and `@medplum/core` `validateResource` against the
 * StructureDefinitions (cardinality, primitive formats, FHIRPath invariants). Then the project's profiles:
 * those the resource declares in `meta.profile`, and those the caller asks for (what the gateway makes itself).
 */
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { loadDefinitions } from './definitions.ts';
import { profile } from './profiles.ts';
import { schemaIssues } from './schema.ts';

/** `profilesOnly`: the base R4 checks are done elsewhere (the repository validates every write). */
export type ValidateOptions = { profiles?: readonly string[]; profilesOnly?: boolean };

export function validationIssues(resource: Resource, options: ValidateOptions = {}): OperationOutcomeIssue[] {
  loadDefinitions();
  const issues = options.profilesOnly ? [] : schemaIssues(resource);
  if (!options.profilesOnly) issues.push(...structureIssues(resource));
  const wanted = new Set([...(resource.meta?.profile ?? []), ...(options.profiles ?? [])]);
  for (const url of wanted) {
    const sd = profile(url);
    if (!sd) continue; // a profile we do not hold cannot be checked; the base checks above still apply
    const cardinality = cardinalityOnly(sd);
    const found = cardinality ? cardinalityIssues(resource, cardinality) : structureIssues(resource, sd);
    issues.push(...found.map((i) => ({ ...i, diagnostics: `${i.diagnostics} (profile ${url})` })));
  }
  return dedupe(issues.filter((i) => i.severity === 'error' || i.severity === 'fatal'));
}

/** Throws `OperationOutcomeError` (400, code `invalid`) when the resource does not validate. */
export function validate(resource: Resource, options: ValidateOptions = {}): void {
  const issues = validationIssues(resource, options);
  if (issues.length > 0) {
    const outcome: OperationOutcome = { resourceType: 'OperationOutcome', issue: issues };
    throw new OperationOutcomeError(outcome);
  }
}

type Cardinality = { path: string[]; min: number; max: number };
const compiled = new Map<string, Cardinality[] | null>();

/**
 * A profile whose differential only tightens cardinality (like `frontdesk-patient`) is checked directly from
 * its min/max, compiled once: `validateResource(…, { profile })` re-parses the profile on every call, which cost
 * 4 ms per Patient (bench/mllp). Any other constraint (types, bindings, fixed values, invariants, slices) goes
 * the full way. Null: not cardinality-only.
 */
function cardinalityOnly(sd: StructureDefinition): Cardinality[] | null {
  const key = sd.url ?? '';
  if (compiled.has(key)) return compiled.get(key) ?? null;
  const allowed = new Set(['id', 'path', 'min', 'max', 'mustSupport', 'short', 'definition', 'comment']);
  const elements = sd.differential?.element ?? [];
  const simple = elements.every((e) => Object.keys(e).every((k) => allowed.has(k)) && !e.path.includes(':') && !e.id?.includes(':'));
  const result = simple
    ? elements
        .filter((e) => e.min !== undefined || e.max !== undefined)
        .map((e) => ({ path: e.path.split('.').slice(1), min: e.min ?? 0, max: e.max === undefined || e.max === '*' ? Infinity : Number(e.max) }))
    : null;
  compiled.set(key, result);
  return result;
}

/** Each element's count within every instance of its parent (a nested element is checked per parent present). */
function cardinalityIssues(resource: Resource, rules: Cardinality[]): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  for (const rule of rules) {
    const name = rule.path.at(-1) as string;
    const parents: { value: unknown; at: string }[] = [{ value: resource, at: resource.resourceType }];
    for (const step of rule.path.slice(0, -1)) {
      const next: { value: unknown; at: string }[] = [];
      for (const p of parents) {
        const v = (p.value as Record<string, unknown>)?.[step];
        (Array.isArray(v) ? v : v === undefined ? [] : [v]).forEach((x, i) => next.push({ value: x, at: Array.isArray(v) ? `${p.at}.${step}[${i}]` : `${p.at}.${step}` }));
      }
      parents.splice(0, parents.length, ...next);
    }
    for (const p of parents) {
      const v = (p.value as Record<string, unknown>)?.[name];
      const n = Array.isArray(v) ? v.length : v === undefined || v === null ? 0 : 1;
      if (n < rule.min || n > rule.max) {
        const text = n < rule.min ? `Missing required property` : `Too many values (${n}, at most ${rule.max})`;
        issues.push({ severity: 'error', code: n < rule.min ? 'required' : 'structure', diagnostics: text, details: { text }, expression: [`${p.at}.${name}`] });
      }
    }
  }
  return issues;
}

function structureIssues(resource: Resource, sd?: StructureDefinition): OperationOutcomeIssue[] {
  try {
    return validateResource(resource, sd ? { profile: sd } : undefined).map(normalize);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return (err.outcome.issue ?? []).map(normalize);
    throw err;
  }
}

function normalize(i: OperationOutcomeIssue): OperationOutcomeIssue {
  let text = i.diagnostics ?? i.details?.text ?? i.code;
  if (i.code === 'invariant' && text.startsWith('{')) {
    // @medplum/core reports a failed invariant as JSON {"fhirpath": "..."}; say it in words.
    try {
      text = `Invariant failed: ${(JSON.parse(text) as { fhirpath?: string }).fhirpath ?? text}`;
    } catch {
      // keep the original text
    }
  }
  return { ...i, code: i.code === 'invalid' ? 'invalid' : i.code, diagnostics: text, details: { text } };
}

function dedupe(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    // Both validators often report the same element; the first (most specific) message per path is kept.
    const key = `${i.expression?.join()}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
