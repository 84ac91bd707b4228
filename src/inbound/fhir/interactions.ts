/**
 * @module inbound/fhir/interactions — the FHIR RESTful interactions (http.html), transport-neutral.
 *
 * One dispatcher serves both HTTP requests and the entries of batch/transaction Bundles, so an entry behaves
 * exactly like the request it stands for. It returns a status, the resource and the header values; the HTTP
 * route and the Bundle processor each render that their own way.
 */
import { parseSearchRequest, type Operation, type SearchRequest } from '@medplum/core';
import type { Parameters, Resource } from '@medplum/fhirtypes';
import { isFhirPathPatch } from '../../store/fhirpath-patch.ts';
import { httpError, invalid } from '../../outcome.ts';
import type { Repository } from '../../store/repository.ts';
import type { CreateCommit } from '../../store/write.ts';
import { demand } from '../../access/guard.ts';
import type { Principal } from '../../access/tokens.ts';
import { allows as scopeAllows, type Permission } from '../../access/scopes.ts';
import { historyBundle, searchBundle } from './bundles.ts';
import { allows, isSupportedType, type SupportedType, type TypeInteraction } from './registry.ts';
import { runOperation, type Operations } from './operations.ts';
import { errorKind } from '../../store/errors.ts';

export type FhirRequest = {
  method: string;
  /** Path relative to the FHIR base, without leading slash, e.g. `Patient/123/_history/2`. */
  path: string;
  query: URLSearchParams;
  body?: unknown;
  ifMatch?: string;
  ifNoneExist?: string;
  ifNoneMatch?: string;
  /** `Prefer: handling=strict`: unknown search parameters are an error (search.html#errors). */
  strict?: boolean;
  /** Set by the transaction processor: the id this create must use, or the existing match of a conditional create. */
  preassigned?: { id: string; existing: boolean };
  /** Set by the door: commits a plain create together with the request's audit record (inbound/fhir/audit.ts). */
  commitCreate?: CreateCommit;
};

export type FhirResult = { status: number; resource?: Resource };

export type Context = { repo: Repository; baseUrl: string; principal: Principal; operations?: Operations };

export async function interact(ctx: Context, req: FhirRequest): Promise<FhirResult> {
  const parts = req.path.split('/').filter((p) => p !== '');
  // HEAD is a read without the body (http.html#read); the door drops the body.
  const method = req.method.toUpperCase() === 'HEAD' ? 'GET' : req.method.toUpperCase();
  const [type, second, third, fourth] = parts;
  if (type === '_history' && parts.length === 1 && method === 'GET') {
    // System history spans every type: only for clients that may read them all.
    demand(ctx.principal, '*', 'r', 'history-system');
    return { status: 200, resource: await history(ctx, req.query) };
  }
  if (!type && method === 'GET' && req.query.has('_type')) {
    return { status: 200, resource: await systemSearch(ctx, req) };
  }
  if (!type || type.startsWith('_') || type.startsWith('$')) {
    throw httpError(404, 'not-supported', `No FHIR interaction at ${method} /${req.path}`);
  }
  if (!isSupportedType(type)) {
    throw httpError(404, 'not-supported', `Resource type "${type}" is not supported by this server`);
  }
  const { repo } = ctx;
  if (parts.length === 2 && second?.startsWith('$')) {
    const key = `${type}/${second}`;
    const call = { body: req.body, query: req.query, principal: ctx.principal };
    const done = method === 'POST' ? await runOperation(ctx.operations, key, call) : undefined;
    if (done) return done;
    throw httpError(ctx.operations?.has(key) ? 405 : 404, 'not-supported', `No operation ${method} /${key}`);
  }
  if (parts.length === 1) {
    switch (method) {
      case 'GET':
        permit(ctx, type, 'search-type', method);
        return { status: 200, resource: await search(ctx, type, req.query, req.strict) };
      case 'POST':
        permit(ctx, type, 'create', method);
        // A conditional create reveals whether a match exists: it needs search as well.
        if (req.ifNoneExist) permit(ctx, type, 'search-type', method);
        return create(ctx, type, req);
      case 'PUT': {
        permit(ctx, type, 'update', method);
        permit(ctx, type, 'create', method); // it creates when nothing matches
        permit(ctx, type, 'search-type', method);
        const resource = body(type, req.body);
        const { resource: r, created } = await repo.conditionalUpdate(resource, req.query.toString(), req.ifMatch);
        return { status: created ? 201 : 200, resource: r };
      }
      case 'DELETE':
        permit(ctx, type, 'delete', method);
        permit(ctx, type, 'search-type', method);
        await repo.conditionalDelete(type, req.query.toString());
        return { status: 204 };
    }
  } else if (parts.length === 2 && second === '_search' && method === 'POST') {
    permit(ctx, type, 'search-type', method);
    return { status: 200, resource: await search(ctx, type, req.query, req.strict) };
  } else if (parts.length === 2 && second === '_history' && method === 'GET') {
    permit(ctx, type, 'history-type', method);
    return { status: 200, resource: await history(ctx, req.query, type) };
  } else if (parts.length === 2 && second && !second.startsWith('_') && !second.startsWith('$')) {
    const id = second;
    switch (method) {
      case 'GET':
        permit(ctx, type, 'read', method);
        return { status: 200, resource: await repo.read(type, id) };
      case 'PUT': {
        permit(ctx, type, 'update', method);
        const resource = body(type, req.body);
        if (resource.id !== id) {
          invalid(`Resource id "${resource.id ?? ''}" does not match the id in the URL ("${id}")`, `${type}.id`);
        }
        const { resource: r, created } = await repo.update(resource, req.ifMatch);
        return { status: created ? 201 : 200, resource: r };
      }
      case 'DELETE':
        permit(ctx, type, 'delete', method);
        await repo.delete(type, id, req.ifMatch);
        return { status: 204 };
      case 'PATCH':
        permit(ctx, type, 'patch', method);
        return { status: 200, resource: await repo.patch(type, id, patchBody(req.body), req.ifMatch) };
    }
  } else if (parts.length === 3 && third === '_history' && method === 'GET') {
    permit(ctx, type, 'history-instance', method);
    await repo.read(type, second as string).catch((err: unknown) => {
      if (errorKind(err) !== 'gone') throw err; // a deleted resource still has a history
    });
    return { status: 200, resource: await history(ctx, req.query, type, second) };
  } else if (parts.length === 4 && third === '_history' && method === 'GET') {
    permit(ctx, type, 'vread', method);
    return { status: 200, resource: await repo.vread(type, second as string, fourth as string) };
  }
  throw httpError(405, 'not-supported', `${method} is not supported at /${req.path}`);
}

