/**
 * @module inbound/fhir/transaction — batch and transaction Bundles (http.html#transaction).
 *
 * A transaction runs in one database transaction: identities are resolved first (ids for creates, matches for
 * conditional creates/updates/deletes, under advisory locks), `urn:uuid:` placeholders are rewritten to those
 * identities, then entries run in the order the spec prescribes (DELETE, POST, PUT/PATCH, GET) and any failure
 * rolls everything back. A batch runs each entry on its own and reports each outcome.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '@medplum/core';
import { invalid, outcome, toHttpError } from '../../outcome.ts';
import { referenceSites, rewriteReferences } from '../../store/references.ts';
import { interact, permitConditional, type Context, type FhirRequest, type FhirResult } from './interactions.ts';
import { entryResponse, type ReturnPreference } from './respond.ts';
import { parseJsonBody } from './json-body.ts';

const ORDER: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };

export async function processBundle(ctx: Context, bundle: unknown, prefer: ReturnPreference): Promise<Bundle> {
  const b = checkBundle(bundle);
  const entries = b.entry ?? [];
  if (b.type === 'batch') {
    const out: BundleEntry[] = [];
    for (const [i, e] of entries.entries()) {
      try {
        out.push(entryResponse(ctx.baseUrl, await interact(ctx, toRequest(e, i)), prefer));
      } catch (err) {
        const { status, body } = toHttpError(err);
        out.push({ response: { status: String(status), outcome: body } });
      }
    }
    return { resourceType: 'Bundle', type: 'batch-response', entry: out };
  }
  return ctx.repo.transaction(async (repo) => {
    const tx: Context = { ...ctx, repo };
    const requests = entries.map((e, i) => toRequest(e, i));
    const { placeholders, identities } = await resolveIdentities(tx, entries, requests);
    for (const r of requests) r.body = rewriteReferences(r.body, placeholders);
    resolveWithinBundle(requests, identities);
    const results: FhirResult[] = new Array(entries.length);
    const order = requests.map((_, i) => i).sort((a, b2) => (ORDER[requests[a]!.method] ?? 9) - (ORDER[requests[b2]!.method] ?? 9) || a - b2);
    for (const i of order) {
      try {
        results[i] = await interact(tx, requests[i]!);
      } catch (err) {
        throw atEntry(err, i);
      }
    }
    return {
      resourceType: 'Bundle',
      type: 'transaction-response',
      entry: results.map((r) => entryResponse(ctx.baseUrl, r, prefer)),
    } satisfies Bundle;
  });
}

function checkBundle(value: unknown): Bundle {
  const b = value as Bundle;
  if (!isObject(b) || b.resourceType !== 'Bundle') invalid('POST to the FHIR base takes a Bundle', 'Bundle');
  if (b.type !== 'batch' && b.type !== 'transaction') {
    const got = typeof b.type === 'string' ? `"${b.type}"` : typeof b.type;
    invalid(`Bundle.type must be "batch" or "transaction" (got ${got})`, 'Bundle.type');
  }
  if (b.entry !== undefined && !Array.isArray(b.entry)) invalid('Bundle.entry must be an array', 'Bundle.entry');
  // bdl-7: fullUrl must be unique in a Bundle (a reference to it would be ambiguous).
  const seen = new Set<string>();
  (b.entry ?? []).forEach((e, i) => {
    checkEntryShape(e, i);
    if (!e.fullUrl) return;
    if (seen.has(e.fullUrl)) invalid(`Two entries share the fullUrl ${e.fullUrl} (bdl-7)`, `Bundle.entry[${i}].fullUrl`);
    seen.add(e.fullUrl);
  });
  return b;
}

const ENTRY_STRINGS = ['method', 'url', 'ifMatch', 'ifNoneExist', 'ifNoneMatch', 'ifModifiedSince'] as const;

/** The JSON types an entry's fields must have before anything reads them (the validator sees resources only). */
function checkEntryShape(e: unknown, i: number): asserts e is BundleEntry {
  const at = `Bundle.entry[${i}]`;
  if (!isObject(e)) invalid('Each entry must be an object', at);
  const entry = e as BundleEntry;
  if (entry.fullUrl !== undefined && typeof entry.fullUrl !== 'string') invalid('fullUrl must be a string', `${at}.fullUrl`);
  if (entry.resource !== undefined && !isObject(entry.resource)) invalid('resource must be an object', `${at}.resource`);
  if (entry.request === undefined) return;
  if (!isObject(entry.request)) invalid('request must be an object', `${at}.request`);
  const request = entry.request as unknown as Record<string, unknown>;
  for (const k of ENTRY_STRINGS) {
    if (request[k] !== undefined && typeof request[k] !== 'string') invalid(`request.${k} must be a string`, `${at}.request.${k}`);
  }
}

