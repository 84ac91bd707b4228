/**
 * The 271 fixtures and the small readers the 271 mapping tests share: load a fixture, map it with the context our
 * 270 would have carried, pick items and codes out of the response.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CoverageEligibilityResponseInsuranceItem as Item } from '@medplum/fhirtypes';
import { expect } from 'vitest';
import { read271 } from '../../src/translate/x12/eligibility-271.ts';
import {
  toEligibilityResponses, type EligibilityResult, type MapContext,
} from '../../src/translate/x12/eligibility-response.ts';
import { readInterchange } from '../../src/translate/x12/envelope.ts';

export type { Item };
export const X12 = join(import.meta.dirname, '../fixtures/x12');
export const GOLDEN = join(import.meta.dirname, '../fixtures/golden/x12');
export const FILES = readdirSync(X12).filter((f) => /^271-.*\.edi$/.test(f)).sort();

export const CTX: MapContext = {
  request: { reference: 'CoverageEligibilityRequest/req-1' },
  patient: { reference: 'Patient/pat-1' },
  insurer: { reference: 'Organization/payer-1' },
  requestor: { reference: 'Organization/clinic-1' },
  created: '2025-01-02T09:30:00Z',
};
/** What our 270 said, per file: the stupidedi subscriber as sent; the corrections fixture with what the payer fixed. */
export const SENT: Record<string, MapContext['sent']> = {
  '271-subscriber-response-to-clinic-x279.edi': {
    memberId: '123456789', lastName: 'Smith', firstName: 'John', birthDate: '1963-05-19', gender: 'male',
  },
  '271-dependent-response-to-physician-x279.edi': {
    memberId: '123456789', lastName: 'smith', firstName: 'john', birthDate: '1963-05-19',
  },
  '271-synthetic-corrections.edi': {
    memberId: 'FIC000444', lastName: 'Doe', firstName: 'Jane', birthDate: '1980-01-01', gender: 'male',
  },
};

export function sets(text: string) {
  const ix = readInterchange(text);
  expect(ix.problems).toEqual([]);
  for (const g of ix.groups) expect(g.problems).toEqual([]);
  return ix.groups.flatMap((g) => g.transactions).map((tx) => read271(tx, ix.delimiters));
}
export const load = (name: string) => readFileSync(join(X12, name), 'utf8');
export function map(
  name: string, ctx: MapContext = { ...CTX, ...(SENT[name] ? { sent: SENT[name] } : {}) }, text = load(name)
): EligibilityResult[] {
  return sets(text).flatMap((r) => toEligibilityResponses(r, ctx));
}
export const items = (r: EligibilityResult) => r.response.insurance?.[0]?.item ?? [];
export const code = (i: Item) => (i.category ?? i.productOrService)?.coding?.[0]?.code;
export const codes = (c: { coding?: { system?: string; code?: string }[] } | undefined) =>
  (c?.coding ?? []).map((x) => `${x.system}|${x.code}`);
export const usd = (value: number) => ({ value, currency: 'USD' });
export const only = (list: Item[], pred: (i: Item) => boolean) => {
  const found = list.filter(pred);
  expect(found).toHaveLength(1);
  return found[0] as Item;
};
export const net = (i: Item) => i.network?.coding?.map((c) => c.code).join('+');
