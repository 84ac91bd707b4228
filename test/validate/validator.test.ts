import { OperationOutcomeError } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { GATEWAY_PROFILES } from '../../src/validate/profiles.ts';
import { validate, validationIssues } from '../../src/validate/validator.ts';

const paths = (r: unknown, profiles?: string[]) => validationIssues(r as Resource, { profiles }).flatMap((i) => i.expression ?? []);
const PROFILE = GATEWAY_PROFILES.Patient;
const good = { resourceType: 'Patient', identifier: [{ system: 'urn:x', value: '1' }], name: [{ family: 'Valid' }] };

describe('validation of R4 resources', () => {
  it('catches a required-binding code the StructureDefinitions alone miss (JSON schema)', () => {
    expect(paths({ resourceType: 'Patient', gender: 'x' })).toEqual(['Patient.gender']);
    expect(paths({ resourceType: 'Appointment', status: 'nonsense', start: '2026-01-01T10:00:00Z', end: '2026-01-01T10:15:00Z', participant: [{ actor: { reference: 'Patient/1' }, status: 'accepted' }] })).toEqual(['Appointment.status']);
  });

  it('catches a broken invariant the JSON schema cannot express (StructureDefinitions)', () => {
    const issues = validationIssues({ resourceType: 'Appointment', status: 'booked', start: '2026-01-01T10:00:00Z', participant: [{ actor: { reference: 'Patient/1' }, status: 'accepted' }] } as Resource);
    expect(issues.map((i) => i.expression?.[0])).toEqual(['Appointment']);
    expect(issues[0]?.code).toBe('invariant');
    expect(issues[0]?.diagnostics).toContain('start.exists() = end.exists()');
  });

  it('names unknown elements, bad formats and missing required elements by path', () => {
    expect(paths({ resourceType: 'Patient', foo: 1 })).toEqual(['Patient.foo']);
    expect(paths({ resourceType: 'Patient', birthDate: '1980-13-45' })).toEqual(['Patient.birthDate']);
    expect(paths({ resourceType: 'Patient', name: [{ given: [1] }] })).toEqual(['Patient.name[0].given[0]']);
    expect(paths({ resourceType: 'Coverage' }).sort()).toEqual(['Coverage.beneficiary', 'Coverage.payor', 'Coverage.status']);
  });

  it('accepts a valid resource', () => {
    expect(validationIssues(good as Resource)).toEqual([]);
  });

  it('throws one OperationOutcomeError listing every problem', () => {
    try {
      validate({ resourceType: 'Patient', gender: 'x', birthDate: 'bad' } as unknown as Resource);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(OperationOutcomeError);
      const issues = (err as OperationOutcomeError).outcome.issue ?? [];
      expect(issues.map((i) => i.expression?.[0]).sort()).toEqual(['Patient.birthDate', 'Patient.gender']);
      expect(issues.every((i) => i.severity === 'error' && i.diagnostics)).toBe(true);
    }
  });
});

describe('the project Patient profile', () => {
  it('requires an identifier and a name of a Patient that claims it in meta.profile', () => {
    expect(paths({ resourceType: 'Patient', meta: { profile: [PROFILE] } }).sort()).toEqual(['Patient.identifier', 'Patient.name']);
    expect(paths({ ...good, meta: { profile: [PROFILE] } })).toEqual([]);
  });

  it('requires the identifier value, not just the element', () => {
    expect(paths({ ...good, identifier: [{ system: 'urn:x' }], meta: { profile: [PROFILE] } })).toEqual(['Patient.identifier[0].value']);
  });

  it('applies when the gateway asks for it (what it makes from HL7 v2 or X12)', () => {
    expect(paths({ resourceType: 'Patient', gender: 'male' }, [PROFILE]).sort()).toEqual(['Patient.identifier', 'Patient.name']);
    expect(paths(good, [PROFILE])).toEqual([]);
  });

  it('is not applied to a Patient that does not claim it (official examples without identifiers stay valid)', () => {
    expect(paths({ resourceType: 'Patient', gender: 'male' })).toEqual([]);
  });

  it('still validates base R4 when meta.profile names a profile the server does not hold', () => {
    expect(paths({ resourceType: 'Patient', gender: 'x', meta: { profile: ['http://example.org/unknown'] } })).toEqual(['Patient.gender']);
  });
});
