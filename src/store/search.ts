/**
 * @module store/search — runs a FHIR search (search.html): matches, order, page, total, and the resources that
 * `_include` and `_revinclude` (with `:iterate`) bring along, filtered by what the caller may read.
 */
import type { IncludeTarget, SearchRequest, SortRule, WithId } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { invalid } from '../outcome.ts';
import { AUDIT_TYPE, auditEventsReferencing, searchAuditEvents } from './audit-search.ts';
import { canonicalOrder } from './order.ts';
import { referenceTargets } from './index-values.ts';
import { buildWhere, type Fragment } from './search-sql.ts';
import { searchParam } from './search-params.ts';

export type SearchOptions = {
  /** `Prefer: handling=strict`, and conditional writes: unknown parameters are an error, not a warning. */
  strict?: boolean;
  /** `_type` system search. */
  types?: readonly string[];
  /** May the caller read resources of this type? Included resources it may not are left out. */
  canRead?: (type: string) => boolean;
};

export type SearchResult = {
  resources: WithId<Resource>[];
  included: WithId<Resource>[];
  hasMore: boolean;
  total?: number;
  unsupported: string[];
  /** Included resources left out because the caller's scopes do not allow reading their type. */
  withheld: number;
};

const MAX_INCLUDED = 1000;
const MAX_ITERATE = 3;

/** The page query of a search: what `search` runs and `explainSearch` shows the plan of. */
function pageQuery(sql: Sql, request: SearchRequest, baseUrl: string, o: SearchOptions) {
  const { where, unsupported } = buildWhere(sql, request, baseUrl, o.types);
  if (o.strict && unsupported.length > 0) invalid(`Search parameter(s) not supported: ${unsupported.join(', ')}`, unsupported[0]);
  const count = request.count ?? 20;
  const offset = request.offset ?? 0;
  const types = o.types ?? [request.resourceType];
  const query = sql`
    SELECT r.content FROM resource r WHERE ${where}
    ORDER BY ${orderBy(sql, types, request.sortRules ?? [])}
    LIMIT ${count + 1} OFFSET ${offset}`;
  return { query, where, unsupported, count };
}

/**
 * The plan PostgreSQL chooses for a search (EXPLAIN, JSON format): tests prove the indexes are used; with
 * `analyze` the plan is run and carries its row counts (EXPLAIN ANALYZE).
 */
export async function explainSearch(sql: Sql, request: SearchRequest, baseUrl: string, o: SearchOptions = {}, analyze = false): Promise<unknown> {
  const { query } = pageQuery(sql, request, baseUrl, o);
  const [row] = analyze
    ? await sql<{ 'QUERY PLAN': unknown }[]>`EXPLAIN (ANALYZE, FORMAT JSON) ${query}`
    : await sql<{ 'QUERY PLAN': unknown }[]>`EXPLAIN (FORMAT JSON) ${query}`;
  return row?.['QUERY PLAN'];
}

export async function search(sql: Sql, request: SearchRequest, baseUrl: string, o: SearchOptions = {}): Promise<SearchResult> {
  const types = o.types ?? [request.resourceType];
  let result: SearchResult;
  if (types.includes(AUDIT_TYPE)) {
    // AuditEvents live in the audit log, with search terms of their own (./audit-search.ts).
    if (types.length > 1) invalid('AuditEvent cannot be searched together with other types', '_type');
    result = { ...(await searchAuditEvents(sql, request, baseUrl, o.strict)), included: [], withheld: 0 };
  } else {
    result = await searchResourceTable(sql, request, baseUrl, o);
  }
  const { resources } = result;
  if (resources.length > 0 && (request.include?.length || request.revInclude?.length)) {
    const included = await includes(sql, resources, request.include ?? [], request.revInclude ?? []);
    const allowed = o.canRead ? included.filter((r) => o.canRead!(r.resourceType)) : included;
    result.withheld = included.length - allowed.length;
    result.included = allowed;
  }
  return result;
}

