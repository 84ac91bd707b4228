/**
 * @module store/search-sql — turns a parsed FHIR search (`@medplum/core` `SearchRequest`) into SQL conditions.
 *
 * Each filter becomes an `EXISTS` over the search table of its kind, joined on the resource's key, so every
 * condition uses the `(resource_type, code, value…)` indexes. Comma-separated values are ORed (search.html#combining).
 * Chains (`subject:Patient.name=…`) and reverse chains (`_has:Task:focus:status=…`) nest the same conditions on
 * the resources at the other end of a reference. Parameters this module cannot answer are returned in
 * `unsupported`: the caller decides whether that is a warning (plain search) or an error (a conditional write
 * must never act on a guess).
 */
import { splitSearchOnComma, type Filter, type SearchRequest } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import type { Helper, PendingQuery, Row, Sql } from 'postgres';
import { invalid } from '../outcome.ts';
import { dateCondition, numberCondition } from './range-sql.ts';
import { normalizePhone, normalizeString } from './index-values.ts';
import { paramOf, tableOf } from './search-params.ts';

export type Fragment = PendingQuery<Row[]>;

/**
 * `ids`, when the search has a positive filter and no condition on the resource row itself (`_lastUpdated`):
 * `SELECT DISTINCT r.id …` straight from the search rows, without the resource table. Search rows exist only for
 * current, undeleted versions, so the ids are the same; conditional writes look up with it (half the planning).
 */
export type SearchSql = { where: Fragment; unsupported: string[]; ids?: Fragment };

