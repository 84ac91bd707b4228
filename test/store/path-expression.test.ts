import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toTypedValue } from '@medplum/core';
import type { Address, HumanName, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { evaluate, evaluateWithEngine, extractIndexRows } from '../../src/store/index-values.ts';
import { compilePath } from '../../src/store/path-expression.ts';
import { indexedParams } from '../../src/store/search-params.ts';
import { loadDefinitions } from '../../src/validate/definitions.ts';

const dir = join(import.meta.dirname, '../fixtures/r4-examples');
const examples = readdirSync(dir)
  .filter((f) => f.endsWith('.json') && f !== 'index.json')
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Resource);
const ours: Resource[] = [
  {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:oid:1.2.3', value: 'B1', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } }],
    name: [{ family: 'Muñoz', given: ['Alex', 'Q'] }],
    telecom: [{ system: 'phone', value: '(555) 123-4567' }, { system: 'email', value: 'a@example.org' }],
    deceasedDateTime: '2020-01-01',
  },
  {
    resourceType: 'AuditEvent',
    type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110112' },
    recorded: '2026-01-01T00:00:00Z',
    agent: [{ who: { reference: 'Patient/1' }, requestor: false }, { who: { identifier: { system: 'urn:x', value: 'c' } }, requestor: true }],
    source: { observer: { display: 'frontdesk' } },
    entity: [{ what: { reference: 'Patient/1' } }, { what: { reference: 'http://example.org/fhir/Patient/2' } }, { what: { reference: '#c' } }],
  } as Resource,
  // Read through @medplum/core, not the cached accessors: a primitive extension, empty elements, a contained
  // resource (typed by its resourceType) and a choice element with its extension.
  {
    resourceType: 'Patient',
    birthDate: '1970-03-04',
    _birthDate: {
      extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1970-03-04T05:06:00Z' }],
    },
    gender: '' as never,
    name: [],
    address: [{ city: 'Springfield', _city: { extension: [{ url: 'urn:x', valueString: 'y' }] } } as unknown as Address],
    contained: [{ resourceType: 'Organization', id: 'o1', name: 'Synthetic Clinic' }],
    managingOrganization: { reference: '#o1' },
    multipleBirthInteger: 2,
    _multipleBirthInteger: { extension: [{ url: 'urn:x', valueString: 'z' }] },
  } as Resource,
  {
    resourceType: 'Patient',
    _birthDate: { extension: [{ url: 'urn:x', valueString: 'only an extension' }] },
    name: [{ given: ['A', 'B'], _given: [{ extension: [{ url: 'urn:x', valueString: 'a' }] }, null] } as unknown as HumanName],
    gender: 'male',
    _gender: { extension: [{ url: 'urn:x', valueString: 'g' }] },
  } as Resource,
];
// `typeof` tells a primitive from the String object @medplum/core makes of a value with a primitive extension.
const key = (vs: { type: string; value: unknown }[]) =>
  [...new Set(vs.map((v) => JSON.stringify([v.type, typeof v.value, v.value])))].sort();

describe('search expressions that are plain paths', () => {
  loadDefinitions();

  it('give the same values as the FHIRPath engine on every R4 example and parameter', () => {
    let compared = 0;
    for (const resource of [...examples, ...ours]) {
      const root = [toTypedValue(resource)];
      for (const p of indexedParams(resource.resourceType)) {
        if (!compilePath(resource.resourceType, p.expression as string)) continue;
        const fast = evaluate(resource.resourceType, p.expression as string, root);
        const engine = evaluateWithEngine(resource.resourceType, p.expression as string, root);
        expect({ param: `${resource.resourceType}.${p.code}`, values: key(fast) }).toEqual({ param: `${resource.resourceType}.${p.code}`, values: key(engine) });
        if (engine.length) compared++;
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it('compiles unions, choice types, where(system=…) and where(resolve() is …), and leaves the rest to the engine', () => {
    expect(compilePath('Patient', 'Patient.telecom.where(system=\'phone\') | Practitioner.telecom.where(system=\'phone\')')).toBeDefined();
    expect(compilePath('Condition', '(Condition.onset.ofType(dateTime)) | (Condition.onset.ofType(Period))')).toBeDefined();
    expect(compilePath('Appointment', 'Appointment.participant.actor.where(resolve() is Patient)')).toBeDefined();
    expect(compilePath('Patient', 'Patient.deceased.exists() and Patient.deceased != false')).toBeUndefined();
    const patient = [toTypedValue(ours[0]!)];
    expect(evaluate('Patient', "Patient.telecom.where(system='email')", patient).map((v) => (v.value as { value: string }).value)).toEqual(['a@example.org']);
    expect(evaluate('Patient', '(Patient.deceased.ofType(dateTime))', patient)).toEqual([{ type: 'dateTime', value: '2020-01-01' }]);
    const audit = [toTypedValue(ours[1]!)];
    expect(evaluate('AuditEvent', 'AuditEvent.entity.what.where(resolve() is Patient)', audit).map((v) => (v.value as { reference: string }).reference)).toEqual(['Patient/1']);
  });

  it('still index what the engine evaluates (deceased) beside the compiled parameters', () => {
    const rows = extractIndexRows({ ...ours[0]!, id: 'p1' } as Resource);
    expect(rows.tokens).toContainEqual({ code: 'deceased', system: '', value: 'true', text: '' });
    expect(rows.tokens.filter((t) => t.code === 'phone').map((t) => t.value).sort()).toEqual(['(555) 123-4567', '5551234567']);
    expect(rows.strings.filter((s) => s.code === 'family')).toEqual([{ code: 'family', value: 'munoz', raw: 'Muñoz' }]);
  });

  it('index a primitive that carries an extension (a birth date with its birth time) by its value', () => {
    const rows = extractIndexRows({ ...ours[2]!, id: 'p2' } as Resource);
    expect(rows.dates.filter((d) => d.code === 'birthdate')).toHaveLength(1);
    expect(rows.dates.find((d) => d.code === 'birthdate')?.low).toMatch(/^1970-03-04/);
    expect(rows.strings.filter((s) => s.code === 'address-city').map((s) => s.raw)).toEqual(['Springfield']);
  });
});