/** The matches of a search among the resources of table `resource` (every type but AuditEvent), without includes. */
export async function searchResourceTable(sql: Sql, request: SearchRequest, baseUrl: string, o: SearchOptions = {}): Promise<SearchResult> {
  const { query, where, unsupported, count } = pageQuery(sql, request, baseUrl, o);
  const rows = count === 0 ? [] : await sql<{ content: Resource }[]>`${query}`;
  const resources = rows.slice(0, count).map((r) => canonicalOrder(r.content) as WithId<Resource>);
  const result: SearchResult = { resources, included: [], hasMore: count > 0 && rows.length > count, unsupported, withheld: 0 };
  if (request.total === 'accurate' || request.total === 'estimate') {
    const [c] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM resource r WHERE ${where}`;
    result.total = Number(c?.n ?? 0);
  }
  return result;
}

/** `_include` follows references out of the matches; `_revinclude` finds resources pointing at them. */
async function includes(sql: Sql, matches: WithId<Resource>[], inc: IncludeTarget[], rev: IncludeTarget[]): Promise<WithId<Resource>[]> {
  const seen = new Set(matches.map(ref));
  const out: WithId<Resource>[] = [];
  let frontier = matches;
  for (let depth = 0; depth < MAX_ITERATE && frontier.length > 0 && out.length < MAX_INCLUDED; depth++) {
    // The first round applies every target; later rounds only the :iterate ones, to what the last round added.
    const incs = inc.filter((t) => depth === 0 || t.modifier === 'iterate');
    const revs = rev.filter((t) => depth === 0 || t.modifier === 'iterate');
    if (incs.length + revs.length === 0) break;
    const found: WithId<Resource>[] = [];
    for (const t of incs) {
      checkTarget(t, '_include');
      // The matches' own references for the parameter (what their search rows hold), read by primary key.
      const keys = new Map<string, [type: string, id: string]>();
      for (const r of frontier) {
        if (r.resourceType !== t.resourceType) continue;
        for (const target of referenceTargets(r, t.searchParam)) {
          const [type, id] = target.split('/');
          if (type && id && /^[A-Z][A-Za-z]*$/.test(type) && (!t.targetType || type === t.targetType)) keys.set(`${type}/${id}`, [type, id]);
        }
      }
      if (keys.size === 0) continue;
      const pairs = [...keys.values()];
      const rows = await sql<{ content: Resource }[]>`
        SELECT r.content FROM unnest(${pairs.map((p) => p[0])}::text[], ${pairs.map((p) => p[1])}::text[]) AS k(resource_type, id)
          JOIN resource r ON r.resource_type = k.resource_type AND r.id = k.id
        WHERE NOT r.deleted ORDER BY r.resource_type, r.id LIMIT ${MAX_INCLUDED}`;
      found.push(...rows.map((r) => r.content as WithId<Resource>));
    }
    for (const t of revs) {
      checkTarget(t, '_revinclude');
      if (t.resourceType === AUDIT_TYPE) {
        found.push(...(await auditEventsReferencing(sql, t.searchParam, frontier.map(ref), MAX_INCLUDED)));
        continue;
      }
      const rows = await sql<{ content: Resource }[]>`
        SELECT DISTINCT ON (r.resource_type, r.id) r.content FROM search_reference s
          JOIN resource r ON r.resource_type = s.resource_type AND r.id = s.id
        WHERE s.target = ANY(${frontier.map(ref)}) AND s.code = ${t.searchParam} AND s.resource_type = ${t.resourceType}
          AND NOT r.deleted
        LIMIT ${MAX_INCLUDED}`;
      found.push(...rows.map((r) => r.content as WithId<Resource>));
    }
    frontier = [];
    for (const r of found) {
      if (seen.has(ref(r))) continue;
      seen.add(ref(r));
      const ordered = canonicalOrder(r);
      out.push(ordered);
      frontier.push(ordered);
    }
  }
  return out.slice(0, MAX_INCLUDED);
}

function checkTarget(t: IncludeTarget, what: string): void {
  const p = searchParam(t.resourceType, t.searchParam);
  if (p?.type !== 'reference') invalid(`${what}=${t.resourceType}:${t.searchParam}: not a reference search parameter`, what);
}

function ref(r: Resource): string {
  return `${r.resourceType}/${r.id}`;
}

/** `_sort=-date,name` (search.html#sort): by parameter values (lowest first, highest first when descending), then id. */
function orderBy(sql: Sql, types: readonly string[], rules: SortRule[]): Fragment {
  if (rules.length === 0) return sql`r.last_updated DESC, r.id`;
  const parts = rules.map((rule) => {
    const dir = rule.descending ? sql`DESC NULLS LAST` : sql`ASC NULLS LAST`;
    if (rule.code === '_id') return sql`r.id ${dir}`;
    if (rule.code === '_lastUpdated') return sql`r.last_updated ${dir}`;
    const param = types.map((t) => searchParam(t, rule.code)).find(Boolean);
    const agg = rule.descending ? sql`max` : sql`min`;
    const key = (table: string, col: Fragment) =>
      sql`(SELECT ${agg}(${col}) FROM ${sql(table)} o WHERE o.resource_type = r.resource_type AND o.id = r.id AND o.code = ${rule.code}) ${dir}`;
    switch (param?.type) {
      case 'string':
        return key('search_string', sql`o.value`);
      case 'date':
        return key('search_date', rule.descending ? sql`o.high` : sql`o.low`);
      case 'token':
      case 'uri':
        return key('search_token', sql`o.value`);
      case 'reference':
        return key('search_reference', sql`o.target`);
      case 'number':
      case 'quantity':
        return key('search_number', rule.descending ? sql`o.high` : sql`o.low`);
      default:
        invalid(`Cannot sort by "${rule.code}"`, '_sort');
    }
  });
  return [...parts, sql`r.id`].reduce((acc, p) => sql`${acc}, ${p}`);
}
