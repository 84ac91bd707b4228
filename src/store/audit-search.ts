/**
 * @module store/audit-search — AuditEvent read, history and search, served from the audit log itself.
 *
 * Each record's content is the AuditEvent (version 1, never changed); its search values are one array of terms
 * (./audit-terms.ts) in `audit_search`, and its shape's (the terms many records share, `audit_shape`). Every R4
 * AuditEvent parameter is answered: tokens, references and `:identifier`, `:missing`, `:not`, `date` and
 * `_lastUpdated` (the record's `recorded`), `_id`. A string parameter (`entity-name`, `agent-name`, `address`)
 * matches a whole value, case and accents aside — these hold control numbers, client names and network
 * addresses, not words — and `:exact` matches it as written.
 * Chains, `_has` and `:contains` are reported unsupported like any other parameter the server cannot answer.
 */
import { splitSearchOnComma, type Filter, type SearchRequest, type WithId } from '@medplum/core';
import type { AuditEvent, Resource } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { invalid } from '../outcome.ts';
import { notFound } from './errors.ts';
import type { HistoryEntry } from './history.ts';
import { isShared } from './audit-terms.ts';
import { normalizeString } from './index-values.ts';
import { canonicalOrder } from './order.ts';
import { dateCondition } from './range-sql.ts';
import { checkSearchRequest, type Fragment } from './search-sql.ts';
import { searchParam } from './search-params.ts';

export const AUDIT_TYPE = 'AuditEvent';

