/**
 * @module inbound/fhir/routes — the FHIR REST door at `/fhir` (Hono sub-app): content negotiation, body
 * parsing, then one call into the transport-neutral interactions; errors are mapped by the root app.
 *
 * JSON only (http.html#mime-type): an XML `Accept` or `_format` gets 406, an XML body 415.
 */
import { Hono, type Context as HonoContext } from 'hono';
import { requireToken } from '../../access/guard.ts';
import { rateLimit, type RateLimiter } from '../../access/rate-limit.ts';
import type { AuditTrail } from '../../audit/trail.ts';
import { auditRequests, type AuditEnv } from './audit.ts';
import type { TokenService } from '../../access/tokens.ts';
import { smartConfiguration } from '../auth.ts';
import { bodyLimit } from 'hono/body-limit';
import { parseJsonBody } from './json-body.ts';
import { httpError, invalid } from '../../outcome.ts';
import type { Repository } from '../../store/repository.ts';
import { capabilityStatement } from './capability.ts';
import { interact, type FhirRequest } from './interactions.ts';
import { render, returnPreference } from './respond.ts';
import { processBundle } from './transaction.ts';
import type { Operations } from './operations.ts';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export type FhirRoutesOptions = {
  repo: Repository;
  baseUrl: string;
  maxBodyBytes: number;
  tokens: TokenService | undefined;
  audit: AuditTrail | undefined;
  limiter: RateLimiter | undefined;
  operations?: Operations;
};

export function fhirRoutes(options: FhirRoutesOptions): Hono<AuditEnv> {
  const { repo, baseUrl } = options;
  const startedAt = new Date().toISOString();
  const app = new Hono<AuditEnv>({ strict: false });

  app.use('*', async (c, next) => {
    negotiate(c);
    await next();
  });
  const limit = bodyLimit({
    maxSize: options.maxBodyBytes,
    onError: () => {
      throw httpError(413, 'too-costly', `Request body larger than ${options.maxBodyBytes} bytes`);
    },
  });
  // Only requests that carry a body: looking for one makes the Node adapter build a whole Request for a GET.
  app.use('*', (c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : limit(c, next)));

  // Public: what the server can do and how to get a token. Everything after the guard needs a bearer token.
  app.get('/metadata', (c) => json(c, 200, capabilityStatement(baseUrl, startedAt, options.operations)));
  app.get('/.well-known/smart-configuration', (c) => c.json(smartConfiguration(baseUrl)));
  // Audit wraps the token check, so refused requests leave a trace as well.
  app.use('*', auditRequests(options.audit));
  app.use('*', requireToken(options.tokens));
  app.use('*', rateLimit(options.limiter));

  app.post('/', async (c) => {
    const bundle = await readBody(c);
    const ctx = { repo, baseUrl, principal: c.get('principal') };
    c.set('bundleType', (bundle as { type?: string } | null)?.type);
    const response = await processBundle(ctx, bundle, returnPreference(c.req.header('prefer')));
    c.set('audited', response);
    return json(c, 200, response);
  });

  app.all('/*', async (c) => {
    const url = new URL(c.req.url);
    const path = url.pathname.replace(/^.*?\/fhir\/?/, '');
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
    const req: FhirRequest = {
      method,
      path: decodeURIComponent(path),
      query: url.searchParams,
      ifMatch: parseEtag(c.req.header('if-match')),
      ifNoneExist: c.req.header('if-none-exist'),
      ifNoneMatch: c.req.header('if-none-match'),
      strict: /(^|[;,\s])handling=strict/.test(c.req.header('prefer') ?? ''),
    };
    if (method === 'POST' && path.endsWith('/_search')) {
      req.query = await searchForm(c, url.searchParams);
    } else if (method === 'POST' && /\/\$[^/]+$/.test(path)) {
      // An operation may take all its parameters in the URL (operations.html#request): the body is optional.
      req.body = await readBody(c, true);
    } else if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
      req.body = await readBody(c);
      req.commitCreate = c.get('commitCreate');
    }
    const result = await interact({ repo, baseUrl, principal: c.get('principal'), operations: options.operations }, req);
    c.set('audited', result.resource);
    const out = render(baseUrl, result, returnPreference(c.req.header('prefer')));
    const etag = out.headers.ETag;
    if (method === 'GET' && etag && req.ifNoneMatch && parseEtag(req.ifNoneMatch) === parseEtag(etag)) {
      return c.body(null, 304, out.headers);
    }
    if (out.body === undefined) return c.body(null, out.status as 200, out.headers);
    return json(c, out.status, out.body, out.headers);
  });
  return app;
}

export function json(c: HonoContext<AuditEnv>, status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return c.body(JSON.stringify(body), status as 200, { ...headers, 'Content-Type': FHIR_JSON });
}

/** `W/"3"` → `3` (http.html#concurrency); a bare `3` is accepted as well. */
function parseEtag(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return /"([^"]*)"/.exec(value)?.[1] ?? value.trim();
}

function negotiate(c: HonoContext<AuditEnv>): void {
  const format = c.req.query('_format');
  if (format && !/json/i.test(format)) {
    throw httpError(406, 'not-supported', `_format=${format} is not supported: this server speaks FHIR JSON only`, '_format');
  }
  const accept = c.req.header('accept');
  if (accept && !/json|\*\/\*|application\/\*/i.test(accept)) {
    throw httpError(406, 'not-supported', `Accept: ${accept} cannot be served: this server speaks application/fhir+json only`);
  }
}

async function readBody(c: HonoContext<AuditEnv>, optional = false): Promise<unknown> {
  const type = (c.req.header('content-type') ?? '').toLowerCase();
  if (type && !/json/.test(type)) {
    throw httpError(415, 'not-supported', `Content-Type ${type} is not supported: send application/fhir+json`);
  }
  const text = await c.req.text();
  if (text.trim() === '') {
    if (optional) return undefined;
    invalid('The request body is empty');
  }
  return parseJsonBody(text);
}

/** `POST [type]/_search` takes the parameters as a form body, merged with any in the URL (search.html#search). */
async function searchForm(c: HonoContext<AuditEnv>, query: URLSearchParams): Promise<URLSearchParams> {
  const type = (c.req.header('content-type') ?? '').toLowerCase();
  const merged = new URLSearchParams(query);
  const text = await c.req.text();
  if (text.trim() === '') return merged;
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw httpError(415, 'not-supported', 'POST _search takes application/x-www-form-urlencoded');
  }
  for (const [k, v] of new URLSearchParams(text)) merged.append(k, v);
  return merged;
}
