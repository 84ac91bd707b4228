/**
 * @module core — what every way of running the gateway shares, transports aside: the partners file (checked
 * first: a mistake stops everything with every problem named), the database, the repository, the audit trail,
 * the partners' Organizations and the payer clients. `gateway.ts` adds the doors; CLI commands that act like the
 * gateway (`verify-coverage`) use this alone.
 */
import type { Config } from './config.ts';
import { AuditTrail, indexUnindexedRecords } from './audit/trail.ts';
import type { Logger } from './log.ts';
import { PayerClient } from './outbound/payer-client.ts';
import { loadPartners, type PartnerRegistry } from './partners.ts';
import { openDatabase, type Database } from './store/db.ts';
import { Repository } from './store/repository.ts';
import { loadDefinitions } from './validate/definitions.ts';
import { validate } from './validate/validator.ts';
import type { EligibilityContext } from './workflows/eligibility-submit.ts';
import { outboundChanges } from './workflows/outbound-changes.ts';
import { newControlId } from './translate/hl7v2/ack.ts';

export type Core = {
  partners: PartnerRegistry;
  db: Database;
  repo: Repository;
  audit: AuditTrail;
  eligibility: EligibilityContext;
  /** What a commit that queued outbound HL7 v2 calls; the gateway points it at its outbox worker. */
  outboundWake: { kick: () => void };
};

export async function openCore(config: Config, log: Logger): Promise<Core> {
  const partners = loadPartners(config.partnersFile);
  const db = await openDatabase(config, (msg) => log.info(msg));
  // ~1 s for the definitions, paid at start rather than by the first requests.
  loadDefinitions();
  const outboundWake = { kick: () => {} };
  // Referrals and appointments for partner offices are queued in the transaction that changes them.
  const onChange = outboundChanges({
    sender: config.hl7Sender,
    newControlId,
    partnerOf: (endpoint) => partners.byEndpoint(endpoint)?.id,
    delimitersOf: (endpoint) => partners.byEndpoint(endpoint)?.hl7v2.destination?.delimiters,
    kick: () => outboundWake.kick(),
    processingId: config.hl7ProcessingIds[0],
  });
  const repo = new Repository(db.sql, { baseUrl: config.baseUrl, validate: (r) => validate(r), onChange });
  const audit = new AuditTrail(db.sql);
  const indexed = await indexUnindexedRecords(db.sql);
  if (indexed > 0) log.info({ indexed }, 'audit records from before the upgrade indexed');
  await partners.ensureOrganizations(repo);
  // One client per payer: its circuit breaker and its OAuth token are the payer's, shared by every check.
  const payers = new Map(
    partners.partners.flatMap((p) => (p.x12 ? [[p.id, new PayerClient(p.x12.endpoint, { log })] as const] : []))
  );
  const eligibility: EligibilityContext = {
    sql: db.sql,
    log,
    audit,
    payers,
    repo,
    partners,
    reuseMinutes: config.eligibilityReuseMinutes,
    timeZone: config.timeZone,
  };
  return { partners, db, repo, audit, eligibility, outboundWake };
}
