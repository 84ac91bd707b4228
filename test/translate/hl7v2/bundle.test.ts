/**
 * The transaction Bundle of `frontdesk translate` (issue 5 point 7: "loads into any FHIR server"), on the pure
 * rendering: a server replaces `urn:uuid:` placeholders in references (R4 http.html#trules), not inside
 * `request.url` or `ifNoneExist`, so a match naming another entry is written as a chained search on that entry's
 * own match. Every corpus sample of a supported type (FHIR-Converter, MIT) is checked.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { toTransactionBundle } from '../../../src/translate/hl7v2/bundle.ts';
import { decodeHl7 } from '../../../src/translate/hl7v2/charset.ts';
import { translate, TRANSLATORS } from '../../../src/translate/hl7v2/translate.ts';

const DIR = join(import.meta.dirname, '../../fixtures/hl7v2');
const bundleOf = (text: string): Bundle => toTransactionBundle(translate(text, { timeZone: 'America/Chicago' }));
const requests = (b: Bundle) => (b.entry ?? []).map((e) => `${e.request?.method} ${e.request?.url}${e.request?.ifNoneExist ? ` if-none-exist ${e.request.ifNoneExist}` : ''}`);

const samples = readdirSync(DIR)
  .filter((f) => f.endsWith('.hl7'))
  .filter((f) => {
    const type = /^\uFEFF?MSH\|[^|]*(?:\|[^|]*){6}\|([^|^]*)\^([^|^\r\n]*)/.exec(decodeHl7(readFileSync(join(DIR, f))).text);
    return type ? TRANSLATORS.has(`${type[1]}^${type[2]}`) : false;
  });

describe('conditional URLs of the translate Bundle', () => {
  it.each(samples)('%s: no request.url or ifNoneExist holds a urn:uuid placeholder', (file) => {
    const b = bundleOf(decodeHl7(readFileSync(join(DIR, file))).text);
    for (const e of b.entry ?? []) {
      expect(e.request?.url, file).not.toContain('urn:uuid:');
      expect(e.request?.ifNoneExist ?? '', file).not.toContain('urn:uuid:');
    }
  });

  it('names the patient of a condition, an allergy, a next of kin and a coverage by its identifier, chained', () => {
    const b = bundleOf(
      [
        'MSH|^~\\&|PMS|NORTHCLINIC|FD|FD|20260105120000||ADT^A04^ADT_A01|C1|P|2.5.1',
        'PID|1||M1^^^NORTHCLINIC^MR||Doe^Jane',
        'NK1|1|Doe^John|SPO',
        'PV1|1|O',
        'AL1|1|DA|70618^Penicillin^RXNORM',
        'DG1|1||J45.909^Asthma^I10',
        'IN1|1|GOLD|PAYER1^^^NPI|Prairie Health',
        'IN1|2|SILVER||Self Pay',
      ].join('\r')
    );
    // The patient's own match, chained with its modifiers: the patient not merged away (`active:not=false`).
    const chained = (p: string) => `${p}:Patient.identifier=urn%3Afrontdesk%3Aid%3ANORTHCLINIC|M1&${p}:Patient.active:not=false`;
    const patient = chained('patient');
    expect(requests(b)).toEqual(expect.arrayContaining([
      `PUT RelatedPerson?${patient}&name:exact=Doe&relationship=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fv3-RoleCode|SPS`,
      `PUT AllergyIntolerance?${patient}&code=http%3A%2F%2Fwww.nlm.nih.gov%2Fresearch%2Fumls%2Frxnorm|70618`,
      `PUT Condition?${chained('subject')}&code=http%3A%2F%2Fhl7.org%2Ffhir%2Fsid%2Ficd-10|J45.909`,
      // A payer known by identifier is chained by it; one known by name by its exact name and type.
      `PUT Coverage?${chained('beneficiary')}&payor:Organization.identifier=http%3A%2F%2Fhl7.org%2Ffhir%2Fsid%2Fus-npi|PAYER1`,
      `PUT Coverage?${chained('beneficiary')}&payor:Organization.name:exact=Self%20Pay&payor:Organization.type=pay`,
    ]));
    expect(requests(b)[0]).toBe('PUT Patient?identifier=urn%3Afrontdesk%3Aid%3ANORTHCLINIC|M1&active:not=false');
  });

  it('names the referrer’s PractitionerRole by its practitioner and organization, chained', () => {
    const b = bundleOf(decodeHl7(readFileSync(join(DIR, 'REF-I12-01.hl7'))).text);
    expect(requests(b)).toContain(
      'POST PractitionerRole if-none-exist practitioner:Practitioner.identifier=urn%3Afrontdesk%3Aid%3ASL|PLN1001&organization:Organization.name:exact=GOOD%20HEALTH%20HOSPITAL&organization:Organization.type=prov'
    );
  });
});
