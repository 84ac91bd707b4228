/**
 * @module inbound/http — the root HTTP app: health checks, the FHIR door, and the one error mapping for HTTP.
 */
import { Hono } from 'hono';
import type { Sql } from 'postgres';
import type { ClientAuthenticator } from '../access/client-auth.ts';
import type { AuditEnv } from './fhir/audit.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { RateLimiter } from '../access/rate-limit.ts';
import type { TokenService } from '../access/tokens.ts';
import type { Logger } from '../log.ts';
import { authRoutes } from './auth.ts';
import { messageRoutes } from './messages.ts';
import type { ReceiveContext } from '../workflows/receive-hl7v2.ts';
import type { X12Context } from '../workflows/receive-x12.ts';
import { outcome, toHttpError } from '../outcome.ts';
import type { Repository } from '../store/repository.ts';
import { migrationsApplied } from '../store/migrate.ts';
import { FHIR_JSON, fhirRoutes } from './fhir/routes.ts';
import type { Operations } from './fhir/operations.ts';

export type HttpAppOptions = {
  sql: Sql;
  repo: Repository;
  baseUrl: string;
  maxBodyBytes: number;
  log: Logger;
  tokens: TokenService | undefined;
  authenticator: ClientAuthenticator | undefined;
  audit: AuditTrail | undefined;
  limiter: RateLimiter | undefined;
  receive: ReceiveContext;
  x12: X12Context;
  /** FHIR operations (`CoverageEligibilityRequest/$submit`, …) wired by the composition root. */
  operations?: Operations;
  /** The outbound delivery, woken when a dead letter is sent again. */
  outbox?: { kick(): void };
};

/** What Hono's secureHeaders sends by default, with a year of HSTS, no referrer and same-origin resources. */
const SECURITY_HEADERS: [string, string][] = [
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Origin-Agent-Cluster', '?1'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-DNS-Prefetch-Control', 'off'],
  ['X-Download-Options', 'noopen'],
  ['X-Frame-Options', 'SAMEORIGIN'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
  ['X-XSS-Protection', '0'],
];

export function createHttpApp(options: HttpAppOptions): Hono<AuditEnv> {
  const app = new Hono<AuditEnv>({ strict: false });
  const { log } = options;
  const debug = log.isLevelEnabled('debug');

  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    // ids and timings only: the path may carry a resource id, never a name or identifier value (those are in
    // the query string, which is not logged).
    if (!debug) return;
    log.debug({ method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) }, 'http');
  });

  // Security headers on every answer; FHIR answers carry PHI, so no cache may keep them. Set before the handler
  // runs, so its answer is built with them: set after, each would make Hono copy the finished Response.
  app.use('*', async (c, next) => {
    for (const [name, value] of SECURITY_HEADERS) c.header(name, value);
    if (c.req.path.startsWith('/fhir')) c.header('Cache-Control', 'no-store');
    await next();
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    try {
      await options.sql`SELECT 1`;
      if (!(await migrationsApplied(options.sql))) return c.json({ status: 'migrations pending' }, 503);
      return c.json({ status: 'ready' });
    } catch {
      return c.json({ status: 'database unreachable' }, 503);
    }
  });

  if (options.tokens && options.authenticator) app.route('/', authRoutes(options.authenticator, options.tokens, log));
  app.route('/fhir', fhirRoutes(options));
  app.route('/', messageRoutes({
    receive: options.receive, x12: options.x12, tokens: options.tokens, audit: options.audit, limiter: options.limiter,
    maxBodyBytes: options.maxBodyBytes, outbox: options.outbox,
  }));

  app.notFound((c) =>
    c.body(JSON.stringify(outcome('not-found', `Nothing at ${c.req.method} ${new URL(c.req.url).pathname}`)), 404, {
      'Content-Type': FHIR_JSON,
    })
  );
  app.onError((err, c) => {
    const { status, body, internal, headers } = toHttpError(err);
    if (internal) {
      // The error message can quote data (a PostgreSQL constraint detail, say): log its class and code only.
      log.error({ err: { name: (err as Error).name, code: (err as { code?: string }).code, stack: (err as Error).stack?.split('\n').slice(1, 6).join('\n') } }, 'unhandled error');
    }
    return c.body(JSON.stringify(body), status as 400, { ...headers, 'Content-Type': FHIR_JSON });
  });
  return app;
}
