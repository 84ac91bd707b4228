/**
 * `mergeInto`, the HL7 v2 merge of a message over a stored resource (src/workflows/apply-plan.ts), pure: `""`
 * removals take exactly their part, a valued field replaces exactly its part (the slice or member it feeds),
 * identifiers are united, and an unchanged message gives back what is stored.
 */
import type { Coverage, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { mergeInto } from '../../src/workflows/plan-merge.ts';

const home = { system: 'phone', value: '555-0101', use: 'home' } as const;
const cell = { system: 'phone', value: '555-0109', use: 'mobile' } as const;
const work = { system: 'phone', value: '555-0202', use: 'work' } as const;
const stored: Patient = { resourceType: 'Patient', id: 'p1', meta: { versionId: '1' }, identifier: [{ system: 's', value: 'M1' }], telecom: [home, cell, work], gender: 'female' };

describe('merging a message over a stored resource', () => {
  it('replaces only the slice a valued field feeds (PID-14: use=work), in its place', () => {
    const w2 = { ...work, value: '555-0303' };
    const merged = mergeInto(stored, { resourceType: 'Patient', telecom: [w2] }, [], ['telecom[use=work]']);
    expect(merged.telecom).toEqual([home, cell, w2]);
  });

  it('removes only the slice a "" field feeds (PID-13: use!=work)', () => {
    const merged = mergeInto(stored, { resourceType: 'Patient' }, ['telecom[use!=work]'], []);
    expect(merged.telecom).toEqual([work]);
    expect(merged.gender).toBe('female');
  });

  it('gives back the stored array when both slices are sent again unchanged', () => {
    const merged = mergeInto(stored, { resourceType: 'Patient', telecom: [home, cell, work] }, [], ['telecom[use!=work]', 'telecom[use=work]']);
    expect(merged).toEqual(stored);
  });

  it('replaces or removes one member of an element fed by two fields (IN1-12/13 → period.start/end)', () => {
    const coverage: Coverage = { resourceType: 'Coverage', id: 'c1', status: 'active', beneficiary: { reference: 'Patient/p1' }, payor: [{ reference: 'Organization/o1' }], period: { start: '2026-01-01', end: '2026-12-31' } };
    const newStart = mergeInto(coverage, { ...coverage, period: { start: '2026-02-01' } }, [], ['period.start']);
    expect(newStart.period).toEqual({ start: '2026-02-01', end: '2026-12-31' });
    expect(mergeInto(coverage, { ...coverage, period: undefined }, ['period.end'], []).period).toEqual({ start: '2026-01-01' });
    expect(mergeInto(coverage, { ...coverage, period: undefined }, ['period.start', 'period.end'], [])).not.toHaveProperty('period');
  });

  it('unites identifiers, and a "" PID-19 removes only the stored SSN', () => {
    const withSsn: Patient = { ...stored, identifier: [{ system: 's', value: 'M1' }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: '123' }] };
    const merged = mergeInto(withSsn, { resourceType: 'Patient', identifier: [{ system: 's', value: 'M2' }] }, ['identifier[system=http://hl7.org/fhir/sid/us-ssn]']);
    expect(merged.identifier).toEqual([{ system: 's', value: 'M1' }, { system: 's', value: 'M2' }]);
  });

  it('replaces a whole element when the message sets it and names no part, as before', () => {
    expect(mergeInto(stored, { resourceType: 'Patient', telecom: [work] }, []).telecom).toEqual([work]);
  });
});