async function create(ctx: Context, type: SupportedType, req: FhirRequest): Promise<FhirResult> {
  const resource = body(type, req.body);
  if (req.preassigned) {
    if (req.preassigned.existing) return { status: 200, resource: await ctx.repo.read(type, req.preassigned.id) };
    return { status: 201, resource: await ctx.repo.createWithId(resource, req.preassigned.id) };
  }
  const { resource: r, created } = await ctx.repo.create(resource, req.ifNoneExist, req.commitCreate);
  return { status: created ? 201 : 200, resource: r };
}

async function search(ctx: Context, type: string, query: URLSearchParams, strict = false) {
  const request = searchRequest(type, query);
  const result = await ctx.repo.search(request, { strict, canRead: (t) => scopeAllows(ctx.principal.grants, t, 'r') });
  return searchBundle(ctx.baseUrl, type, query, request, result);
}

/** `GET /fhir?_type=Patient,Practitioner&name=…` (search.html#searchtypes): parameters common to the types. */
async function systemSearch(ctx: Context, req: FhirRequest) {
  const types = (req.query.get('_type') ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  if (types.length === 0) invalid('_type names no resource type', '_type');
  for (const t of types) {
    if (!isSupportedType(t)) throw httpError(404, 'not-supported', `Resource type "${t}" is not supported by this server`, '_type');
    permit(ctx, t, 'search-type', 'GET');
  }
  const request = searchRequest(types[0] as string, req.query);
  const result = await ctx.repo.search(request, { strict: req.strict, types, canRead: (t) => scopeAllows(ctx.principal.grants, t, 'r') });
  return searchBundle(ctx.baseUrl, '', req.query, request, result);
}

export function searchRequest(type: string, query: URLSearchParams): SearchRequest {
  const params: Record<string, string[]> = {};
  for (const [k, v] of query) (params[k] ??= []).push(v);
  let request: SearchRequest;
  try {
    request = parseSearchRequest(type as SupportedType, params);
  } catch (err) {
    // Name the parameter at fault: parse them one by one to find it.
    const culprit = Object.keys(params).find((k) => {
      try {
        parseSearchRequest(type as SupportedType, { [k]: params[k] as string[] });
        return false;
      } catch {
        return true;
      }
    });
    invalid(`Invalid search${culprit ? ` parameter ${culprit}` : ''}: ${(err as Error).message}`, culprit);
  }
  request.count = Math.min(Math.max(request.count ?? 20, 0), 1000);
  request.offset = Math.max(request.offset ?? 0, 0);
  return request;
}

async function history(ctx: Context, query: URLSearchParams, type?: string, id?: string) {
  const count = Math.min(Math.max(Number(query.get('_count') ?? 50) || 50, 1), 1000);
  const offset = Math.max(Number(query.get('_offset') ?? 0) || 0, 0);
  if (!Number.isSafeInteger(offset)) invalid('_offset must be a whole number, 0 or more', '_offset');
  const since = query.get('_since') ?? undefined;
  if (since !== undefined && Number.isNaN(Date.parse(since))) invalid(`Invalid _since "${since}"`, '_since');
  const entries = await ctx.repo.history(type, id, count + 1, offset, since);
  return historyBundle(ctx.baseUrl, [type, id, '_history'].filter(Boolean).join('/'), query, entries, count, offset);
}

/** SMART permission letter of each interaction (SMART App Launch 2.0, scopes: c r u d s). */
const PERMISSION: Record<TypeInteraction, Permission> = {
  read: 'r',
  vread: 'r',
  'history-instance': 'r',
  'history-type': 'r',
  'search-type': 's',
  create: 'c',
  update: 'u',
  patch: 'u',
  delete: 'd',
};

/**
 * What a conditional write asks of the caller's scopes, before its search runs (a transaction entry resolves its
 * condition first): the write, and search, since whether something matched shows in the answer; an update or a
 * create-if-none-exist may create. The same as the plain request below asks.
 */
export function permitConditional(ctx: Context, type: string, method: string): void {
  if (!isSupportedType(type)) return; // refused as an unknown type when the entry is carried out
  const writes: Record<string, TypeInteraction[]> = {
    POST: ['create'], PUT: ['update', 'create'], DELETE: ['delete'], PATCH: ['patch'],
  };
  for (const interaction of [...(writes[method] ?? []), 'search-type' as const]) permit(ctx, type, interaction, method);
}

/** The interaction must exist for the type (405 otherwise) and the caller's scopes must allow it (403). */
function permit(ctx: Context, type: SupportedType, interaction: TypeInteraction, method: string): void {
  if (!allows(type, interaction)) {
    throw httpError(405, 'not-supported', `${method} (${interaction}) is not allowed on ${type}`);
  }
  demand(ctx.principal, type, PERMISSION[interaction], interaction);
}

function body(type: string, value: unknown): Resource {
  if (value === undefined || value === null) invalid('A resource body is required');
  if (typeof value !== 'object' || Array.isArray(value)) invalid('The body must be a JSON object (a FHIR resource)');
  const resource = value as Resource;
  if (resource.resourceType !== type) {
    invalid(`The body's resourceType "${String(resource.resourceType)}" does not match the URL ("${type}")`, 'resourceType');
  }
  return resource;
}

const JSON_PATCH_OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

function patchBody(value: unknown): Operation[] | Parameters {
  if (isFhirPathPatch(value)) return value;
  if (!Array.isArray(value)) {
    invalid('A patch body must be a JSON Patch array of operations (RFC 6902) or a FHIRPath Patch Parameters resource');
  }
  value.forEach(checkJsonPatchOp);
  return value as Operation[];
}

/** An operation applyPatch can carry out or refuse in its own words: a known op, pointers into the resource. */
function checkJsonPatchOp(op: unknown, i: number): void {
  const o = op as { op?: unknown; path?: unknown; from?: unknown };
  if (typeof o?.op !== 'string' || typeof o.path !== 'string') {
    invalid(`JSON Patch operation ${i} needs "op" and "path"`, `[${i}]`);
  }
  if (!JSON_PATCH_OPS.has(o.op)) invalid(`JSON Patch operation ${i}: unknown op "${o.op}"`, `[${i}].op`);
  if ((o.op === 'move' || o.op === 'copy') && typeof o.from !== 'string') {
    invalid(`JSON Patch ${o.op} needs "from"`, `[${i}].from`);
  }
  for (const pointer of [o.path, o.from]) {
    if (typeof pointer === 'string' && !pointer.startsWith('/')) {
      invalid(`JSON Patch operation ${i}: "${pointer}" names the whole resource, which a patch may not replace`, `[${i}]`);
    }
  }
}