function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toRequest(e: BundleEntry, i: number): FhirRequest {
  const method = e.request?.method;
  const url = e.request?.url;
  if (!method || !url) invalid('Each entry needs request.method and request.url', `Bundle.entry[${i}].request`);
  const [path = '', query = ''] = url.replace(/^\//, '').split('?', 2) as [string, string?];
  return {
    method,
    path,
    query: new URLSearchParams(query),
    body: method === 'PATCH' ? patchOf(e, i) : e.resource,
    ifMatch: e.request?.ifMatch?.match(/"([^"]+)"/)?.[1] ?? e.request?.ifMatch,
    ifNoneExist: e.request?.ifNoneExist,
    ifNoneMatch: e.request?.ifNoneMatch,
  };
}

/**
 * In a Bundle, a JSON Patch travels as a Binary whose data is the base64 patch document, a FHIRPath Patch as the
 * Parameters resource itself (http.html#patch).
 */
function patchOf(e: BundleEntry, i: number): unknown {
  const r = e.resource as (Resource & { data?: string; contentType?: string }) | undefined;
  if (r?.resourceType === 'Parameters') return r;
  if (r?.resourceType !== 'Binary' || !r.data) invalid('A PATCH entry carries a Binary with the JSON Patch, or a FHIRPath Patch Parameters', `Bundle.entry[${i}].resource`);
  return parseJsonBody(Buffer.from(r.data, 'base64').toString('utf8'), `Bundle.entry[${i}].resource.data`);
}

/**
 * Conditional references (`Patient?identifier=sys|val`) to a resource that this same Bundle writes point at that
 * entry, whatever the entry order (http.html#trules: references are resolved after the writes, and the outcome
 * must not depend on the order). Other conditional references are resolved against the database when written.
 */
function resolveWithinBundle(requests: FhirRequest[], identities: (string | undefined)[]): void {
  const written = requests
    .map((r, i) => ({ identity: identities[i], resource: r.body as Resource | undefined, method: r.method }))
    .filter((w) => w.identity && w.resource && (w.method === 'POST' || w.method === 'PUT'));
  if (written.length === 0) return;
  for (const r of requests) {
    if (!r.body || typeof r.body !== 'object') continue;
    for (const site of referenceSites(r.body as Resource)) {
      const m = /^([A-Z][A-Za-z]+)\?identifier=([^&]+)$/.exec(site.value);
      if (!m) continue;
      const [, type, token] = m as unknown as [string, string, string];
      const bar = decodeURIComponent(token).indexOf('|');
      const value = decodeURIComponent(token);
      const [system, code] = bar < 0 ? [undefined, value] : [value.slice(0, bar), value.slice(bar + 1)];
      const hits = written.filter(
        (w) =>
          w.resource!.resourceType === type &&
          ((w.resource as { identifier?: { system?: string; value?: string }[] }).identifier ?? []).some(
            (id) => id.value === code && (system === undefined || (id.system ?? '') === system)
          )
      );
      if (hits.length === 1) site.set(hits[0]!.identity as string);
    }
  }
}

