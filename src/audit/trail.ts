/**
 * @module audit/trail — appends AuditEvents to the hash-chained, append-only audit log.
 *
 * Writers queue events; one flush at a time takes everything queued, locks the chain head, hashes the events
 * in order and writes them in one transaction (group commit), then resolves every waiter. A caller awaits
 * {@link AuditTrail.record} before answering, so no access is answered without its trace committed.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { AuditEvent } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { writeVersion } from '../store/write.ts';

type Pending = { event: AuditEvent; resolve: () => void; reject: (err: unknown) => void };

const MAX_BATCH = 500;

export class AuditTrail {
  private readonly sql: Sql;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  /** Appends one AuditEvent (id, recorded and meta are assigned here); resolves once committed. */
  record(event: AuditEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        await this.write(batch.map((p) => p.event));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.flushing = undefined;
  }

  private async write(events: AuditEvent[]): Promise<void> {
    await this.sql.begin(async (tx) => {
      const [head] = await tx<{ seq: string; hash: Buffer }[]>`SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`;
      let seq = Number(head!.seq);
      let prev = head!.hash;
      const rows = [];
      const writes: Promise<void>[] = [];
      for (const e of events) {
        const recorded = new Date().toISOString();
        const resource: AuditEvent = { ...e, id: randomUUID(), recorded: e.recorded ?? recorded, meta: { versionId: '1', lastUpdated: recorded } };
        const content = JSON.stringify(resource);
        const hash = chainHash(prev, content);
        seq += 1;
        rows.push({ seq, id: resource.id as string, recorded: resource.recorded, content, prev_hash: prev, hash });
        prev = hash;
        // Issued without waiting: the statements are pipelined on the transaction's connection.
        writes.push(writeVersion(tx as unknown as Sql, { type: 'AuditEvent', id: resource.id as string, version: 1, lastUpdated: recorded, resource, isNew: true }));
      }
      writes.push(tx`INSERT INTO audit_log ${tx(rows, 'seq', 'id', 'recorded', 'content', 'prev_hash', 'hash')}`.then(() => undefined));
      writes.push(tx`UPDATE audit_head SET seq = ${seq}, hash = ${prev} WHERE id = 1`.then(() => undefined));
      await Promise.all(writes);
    });
  }
}

export function chainHash(prev: Buffer, content: string): Buffer {
  return createHash('sha256').update(prev).update(content, 'utf8').digest();
}
