/**
 * @module store/search-sql — turns a parsed FHIR search (`@medplum/core` `SearchRequest`) into SQL conditions.
 *
 * Each filter becomes an `EXISTS` over the search table of its kind, joined on the resource's key, so every
 * condition uses the `(resource_type, code, value…)` indexes. Comma-separated values are ORed (search.html#combining).
 * Parameters this module cannot answer are returned in `unsupported`: the caller decides whether that is a
 * warning (plain search) or an error (a conditional write must never act on a guess).
 */
import { splitSearchOnComma, type Filter, type SearchRequest } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import type { PendingQuery, Row, Sql } from 'postgres';
import { invalid } from '../outcome.ts';
import { dateRange } from './date-range.ts';
import { normalizeString } from './index-values.ts';
import { searchParam } from './search-params.ts';

type Fragment = PendingQuery<Row[]>;

export type SearchSql = { where: Fragment; unsupported: string[] };

const CONTROL = new Set(['_count', '_offset', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude', '_format', '_pretty']);

export function buildWhere(sql: Sql, request: SearchRequest, baseUrl: string): SearchSql {
  const type = request.resourceType;
  const conditions: Fragment[] = [sql`r.resource_type = ${type}`, sql`NOT r.deleted`];
  const unsupported: string[] = [];
  for (const filter of request.filters ?? []) {
    if (CONTROL.has(filter.code)) continue;
    const condition = filterCondition(sql, type, filter, baseUrl);
    if (condition) conditions.push(condition);
    else unsupported.push(filter.operator === 'eq' ? filter.code : `${filter.code}:${filter.operator}`);
  }
  return { where: and(sql, conditions), unsupported };
}

function filterCondition(sql: Sql, type: string, f: Filter, baseUrl: string): Fragment | undefined {
  if (f.code === '_id') {
    const ids = splitSearchOnComma(f.value);
    if (f.operator === 'eq') return sql`r.id = ANY(${ids})`;
    if (f.operator === 'ne' || f.operator === 'not') return sql`NOT (r.id = ANY(${ids}))`;
    return undefined;
  }
  if (f.code === '_lastUpdated') {
    const parts = splitSearchOnComma(f.value).map((v) =>
      dateCondition(sql, f.operator, v, '_lastUpdated', sql`r.last_updated`, sql`r.last_updated`)
    );
    return parts.every((p) => p !== undefined) ? or(sql, parts) : undefined;
  }
  if (f.code.includes('.') || f.code.includes(':')) return undefined; // chains: issue #4
  const param = searchParam(type, f.code);
  if (!param?.type) return undefined;
  if (f.operator === 'missing') {
    const table = tableOf(param);
    if (!table) return undefined;
    const exists = sql`EXISTS (SELECT 1 FROM ${sql(table)} s WHERE s.resource_type = r.resource_type AND s.id = r.id AND s.code = ${f.code})`;
    return f.value === 'true' ? sql`NOT ${exists}` : exists;
  }
  const values = splitSearchOnComma(f.value);
  switch (param.type) {
    case 'token':
    case 'uri':
      return tokenCondition(sql, f, values);
    case 'string':
      return stringCondition(sql, f, values);
    case 'reference':
      return referenceCondition(sql, f, values, param, baseUrl);
    case 'date': {
      const parts = values.map((v) =>
        dateCondition(sql, f.operator, v, f.code, sql`s.low`, sql`s.high`)
      );
      if (parts.some((p) => p === undefined)) return undefined;
      return sql`EXISTS (SELECT 1 FROM search_date s WHERE s.resource_type = r.resource_type AND s.id = r.id
        AND s.code = ${f.code} AND (${or(sql, parts as Fragment[])}))`;
    }
    default:
      return undefined;
  }
}

function tableOf(param: SearchParameter): string | undefined {
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
    default:
      return undefined;
  }
}

function tokenCondition(sql: Sql, f: Filter, values: string[]): Fragment | undefined {
  if (f.operator !== 'eq' && f.operator !== 'not' && f.operator !== 'ne') return undefined;
  const matches = values.map((v) => {
    const bar = v.indexOf('|');
    if (bar < 0) return sql`s.value = ${v}`;
    const system = v.slice(0, bar);
    const code = v.slice(bar + 1);
    if (code === '') return sql`s.system = ${system}`;
    return sql`(s.system = ${system} AND s.value = ${code})`;
  });
  const exists = sql`EXISTS (SELECT 1 FROM search_token s WHERE s.resource_type = r.resource_type AND s.id = r.id
    AND s.code = ${f.code} AND (${or(sql, matches)}))`;
  return f.operator === 'eq' ? exists : sql`NOT ${exists}`;
}

function stringCondition(sql: Sql, f: Filter, values: string[]): Fragment | undefined {
  let matches: Fragment[];
  if (f.operator === 'eq' || f.operator === 'sw') {
    matches = values.map((v) => sql`s.value LIKE ${likeEscape(normalizeString(v)) + '%'}`);
  } else if (f.operator === 'exact') {
    matches = values.map((v) => sql`s.raw = ${v}`);
  } else if (f.operator === 'contains') {
    matches = values.map((v) => sql`s.value LIKE ${'%' + likeEscape(normalizeString(v)) + '%'}`);
  } else {
    return undefined;
  }
  return sql`EXISTS (SELECT 1 FROM search_string s WHERE s.resource_type = r.resource_type AND s.id = r.id
    AND s.code = ${f.code} AND (${or(sql, matches)}))`;
}

function referenceCondition(
  sql: Sql,
  f: Filter,
  values: string[],
  param: SearchParameter,
  baseUrl: string
): Fragment | undefined {
  if (f.operator !== 'eq' && f.operator !== 'not' && f.operator !== 'ne') return undefined;
  const targets = values.flatMap((v) => {
    const local = v.startsWith(baseUrl + '/') ? v.slice(baseUrl.length + 1) : v;
    if (local.includes('/')) return [local.replace(/\/_history\/.*$/, '')];
    // A bare id means any of the parameter's target types (search.html#reference).
    return (param.target ?? []).map((t) => `${t}/${local}`);
  });
  const exists = sql`EXISTS (SELECT 1 FROM search_reference s WHERE s.resource_type = r.resource_type AND s.id = r.id
    AND s.code = ${f.code} AND s.target = ANY(${targets}))`;
  return f.operator === 'eq' ? exists : sql`NOT ${exists}`;
}

/**
 * R4 prefix semantics (search.html#prefix) comparing the target range [low, high] with the search value's
 * implicit range [vlow, vhigh].
 */
function dateCondition(sql: Sql, op: string, value: string, param: string, low: Fragment, high: Fragment): Fragment | undefined {
  const [vlow, vhigh] = dateRange(value, param);
  const within = sql`(${low} >= ${vlow} AND ${high} <= ${vhigh})`;
  switch (op) {
    case 'eq':
      return within;
    case 'ne':
      return sql`NOT ${within}`;
    case 'gt':
      return sql`${high} > ${vhigh}`;
    case 'lt':
      return sql`${low} < ${vlow}`;
    case 'ge':
      return sql`(${high} > ${vhigh} OR ${within})`;
    case 'le':
      return sql`(${low} < ${vlow} OR ${within})`;
    case 'sa':
      return sql`${low} > ${vhigh}`;
    case 'eb':
      return sql`${high} < ${vlow}`;
    case 'ap': {
      // "approximately": within 10% of the distance between the value and now, at least a day.
      const mid = (Date.parse(vlow) + Date.parse(vhigh)) / 2;
      const slack = Math.max(86_400_000, Math.abs(Date.now() - mid) * 0.1);
      const alow = new Date(Date.parse(vlow) - slack).toISOString();
      const ahigh = new Date(Date.parse(vhigh) + slack).toISOString();
      return sql`(${low} <= ${ahigh} AND ${high} >= ${alow})`;
    }
    default:
      return undefined;
  }
}

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => '\\' + c);
}

function and(sql: Sql, parts: Fragment[]): Fragment {
  return parts.reduce((acc, p) => sql`${acc} AND ${p}`);
}

function or(sql: Sql, parts: Fragment[]): Fragment {
  if (parts.length === 0) invalid('Empty search value');
  return parts.reduce((acc, p) => sql`${acc} OR ${p}`);
}
