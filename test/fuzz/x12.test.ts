/**
 * Fuzzing the X12 reader (issue #16 point 2): mutated public and synthetic interchanges and noise must tokenize,
 * read as an envelope and translate, or be refused with an X12SyntaxError (TA1 note code) or an
 * OperationOutcomeError, within a time bound, never crash; the TA1/999 built for whatever was read must be an
 * interchange we read back without a problem, and a segment re-delimited for a partner must keep its data.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe } from 'vitest';
import { mutated, noise, repairedX12, X12, X12_SEEDS } from './corpus.ts';
import { fuzz } from './property.ts';
import { Sandbox } from './sandbox.ts';
import { assertSound } from './verdict.ts';

const box = new Sandbox();
beforeAll(async () => {
  for (const s of X12_SEEDS) await box.run('x12.translate', s.bytes, 60_000);
}, 120_000);
afterAll(() => box.close());

const run = (target: string) => async (input: unknown) => assertSound(await box.run(target, input));

const bytes = fc.oneof(
  { weight: 3, arbitrary: mutated(X12_SEEDS, X12, 5) },
  { weight: 4, arbitrary: mutated(X12_SEEDS, X12, 5).map(repairedX12) },
  { weight: 1, arbitrary: noise('ISA*00*          *00*          *ZZ*') },
  { weight: 1, arbitrary: noise('ISA') }
);

describe('X12 tokenizer and envelope (tokens.ts, envelope.ts, serialize.ts) under fuzz', () => {
  fuzz('x12', 'tokenizes with distinct delimiters, and re-delimits keeping the data, or refuses with an X12SyntaxError',
    bytes, run('x12.tokenize'), { numRuns: 400 });
  fuzz('x12', 'reads the envelope and answers with a TA1/999 that reads back without a problem',
    bytes, run('x12.envelope'), { numRuns: 400 });
});

describe('X12 translation (cli.ts translateX12: 270, 271, 999, TA1) under fuzz', () => {
  const name = 'translates to FHIR, or refuses with an OperationOutcomeError';
  fuzz('x12', name, bytes, run('x12.translate'), { numRuns: 300 });
});
