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

export type ValidateOptions = { profiles?: readonly string[] };

export function validationIssues(resource: Resource, options: ValidateOptions = {}): OperationOutcomeIssue[] {
  loadDefinitions();
  const issues = schemaIssues(resource);
  issues.push(...structureIssues(resource));
  const wanted = new Set([...(resource.meta?.profile ?? []), ...(options.profiles ?? [])]);
  for (const url of wanted) {
    const sd = profile(url);
    if (!sd) continue; // a profile we do not hold cannot be checked; the base checks above still apply
    issues.push(...structureIssues(resource, sd).map((i) => ({ ...i, diagnostics: `${i.diagnostics} (profile ${url})` })));
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