/** Maps each entry's fullUrl to the `Type/id` it will have, deciding conditional entries under lock. */
async function resolveIdentities(
  ctx: Context,
  entries: BundleEntry[],
  requests: FhirRequest[]
): Promise<{ placeholders: Map<string, string>; identities: (string | undefined)[] }> {
  const map = new Map<string, string>();
  const identities: (string | undefined)[] = [];
  const seen = new Set<string>();
  // A conditional URL may name an entry decided earlier by its fullUrl (`Coverage?beneficiary=urn:uuid:…`), as
  // HAPI allows: it is searched with that entry's `Type/id`. An entry still to be created matches nothing yet.
  const resolve = (query: string): string => {
    let out = query;
    for (const [url, identity] of map) out = out.replaceAll(url, identity).replaceAll(encodeURIComponent(url), encodeURIComponent(identity));
    return out;
  };
  for (const [i, req] of requests.entries()) {
    const [type, id] = req.path.split('/');
    let identity: string | undefined;
    if (req.method === 'POST' && type && id === undefined) {
      let match: string | undefined;
      if (req.ifNoneExist) {
        permitAt(ctx, type, req.method, i);
        const ids = await ctx.repo.matchForWrite(type, resolve(req.ifNoneExist), `Bundle.entry[${i}].request.ifNoneExist`).catch((err) => { throw atEntry(err, i); });
        if (ids.length > 1) throw atEntry(tooMany(), i);
        match = ids[0];
      }
      req.preassigned = { id: match ?? randomUUID(), existing: match !== undefined };
      identity = `${type}/${req.preassigned.id}`;
    } else if ((req.method === 'PUT' || req.method === 'DELETE' || req.method === 'PATCH') && type && id === undefined && req.query.size > 0) {
      permitAt(ctx, type, req.method, i);
      const ids = await ctx.repo.matchForWrite(type, resolve(req.query.toString()), `Bundle.entry[${i}].request.url`).catch((err) => { throw atEntry(err, i); });
      if (ids.length > 1) throw atEntry(tooMany(), i);
      const match = ids[0];
      const bodyId = (req.body as Resource | undefined)?.id;
      if (req.method === 'PUT' && match !== undefined && bodyId && bodyId !== match) {
        // http.html#cond-update: one match, but the resource names another id → 400, as for a plain request.
        throw atEntry(new OperationOutcomeError(outcome('invalid', `Resource id ${bodyId} does not match the resource found by the search (${match})`, `Bundle.entry[${i}].resource.id`)), i);
      }
      if (match !== undefined || req.method === 'PUT') {
        const target = match ?? bodyId ?? randomUUID();
        req.path = `${type}/${target}`;
        req.query = new URLSearchParams();
        if (req.body && typeof req.body === 'object' && req.method === 'PUT') (req.body as Resource).id = target;
        identity = `${type}/${target}`;
      } else if (req.method === 'PATCH') {
        throw atEntry(new OperationOutcomeError(outcome('not-found', 'The conditional PATCH matched no resource', `Bundle.entry[${i}].request.url`)), i);
      }
    } else if (type && id !== undefined && req.method !== 'GET' && req.method !== 'HEAD') {
      identity = `${type}/${id}`;
    }
    identities[i] = identity;
    if (identity) {
      if (req.method !== 'GET' && seen.has(identity)) {
        invalid(`Two entries act on the same resource ${identity} (http.html#trules)`, `Bundle.entry[${i}]`);
      }
      seen.add(identity);
      const fullUrl = entries[i]?.fullUrl;
      if (fullUrl) map.set(fullUrl, identity);
    }
  }
  return { placeholders: map, identities };
}

/** The scopes a conditional entry needs, asked before its search runs; a refusal names the entry. */
function permitAt(ctx: Context, type: string, method: string, i: number): void {
  try {
    permitConditional(ctx, type, method);
  } catch (err) {
    throw atEntry(err, i);
  }
}

function tooMany(): OperationOutcomeError {
  const err = new OperationOutcomeError(outcome('multiple-matches', 'The conditional search matched more than one resource'));
  (err as OperationOutcomeError & { status?: number }).status = 412;
  return err;
}

/** Re-points an entry's error at the entry, keeping its status: `Patient.gender` → `Bundle.entry[3].resource.gender`. */
function atEntry(err: unknown, i: number): unknown {
  const { status, body, internal } = toHttpError(err);
  if (internal) return err;
  const issue = (body.issue ?? []).map((is) => ({
    ...is,
    diagnostics: `Bundle.entry[${i}]: ${is.diagnostics ?? ''}`,
    expression: (is.expression ?? [`Bundle.entry[${i}]`]).map((x) =>
      x.startsWith('Bundle.') ? x : x.replace(/^[A-Z][A-Za-z]+(?=\.|\[|$)/, `Bundle.entry[${i}].resource`)
    ),
  }));
  const wrapped = new OperationOutcomeError({ ...body, issue });
  (wrapped as OperationOutcomeError & { status?: number }).status = status;
  return wrapped;
}
