/**
 * @module audit/trail — appends AuditEvents to the hash-chained, append-only audit log.
 *
 * Writers queue events; one flush at a time takes everything queued, locks the chain head, hashes the events
 * in order and writes them in one transaction (group commit), then resolves every waiter. A caller awaits
 * {@link AuditTrail.record} before answering, so no access is answered without its trace committed.
 *
 * The log is the record of truth. The searchable copies (AuditEvent resources, with history and search rows:
 * 4–6 ms for the event of a search that returned 48 resources) are projected from it after the commit, many at a
 * time, by whichever gateway process gets there first (`audit_projection` says how far they go). Whoever reads
 * AuditEvents calls {@link AuditTrail.catchUp} first, so a search sees every event committed before it.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { AuditEvent } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { writeVersion } from '../store/write.ts';

type Pending = { event: AuditEvent; resolve: () => void; reject: (err: unknown) => void };

const MAX_BATCH = 500;
const PROJECT_BATCH = 200;

export class AuditTrail {
  private readonly sql: Sql;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  /** The projection running now, and whether another run must follow it (events committed since it started). */
  private projecting: Promise<void> | undefined;
  private again = false;
  /** Set by the gateway: a projection that fails is retried later; its error is only logged. */
  onProjectionError: (err: unknown) => void = () => undefined;

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

  /**
   * Brings the searchable copies up to every event committed so far (this process's and other processes').
   * Resolves once they are written.
   */
  async catchUp(): Promise<void> {
    await this.flushing;
    await this.project();
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
    // In the background: nobody waits for the copies but a reader of AuditEvents (catchUp).
    this.project().catch((err: unknown) => this.onProjectionError(err));
  }

  /**
   * One projection at a time per process. A call during a run makes that run look again before it ends (what
   * was committed before the call is then included), and shares its promise.
   */
  private project(): Promise<void> {
    if (this.projecting) {
      this.again = true;
      return this.projecting;
    }
    this.projecting = (async () => {
      try {
        do {
          this.again = false;
          while ((await this.projectSome()) === PROJECT_BATCH);
        } while (this.again);
      } finally {
        this.projecting = undefined;
      }
    })();
    return this.projecting;
  }

  /** Copies the next log records into searchable AuditEvents; the position moves in the same transaction. */
  private async projectSome(): Promise<number> {
    return this.sql.begin(async (tx) => {
      // The row lock makes projectors of several processes take turns; the second finds the work done.
      const [at] = await tx<{ seq: string }[]>`SELECT seq FROM audit_projection WHERE id = 1 FOR UPDATE`;
      const rows = await tx<{ seq: string; content: string }[]>`
        SELECT seq, content FROM audit_log WHERE seq > ${at!.seq} ORDER BY seq LIMIT ${PROJECT_BATCH}`;
      if (rows.length === 0) return 0;
      const writes = rows.map((row) => {
        const resource = JSON.parse(row.content) as AuditEvent & { id: string; meta: { lastUpdated: string } };
        return writeVersion(tx as unknown as Sql, { type: 'AuditEvent', id: resource.id, version: 1, lastUpdated: resource.meta.lastUpdated, resource, isNew: true });
      });
      writes.push(tx`UPDATE audit_projection SET seq = ${rows[rows.length - 1]!.seq} WHERE id = 1`.then(() => undefined));
      await Promise.all(writes);
      return rows.length;
    });
  }

  private async write(events: AuditEvent[]): Promise<void> {
    await this.sql.begin(async (tx) => {
      const [head] = await tx<{ seq: string; hash: Buffer }[]>`SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`;
      let seq = Number(head!.seq);
      let prev = head!.hash;
      const rows = [];
      for (const e of events) {
        const recorded = new Date().toISOString();
        const resource: AuditEvent = { ...e, id: randomUUID(), recorded: e.recorded ?? recorded, meta: { versionId: '1', lastUpdated: recorded } };
        const content = JSON.stringify(resource);
        const hash = chainHash(prev, content);
        seq += 1;
        rows.push({ seq, id: resource.id as string, recorded: resource.recorded, content, prev_hash: prev, hash });
        prev = hash;
      }
      // Issued without waiting: the statements are pipelined on the transaction's connection.
      await Promise.all([
        tx`INSERT INTO audit_log ${tx(rows, 'seq', 'id', 'recorded', 'content', 'prev_hash', 'hash')}`,
        tx`UPDATE audit_head SET seq = ${seq}, hash = ${prev} WHERE id = 1`,
      ]);
    });
  }
}

export function chainHash(prev: Buffer, content: string): Buffer {
  return createHash('sha256').update(prev).update(content, 'utf8').digest();
}
