/**
 * Which searches take the fixed-shape identifier look (store/match-identifiers.ts `identifierRows`): exactly one
 * positive token filter whose values all name a system and a value, and at most one `:not` token filter of one
 * plain value. Anything else must go the generic way, which knows every modifier and normalisation.
 */
import { parseSearchRequest } from '@medplum/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { identifierRows } from '../../src/store/match-identifiers.ts';
import { loadDefinitions } from '../../src/validate/definitions.ts';

beforeAll(() => loadDefinitions());
const rows = (q: string) => identifierRows(parseSearchRequest(q));

describe('identifier searches of the fixed shape', () => {
  it('takes system|value pairs, ORed, with at most one plain :not', () => {
    expect(rows('Patient?identifier=urn:a|1')).toEqual([
      { type: 'Patient', code: 'identifier', system: 'urn:a', value: '1', notCode: null, notValue: null },
    ]);
    expect(rows('Patient?identifier=urn:a|1,urn:b|2&active:not=false')).toEqual([
      { type: 'Patient', code: 'identifier', system: 'urn:a', value: '1', notCode: 'active', notValue: 'false' },
      { type: 'Patient', code: 'identifier', system: 'urn:b', value: '2', notCode: 'active', notValue: 'false' },
    ]);
    expect(rows('Coverage?identifier=urn:oid:1.2|POL-9')?.[0]).toMatchObject({ type: 'Coverage', value: 'POL-9' });
  });

  it('leaves every other search to the generic SQL', () => {
    const generic = [
      'Patient?identifier=1', // any system
      'Patient?identifier=|1', // no system
      'Patient?identifier=urn:a|', // any value of a system
      'Patient?identifier=urn:a|1|2', // a bar in the value
      'Patient?identifier:of-type=urn:t|MR|1',
      'Patient?identifier=urn:a|1&active=true', // a second positive filter
      'Patient?identifier=urn:a|1&active:not=false&gender:not=male', // two exclusions
      'Patient?identifier=urn:a|1&active:not=urn:x|false', // an exclusion with a system
      'Patient?identifier=urn:a|1&active:not=false,true', // an exclusion of two values
      'Patient?identifier=urn:a|1&name:not=x', // an exclusion on a string parameter
      'Patient?phone=urn:a|555-0100', // a normalised parameter
      'Patient?family=Smith', // not a token
      'Organization?name:exact=Acme&type=pay',
      'Coverage?beneficiary=Patient/1&payor=Organization/2',
      'Patient?_id=1',
    ];
    for (const q of generic) expect(rows(q), q).toBeUndefined();
  });

  it('refuses a NUL in a value as the generic SQL does', () => {
    expect(() => rows('Patient?identifier=urn:a|1%00')).toThrow(/NUL/);
  });
});
