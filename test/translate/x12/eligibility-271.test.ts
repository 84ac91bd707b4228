/**
 * 271 → CoverageEligibilityResponse. Every 271 in test/fixtures/x12 (three stupidedi samples, BSD-3, and our own
 * synthetic ones with fictional people, plans and ids) is read, mapped, validated as R4 and compared with its
 * golden file (test/fixtures/golden/x12/<name>.response.json; `UPDATE_GOLDEN=1` rewrites them after a review, a
 * missing one fails). The sentences below pin the exact values: money, percents, codes, periods, corrections.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CoverageEligibilityResponseInsuranceItem as Item } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { EligibilityResult, MapContext } from '../../../src/translate/x12/eligibility-response.ts';
import { CTX, code, codes, FILES, GOLDEN, items, load, map, net, only, sets, usd, X12 } from '../../helpers/x12-271.ts';
import { SYSTEMS } from '../../../src/translate/x12/systems.ts';
import { validate } from '../../../src/validate/validator.ts';

describe('271 to CoverageEligibilityResponse', () => {
  it.each(FILES)('%s parses, maps to valid R4 and matches its golden file', (name) => {
    const results = JSON.parse(JSON.stringify(map(name))) as EligibilityResult[];
    expect(results.length).toBeGreaterThan(0);
    for (const r of results) validate(r.response);
    expect(JSON.stringify(results)).not.toMatch(/NaN|null/);
    const file = join(GOLDEN, name.replace(/\.edi$/, '.response.json'));
    // Written only when asked: a golden file that is missing fails, it is never recreated from what it should check.
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(GOLDEN, { recursive: true });
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    }
    expect(existsSync(file), `${file} is missing: review the mapping, then run with UPDATE_GOLDEN=1`).toBe(true);
    expect(results).toEqual(JSON.parse(readFileSync(file, 'utf8')));
  });

  it('reads BHT, 2100A, 2100B, 2100C and the 2110C EB elements typed, splitting EB03 on ISA11', () => {
    const [r] = sets(load('271-synthetic-active-benefits.edi'));
    expect(r?.bht).toEqual({ purpose: '11', reference: 'FD-REF-0001', date: '2025-01-02', time: '0930' });
    const source = r?.sources[0];
    expect(source?.name)
      .toEqual({ entity: 'PR', entityType: '2', last: 'FICTIONAL HEALTH PLAN', idQualifier: 'PI', id: '99999' });
    expect(source?.contacts)
      .toEqual([{ function: 'IC', name: 'PROVIDER SERVICES', numbers: [{ qualifier: 'TE', value: '5555550100' }] }]);
    const sub = source?.receivers[0]?.subscribers[0];
    expect(sub?.name).toEqual({
      entity: 'IL', entityType: '1', last: 'DOE', first: 'JANE', middle: 'Q', idQualifier: 'MI', id: 'FIC000111',
    });
    expect(sub?.traces).toEqual([{ type: '2', reference: 'TRACE-0001', originator: '1999999999' }]);
    expect(sub?.demographics).toEqual({ birthDate: '1980-01-01', gender: 'F' });
    expect(sub?.address)
      .toEqual({ lines: ['1 EXAMPLE STREET'], city: 'SPRINGFIELD', state: 'IL', postalCode: '62701' });
    expect(sub?.dates.map((d) => [d.qualifier, d.start])).toEqual([['346', '2025-01-01'], ['347', '2025-12-31']]);
    const eb = sub?.benefits ?? [];
    expect(eb[3]).toMatchObject({
      info: 'C', coverageLevel: 'IND', serviceTypes: ['30'], timePeriod: '23', amount: 500, network: 'Y',
    });
    expect(eb[4]?.amount).toBe(125.5);
    expect([eb[6]?.percent, eb[7]?.percent]).toEqual([0.2, 0.4]);
    expect(eb.find((b) => b.serviceTypes.length === 3)?.serviceTypes).toEqual(['33', 'AD', 'PT']);
    expect(eb.find((b) => b.procedure?.code === '99213')?.procedure)
      .toEqual({ qualifier: 'HC', code: '99213', modifiers: [] });
    expect(eb[1]?.entities[0]?.contacts)
      .toEqual([{ function: 'IC', numbers: [{ qualifier: 'TE', value: '5555550111' }] }]);
    expect(eb.find((b) => b.quantityQualifier === 'DY')?.delivery).toEqual([['DY', '30', '', '', '23']]);
  });

  it('maps EB*B … to a copay benefit in network, and the out-of-network copay to its own item', () => {
    const [r] = map('271-synthetic-active-benefits.edi');
    const office = items(r as EligibilityResult).filter((i) => code(i) === '98');
    expect(office.map((i) => [net(i), i.benefit?.[0]?.allowedMoney])).toEqual([['in', usd(25)], ['out', usd(50)]]);
    expect(codes(office[0]?.benefit?.[0]?.type)).toEqual([`${SYSTEMS.benefitType}|copay`, `${SYSTEMS.eb01}|B`]);
    expect(codes(office[0]?.term)).toEqual([`${SYSTEMS.timePeriod}|27`]);
    expect(office[0]?.provider)
      .toEqual({ display: 'MARCUS WELBY', identifier: { system: SYSTEMS.npi, value: '1234567893' } });
    expect(codes(office[0]?.unit)).toEqual([`${SYSTEMS.benefitUnit}|individual`]);
  });

  it('merges a deductible (EB06 23) with its remaining (EB06 29) into used = allowed − remaining, '
    + 'and keeps YTD (24) as used', () => {
    const list = items(map('271-synthetic-active-benefits.edi')[0] as EligibilityResult);
    const deductibles = list.filter((i) => i.benefit?.[0]?.type.coding?.[0]?.code === 'deductible');
    expect(deductibles).toHaveLength(2);
    const ind = deductibles[0] as Item;
    expect(ind.benefit).toEqual([{ type: ind.benefit?.[0]?.type, allowedMoney: usd(500), usedMoney: usd(374.5) }]);
    expect(codes(ind.term)).toEqual([`${SYSTEMS.benefitTerm}|annual`, `${SYSTEMS.timePeriod}|23`]);
    expect(codes(deductibles[1]?.unit)).toEqual([`${SYSTEMS.benefitUnit}|family`]);
    expect(deductibles[1]?.benefit?.[0]).toEqual({ type: deductibles[1]?.benefit?.[0]?.type, usedMoney: usd(300) });
  });

  it('maps co-insurance EB08 0.2 to 20 % and .4 out of network to 40 %', () => {
    const list = items(map('271-synthetic-active-benefits.edi')[0] as EligibilityResult);
    const pct = list.filter((i) => i.benefit?.[0]?.type.coding?.[0]?.code === 'copay-percent');
    expect(pct.map((i) => [net(i), i.benefit?.[0]?.allowedUnsignedInt])).toEqual([['in', 20], ['out', 40]]);
  });

  it('maps out of pocket (EB01 G) to a benefit coded G, and a lone remaining to the remaining extension', () => {
    const list = items(map('271-synthetic-active-benefits.edi')[0] as EligibilityResult);
    const oop = list.filter((i) => i.benefit?.[0]?.type.coding?.[1]?.code === 'G');
    expect(codes(oop[0]?.benefit?.[0]?.type)).toEqual([`${SYSTEMS.benefitType}|benefit`, `${SYSTEMS.eb01}|G`]);
    expect(oop.map((i) => [
      net(i), i.benefit?.[0]?.allowedMoney, i.benefit?.[0]?.usedMoney, i.benefit?.[0]?.extension,
    ])).toEqual([
      ['in', usd(3000), usd(500), undefined],
      ['out', undefined, undefined, [{ url: 'urn:frontdesk:extension:remaining', valueMoney: usd(1000) }]],
    ]);
  });

  it('maps a non-covered service (EB01 I) with its MSG text, EB11 Y, EB03 repetitions, visits '
    + 'and EB13 procedures', () => {
    const list = items(map('271-synthetic-active-benefits.edi')[0] as EligibilityResult);
    const vision = only(list, (i) => code(i) === 'AL');
    expect(vision)
      .toMatchObject({ excluded: true, description: 'ROUTINE VISION SERVICES ARE NOT COVERED SEE THE PLAN DOCUMENT' });
    expect(vision.benefit).toBeUndefined();
    const inpatient = only(list, (i) => code(i) === '48' && !!i.benefit);
    expect([inpatient.authorizationRequired, inpatient.benefit?.[0]?.allowedMoney]).toEqual([true, usd(250)]);
    const chiro = list.filter((i) => i.benefit?.[0]?.allowedMoney?.value === 40);
    expect(chiro.map(code)).toEqual(['33', 'AD', 'PT']);
    const visits = only(list, (i) => i.benefit?.[0]?.type.coding?.[0]?.code === 'visit');
    expect([code(visits), visits.benefit?.[0]?.allowedUnsignedInt, visits.benefit?.[0]?.usedUnsignedInt])
      .toEqual(['33', 20, 8]);
    const procs = list.filter((i) => i.productOrService);
    expect(procs.map((i) => [codes(i.productOrService), i.category, i.benefit?.[0]?.allowedMoney])).toEqual([
      [[`${SYSTEMS.cpt}|99213`], undefined, usd(15)],
      [[`${SYSTEMS.hcpcs}|G0438`], undefined, usd(0)],
    ]);
  });

  it('fills status, refs, period and disposition, and lists what it did not read', () => {
    const [r] = map('271-synthetic-active-benefits.edi');
    const { insurance, ...rest } = r?.response ?? {};
    expect(rest).toEqual({
      resourceType: 'CoverageEligibilityResponse', status: 'active', purpose: ['benefits'], patient: CTX.patient,
      created: CTX.created, request: CTX.request, insurer: CTX.insurer, requestor: CTX.requestor, outcome: 'complete',
      disposition: 'Coverage active: FICTIONAL PPO 500',
    });
    expect(insurance?.[0]).toMatchObject({
      coverage: { display: 'FICTIONAL PPO 500, member FIC000111' }, inforce: true,
      benefitPeriod: { start: '2025-01-01', end: '2025-12-31' },
    });
    expect([r?.hl, r?.level, r?.trace, r?.corrections]).toEqual(['3', 'subscriber', 'TRACE-0001', []]);
    expect(r?.unmapped).toEqual([
      '2100A PER', '2100C REF 6P', '2100C N3/N4', '2110C EB04 PR', '2120C PER', '2110C EB09 DY', '2110C HSD',
      '2110C EB01 F', '2110C DTP 348',
    ]);
  });

  it('uses the Coverage and purpose of the context when given', () => {
    const ctx = { ...CTX, coverage: { reference: 'Coverage/cov-1' }, purpose: ['validation'] as MapContext['purpose'] };
    const [r] = map('271-synthetic-inactive.edi', ctx);
    expect([r?.response.purpose, r?.response.insurance?.[0]?.coverage])
      .toEqual([['validation'], { reference: 'Coverage/cov-1' }]);
  });

  it('maps inactive coverage (EB01 6) to inforce false, and DTP*307 RD8 to the benefit period', () => {
    const [r] = map('271-synthetic-inactive.edi');
    expect(r?.response.insurance?.[0])
      .toMatchObject({ inforce: false, benefitPeriod: { start: '2024-01-01', end: '2024-12-31' } });
    expect([r?.response.outcome, r?.response.disposition]).toEqual(['complete', 'Coverage inactive']);
  });

  it('maps AAA 72 at 2100C to outcome error with code 72 and follow-up C', () => {
    const [r] = map('271-synthetic-aaa72-subscriber.edi');
    expect(r?.response.outcome).toBe('error');
    expect(r?.response.disposition)
      .toBe('Payer rejected the request: 72 Invalid/Missing Subscriber/Insured ID — correct and resubmit');
    expect(r?.response.error).toEqual([{ code: {
      coding: [
        { system: SYSTEMS.rejectReason, code: '72', display: 'Invalid/Missing Subscriber/Insured ID' },
        { system: SYSTEMS.followUp, code: 'C', display: 'Please Correct and Resubmit' },
      ],
      text: '72 Invalid/Missing Subscriber/Insured ID — correct and resubmit (subscriber, 2100C)',
    } }]);
    expect(r?.trace).toBe('TRACE-0003');
  });

  it('applies AAA 42 at 2100A to the subscriber below it', () => {
    const [r, ...more] = map('271-synthetic-aaa42-payer.edi');
    expect(more).toEqual([]);
    expect([r?.trace, r?.response.outcome, r?.response.error?.[0]?.code.text]).toEqual(
      ['TRACE-0004', 'error', '42 Unable to Respond at Current Time — you may resubmit (payer, 2100A)']);
  });

  it('answers a 271 that stops at 2000B (AAA 50 at 2100B, stupidedi) with one error response', () => {
    const results = map('271-aaa-error.edi');
    expect(results.map((r) => [r.hl, r.level, r.trace, r.response.outcome, r.response.disposition])).toEqual([
      ['2', 'subscriber', undefined, 'error',
        'Payer rejected the request: 50 Provider Ineligible for Inquiries — do not resubmit'],
    ]);
  });

  it('gives one answer per dependent (2000D), with its own trace, AAA and INS change', () => {
    const sent = {
      memberId: 'FIC000333', lastName: 'Doe', firstName: 'Jane', birthDate: '1980-01-01', gender: 'female',
    };
    const [samuel, lucy, ...more] = map('271-synthetic-dependents.edi', { ...CTX, sent });
    expect(more).toEqual([]);
    expect([samuel?.hl, samuel?.level, samuel?.trace, samuel?.response.outcome])
      .toEqual(['4', 'dependent', 'TRACE-0005A', 'complete']);
    expect(samuel?.corrections).toEqual([
      { who: 'dependent', field: 'ins', received: 'change in identifying data elements (INS03 001, INS04 25)' },
      { who: 'dependent', field: 'address', received: '2 EXAMPLE AVENUE, UNIT 3, SPRINGFIELD, IL 62702' },
    ]);
    expect(samuel?.response.disposition).toBe(
      "Coverage active: FICTIONAL HMO GOLD. The payer's record differs from what was sent: " +
        "dependent's identifying data; dependent's address 2 EXAMPLE AVENUE, UNIT 3, SPRINGFIELD, IL 62702. " +
        'Check the registration');
    expect(items(samuel as EligibilityResult).map((i) => [code(i), i.benefit?.[0]?.allowedMoney]))
      .toEqual([['30', undefined], ['98', usd(20)]]);
    expect([lucy?.trace, lucy?.response.outcome, lucy?.response.error?.[0]?.code.text]).toEqual(
      ['TRACE-0005B', 'error', '67 Patient Not Found — correct and resubmit (dependent, 2100D)']);
    expect(map('271-dependent-response-to-physician-x279.edi').map((r) => [r.hl, r.level, r.corrections]))
      .toEqual([['4', 'dependent', []]]);
  });

  it('reports INS*Y*18*001*25, a different member id, name, birth date and gender as corrections, '
    + 'never applying them', () => {
    const [r] = map('271-synthetic-corrections.edi');
    expect(r?.corrections).toEqual([
      { who: 'subscriber', field: 'ins', received: 'change in identifying data elements (INS03 001, INS04 25)' },
      { who: 'subscriber', field: 'address', received: '9 CORRECTED ROAD, SPRINGFIELD, IL 62703' },
      { who: 'subscriber', field: 'memberId', sent: 'FIC000444', received: 'FIC000999' },
      { who: 'subscriber', field: 'name', sent: 'Doe, Jane', received: 'DOE-SMITH, JANE' },
      { who: 'subscriber', field: 'birthDate', sent: '1980-01-01', received: '1980-01-02' },
      { who: 'subscriber', field: 'gender', sent: 'male', received: 'female' },
    ]);
    expect(r?.response.disposition).toBe(
      "Coverage active: FICTIONAL PPO 500. The payer's record differs from what was sent: "
      + 'identifying data; address 9 CORRECTED ROAD, SPRINGFIELD, IL 62703; member id FIC000999 (sent FIC000444); '
      + 'name DOE-SMITH, JANE (sent Doe, Jane); birth date 1980-01-02 (sent 1980-01-01); gender female (sent male). '
      + 'Check the registration');
    expect(r?.response.patient).toEqual(CTX.patient);
  });

  it('reads a 4010 interchange (ISA11 U) without splitting on U', () => {
    const [r] = sets(load('271-synthetic-4010.edi'));
    const sub = r?.sources[0]?.receivers[0]?.subscribers[0];
    expect([sub?.name?.id, sub?.benefits.map((b) => b.serviceTypes)]).toEqual(['UXU0042U', [['30'], ['UC']]]);
    expect(items(map('271-synthetic-4010.edi')[0] as EligibilityResult)
      .map((i) => [code(i), i.benefit?.[0]?.allowedMoney])).toEqual([['30', undefined], ['UC', usd(35)]]);
  });

  it('maps EB12 W to one item in and one out of network, EB02 EMP to the X12 coverage level '
    + 'and EB06 32 to a lifetime term', () => {
    const text = load('271-synthetic-inactive.edi').replace('EB*6*IND*30~', 'EB*C*EMP*30***32*5000*****W~');
    const both = items(map('271-synthetic-inactive.edi', CTX, text)[0] as EligibilityResult);
    expect(both.map((i) => i.network)).toEqual([
      { coding: [{ system: SYSTEMS.benefitNetwork, code: 'in', display: 'In Network' }] },
      { coding: [{ system: SYSTEMS.benefitNetwork, code: 'out', display: 'Out of Network' }] },
    ]);
    expect(both[1]?.benefit).toEqual(both[0]?.benefit);
    const item = both[0];
    expect([codes(item?.unit), codes(item?.term), item?.benefit?.[0]?.allowedMoney]).toEqual([
      [`${SYSTEMS.coverageLevel}|EMP`], [`${SYSTEMS.benefitTerm}|lifetime`, `${SYSTEMS.timePeriod}|32`], usd(5000),
    ]);
  });

  it('never writes NaN, and lists unknown segments, levels and bad numbers with their loop', () => {
    const text = load('271-synthetic-inactive.edi')
      .replace('EB*6*IND*30~', 'EB*B*IND*30***27*1O.00~ZZZ*1~')
      .replace('SE*13*0001', 'SE*14*0001');
    const [r] = map('271-synthetic-inactive.edi', CTX, text);
    expect(JSON.stringify(r)).not.toContain('NaN');
    expect(r?.unmapped).toEqual(['2110C EB07 not a number', '2110C ZZZ']);
    expect(items(r as EligibilityResult)[0]?.benefit).toBeUndefined();
  });
});
