/**
 * The field maps of mappings/hl7v2/ and their interpreter (src/translate/hl7v2/fieldmap.ts): which field feeds
 * which element is data; `""` becomes a removal of exactly what the field feeds, an empty field nothing, a value the
 * element or — where several fields feed one element — its part; a mistake in a map is named when it is read.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Coverage, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { registrationPlan } from '../../../src/translate/hl7v2/adt.ts';
import { applyMap, checkFieldMap, fieldMap, type FieldMap } from '../../../src/translate/hl7v2/fieldmap.ts';
import { Hl7v2Message } from '../../../src/translate/hl7v2/parse.ts';
import { lookup } from '../../../src/translate/hl7v2/mappings.ts';
import { seg } from '../../helpers/hl7.ts';

const MSH = 'MSH|^~\\&|APP|FAC|FD|FD|20260301101500||ADT^A08^ADT_A01|C1|P|2.5.1';
const plan = (...segments: string[]) => registrationPlan(new Hl7v2Message([MSH, ...segments].join('\r')), { timeZone: 'UTC' });
const entry = (p: ReturnType<typeof plan>, type: string) => p.entries.find((e) => e.resource.resourceType === type)!;
const segment = (text: string) => new Hl7v2Message(`${MSH}\r${text}`).segments[1]!;
const PID = { 1: '1', 3: 'M1^^^FAC^MR', 5: 'Doe^Jane', 8: 'F' };

describe('field maps are data', () => {
  it('every map in mappings/hl7v2/ is read and checked', () => {
    const dir = join(import.meta.dirname, '../../../mappings/hl7v2');
    const names = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'tables.json').map((f) => f.slice(0, -5));
    expect(names).toEqual(expect.arrayContaining(['patient', 'related-person', 'encounter', 'coverage', 'payer', 'subscriber', 'allergy-intolerance', 'condition']));
    for (const name of names) expect(fieldMap(name).fields.length).toBeGreaterThan(0);
  });

  it('applies a map: converters, tables, repetitions, paths into arrays, fixed elements, defaults', () => {
    const map: FieldMap = {
      resourceType: 'Patient',
      fixed: { active: true },
      fields: [
        { field: 'PID-5', element: 'name[]', type: 'XPN', repeats: true },
        { field: 'PID-8', element: 'gender', type: 'CWE', table: '0001' },
        { field: 'PID-15', element: 'communication[].language', type: 'CWE', system: 'urn:ietf:bcp:47' },
        { field: 'PID-24', element: 'multipleBirthBoolean', type: 'ID', table: '0136', as: 'boolean' },
        { field: 'PID-25', element: 'multipleBirthInteger', type: 'NM', as: 'integer', default: '1' },
      ],
    };
    const m = applyMap(map, { PID: segment('PID|1||M1||Doe^Jane~Roe^Janie|||F|||||||en|||||||||N') }, (s) => s, { timeZone: 'UTC' })!;
    expect(m.resource).toEqual({
      active: true,
      name: [{ family: 'Doe', given: ['Jane'] }, { family: 'Roe', given: ['Janie'] }],
      gender: 'female',
      communication: [{ language: { coding: [{ code: 'en', system: 'urn:ietf:bcp:47' }] } }],
      multipleBirthBoolean: false,
    });
    expect(m.defaults).toEqual({ multipleBirthInteger: 1 });
    expect(m.remove).toEqual([]);
  });

  it('turns "" into the removal of what the field feeds, and lists the parts of shared elements it sets', () => {
    const p = plan('PID|1||M1^^^FAC^MR||Doe^Jane||""|F|||""||""|^WPN^PH^^^555^0102|""');
    const patient = entry(p, 'Patient');
    expect(patient.remove).toEqual(expect.arrayContaining(['birthDate', 'address', 'telecom[use!=work]', 'communication']));
    expect(patient.partial).toEqual(['telecom[use=work]']);
    expect((patient.resource as Patient).telecom).toEqual([{ system: 'phone', value: '(555) 0102', use: 'work' }]);
    expect(patient.resource).not.toHaveProperty('birthDate');
  });

  it('PID-14 phones are work phones whatever XTN-2 says: the slice PID-14 owns is use=work', () => {
    const p = plan(seg('PID', { ...PID, 13: '^PRN^CP^^^555^0101', 14: '^PRN^CP^^^555^0102' }));
    expect((entry(p, 'Patient').resource as Patient).telecom?.map((t) => t.use)).toEqual(['home', 'work']);
  });

  it('one choice element (deceased[x]): PID-29 wins over PID-30, and the other variant is removed', () => {
    const dated = entry(plan(seg('PID', { ...PID, 29: '20260101', 30: 'Y' })), 'Patient');
    expect(dated.resource).toMatchObject({ deceasedDateTime: '2026-01-01' });
    expect(dated.resource).not.toHaveProperty('deceasedBoolean');
    expect(dated.remove).toContain('deceasedBoolean');
    const flagged = entry(plan(seg('PID', { ...PID, 29: '""', 30: 'N' })), 'Patient');
    expect(flagged.resource).toMatchObject({ deceasedBoolean: false });
    expect(flagged.remove).toContain('deceasedDateTime');
    // `true` alone says less than a date: it removes nothing (the merge keeps a stored date).
    const yes = entry(plan(seg('PID', { ...PID, 30: 'Y' })), 'Patient');
    expect(yes.resource).toMatchObject({ deceasedBoolean: true });
    expect(yes.remove).not.toContain('deceasedDateTime');
  });

  it('names the mistake in a map: an unknown converter, table or key', () => {
    const check = (rule: Record<string, unknown>) => () => checkFieldMap({ resourceType: 'Patient', fields: [rule] }, 'test.json');
    expect(check({ field: 'PID-5', element: 'name[]', type: 'XPM' })).toThrow(/"type" must be one of/);
    expect(check({ field: 'PID-8', element: 'gender', type: 'CWE', table: '9999' })).toThrow(/no table "9999"/);
    expect(check({ field: 'PID-8', element: 'gender', type: 'CWE', tabel: '0001' })).toThrow(/unknown key "tabel"/);
    expect(check({ field: 'PID-13', element: 'telecom', type: 'XTN', slice: 'use=work' })).toThrow(/needs an array element/);
  });
});

describe('code tables', () => {
  it('IN1-17 → Coverage.relationship through table 0063/subscriber-relationship: PAR → parent', () => {
    const rel = (code: string) => {
      const p = plan(seg('PID', PID), seg('IN1', { 1: '1', 3: 'PAYER1^^^NPI', 4: 'Acme Health', 16: 'Doe^John', 17: code }));
      return (entry(p, 'Coverage').resource as Coverage).relationship?.coding?.[0];
    };
    expect(rel('PAR')).toEqual({ system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: 'parent' });
    expect(rel('SEL')?.code).toBe('self');
    expect(rel('SPO')?.code).toBe('spouse');
    expect(rel('CHD')?.code).toBe('child');
    expect(rel('DOM')?.code).toBe('common');
    expect(rel('GRD')?.code).toBe('other');
    expect(rel('ZZZ')?.code).toBe('other'); // $default
  });

  it('a code like a property name is not found in a table', () => {
    expect(lookup('0001', 'constructor')).toBeUndefined();
    expect(lookup('0001', 'toString')).toBeUndefined();
  });
});
