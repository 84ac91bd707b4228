/**
 * @module inbound/fhir/bundles — searchset and history Bundles with their paging links (search.html#paging,
 * http.html#history).
 */
import type { SearchRequest } from '@medplum/core';
import type { Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes';
import { outcome } from '../../outcome.ts';
import { subset, summaryElements } from './subset.ts';
import type { HistoryEntry, SearchResult } from '../../store/repository.ts';

export function searchBundle(
  baseUrl: string,
  path: string,
  query: URLSearchParams,
  request: SearchRequest,
  result: SearchResult
): Bundle {
  const count = request.count ?? 20;
  const offset = request.offset ?? 0;
  const shape = shaper(request);
  const summaryCount = request.summary === undefined && request.count === 0 && query.get('_summary') === 'count';
  const entry: BundleEntry[] = summaryCount
    ? []
    : [
        ...result.resources.map((r) => ({ fullUrl: `${baseUrl}/${r.resourceType}/${r.id}`, resource: shape(r), search: { mode: 'match' as const } })),
        ...result.included.map((r) => ({ fullUrl: `${baseUrl}/${r.resourceType}/${r.id}`, resource: shape(r), search: { mode: 'include' as const } })),
      ];
  const warnings: string[] = [];
  if (result.unsupported.length > 0) warnings.push(`Search parameter(s) ignored: ${result.unsupported.join(', ')}`);
  if (result.withheld > 0) warnings.push(`${result.withheld} included resource(s) left out: the token's scopes do not allow reading them`);
  if (warnings.length > 0) {
    entry.push({
      resource: outcome('not-supported', warnings.join('; '), result.unsupported.length > 0 ? result.unsupported : undefined, 'warning'),
      search: { mode: 'outcome' },
    });
  }
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    link: pageLinks(baseUrl, path, query, count, offset, result.hasMore),
    entry,
  };
  if (result.total !== undefined) bundle.total = result.total;
  return bundle;
}

export function historyBundle(
  baseUrl: string,
  path: string,
  query: URLSearchParams,
  rows: HistoryEntry[],
  count: number,
  offset: number
): Bundle {
  const entry: BundleEntry[] = rows.slice(0, count).map((h) => {
    const url = `${h.type}/${h.id}`;
    const method = h.resource === undefined ? 'DELETE' : h.version === 1 ? 'POST' : 'PUT';
    const e: BundleEntry = {
      fullUrl: `${baseUrl}/${url}`,
      request: { method, url: method === 'POST' ? h.type : url },
      response: {
        status: h.resource === undefined ? '204' : h.version === 1 ? '201' : '200',
        etag: `W/"${h.version}"`,
        lastModified: h.lastUpdated,
      },
    };
    if (h.resource) e.resource = h.resource as Resource;
    return e;
  });
  return {
    resourceType: 'Bundle',
    type: 'history',
    link: pageLinks(baseUrl, path, query, count, offset, rows.length > count),
    entry,
  };
}

/** `_summary=true` keeps the summary elements, `_elements=a,b` the named ones (search.html#summary). */
function shaper(request: SearchRequest): (r: Resource) => Resource {
  if (request.fields?.length) {
    const keep = new Set(request.fields);
    return (r) => subset(r, keep);
  }
  if (request.summary === 'true') return (r) => subset(r, summaryElements(r.resourceType));
  return (r) => r;
}

function pageLinks(
  baseUrl: string,
  path: string,
  query: URLSearchParams,
  count: number,
  offset: number,
  hasMore: boolean
): BundleLink[] {
  const at = (o: number): string => {
    const q = new URLSearchParams(query);
    q.delete('_offset');
    q.set('_count', String(count));
    if (o > 0) q.set('_offset', String(o));
    return `${baseUrl}/${path}?${q.toString()}`;
  };
  const links: BundleLink[] = [{ relation: 'self', url: at(offset) }];
  if (hasMore) links.push({ relation: 'next', url: at(offset + count) });
  if (offset > 0) links.push({ relation: 'previous', url: at(Math.max(0, offset - count)) });
  return links;
}
