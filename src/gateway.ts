/**
 * @module gateway — composition root: config → database → validator/store → HTTP; and the ordered stop.
 *
 * `main.ts` runs this for `npm start`; tests start the same thing on port 0 against their own database.
 */
import { serve, type ServerType } from '@hono/node-server';
import { newControlId } from './translate/hl7v2/ack.ts';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.ts';
import { setUpAccess, type Access } from './access/setup.ts';
import type { AuditTrail } from './audit/trail.ts';
import { RateLimiter } from './access/rate-limit.ts';
import { createHttpApp } from './inbound/http.ts';
import { startMllpListener, type MllpListener } from './inbound/mllp/listener.ts';
import { receiveHl7v2Input, receiveOversized } from './workflows/hl7v2-input.ts';
import type { Hl7Handler, ReceiveContext } from './workflows/receive-hl7v2.ts';
import type { MessageHeader } from './translate/hl7v2/header.ts';
import type { PartnerRegistry } from './partners.ts';
import { hl7v2Handlers } from './workflows/hl7v2-handlers.ts';
import type { X12Context, X12Handler } from './workflows/receive-x12.ts';
import { createLogger, type Logger } from './log.ts';
import type { Database } from './store/db.ts';
import type { Repository } from './store/repository.ts';
import { warmSchemas } from './validate/schema.ts';
import { RESOURCE_TYPES } from './inbound/fhir/registry.ts';
import { operationTable } from './inbound/fhir/operations.ts';
import { openCore } from './core.ts';
import { eligibilityOperations } from './inbound/fhir/eligibility-operations.ts';
import type { EligibilityContext } from './workflows/eligibility-submit.ts';
import { passThrough270 } from './workflows/eligibility-pass-through.ts';
import { VerificationRunner } from './workflows/verify-coverage-runner.ts';
import { startOutbox, type Outbox } from './outbound/outbox.ts';
import { referralDelivered } from './workflows/referral-task.ts';

export type Gateway = {
  fhirUrl: string;
  port: number;
  /** Address of the MLLP listener, `host:port`. */
  mllpAddress: string;
  mllp: MllpListener;
  db: Database;
  repo: Repository;
  access: Access;
  audit: AuditTrail;
  /** The HL7 v2 processing shared by the MLLP and HTTP doors; `receive.handlers` is where message types plug in. */
  receive: ReceiveContext & { handlers: Map<string, Hl7Handler> };
  /** The X12 processing of `POST /x12`; `x12.handlers` is where transaction sets plug in. */
  x12: X12Context & { handlers: Map<string, X12Handler> };
  partners: PartnerRegistry;
  /** Eligibility with payers: the partners' clients (one per payer: its circuit breaker, its token). */
  eligibility: EligibilityContext;
  /** Whole-day coverage verifications running in this process. */
  verifications: VerificationRunner;
  /** Outbound HL7 v2 delivery: `outbox.kick()` after a commit that enqueued. */
  outbox: Outbox;
  app: ReturnType<typeof createHttpApp>;
  log: Logger;
  stop: () => Promise<void>;
};

