/**
 * CoverageEligibilityRequest → 270. The 270s we write are golden files (test/fixtures/golden/x12/*.270.edi, compared
 * byte for byte; `UPDATE_GOLDEN=1` rewrites them after a review, a missing one fails); ./eligibility-270-read.test.ts
 * reads them back and has an independent parser check them. The people, payer and provider are fictional
 * (test/helpers/x12-fixtures.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Coverage } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { OperationOutcomeError } from '../../../src/outcome.ts';
import { build270, type EligibilityInquiry } from '../../../src/translate/x12/eligibility-270.ts';
import {
  ana, CASES, cls, coverage, dependentInquiry, interchange, leo, minjun, NOW, rel, request, servicesInquiry, stc,
  subscriberInquiry,
} from '../../helpers/x12-fixtures.ts';

const GOLDEN = join(import.meta.dirname, '../../fixtures/golden/x12');
const REQ = 'CoverageEligibilityRequest';

function segmentsOf(text: string): string[] {
  return text.split('~').filter(Boolean);
}

function expressionOf(fn: () => unknown): string[] | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OperationOutcomeError);
    return (err as OperationOutcomeError).outcome.issue?.[0]?.expression;
  }
  throw new Error('expected an OperationOutcomeError');
}

describe('CoverageEligibilityRequest to 270', () => {
  it.each(CASES)('writes the reviewed 270 for %s (%s.270.edi)', (_what, name, inq) => {
    const text = interchange(inq);
    const file = join(GOLDEN, `${name}.270.edi`);
    // Written only when asked: a golden file that is missing fails, it is never recreated from what it should check.
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(GOLDEN, { recursive: true });
      writeFileSync(file, text, 'latin1');
    }
    expect(existsSync(file), `${file} is missing: review the 270, then run with UPDATE_GOLDEN=1`).toBe(true);
    const golden = readFileSync(file, 'latin1');
    expect(segmentsOf(text)).toEqual(segmentsOf(golden));
    expect(text).toBe(golden);
  });

  it('writes the subscriber loops in TR3 order, names cleaned as CORE 258 says, today as the date of service', () => {
    const segs = segmentsOf(interchange(subscriberInquiry)).slice(3, -3);
    expect(segs).toEqual([
      'BHT*0022*13*1001*20260302*1405',
      'HL*1**20*1',
      'NM1*PR*2*PRAIRIE MUTUAL HEALTH*****PI*PMH01',
      'HL*2*1*21*1',
      'NM1*1P*2*MAPLE STREET FAMILY CLINIC & LAB*****XX*1234567893',
      'HL*3*2*22*0',
      'TRN*1*req-1001*9FRONTDESK',
      'NM1*IL*1*OBRIENNUNEZ*ANA*MARIA***MI*PMH778812',
      'REF*6P*GRP-4410',
      'REF*18*GOLD-PPO',
      'DMG*D8*19840719*F',
      'DTP*291*D8*20260302',
      'EQ*30',
    ]);
  });

  it('puts the subscriber in 2100C and the patient in 2000D/2100D when the patient is a dependent', () => {
    const segs = segmentsOf(interchange(dependentInquiry)).slice(7, -3);
    expect(segs).toEqual([
      'NM1*1P*1*RIVERA*SOFIA****XX*1098765436',
      'HL*3*2*22*1',
      'NM1*IL*1*PARK*MINJUN*T***MI*PMH550021',
      'REF*6P*GRP-4410',
      'DMG*D8*19820214*M',
      'HL*4*3*23*0',
      'TRN*1*req-1002*9FRONTDESK',
      'NM1*03*1*PARK*LEO',
      'DMG*D8*20151130*M',
      'INS*N*19',
      'DTP*291*D8*20260310',
      'EQ*30',
    ]);
  });

  it.each([
    ['spouse', '01'],
    ['common', '01'],
    ['child', '19'],
    ['parent', '34'],
    ['other', '34'],
  ])('sends relationship %s as INS*N*%s', (code, ins02) => {
    const text = interchange({
      ...dependentInquiry, coverage: { ...dependentInquiry.coverage, relationship: rel(code) },
    });
    expect(segmentsOf(text)).toContain(`INS*N*${ins02}`);
  });

  it('asks for the service types in one repeated EQ01, one EQ per procedure, over a period (RD8), ' +
    'the suffix in NM107', () => {
    const segs = segmentsOf(interchange(servicesInquiry));
    expect(segs).toContain('NM1*IL*1*QUINN*THEO***JR*MI*PMH778812');
    expect(segs).toContain('DMG*D8*19840719*U');
    expect(segs).toContain('DTP*291*RD8*20260301-20260331');
    expect(segs.filter((s) => s.startsWith('EQ'))).toEqual(['EQ*1^33^MH', 'EQ*98*HC:99213:25', 'EQ**HC:G0439']);
  });

  it('sends at most 99 service types, and says so beyond', () => {
    const codes = Array.from({ length: 100 }, (_, i) => (i + 100).toString(36).toUpperCase());
    const withTypes = (n: number) => ({
      ...subscriberInquiry, request: { ...request, item: [{ category: stc(...codes.slice(0, n)) }] },
    });
    const eq = segmentsOf(interchange(withTypes(99))).find((s) => s.startsWith('EQ'));
    expect(eq?.split('*')[1]?.split('^')).toHaveLength(99);
    expect(expressionOf(() => build270(withTypes(100), '1', NOW))).toEqual([`${REQ}.item`]);
  });

  it('takes the member id from a Coverage identifier of type MB when there is no subscriberId', () => {
    const cov: Coverage = {
      ...coverage, subscriberId: undefined,
      identifier: [
        { value: 'X-1' },
        {
          type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MB' }] },
          value: 'MB-2020',
        },
      ],
    };
    expect(segmentsOf(interchange({ ...subscriberInquiry, coverage: cov })))
      .toContain('NM1*IL*1*OBRIENNUNEZ*ANA*MARIA***MI*MB-2020');
  });

  it('cleans delimiters out of names but never out of identifiers', () => {
    const named: EligibilityInquiry = {
      ...subscriberInquiry,
      patient: { ...ana, name: [{ family: 'Ash*ford~', given: ['Ann:Marie^'] }] },
      payer: { name: 'Prairie*Mutual: Health', payerId: 'PMH01' },
    };
    const segs = segmentsOf(interchange(named));
    expect(segs).toContain('NM1*IL*1*ASHFORD*ANNMARIE****MI*PMH778812');
    expect(segs).toContain('NM1*PR*2*PRAIRIEMUTUAL HEALTH*****PI*PMH01');
    let message = '';
    try {
      build270({ ...subscriberInquiry, coverage: { ...coverage, subscriberId: 'PMH*778812' } }, '1', NOW);
    } catch (err) {
      message = (err as OperationOutcomeError).outcome.issue?.[0]?.details?.text ?? '';
    }
    expect(message).toContain('"PMH*778812"');
  });

  it.each<[string, (i: EligibilityInquiry) => EligibilityInquiry, string]>([
    ['no birth date', (i) => ({ ...i, patient: { ...ana, birthDate: undefined } }), 'Patient.birthDate'],
    ['a birth date without a day', (i) => ({ ...i, patient: { ...ana, birthDate: '1984-07' } }), 'Patient.birthDate'],
    ['no name', (i) => ({ ...i, patient: { ...ana, name: undefined } }), 'Patient.name'],
    ['a name without a family name', (i) => ({ ...i, patient: { ...ana, name: [{ given: ['Ana'] }] } }),
      'Patient.name.family'],
    ['no member id', (i) => ({ ...i, coverage: { ...coverage, subscriberId: undefined } }), 'Coverage.subscriberId'],
    ['a member id holding a delimiter', (i) => ({ ...i, coverage: { ...coverage, subscriberId: 'PMH~1' } }),
      'Coverage.subscriberId'],
    ['a member id outside the X12 character set', (i) => ({ ...i, coverage: { ...coverage, subscriberId: 'PMHé1' } }),
      'Coverage.subscriberId'],
    ['a group id holding a delimiter', (i) => ({ ...i, coverage: { ...coverage, class: [cls('group', 'GRP^1')] } }),
      'Coverage.class[0].value'],
    ['a dependent without the subscriber', (i) => ({ ...i, coverage: { ...coverage, relationship: rel('spouse') } }),
      'Coverage.subscriber'],
    ['a relationship from another code system',
      (i) => ({ ...i, coverage: { ...coverage, relationship: { coding: [{ system: 'urn:x', code: 'child' }] } } }),
      'Coverage.relationship'],
    ['a subscriber without a name', (i) => ({ ...dependentInquiry, subscriber: { ...minjun, name: [] } }),
      'RelatedPerson.name'],
    ['a dependent without a birth date', () => ({ ...dependentInquiry, patient: { ...leo, birthDate: undefined } }),
      'Patient.birthDate'],
    ['a date of service without a day', (i) => ({ ...i, request: { ...request, servicedDate: '2026-03' } }),
      `${REQ}.servicedDate`],
    ['a period that ends before it starts',
      (i) => ({ ...i, request: { ...request, servicedPeriod: { start: '2026-03-02', end: '2026-03-01' } } }),
      `${REQ}.servicedPeriod`],
    ['a service type that is not an X12 code',
      (i) => ({ ...i, request: { ...request, item: [{ category: stc('office') }] } }),
      `${REQ}.item[0].category`],
    ['a procedure neither CPT nor HCPCS',
      (i) => ({
        ...i,
        request: {
          ...request,
          item: [{ productOrService: { coding: [{ system: 'http://snomed.info/sct', code: '185349003' }] } }],
        },
      }),
      `${REQ}.item[0].productOrService`],
    ['an NPI that is not 10 digits', (i) => ({ ...i, provider: { name: 'Clinic', npi: '12345' } }), `${REQ}.provider`],
    ['a payer id holding a delimiter', (i) => ({ ...i, payer: { name: 'PMH', payerId: 'PMH:01' } }), `${REQ}.insurer`],
  ])('refuses %s, pointing at it', (_what, change, expression) => {
    expect(expressionOf(() => build270(change(subscriberInquiry), '1', NOW))).toEqual([expression]);
  });
});
