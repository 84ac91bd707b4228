/**
 * 270 → CoverageEligibilityRequest. The 270s ./eligibility-270.test.ts writes are read back by our own reader
 * (round trip) and parsed by an independent one (node-x12) whose envelope counts and control numbers must agree;
 * the stupidedi 270s (test/fixtures/x12) are read too. The people, payer and provider are fictional
 * (test/helpers/x12-fixtures.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Coverage, CoverageEligibilityRequest, Patient, Practitioner, Resource } from '@medplum/fhirtypes';
import { X12Parser, type X12Interchange as NodeX12Interchange } from 'node-x12';
import { describe, expect, it } from 'vitest';
import { OperationOutcomeError } from '../../../src/outcome.ts';
import {
  payerIdOf270, read270, requestFrom270, traceSystem,
} from '../../../src/translate/x12/eligibility-270-read.ts';
import { readInterchange } from '../../../src/translate/x12/envelope.ts';
import { SYSTEMS } from '../../../src/translate/x12/systems.ts';
import { validate } from '../../../src/validate/validator.ts';
import {
  CASES, cls, dependentInquiry, interchange, rel, servicesInquiry, stc, subscriberInquiry,
} from '../../helpers/x12-fixtures.ts';

const X12 = join(import.meta.dirname, '../../fixtures/x12');

function firstSet(text: string) {
  const ix = readInterchange(text);
  const tx = ix.groups[0]?.transactions[0];
  if (!tx) throw new Error('no transaction set');
  return { ix, tx };
}

function contained<T extends Resource>(r: CoverageEligibilityRequest, id: string): T {
  const found = r.contained?.find((c) => c.id === id);
  if (!found) throw new Error(`no contained #${id}`);
  return found as T;
}

describe('270 read back', () => {
  it.each(CASES)('our reader gets back what we wrote for %s', (_what, _name, inq) => {
    const { ix, tx } = firstSet(interchange(inq));
    expect(ix.problems).toEqual([]);
    expect(ix.groups[0]?.problems).toEqual([]);
    const read = read270(tx, ix.delimiters);
    expect(read.problems).toEqual([]);
    expect(read.reference).toBe('1001');
    const r = requestFrom270(tx, ix.delimiters);
    validate(r);
    expect(payerIdOf270(tx, ix.delimiters)).toBe(inq.payer.payerId);
    expect(r.created).toBe('2026-03-02T14:05:00Z');
    expect(r.identifier).toEqual([{ system: traceSystem(inq.trace.originator), value: inq.trace.reference }]);
    const cov = contained<Coverage>(r, 'coverage');
    expect(cov.subscriberId).toBe(inq.coverage.subscriberId);
    expect(cov.class).toEqual(inq.coverage.class);
    expect(cov.relationship).toEqual(inq.coverage.relationship);
    const patient = contained<Patient>(r, r.patient.reference?.slice(1) ?? '');
    expect(patient.birthDate).toBe(inq.patient.birthDate);
    expect(patient.gender ?? 'unknown').toBe(inq.patient.gender ?? 'unknown');
    expect(contained(r, 'payer')).toEqual({
      resourceType: 'Organization', id: 'payer', name: inq.payer.name.toUpperCase(),
      identifier: [{ system: SYSTEMS.payerId, value: inq.payer.payerId }],
    });
    const provider = contained<Practitioner>(r, 'provider');
    expect(provider.resourceType).toBe(inq.provider.person ? 'Practitioner' : 'Organization');
    expect(provider.identifier).toEqual([{ system: SYSTEMS.npi, value: inq.provider.npi }]);
  });

  it('gets the whole subscriber request back', () => {
    const { ix, tx } = firstSet(interchange(subscriberInquiry));
    expect(requestFrom270(tx, ix.delimiters)).toEqual({
      resourceType: 'CoverageEligibilityRequest',
      contained: [
        {
          resourceType: 'Organization', id: 'payer', name: 'PRAIRIE MUTUAL HEALTH',
          identifier: [{ system: SYSTEMS.payerId, value: 'PMH01' }],
        },
        {
          resourceType: 'Organization', id: 'provider', name: 'MAPLE STREET FAMILY CLINIC & LAB',
          identifier: [{ system: SYSTEMS.npi, value: '1234567893' }],
        },
        {
          resourceType: 'Patient', id: 'subscriber',
          identifier: [{
            type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MB' }] },
            system: SYSTEMS.memberId, value: 'PMH778812',
          }],
          name: [{ family: 'OBRIENNUNEZ', given: ['ANA', 'MARIA'] }], gender: 'female', birthDate: '1984-07-19',
        },
        {
          resourceType: 'Coverage', id: 'coverage', status: 'active', subscriber: { reference: '#subscriber' },
          subscriberId: 'PMH778812', beneficiary: { reference: '#subscriber' }, relationship: rel('self'),
          payor: [{ reference: '#payer' }], class: [cls('group', 'GRP-4410'), cls('plan', 'GOLD-PPO')],
        },
      ],
      identifier: [{ system: traceSystem('9FRONTDESK'), value: 'req-1001' }],
      status: 'active',
      purpose: ['validation', 'benefits'],
      patient: { reference: '#subscriber' },
      servicedDate: '2026-03-02',
      created: '2026-03-02T14:05:00Z',
      provider: { reference: '#provider' },
      insurer: { reference: '#payer' },
      insurance: [{ focal: true, coverage: { reference: '#coverage' } }],
      item: [{ category: stc('30') }],
    });
  });

  it('gets the dependent, their subscriber and the physician back', () => {
    const { ix, tx } = firstSet(interchange(dependentInquiry));
    const r = requestFrom270(tx, ix.delimiters);
    expect(r.patient).toEqual({ reference: '#dependent' });
    expect(contained<Patient>(r, 'dependent')).toEqual({
      resourceType: 'Patient', id: 'dependent', name: [{ family: 'PARK', given: ['LEO'] }], gender: 'male',
      birthDate: '2015-11-30',
    });
    expect(contained<Patient>(r, 'subscriber').name).toEqual([{ family: 'PARK', given: ['MINJUN', 'T'] }]);
    expect(contained<Patient>(r, 'subscriber').birthDate).toBe('1982-02-14');
    expect(contained<Coverage>(r, 'coverage').beneficiary).toEqual({ reference: '#dependent' });
    expect(contained<Practitioner>(r, 'provider').name).toEqual([{ family: 'RIVERA', given: ['SOFIA'] }]);
    expect(r.servicedDate).toBe('2026-03-10');
  });

  it('gets the service types, procedures with modifiers and the period back', () => {
    const { ix, tx } = firstSet(interchange(servicesInquiry));
    const r = requestFrom270(tx, ix.delimiters);
    expect(r.servicedPeriod).toEqual({ start: '2026-03-01', end: '2026-03-31' });
    expect(r.servicedDate).toBeUndefined();
    expect(r.item).toEqual([
      { category: stc('1') },
      { category: stc('33') },
      { category: stc('MH') },
      {
        category: stc('98'),
        productOrService: { coding: [{ system: SYSTEMS.cpt, code: '99213' }] },
        modifier: [{ coding: [{ system: SYSTEMS.cpt, code: '25' }] }],
      },
      { productOrService: { coding: [{ system: SYSTEMS.hcpcs, code: 'G0439' }] } },
    ]);
    expect(contained<Patient>(r, 'subscriber').name).toEqual([{ family: 'QUINN', given: ['THEO'], suffix: ['JR'] }]);
  });
});

describe('270 parsed by node-x12, an independent parser', () => {
  it.each(CASES)('agrees with the envelope we wrote for %s', (_what, _name, inq) => {
    const text = interchange(inq, 4321);
    const parsed = new X12Parser(true).parse(text) as NodeX12Interchange;
    const v = (s: { elements: { value: string }[] } | undefined, n: number) => s?.elements[n - 1]?.value;
    // node-x12 hands ISA13/IEA02 back without their leading zeros.
    expect(Number(v(parsed.header, 13))).toBe(4321);
    expect(text).toContain('*000004321*0*T*:~');
    expect(v(parsed.trailer, 2)).toBe(v(parsed.header, 13));
    expect(v(parsed.trailer, 1)).toBe(String(parsed.functionalGroups.length));
    const group = parsed.functionalGroups[0];
    expect(v(group?.header, 6)).toBe('4321');
    expect(v(group?.trailer, 2)).toBe(v(group?.header, 6));
    expect(v(group?.trailer, 1)).toBe(String(group?.transactions.length));
    const set = group?.transactions[0];
    expect(v(set?.header, 2)).toBe('4321');
    expect(v(set?.header, 3)).toBe('005010X279A1');
    expect(v(set?.trailer, 2)).toBe(v(set?.header, 2));
    expect(Number(v(set?.trailer, 1))).toBe((set?.segments.length ?? 0) + 2);
    // Segment by segment, node-x12 reads what our own reader reads.
    const ours = firstSet(text).tx.segments.slice(1, -1);
    expect(set?.segments.map((s) => [s.tag, ...s.elements.map((e) => e.value)])).toEqual(ours);
  });
});

describe('the stupidedi 270s', () => {
  const fixture = (file: string) => firstSet(readFileSync(join(X12, file), 'latin1'));

  it('reads the clinic asking about a subscriber', () => {
    const { ix, tx } = fixture('270-subscriber-request-by-clinic.edi');
    const read = read270(tx, ix.delimiters);
    expect(read).toMatchObject({
      control: '1234', purpose: '13', reference: '10001234', created: '2006-05-01T13:19:00Z', problems: [],
    });
    expect(read.inquiries).toHaveLength(1);
    expect(read.inquiries[0]).toMatchObject({
      source: { entity: 'PR', type: '2', last: 'ABC COMPANY', idQualifier: 'PI', id: '842610001' },
      receiver: { entity: '1P', type: '2', last: 'BONE AND JOINT CLINIC', idQualifier: 'SV', id: '2000035' },
      subscriber: {
        entity: 'IL', last: 'SMITH', first: 'ROBERT', idQualifier: 'MI', id: '11122333301', birthDate: '1943-05-19',
        trace: { reference: '93175-012547', originator: '9877281234' }, date: { date: '2006-05-01' },
        inquiries: [{ serviceTypes: ['30'] }],
      },
    });
    expect(read.inquiries[0]?.dependent).toBeUndefined();
    expect(payerIdOf270(tx, ix.delimiters)).toBe('842610001');
    const r = requestFrom270(tx, ix.delimiters);
    validate(r);
    expect(r.patient).toEqual({ reference: '#subscriber' });
    expect(contained(r, 'provider')).toEqual({
      resourceType: 'Organization', id: 'provider', name: 'BONE AND JOINT CLINIC',
      identifier: [{ system: 'urn:frontdesk:x12:66:SV', value: '2000035' }],
    });
    expect(r.identifier).toEqual([{ system: traceSystem('9877281234'), value: '93175-012547' }]);
  });

  it('reads the physician asking about a dependent, whose subscriber is known by member id only', () => {
    const { ix, tx } = fixture('270-dependent-request-by-physician.edi');
    const read = read270(tx, ix.delimiters);
    expect(read.problems).toEqual([]);
    expect(read.inquiries).toHaveLength(1);
    const inq = read.inquiries[0];
    expect(inq?.receiver).toMatchObject({
      entity: '1P', type: '1', last: 'JONES', first: 'MARCUS', idQualifier: 'SV', id: '0202034',
    });
    expect(inq?.subscriber).toMatchObject({ last: '', idQualifier: 'MI', id: '11122333301', inquiries: [] });
    expect(inq?.dependent).toMatchObject({
      entity: '03', last: 'SMITH', first: 'MARY', birthDate: '1978-10-14', trace: { reference: '93175-012547' },
      inquiries: [{ serviceTypes: ['30'] }],
    });
    const r = requestFrom270(tx, ix.delimiters);
    validate(r);
    expect(r.patient).toEqual({ reference: '#dependent' });
    expect(r.servicedDate).toBe('2006-05-01');
    expect(contained<Patient>(r, 'subscriber')).toEqual({
      resourceType: 'Patient', id: 'subscriber',
      identifier: [{
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MB' }] },
        system: SYSTEMS.memberId, value: '11122333301',
      }],
    });
    expect(contained<Practitioner>(r, 'provider')).toMatchObject({
      resourceType: 'Practitioner', name: [{ family: 'JONES', given: ['MARCUS'] }],
    });
    const cov = contained<Coverage>(r, 'coverage');
    expect(cov.beneficiary).toEqual({ reference: '#dependent' });
    expect(cov.relationship).toBeUndefined();
    expect(payerIdOf270(tx, ix.delimiters)).toBe('842610001');
  });

  it('refuses to make a request from a 270 without a subscriber level', () => {
    const text = readFileSync(join(X12, '270-subscriber-request-by-clinic.edi'), 'latin1')
      .replace('HL*3*2*22*0', 'HL*3*2*99*0');
    const { ix, tx } = firstSet(text);
    expect(read270(tx, ix.delimiters).problems).toContain('The 270 holds no subscriber level (2000C, HL03 22)');
    expect(() => requestFrom270(tx, ix.delimiters)).toThrow(OperationOutcomeError);
  });
});
