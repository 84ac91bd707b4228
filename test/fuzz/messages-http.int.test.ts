/**
 * Fuzzing the message doors over HTTP (issue #16 point 2): `POST /hl7v2` (the processing MLLP has, and files of
 * several messages answered one by one) and `POST /x12` (the envelope, then each transaction set's handler: the
 * X12 workflows behind the pure readers). Mutated samples and noise get an answer below 500 within the time bound:
 * acknowledgments whose AE/AR say why (never 207), or an X12 interchange that our own reader reads, or an
 * OperationOutcome.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe } from 'vitest';
import { readInterchange } from '../../src/translate/x12/envelope.ts';
import { checkAcks, recordThrown, withControlIds } from './acks.ts';
import { HL7, HL7_SEEDS, mutated, noise, repairedX12, X12, X12_SEEDS } from './corpus.ts';
import { assertAnswer, fuzzGateway, type FuzzGateway } from './http.ts';
import { fuzz } from './property.ts';

let fz: FuzzGateway;
let thrown: string[] = [];
beforeAll(async () => {
  fz = await fuzzGateway();
  thrown = recordThrown(fz.g);
}, 60_000);
afterAll(() => fz?.stop());

describe('HL7 v2 and X12 over HTTP under fuzz', () => {
  const hl7 = fc.oneof(
    { weight: 5, arbitrary: mutated(HL7_SEEDS, HL7, 4) },
    { weight: 1, arbitrary: noise('MSH|^~\\&|') }
  );
  const hl7Name = 'POST /hl7v2: acknowledgments (AE/AR with ERR, never 207), or an OperationOutcome';
  fuzz('messages-http', hl7Name, hl7, async (body) => {
    const er7 = { 'content-type': 'x-application/hl7-v2+er7' };
    const a = await fz.send('POST', '/hl7v2', withControlIds(body).bytes, er7);
    if (a.status >= 400 || a.status === 204) return assertAnswer(a, 'POST /hl7v2');
    checkAcks(a.text, { thrown });
  }, { numRuns: 60, timeoutMs: 120_000 });

  const x12 = fc.oneof(
    { weight: 2, arbitrary: mutated(X12_SEEDS, X12, 4) },
    { weight: 3, arbitrary: mutated(X12_SEEDS, X12, 4).map(repairedX12) },
    { weight: 1, arbitrary: noise('ISA*00*          *00*          *ZZ*') }
  );
  const x12Name = 'POST /x12: an interchange our reader reads (TA1/999/271), or an OperationOutcome';
  fuzz('messages-http', x12Name, x12, async (body) => {
    const a = await fz.send('POST', '/x12', body, { 'content-type': 'application/edi-x12' });
    if (a.status >= 400) return assertAnswer(a, 'POST /x12');
    const ix = readInterchange(a.text);
    const problems = ix.problems.map((p) => p.text).join('; ');
    if (problems) throw new Error(`our answer has envelope problems: ${problems}\n${a.text}`);
  }, { numRuns: 60, timeoutMs: 120_000 });
});