const CONTROL = new Set(['_count', '_offset', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude', '_format', '_pretty', '_type']);
const MAX_CHAIN = 3;

/**
 * What PostgreSQL could not take, refused as the caller's mistake before any SQL is built: a NUL in a parameter
 * (text cannot hold one), a page size or offset that is no whole number or past what a LIMIT holds.
 */
export function checkSearchRequest(request: SearchRequest): void {
  for (const f of request.filters ?? []) {
    if (f.code.includes('\0') || f.value.includes('\0')) invalid(`Search parameter ${f.code} holds a NUL character`, f.code);
  }
  for (const [name, n] of [['_count', request.count], ['_offset', request.offset]] as const) {
    if (n !== undefined && !(Number.isSafeInteger(n) && n >= 0)) invalid(`${name} must be a whole number, 0 or more`, name);
  }
}

/**
 * Conditions for `request` on the resource aliased `r`; `types` overrides the type for `_type` searches.
 *
 * Search rows exist only for live versions (a new version replaces them, a deletion has none), so the matches
 * can be found in the search tables alone, and resource rows read only for them. When a filter is a plain
 * positive one (`actor=Practitioner/7`), it supplies the candidates in a fenced subquery (`OFFSET 0`) together
 * with every other condition that needs only the resource's key; the resource rows join last. Otherwise
 * PostgreSQL, misjudging a hot reference target, reads the 1,000 appointments of a practitioner's year before
 * checking which fall on the day asked for (test/store/explain.int.test.ts, bench/search).
 */
export function buildWhere(sql: Sql, request: SearchRequest, baseUrl: string, types?: readonly string[]): SearchSql {
  checkSearchRequest(request);
  const unsupported: string[] = [];
  const typeList = types ?? [request.resourceType];
  const typeIs = (alias: Fragment | Helper<string>) =>
    typeList.length === 1 ? sql`${alias}.resource_type = ${typeList[0] as string}` : sql`${alias}.resource_type = ANY(${typeList as string[]})`;
  const outer: Fragment[] = [typeIs(sql`r`), sql`NOT r.deleted`];
  let onRow = false; // a condition on the resource row itself (`_lastUpdated`)
  const keyed: Fragment[] = [];
  const b = new Builder(sql, baseUrl, unsupported);
  let driver: Candidates | undefined;
  for (const filter of request.filters ?? []) {
    if (CONTROL.has(filter.code)) continue;
    const condition = b.filter(typeList, filter, 'r', 0);
    if (!condition) {
      unsupported.push(filter.operator === 'eq' ? filter.code : `${filter.code}:${filter.operator}`);
      continue;
    }
    const candidates = b.candidates.get(condition);
    if (!driver && candidates) driver = candidates;
    else if (filter.code === '_lastUpdated') {
      outer.push(condition); // a column of the resource row
      onRow = true;
    }
    else keyed.push(condition);
  }
  if (!driver) return { where: and(sql, [...outer, ...keyed]), unsupported };
  const { alias, from } = driver;
  const rows = sql`SELECT ${alias}.resource_type, ${alias}.id FROM ${from} AND ${typeIs(alias)}`;
  // Inside the subquery `r` names the candidate (its resource_type and id), which is all the conditions read.
  const filtered = keyed.length ? sql`WHERE ${and(sql, keyed)}` : sql``;
  const ids = onRow ? undefined : sql`SELECT DISTINCT r.id FROM (${rows}) r ${filtered}`;
  outer.push(sql`r.id IN (SELECT r.id FROM (${rows}) r ${filtered} OFFSET 0)`);
  return { where: and(sql, outer), unsupported, ...(ids ? { ids } : {}) };
}

/** A positive filter's own rows (`FROM search_x s WHERE s.code = … AND (…)`): candidates for the matches. */
type Candidates = { alias: Helper<string>; from: Fragment };

class Builder {
  /** The EXISTS fragments of plain positive filters, and the rows that can stand for them as candidates. */
  readonly candidates = new Map<Fragment, Candidates>();
  private readonly sql: Sql;
  private readonly baseUrl: string;
  private readonly unsupported: string[];
  private aliases = 0;

  constructor(sql: Sql, baseUrl: string, unsupported: string[]) {
    this.sql = sql;
    this.baseUrl = baseUrl;
    this.unsupported = unsupported;
  }

  /** One filter on the resource aliased `a` (of one of `types`), or undefined when it cannot be answered. */
  filter(types: readonly string[], f: Filter, a: string, depth: number): Fragment | undefined {
    const sql = this.sql;
    const r = sql(a);
    if (f.code.startsWith('_has:')) return this.has(f, a, depth);
    const dot = f.code.indexOf('.');
    if (dot > 0) return this.chain(types, f, a, depth, dot);
    if (f.code === '_id') {
      const ids = splitSearchOnComma(f.value);
      if (f.operator === 'eq') return sql`${r}.id = ANY(${ids})`;
      if (f.operator === 'ne' || f.operator === 'not') return sql`NOT (${r}.id = ANY(${ids}))`;
      return undefined;
    }
    if (f.code === '_lastUpdated') {
      const parts = splitSearchOnComma(f.value).map((v) => dateCondition(sql, f.operator, v, '_lastUpdated', sql`${r}.last_updated`, sql`${r}.last_updated`));
      return parts.every((p) => p !== undefined) ? or(sql, parts as Fragment[]) : undefined;
    }
    const param = paramOf(types, f.code);
    if (!param?.type) return undefined;
    const s = sql(`s${++this.aliases}`);
    const own = (table: string, cond: Fragment, code = f.code) => {
      const exists = sql`EXISTS (SELECT 1 FROM ${sql(table)} ${s} WHERE ${s}.resource_type = ${r}.resource_type AND ${s}.id = ${r}.id
        AND ${s}.code = ${code} AND (${cond}))`;
      this.candidates.set(exists, { alias: s, from: sql`${sql(table)} ${s} WHERE ${s}.code = ${code} AND (${cond})` });
      return exists;
    };
    if (f.operator === 'missing') {
      const table = tableOf(param);
      if (!table) return undefined;
      const exists = sql`EXISTS (SELECT 1 FROM ${sql(table)} ${s} WHERE ${s}.resource_type = ${r}.resource_type AND ${s}.id = ${r}.id AND ${s}.code = ${f.code})`;
      return f.value === 'true' ? sql`NOT ${exists}` : exists;
    }
    const values = splitSearchOnComma(f.value);
    switch (param.type) {
      case 'token':
      case 'uri':
        return this.token(f, values, param, s, own);
      case 'string': {
        let m: Fragment[];
        if (f.operator === 'eq' || f.operator === 'sw') m = values.map((v) => sql`${s}.value LIKE ${likeEscape(normalizeString(v)) + '%'}`);
        else if (f.operator === 'exact') m = values.map((v) => sql`${s}.raw = ${v}`);
        else if (f.operator === 'contains') m = values.map((v) => sql`${s}.value LIKE ${'%' + likeEscape(normalizeString(v)) + '%'}`);
        else return undefined;
        return own('search_string', or(sql, m));
      }
      case 'reference':
        return this.reference(f, values, param, s, own);
      case 'date': {
        const parts = values.map((v) => dateCondition(sql, f.operator, v, f.code, sql`${s}.low`, sql`${s}.high`));
        if (parts.some((p) => p === undefined)) return undefined;
        return own('search_date', or(sql, parts as Fragment[]));
      }
      case 'number':
      case 'quantity': {
        const parts = values.map((v) => numberCondition(sql, f.operator, v, f.code, param.type === 'quantity', s));
        if (parts.some((p) => p === undefined)) return undefined;
        return own('search_number', or(sql, parts as Fragment[]));
      }
      default:
        return undefined;
    }
  }

  private token(f: Filter, values: string[], param: SearchParameter, s: Helper<string>, own: (t: string, c: Fragment, code?: string) => Fragment) {
    const sql = this.sql;
    if (f.operator === 'text') {
      return own('search_token', or(sql, values.map((v) => sql`${s}.text LIKE ${'%' + likeEscape(normalizeString(v)) + '%'}`)));
    }
    if (f.operator === 'of-type') {
      // identifier:of-type=type-system|type-code|value (search.html#token): indexed as system "type-system|type-code".
      const m = values.map((v) => {
        const parts = v.split('|');
        if (parts.length !== 3) invalid(`${f.code}:of-type needs type-system|type-code|value`, f.code);
        return sql`(${s}.system = ${`${parts[0]}|${parts[1]}`} AND ${s}.value = ${parts[2] as string})`;
      });
      return own('search_token', or(sql, m), `${f.code}:of-type`);
    }
    if (f.operator !== 'eq' && f.operator !== 'not' && f.operator !== 'ne') return undefined;
    const phone = param.code === 'phone' || param.code === 'telecom' || param.code === 'fax';
    const m = values.map((v) => {
      const bar = v.indexOf('|');
      const code = bar < 0 ? v : v.slice(bar + 1);
      const value = phone ? sql`${s}.value = ANY(${[code, normalizePhone(code)]})` : sql`${s}.value = ${code}`;
      if (bar < 0) return value;
      const system = v.slice(0, bar);
      if (code === '') return sql`${s}.system = ${system}`;
      return sql`(${s}.system = ${system} AND ${value})`;
    });
    const exists = own('search_token', or(sql, m));
    return f.operator === 'eq' ? exists : sql`NOT ${exists}`;
  }

  private reference(f: Filter, values: string[], param: SearchParameter, s: Helper<string>, own: (t: string, c: Fragment, code?: string) => Fragment) {
    const sql = this.sql;
    if (f.operator === 'identifier') {
      // subject:identifier=system|value matches Reference.identifier (search.html#reference).
      const m = values.map((v) => {
        const bar = v.indexOf('|');
        return bar < 0 ? sql`${s}.value = ${v}` : sql`(${s}.system = ${v.slice(0, bar)} AND ${s}.value = ${v.slice(bar + 1)})`;
      });
      return own('search_token', or(sql, m), `${f.code}:identifier`);
    }
    if (f.operator !== 'eq' && f.operator !== 'not' && f.operator !== 'ne' && !isTypeModifier(f.operator)) return undefined;
    const targets = values.flatMap((v) => {
      const local = v.startsWith(this.baseUrl + '/') ? v.slice(this.baseUrl.length + 1) : v;
      if (local.includes('/')) return [local.replace(/\/_history\/.*$/, '')];
      // A bare id means any of the parameter's target types (search.html#reference), or the one in `:Type`.
      return isTypeModifier(f.operator) ? [`${f.operator}/${local}`] : (param.target ?? []).map((t) => `${t}/${local}`);
    });
    // One target is compared with `=`, not `= ANY(array)`: the planner then uses the column statistics and
    // knows "Practitioner/7" has 1,000 rows, where it guessed 6 for the array form and chose a poor join order.
    const match = targets.length === 1 ? sql`${s}.target = ${targets[0] as string}` : sql`${s}.target = ANY(${targets})`;
    const exists = own('search_reference', match);
    return f.operator === 'not' || f.operator === 'ne' ? sql`NOT ${exists}` : exists;
  }

  /** `subject:Patient.name=x` / `patient.identifier=s|v`: the reference must point at a resource matching the rest. */
  private chain(types: readonly string[], f: Filter, a: string, depth: number, dot: number): Fragment | undefined {
    if (depth >= MAX_CHAIN) invalid(`Chains are limited to ${MAX_CHAIN} links`, f.code);
    const sql = this.sql;
    const [paramCode, targetType] = f.code.slice(0, dot).split(':') as [string, string | undefined];
    const param = paramOf(types, paramCode);
    if (param?.type !== 'reference') return undefined;
    const targets = targetType ? [targetType] : (param.target ?? []);
    if (targets.length === 0) return undefined;
    const t = `t${++this.aliases}`;
    const s = sql(`s${++this.aliases}`);
    const inner = this.filter(targets, chainedFilter(f.code.slice(dot + 1), f), t, depth + 1);
    if (!inner) return undefined;
    const tt = sql(t);
    return sql`EXISTS (SELECT 1 FROM search_reference ${s} JOIN resource ${tt}
        ON ${tt}.resource_type = split_part(${s}.target, '/', 1) AND ${tt}.id = split_part(${s}.target, '/', 2)
      WHERE ${s}.resource_type = ${sql(a)}.resource_type AND ${s}.id = ${sql(a)}.id AND ${s}.code = ${paramCode}
        AND ${tt}.resource_type = ANY(${targets}) AND NOT ${tt}.deleted AND (${inner}))`;
  }

  /** `_has:Task:focus:status=requested`: some Task whose `focus` points here has that status (search.html#has). */
  private has(f: Filter, a: string, depth: number): Fragment | undefined {
    if (depth >= MAX_CHAIN) invalid(`_has is limited to ${MAX_CHAIN} links`, f.code);
    const [, type, refParam, ...rest] = f.code.split(':');
    if (!type || !refParam || rest.length === 0) invalid(`_has needs _has:Type:reference-parameter:parameter`, f.code);
    const sql = this.sql;
    const h = `h${++this.aliases}`;
    const s = sql(`s${++this.aliases}`);
    const inner = this.filter([type], { code: rest.join(':'), operator: f.operator, value: f.value }, h, depth + 1);
    if (!inner) return undefined;
    const hh = sql(h);
    return sql`EXISTS (SELECT 1 FROM search_reference ${s} JOIN resource ${hh} ON ${hh}.resource_type = ${s}.resource_type AND ${hh}.id = ${s}.id
      WHERE ${s}.resource_type = ${type} AND ${s}.code = ${refParam} AND ${s}.target = ${sql(a)}.resource_type || '/' || ${sql(a)}.id
        AND NOT ${hh}.deleted AND (${inner}))`;
  }
}

/** Modifiers the last link of a chain may carry (`subject:Patient.name:exact=…`), as the operators they stand for. */
const CHAIN_MODIFIERS = new Set(['exact', 'contains', 'text', 'not', 'missing', 'above', 'below', 'identifier', 'of-type', 'in', 'not-in']);

/**
 * The filter for the rest of a chain. Medplum's parser keeps a modifier of the chain's last parameter inside the
 * code (`name:exact`): it becomes the operator, as it would on an unchained parameter. Another link (`x.y`) is
 * passed on whole; an unknown modifier leaves the code as it is, which no parameter matches (refused).
 */
function chainedFilter(rest: string, f: Filter): Filter {
  const colon = rest.indexOf(':');
  if (rest.includes('.') || colon < 0) return { code: rest, operator: f.operator, value: f.value };
  const modifier = rest.slice(colon + 1);
  if (!CHAIN_MODIFIERS.has(modifier) || f.operator !== 'eq') return { code: rest, operator: f.operator, value: f.value };
  return { code: rest.slice(0, colon), operator: modifier as Filter['operator'], value: f.value };
}

function isTypeModifier(op: string): boolean {
  return /^[A-Z][A-Za-z]+$/.test(op);
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
