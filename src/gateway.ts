/**
 * @module gateway — composition root: config → database → validator/store → HTTP; and the ordered stop.
 *
 * `main.ts` runs this for `npm start`; tests start the same thing on port 0 against their own database.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.ts';
import { createHttpApp } from './inbound/http.ts';
import { createLogger, type Logger } from './log.ts';
import { openDatabase, type Database } from './store/db.ts';
import { Repository } from './store/repository.ts';
import { validate } from './validate/validator.ts';
import { loadDefinitions } from './validate/definitions.ts';
import { warmSchemas } from './validate/schema.ts';
import { RESOURCE_TYPES } from './inbound/fhir/registry.ts';

export type Gateway = {
  fhirUrl: string;
  port: number;
  db: Database;
  repo: Repository;
  app: ReturnType<typeof createHttpApp>;
  log: Logger;
  stop: () => Promise<void>;
};

export async function startGateway(
  config: Config,
  log: Logger = createLogger(config),
  options: { warm?: boolean } = {}
): Promise<Gateway> {
  const db = await openDatabase(config, (msg) => log.info(msg));
  // ~1 s for the definitions and ~2 s for the JSON schemas, paid at start rather than by the first requests.
  loadDefinitions();
  if (options.warm ?? true) warmSchemas(Object.keys(RESOURCE_TYPES));
  const repo = new Repository(db.sql, { baseUrl: config.baseUrl, validate: (r) => validate(r) });
  const app = createHttpApp({ sql: db.sql, repo, baseUrl: config.baseUrl, maxBodyBytes: config.maxBodyBytes, log });
  let server: ServerType;
  const port = await new Promise<number>((resolve, reject) => {
    server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info: AddressInfo) => resolve(info.port));
    server.once('error', reject);
  });
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const fhirUrl = config.port === 0 ? `http://${host}:${port}/fhir` : config.baseUrl;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // 1. stop accepting; in-flight requests finish (bounded by the shutdown timeout); idle keep-alives close.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          resolve();
        }, config.shutdownTimeoutMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      });
      // 2. then the pool, 3. then the embedded database.
      await db.close();
    })());
  return { fhirUrl, port, db, repo, app, log, stop };
}
