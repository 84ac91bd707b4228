/**
 * Golden files: the FHIR transaction Bundle expected for one message of each kind (ADT^A04, ADT^A40, SIU^S12,
 * SIU^S15, REF^I12), reviewed by hand and kept in test/fixtures/golden/. The inputs are the FHIR-Converter
 * samples (test/fixtures/hl7v2, MIT); offset-less times are read in America/Chicago. A change of mapping shows
 * up here as a diff to review; `UPDATE_GOLDEN=1 npx vitest run test/translate/hl7v2/golden.test.ts` rewrites the
 * files after such a review.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toTransactionBundle } from '../../../src/translate/hl7v2/bundle.ts';
import { decodeHl7 } from '../../../src/translate/hl7v2/charset.ts';
import { translate } from '../../../src/translate/hl7v2/translate.ts';
import { validate } from '../../../src/validate/validator.ts';

const INPUT = join(import.meta.dirname, '../../fixtures/hl7v2');
const GOLDEN = join(import.meta.dirname, '../../fixtures/golden');

const CASES = [
  ['ADT^A04', 'ADT-A04-01'],
  ['ADT^A40', 'ADT-A40-01'],
  ['SIU^S12', 'SIU-S12-01'],
  ['SIU^S15', 'SIU-S15-02'],
  ['REF^I12', 'REF-I12-01'],
] as const;

describe('golden files', () => {
  it.each(CASES)('%s (%s.hl7) translates to the reviewed Bundle', (event, name) => {
    const text = decodeHl7(readFileSync(join(INPUT, `${name}.hl7`))).text;
    const plan = translate(text, { timeZone: 'America/Chicago' });
    expect(plan.event).toBe(event);
    for (const e of plan.entries) if (e.mode !== 'update-existing') validate({ ...e.defaults, ...e.resource }, { profiles: e.profiles });
    const bundle = JSON.parse(JSON.stringify(toTransactionBundle(plan)));
    const file = join(GOLDEN, `${name}.bundle.json`);
    // Written only when asked: a golden file that is missing fails, it is never recreated from what it should check.
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, `${JSON.stringify(bundle, null, 2)}\n`);
    expect(existsSync(file), `${file} is missing: review the translation, then run with UPDATE_GOLDEN=1`).toBe(true);
    expect(bundle).toEqual(JSON.parse(readFileSync(file, 'utf8')));
  });
});
