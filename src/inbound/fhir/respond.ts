/**
 * @module inbound/fhir/respond — turns an interaction result into HTTP headers and a body, or a Bundle entry
 * response: `ETag`, `Last-Modified`, `Location` and `Prefer: return=` (http.html#ops, http.html#versioning).
 */
import type { BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { outcome } from '../../outcome.ts';
import type { FhirResult } from './interactions.ts';

export const RETURN_PREFERENCES = ['minimal', 'representation', 'OperationOutcome'] as const;
export type ReturnPreference = (typeof RETURN_PREFERENCES)[number];

/** `Prefer: return=minimal` etc.; anything else means the default, the representation. */
export function returnPreference(header: string | undefined): ReturnPreference {
  const m = /(?:^|[;,\s])return=([A-Za-z]+)/.exec(header ?? '');
  const v = m?.[1];
  return (RETURN_PREFERENCES as readonly string[]).includes(v ?? '') ? (v as ReturnPreference) : 'representation';
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 204: 'No Content' };

export type HttpRendering = { status: number; headers: Record<string, string>; body?: Resource };

/** Headers and body for a single-resource result. Search/history Bundles carry no version headers. */
export function render(baseUrl: string, result: FhirResult, prefer: ReturnPreference): HttpRendering {
  const headers: Record<string, string> = {};
  const r = result.resource;
  const versioned = r && r.resourceType !== 'Bundle' && r.meta?.versionId;
  if (versioned) {
    headers.ETag = `W/"${r.meta?.versionId}"`;
    if (r.meta?.lastUpdated) headers['Last-Modified'] = new Date(r.meta.lastUpdated).toUTCString();
    if (result.status === 201) {
      headers.Location = `${baseUrl}/${r.resourceType}/${r.id}/_history/${r.meta?.versionId}`;
    }
  }
  if (!versioned || result.status === 204) return { status: result.status, headers, body: r };
  switch (prefer) {
    case 'minimal':
      return { status: result.status, headers };
    case 'OperationOutcome':
      return { status: result.status, headers, body: informational(result) };
    case 'representation':
      return { status: result.status, headers, body: r };
    default:
      return prefer satisfies never;
  }
}

/** The `response` (and resource, unless minimal) of a batch/transaction entry (http.html#transaction-response). */
export function entryResponse(baseUrl: string, result: FhirResult, prefer: ReturnPreference): BundleEntry {
  const r = result.resource;
  const status = `${result.status} ${STATUS_TEXT[result.status] ?? ''}`.trim();
  const entry: BundleEntry = { response: { status } };
  if (r && r.resourceType !== 'Bundle' && r.meta?.versionId) {
    entry.fullUrl = `${baseUrl}/${r.resourceType}/${r.id}`;
    entry.response = {
      status,
      location: `${r.resourceType}/${r.id}/_history/${r.meta.versionId}`,
      etag: `W/"${r.meta.versionId}"`,
      lastModified: r.meta.lastUpdated,
    };
    if (prefer === 'OperationOutcome') entry.response.outcome = informational(result);
  }
  if (r && prefer === 'representation') entry.resource = r;
  else if (r?.resourceType === 'Bundle') entry.resource = r; // a search inside a batch returns its Bundle
  return entry;
}

function informational(result: FhirResult): OperationOutcome {
  const r = result.resource;
  const what = r ? `${r.resourceType}/${r.id} version ${r.meta?.versionId}` : 'Request';
  const verb = result.status === 201 ? 'created' : 'processed';
  return outcome('informational', `${what} ${verb}`, undefined, 'information');
}
