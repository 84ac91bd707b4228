/**
 * @module outbound/outbox — the outbound HL7 v2 delivery of one gateway process, put together: the destinations
 * (Endpoints read through the repository), the worker, and the audit record of every attempt (direction outbound).
 * The composition root starts it; whatever enqueues (store/outbox.ts `enqueue`, in its transaction) calls `kick()`
 * after the commit.
 */
import type { Endpoint } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { messageEvent } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Logger } from '../log.ts';
import type { PartnerRegistry } from '../partners.ts';
import type { Repository } from '../store/repository.ts';
import { Destinations } from './destinations.ts';
import type { AckResult } from './mllp-client.ts';
import { OutboxWorker, type OutboxOptions } from './outbox-worker.ts';

export type Outbox = { kick(): void; stop(): Promise<void>; worker: OutboxWorker };

export type OutboxSetup = {
  sql: Sql;
  repo: Repository;
  log: Logger;
  audit: AuditTrail;
  partners: PartnerRegistry;
  /** Worker settings (tests shorten the delays). */
  tuning?: Partial<Omit<OutboxOptions, 'sql' | 'log' | 'deliver' | 'attempted' | 'followUp'>>;
  ackTimeoutMs?: number;
  /** What a message's final fate means to the workflow that queued it (./outbox-worker.ts `followUp`). */
  followUp?: OutboxOptions['followUp'];
};

export function startOutbox(s: OutboxSetup): Outbox {
  const destinations = new Destinations({
    readEndpoint: (id) => s.repo.read<Endpoint>('Endpoint', id).catch(() => undefined),
    // mllps:// of a partner the partners file declares: its CA and the gateway's client certificate.
    tlsFor: (endpoint) => s.partners.byEndpoint(`Endpoint/${endpoint.id}`)?.hl7v2.destination?.tls,
    log: s.log,
    ...(s.ackTimeoutMs ? { ackTimeoutMs: s.ackTimeoutMs } : {}),
  });
  const worker = new OutboxWorker({
    sql: s.sql,
    log: s.log,
    deliver: destinations.deliver,
    attempted: async (row, result, fate) => {
      const partner = s.partners.partners.find((p) => p.id === row.partner)?.reference;
      await s.audit.record(
        messageEvent({
          direction: 'outbound',
          protocol: 'hl7v2',
          messageType: row.messageType,
          controlId: row.controlId,
          messageId: row.id,
          peer: row.destination,
          sender: row.destination,
          ack: ackCode(result, fate),
          resources: [],
          succeeded: result.ok,
          ...(partner ? { partner } : {}),
        })
      );
    },
    ...(s.followUp ? { followUp: s.followUp } : {}),
    ...s.tuning,
  });
  worker.start();
  return {
    worker,
    kick: () => worker.kick(),
    stop: async () => {
      await worker.stop();
      await destinations.close();
    },
  };
}

function ackCode(result: AckResult, fate: string): string {
  if (result.ok || result.kind === 'rejected') return result.code;
  return `${result.kind} (${fate})`;
}
