/**
 * @module translate/x12/cli — `frontdesk translate FILE` for X12, without a database: a 271 prints its
 * CoverageEligibilityResponse, a 270 its CoverageEligibilityRequest (patient, coverage and parties contained), a
 * 999 or TA1 its OperationOutcome; several sets print one JSON document per line. Bad input → exit code 1 and an
 * OperationOutcome on stderr.
 *
 * Without a database there are no stored resources to point at: the response names its patient by the member id
 * and its payer by the payer id (logical references, references.html#logical), and its request by the trace.
 */
import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { outcome } from '../../outcome.ts';
import { ackOutcome, read999, readTa1 } from './acks.ts';
import { requestFrom270 } from './eligibility-270-read.ts';
import { read271 } from './eligibility-271.ts';
import { toEligibilityResponses } from './eligibility-response.ts';
import { readInterchange, type X12Interchange, type X12Transaction } from './envelope.ts';
import { SYSTEMS } from './systems.ts';
import { X12SyntaxError } from './tokens.ts';

/** The FHIR of each transaction set (and each TA1) in an interchange; throws an OperationOutcomeError for bad input. */
export function translateX12(text: string): Resource[] {
  let ix: X12Interchange;
  try {
    ix = readInterchange(text);
  } catch (err) {
    if (err instanceof X12SyntaxError) {
      throw new OperationOutcomeError(outcome('structure', `${err.message} (TA1 note ${err.code})`, 'ISA'));
    }
    throw err;
  }
  const problems = [...ix.problems.map((p) => p.text), ...ix.groups.flatMap((g) => g.problems)];
  if (problems.length) throw new OperationOutcomeError(outcome('structure', problems.join('; ')));
  const out: Resource[] = ix.ta1.map((s) => ackOutcome(readTa1(s)));
  for (const g of ix.groups) for (const tx of g.transactions) out.push(...translateSet(ix, tx));
  if (!out.length) throw new OperationOutcomeError(outcome('structure', 'The interchange holds no transaction set'));
  return out;
}

function translateSet(ix: X12Interchange, tx: X12Transaction): Resource[] {
  switch (tx.id) {
    case '270':
      return [requestFrom270(tx, ix.delimiters)];
    case '271': {
      const r = read271(tx, ix.delimiters);
      const source = r.sources[0];
      const member = source?.receivers[0]?.subscribers[0]?.name;
      const trace = source?.receivers[0]?.subscribers[0]?.traces[0]?.reference;
      return toEligibilityResponses(r, {
        request: trace
          ? { identifier: { system: 'urn:frontdesk:x12:trace', value: trace } }
          : { display: `the 270 that 271 ${tx.control} answers` },
        patient: member?.id
          ? { identifier: { system: SYSTEMS.memberId, value: member.id } }
          : { display: 'the member named in the 271' },
        insurer: source?.name?.id
          ? { identifier: { system: SYSTEMS.payerId, value: source.name.id }, display: source.name.last }
          : { display: 'the payer' },
        created: new Date().toISOString(),
      }).map((x) => x.response);
    }
    case '999':
      return [ackOutcome(read999(tx, ix.delimiters))];
    default:
      throw new OperationOutcomeError(
        outcome('not-supported', `Transaction set ${tx.id} is not translated by this gateway`, `ST ${tx.control}`),
      );
  }
}

export function isX12(bytes: Buffer): boolean {
  return /^(\uFEFF|\xEF\xBB\xBF)?\s*ISA/.test(bytes.subarray(0, 16).toString('latin1'));
}

/** Prints each resource (one per line when several); returns the exit code. */
export function printX12(bytes: Buffer, write: (s: string) => void, fail: (o: OperationOutcome) => number): number {
  try {
    const resources = translateX12(bytes.toString('latin1'));
    for (const r of resources) {
      write(resources.length > 1 ? `${JSON.stringify(r)}\n` : `${JSON.stringify(r, null, 2)}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof OperationOutcomeError) return fail(err.outcome);
    return fail(outcome('exception', `The file could not be translated: ${(err as Error).message}`));
  }
}