const CONTROL = new Set(['_count', '_offset', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude']);
const CONTROL_TOO = new Set(['_format', '_pretty', '_type']);

type Row = { seq: string; id: string; recorded: Date; content: string };

const parse = (content: string) => canonicalOrder(JSON.parse(content) as Resource) as WithId<AuditEvent>;

export async function readAuditEvent(sql: Sql, id: string, version = '1'): Promise<WithId<AuditEvent>> {
  const [row] = version === '1' ? await sql<Row[]>`SELECT content FROM audit_log WHERE id = ${id}` : [];
  if (!row) {
    const what = version === '1' ? `${AUDIT_TYPE}/${id} is not known` : `${AUDIT_TYPE}/${id} has no version ${version}`;
    throw notFound(what);
  }
  return parse(row.content);
}

/** Type or instance history: every record is its event's only version. */
export async function auditHistory(
  sql: Sql,
  q: { id: string | undefined; count: number; offset: number; since: string | undefined }
): Promise<HistoryEntry[]> {
  const rows = await sql<Row[]>`
    SELECT id, recorded, content FROM audit_log WHERE true
      ${q.id ? sql`AND id = ${q.id}` : sql``}
      ${q.since ? sql`AND recorded >= ${q.since}` : sql``}
    ORDER BY recorded DESC, seq DESC LIMIT ${q.count} OFFSET ${q.offset}`;
  return rows.map((r) => ({
    type: AUDIT_TYPE,
    id: r.id,
    version: 1,
    lastUpdated: r.recorded.toISOString(),
    resource: parse(r.content),
  }));
}

export type AuditSearchResult = {
  resources: WithId<AuditEvent>[];
  hasMore: boolean;
  total?: number;
  unsupported: string[];
};

export async function searchAuditEvents(
  sql: Sql,
  request: SearchRequest,
  baseUrl: string,
  strict = false
): Promise<AuditSearchResult> {
  checkSearchRequest(request);
  const unsupported: string[] = [];
  const conditions: Fragment[] = [sql`true`];
  for (const f of request.filters ?? []) {
    if (CONTROL.has(f.code) || CONTROL_TOO.has(f.code)) continue;
    const c = condition(sql, f, baseUrl);
    if (c) conditions.push(c);
    else unsupported.push(f.operator === 'eq' ? f.code : `${f.code}:${f.operator}`);
  }
  if (strict && unsupported.length > 0)
    invalid(`Search parameter(s) not supported: ${unsupported.join(', ')}`, unsupported[0]);
  const where = conditions.reduce((acc, c) => sql`${acc} AND ${c}`);
  const count = request.count ?? 20;
  const rows =
    count === 0
      ? []
      : await sql<Row[]>`
    SELECT l.content FROM audit_log l JOIN audit_search s ON s.seq = l.seq WHERE ${where}
    ORDER BY ${orderBy(sql, request)} LIMIT ${count + 1} OFFSET ${request.offset ?? 0}`;
  const result: AuditSearchResult = {
    resources: rows.slice(0, count).map((r) => parse(r.content)),
    hasMore: rows.length > count,
    unsupported,
  };
  if (request.total === 'accurate' || request.total === 'estimate') {
    const [c] = await sql<
      { n: string }[]
    >`SELECT count(*) AS n FROM audit_log l JOIN audit_search s ON s.seq = l.seq WHERE ${where}`;
    result.total = Number(c?.n ?? 0);
  }
  return result;
}

/** The AuditEvents whose reference parameter `code` points at one of `targets` (`_revinclude=AuditEvent:…`). */
export async function auditEventsReferencing(
  sql: Sql,
  code: string,
  targets: string[],
  limit: number
): Promise<WithId<AuditEvent>[]> {
  const rows = await sql<Row[]>`
    SELECT l.content FROM audit_search s JOIN audit_log l ON l.seq = s.seq
    WHERE s.terms && ${targets.map((t) => `r:${code}:${t}`)}::text[] ORDER BY s.seq DESC LIMIT ${limit}`;
  return rows.map((r) => parse(r.content));
}

function condition(sql: Sql, f: Filter, baseUrl: string): Fragment | undefined {
  if (f.code.includes('.') || f.code.startsWith('_has:')) return undefined;
  const values = splitSearchOnComma(f.value);
  if (f.code === '_id') {
    if (f.operator === 'eq') return sql`l.id = ANY(${values})`;
    return f.operator === 'ne' || f.operator === 'not' ? sql`NOT (l.id = ANY(${values}))` : undefined;
  }
  if (f.code === '_lastUpdated' || f.code === 'date') {
    const parts = values.map((v) => dateCondition(sql, f.operator, v, f.code, sql`l.recorded`, sql`l.recorded`));
    return parts.every((p) => p !== undefined) ? sql`(${parts.reduce((a, p) => sql`${a} OR ${p}`)})` : undefined;
  }
  const param = searchParam(AUDIT_TYPE, f.code);
  if (!param?.type) return undefined;
  if (f.operator === 'missing') {
    const present = withAny(sql, [`p:${f.code}`]);
    return f.value === 'true' ? sql`NOT ${present}` : present;
  }
  const terms = termsFor(param.type, param.target ?? [], f, values, baseUrl);
  if (!terms) return undefined;
  const any = withAny(sql, terms);
  return f.operator === 'not' || f.operator === 'ne' ? sql`NOT ${any}` : any;
}

/**
 * Records having any of `terms`, all of one kind: shared ones (tokens, presence) are looked up among the shapes,
 * the others among the records' own terms (./audit-terms.ts).
 */
function withAny(sql: Sql, terms: string[]): Fragment {
  if (terms.length > 0 && isShared(terms[0]!))
    return sql`s.shape = ANY(ARRAY(SELECT id FROM audit_shape WHERE terms && ${terms}::text[]))`;
  return sql`s.terms && ${terms}::text[]`;
}

/** The terms any one of which satisfies the filter (./audit-terms.ts spells them). */
function termsFor(
  kind: string,
  targets: readonly string[],
  f: Filter,
  values: string[],
  baseUrl: string
): string[] | undefined {
  const { code, operator } = f;
  const negatable = operator === 'eq' || operator === 'not' || operator === 'ne';
  switch (kind) {
    case 'token':
    case 'uri':
      return negatable ? values.map((v) => tokenTerm(code, v)) : undefined;
    case 'string':
      if (operator === 'eq') return values.map((v) => `s:${code}:${normalizeString(v)}`);
      return operator === 'exact' ? values.map((v) => `x:${code}:${v}`) : undefined;
    case 'reference': {
      if (operator === 'identifier') return values.map((v) => tokenTerm(`${code}:identifier`, v));
      const typed = /^[A-Z][A-Za-z]+$/.test(operator);
      if (!negatable && !typed) return undefined;
      return values.flatMap((v) => {
        const local = v.startsWith(baseUrl + '/') ? v.slice(baseUrl.length + 1) : v;
        if (local.includes('/')) return [`r:${code}:${local.replace(/\/_history\/.*$/, '')}`];
        return (typed ? [operator] : targets).map((t) => `r:${code}:${t}/${local}`);
      });
    }
    default:
      return undefined;
  }
}

function tokenTerm(code: string, v: string): string {
  const bar = v.indexOf('|');
  if (bar < 0) return `t:${code}:*|${v}`;
  const value = v.slice(bar + 1);
  return value === '' ? `t:${code}:${v.slice(0, bar)}|*` : `t:${code}:${v}`;
}

/** Newest record first by default; `date` / `_lastUpdated` by `recorded`, `_id` by id. */
function orderBy(sql: Sql, request: SearchRequest): Fragment {
  const rules = request.sortRules ?? [];
  if (rules.length === 0) return sql`l.seq DESC`;
  const parts = rules.map((rule) => {
    const dir = rule.descending ? sql`DESC` : sql`ASC`;
    if (rule.code === 'date' || rule.code === '_lastUpdated') return sql`l.recorded ${dir}`;
    if (rule.code === '_id') return sql`l.id ${dir}`;
    return invalid(`AuditEvent cannot be sorted by "${rule.code}" (date, _lastUpdated and _id can)`, '_sort');
  });
  return [...parts, sql`l.seq DESC`].reduce((acc, p) => sql`${acc}, ${p}`);
}
