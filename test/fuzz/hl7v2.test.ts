/**
 * Fuzzing the HL7 v2 reader and translators (issue #16 point 2): mutated public samples and noise must decode,
 * parse and translate, or be refused with the project's structured errors (HeaderError for an unreadable MSH,
 * OperationOutcomeError — contentError — for content), within a time bound, never crash. Every translator of
 * TRANSLATORS gets its own property, run on its own message type whatever the mutations did to MSH-9.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe } from 'vitest';
import { TRANSLATORS } from '../../src/translate/hl7v2/translate.ts';
import { HL7, HL7_SEEDS, messageType, mutated, noise } from './corpus.ts';
import { fuzz } from './property.ts';
import { Sandbox } from './sandbox.ts';
import { assertSound } from './verdict.ts';

const box = new Sandbox();
const ZONES = ['UTC', 'America/Chicago', 'Pacific/Kiritimati', 'Asia/Kathmandu', 'America/St_Johns'];
/** HL7 table 0211 names, one the gateway does not know, and none (MSH-18 decides). */
const CHARSETS = [undefined, '8859/1', 'UNICODE UTF-8', '8859/7', 'UNICODE UTF-16', 'ASCII', 'ISO IR87', 'x'];

/** The samples a translator is meant for: its own type, else its family (REF^I13 has no public sample). */
function seedsFor(type: string) {
  const own = HL7_SEEDS.filter((s) => messageType(s.bytes) === type);
  return own.length ? own : HL7_SEEDS.filter((s) => messageType(s.bytes).startsWith(type.split('^')[0] as string));
}

beforeAll(async () => {
  // The first translations compile JSON schemas and field maps: not what the time bound is about.
  for (const type of TRANSLATORS.keys()) {
    for (const s of seedsFor(type)) await box.run('hl7v2.translate', { bytes: s.bytes, type, timeZone: 'UTC' }, 60_000);
  }
}, 120_000);
afterAll(() => box.close());

const run = (target: string) => async (input: unknown) => assertSound(await box.run(target, input));
const bytesArb = fc.oneof(
  { weight: 5, arbitrary: mutated(HL7_SEEDS, HL7) },
  { weight: 1, arbitrary: noise('MSH|^~\\&|') }
);

describe('HL7 v2 parser (charset.ts, header.ts, parse.ts, batch.ts) under fuzz', () => {
  fuzz('hl7v2', 'decodes, parses and reads every value, or refuses with a HeaderError',
    fc.record({ bytes: bytesArb, charset: fc.constantFrom(...CHARSETS) }), run('hl7v2.parse'), { numRuns: 400 });
});

describe('HL7 v2 translators (translate.ts TRANSLATORS) under fuzz', () => {
  fuzz('hl7v2', 'translate(): any message gets a plan, or a contentError (unsupported types included)',
    fc.record({ bytes: bytesArb, timeZone: fc.constantFrom(...ZONES) }), run('hl7v2.translate'), { numRuns: 200 });
  for (const type of TRANSLATORS.keys()) {
    const input = fc.record({
      bytes: mutated(seedsFor(type), HL7, 5),
      type: fc.constant(type),
      timeZone: fc.constantFrom(...ZONES),
      charset: fc.constantFrom(...CHARSETS),
      // The referral an RRI without RF1-6 answers, as the workflow finds it from MSA-2.
      answered: type === 'RRI^I12' ? fc.option(fc.string({ maxLength: 12 }), { nil: undefined }) : fc.constant(void 0),
    });
    const name = `${type}: a plan whose entries validate and render as a Bundle, or a contentError`;
    fuzz('hl7v2', name, input, run('hl7v2.translate'), { numRuns: 60 });
  }
});
