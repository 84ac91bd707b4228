/**
 * @module translate/hl7v2/bundle — a plan as a FHIR transaction Bundle that loads into any FHIR R4 server
 * (`frontdesk translate FILE.hl7`).
 *
 * Every entry is conditional on its business identifiers, so loading the same message twice changes nothing:
 * `upsert` → conditional update (`PUT Type?identifier=…`), `ensure` → conditional create (`If-None-Exist`),
 * `update-existing` (the patient an A40 merges away, the referral an RRI answers) → conditional FHIRPath Patch
 * (a Parameters resource, so the urn:uuid references inside it are resolved like any other), which fails rather
 * than creates: list elements are added, single ones deleted then added.
 * Resources refer to each other by their `urn:uuid` fullUrls, which a server replaces in references (R4
 * http.html#trules) but not inside `request.url` or `ifNoneExist`: there a match naming another entry
 * (`AllergyIntolerance?patient=urn:uuid:…`) is written as a chained search on that entry's own match
 * (`patient:Patient.identifier=system|value`), which any server answers from what it has stored. The difference
 * with the gateway's own processing: a conditional update replaces the stored resource with the message's
 * snapshot instead of merging field by field.
 */
import { capitalize, getDataType } from '@medplum/core';
import type { Bundle, BundleEntry, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { loadDefinitions } from '../../validate/definitions.ts';
import type { Plan, PlanEntry } from './plan.ts';

export function toTransactionBundle(plan: Plan): Bundle {
  const byUrl = new Map(plan.entries.map((e) => [e.fullUrl, e]));
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    ...(plan.controlId ? { identifier: { system: 'urn:frontdesk:hl7v2:control-id', value: plan.controlId } } : {}),
    entry: plan.entries.map((e) => entryOf(e, portableMatch(e.match, byUrl))),
  };
}

function entryOf(e: PlanEntry, match: string): BundleEntry {
  const type = e.resource.resourceType;
  const resource = { ...e.defaults, ...e.resource } as Resource;
  switch (e.mode) {
    case 'ensure':
      return { fullUrl: e.fullUrl, resource, request: { method: 'POST', url: type, ifNoneExist: match } };
    case 'update-existing':
      return { fullUrl: e.fullUrl, resource: fhirPathPatch(e.resource), request: { method: 'PATCH', url: `${type}?${match}` } };
    default:
      return { fullUrl: e.fullUrl, resource, request: { method: 'PUT', url: `${type}?${match}` } };
  }
}

/**
 * A match without placeholders: each `param=urn:uuid:…` of another entry becomes that entry's match chained
 * through the reference (search.html#chaining), `param:Type.` before each of its parameters, recursively, their
 * modifiers kept (`patient:Patient.identifier=s|v&patient:Patient.active:not=false`: the patient not merged away).
 */
function portableMatch(match: string, byUrl: ReadonlyMap<string, PlanEntry>): string {
  return match
    .split('&')
    .flatMap((param) => {
      const eq = param.indexOf('=');
      const target = eq > 0 ? byUrl.get(decodeURIComponent(param.slice(eq + 1))) : undefined;
      if (!target) return [param];
      const chain = `${param.slice(0, eq)}:${target.resource.resourceType}.`;
      return portableMatch(target.match, byUrl)
        .split('&')
        .map((p) => `${chain}${p}`);
    })
    .join('&');
}

/** The elements of `resource` as FHIRPath Patch operations (R4 fhirpatch.html), typed from the R4 definitions. */
function fhirPathPatch(resource: Resource): Parameters {
  loadDefinitions();
  const type = resource.resourceType;
  const elements = getDataType(type).elements;
  const parameter: ParametersParameter[] = [];
  const op = (kind: 'add' | 'delete', path: string, name?: string, value?: ParametersParameter): ParametersParameter => ({
    name: 'operation',
    part: [{ name: 'type', valueCode: kind }, { name: 'path', valueString: path }, ...(name ? [{ name: 'name', valueString: name }] : []), ...(value ? [value] : [])],
  });
  for (const [name, v] of Object.entries(resource)) {
    if (name === 'resourceType' || v === undefined) continue;
    const el = elements[name];
    const code = el?.type[0]?.code ?? 'string';
    const values = Array.isArray(v) ? v : [v];
    if (!Array.isArray(v)) parameter.push(op('delete', `${type}.${name}`));
    for (const item of values) parameter.push(op('add', type, name, valueOf(code, item)));
  }
  return { resourceType: 'Parameters', parameter };
}

/** One patch value: `value[x]` of the element's type; a BackboneElement as parts, one per child value. */
function valueOf(code: string, item: unknown): ParametersParameter {
  const backbone = /^[A-Z]/.test(code) ? getDataType(code) : undefined;
  if (backbone?.parentType) {
    const part = Object.entries(item as Record<string, unknown>).flatMap(([k, x]) =>
      (Array.isArray(x) ? x : [x]).map((one) => ({ ...valueOf(backbone.elements[k]?.type[0]?.code ?? 'string', one), name: k }))
    );
    return { name: 'value', part };
  }
  return { name: 'value', [`value${capitalize(code)}`]: item } as ParametersParameter;
}
