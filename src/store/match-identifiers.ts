/**
 * @module store/match-identifiers — the matches of HL7 v2 plans by identifier, in one statement of fixed shape.
 *
 * Most matches an HL7 v2 message makes are `identifier=system|value` (a patient's PID-3 list, a payer, a policy),
 * the patient's with `active:not=false`. Built by the generic search SQL, a batch's matches were one UNION of a
 * branch per match: a statement of new text for every batch (parsed, and planned branch by branch: 1.8 ms for 24
 * branches). Here they are rows of arrays, and the statement is always the same text, planned in a fraction of that.
 *
 * A search takes this way only when it is exactly that: one positive token filter whose values all name a system
 * and a code, and at most one `:not` token filter of one plain value; any other goes the generic way
 * (./search-sql.ts). Each search gets what the generic `SELECT DISTINCT id … LIMIT 2` gives: at most two ids, two
 * only when two resources match.
 */
import { splitSearchOnComma, type SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { checkSearchRequest } from './search-sql.ts';
import { paramOf } from './search-params.ts';

/** One (identifier, exclusion) pair a search is looked up by; a search of several identifiers has a row for each. */
export type IdentifierRow = {
  type: string;
  code: string;
  system: string;
  value: string;
  notCode: string | null;
  notValue: string | null;
};

/** Parameters whose stored values are normalised (phone numbers): left to the generic SQL, which knows how. */
const NORMALISED = new Set(['phone', 'telecom', 'fax']);

/** The rows of `search` when it has the shape this module answers, else undefined. */
export function identifierRows(search: SearchRequest): IdentifierRow[] | undefined {
  const filters = search.filters ?? [];
  if (filters.length === 0 || filters.length > 2) return undefined;
  const [positive, ...rest] = filters;
  if (!positive || positive.operator !== 'eq' || !isPlainToken(search.resourceType, positive.code)) return undefined;
  const not = rest[0];
  if (not && (not.operator !== 'not' || !isPlainToken(search.resourceType, not.code))) return undefined;
  if (not && (not.value.includes('|') || not.value.includes(',') || not.value === '')) return undefined;
  checkSearchRequest(search);
  const values = splitSearchOnComma(positive.value);
  const rows: IdentifierRow[] = [];
  for (const v of values) {
    const bar = v.indexOf('|');
    const system = v.slice(0, bar);
    const value = v.slice(bar + 1);
    if (bar <= 0 || value === '' || value.includes('|')) return undefined;
    rows.push({
      type: search.resourceType,
      code: positive.code,
      system,
      value,
      notCode: not?.code ?? null,
      notValue: not?.value ?? null,
    });
  }
  return rows;
}

/**
 * Every search's ids (at most two), in one statement; `searches` are rows from {@link identifierRows}. The current
 * content of every resource found is put in `contents` (by `Type/id`): what a plan merges over, read with its match.
 */
export async function lookByIdentifiers(
  sql: Sql,
  searches: IdentifierRow[][],
  contents: Map<string, Resource>
): Promise<string[][]> {
  const rows = searches.flatMap((rs, i) => rs.map((r) => ({ i, ...r })));
  // OFFSET 0 keeps the exclusion a lookup per candidate (the owner index): without it PostgreSQL may hash every row
  // of the excluded value instead, the whole table's when its statistics say it is small.
  const found = await sql<{ i: number; id: string; content: Resource }[]>`
    SELECT k.i, m.id, r.content
    FROM unnest(${rows.map((r) => r.i)}::int[], ${rows.map((r) => r.type)}::text[], ${rows.map((r) => r.code)}::text[],
                ${rows.map((r) => r.system)}::text[], ${rows.map((r) => r.value)}::text[],
                ${rows.map((r) => r.notCode)}::text[], ${rows.map((r) => r.notValue)}::text[])
      AS k(i, type, code, system, value, not_code, not_value)
    CROSS JOIN LATERAL (
      SELECT DISTINCT s.id FROM search_token s
      WHERE s.resource_type = k.type AND s.code = k.code AND s.system = k.system AND s.value = k.value
        AND (k.not_code IS NULL OR NOT EXISTS (
          SELECT 1 FROM search_token n
          WHERE n.resource_type = s.resource_type AND n.id = s.id AND n.code = k.not_code AND n.value = k.not_value
          OFFSET 0))
      LIMIT 2) m
    JOIN resource r ON r.resource_type = k.type AND r.id = m.id AND NOT r.deleted`;
  const ids = searches.map(() => new Set<string>());
  for (const f of found) {
    ids[f.i]?.add(f.id);
    contents.set(`${f.content.resourceType}/${f.id}`, f.content);
  }
  return ids.map((s) => [...s].slice(0, 2));
}

function isPlainToken(type: string, code: string): boolean {
  if (NORMALISED.has(code) || code.includes(':') || code.includes('.')) return false;
  const p = paramOf([type], code);
  return p?.type === 'token';
}