export async function startGateway(
  config: Config,
  log: Logger = createLogger(config),
  options: { warm?: boolean } = {}
): Promise<Gateway> {
  const { partners, db, repo, audit, eligibility, outboundWake } = await openCore(config, log);
  // ~2 s for the JSON schemas, paid at start rather than by the first requests.
  if (options.warm ?? true) warmSchemas(Object.keys(RESOURCE_TYPES));
  const access = await setUpAccess(db.sql, config, config.databaseUrl === undefined);
  // Times without an offset are read in the sending partner's zone, else the gateway's; its character set, if set,
  // also decodes \Xhh\ escapes.
  const partnerOf = (h: MessageHeader) => partners.bySender(h.sendingApplication, h.sendingFacility, h.delimiters.component);
  const handlers = hl7v2Handlers(
    repo,
    (h) => ({ timeZone: partnerOf(h)?.hl7v2.timeZone ?? config.timeZone, charset: partnerOf(h)?.hl7v2.charset }),
    (h) => partnerOf(h)?.id,
    log
  );
  const receive = { sql: db.sql, log, handlers, newControlId, audit, partners, processingIds: config.hl7ProcessingIds };
  const verifications = new VerificationRunner(eligibility);
  const o = config.outbox;
  const outbox = startOutbox({
    sql: db.sql, repo, log, audit, partners, ackTimeoutMs: o.ackTimeoutMs,
    // The partner's answer to a referral moves the Task that follows it.
    followUp: async (f) => {
      if (f.messageType === 'REF^I12') await referralDelivered(repo, f.subject, f.delivered, f.reason ?? undefined);
    },
    tuning: {
      maxAttempts: o.maxAttempts, maxAgeMs: o.maxAgeMinutes * 60_000, baseDelayMs: o.retryMs,
      // A lease outlives any delivery (connect + ACK wait), so a live worker never loses its row to another.
      leaseMs: o.ackTimeoutMs * 2 + 30_000,
    },
  });
  outboundWake.kick = () => outbox.kick();
  // Transaction sets without a handler (claims, remittance: later issues) are answered IK5 R 1.
  const x12: X12Context & { handlers: Map<string, X12Handler> } = {
    sql: db.sql, log, audit, handlers: new Map([['270', passThrough270(eligibility)]]),
  };
  const app = createHttpApp({
    sql: db.sql,
    repo,
    baseUrl: config.baseUrl,
    maxBodyBytes: config.maxBodyBytes,
    log,
    tokens: access.tokens,
    authenticator: access.authenticator,
    audit,
    receive,
    x12,
    outbox,
    operations: operationTable(eligibilityOperations(eligibility, verifications)),
    limiter: config.rateLimitPerMinute > 0 ? new RateLimiter(config.rateLimitPerMinute, config.rateLimitBurst) : undefined,
  });
  let server: ServerType;
  const port = await new Promise<number>((resolve, reject) => {
    server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info: AddressInfo) => resolve(info.port));
    server.once('error', reject);
  });
  const mllp = await startMllpListener(
    {
      host: config.mllpHost,
      port: config.mllpPort,
      maxFrameBytes: config.mllpMaxFrameBytes,
      idleTimeoutMs: config.mllpIdleTimeoutMs,
      log,
      newControlId,
      tls: config.mllpTls,
      partnerOf: (cert) => partners.byCertificate(cert)?.id,
      oversized: (head, bytes, peer, ar) => receiveOversized(receive, head, bytes, 'mllp', peer, ar),
    },
    async (message, peer) => (await receiveHl7v2Input(receive, message, 'mllp', peer)).acks
  ).catch(async (err: unknown) => {
    server.close();
    await db.close();
    throw new Error(`MLLP listener could not start on ${config.mllpHost}:${config.mllpPort}: ${(err as Error).message}`);
  });
  // Whole-day verifications a stopped gateway left in progress go on where they were.
  await verifications.resumeAll();
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const mllpHost = config.mllpHost.includes(':') ? `[${config.mllpHost}]` : config.mllpHost;
  const fhirUrl = config.port === 0 ? `http://${host}:${port}/fhir` : config.baseUrl;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // 1. stop accepting; in-flight requests and messages finish (bounded by the shutdown timeout).
      const mllpClosed = mllp.close();
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
      await mllpClosed;
      await verifications.stop();
      await outbox.stop();
      // 2. the audit records still being appended, 3. then the pool, 4. then the embedded database.
      await audit.settled();
      await db.close();
    })());
  return {
    fhirUrl, port, mllpAddress: `${mllpHost}:${mllp.port}`, mllp, db, repo, access, audit, receive, app, log, partners, x12,
    eligibility, verifications, outbox, stop,
  };
}
