/**
 * @module audit/trail — appends AuditEvents to the hash-chained, append-only audit log.
 *
 * Writers queue events; one flush at a time takes everything queued, hashes the events in order from the chain
 * head and appends them in one statement that moves the head only if no other process moved it first (group
 * commit, one round trip; a lost race reads the head and hashes again), then resolves every waiter. A caller
 * awaits {@link AuditTrail.record} before answering, so no access is answered without its trace committed.
 *
 * The log is the record of truth. The searchable copies (AuditEvent resources, with history and search rows:
 * 4–6 ms for the event of a search that returned 48 resources) are projected from it after the commit, many at a
 * time, by whichever gateway process gets there first (`audit_projection` says how far they go): a process's
 * own appends from memory, in one statement each, while the position is just before them; otherwise, and for
 * other processes' records, read back from the log. Whoever reads
 * AuditEvents calls {@link AuditTrail.catchUp} first, so a search sees every event committed before it.
 * Projection nobody waits for runs on the database's background connection (lowest CPU priority with the embedded
 * server), so it takes the cores requests leave; a waiting reader, or a backlog past MAX_BACKLOG, gets normal priority.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { AuditEvent } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { onMainPool, type Background } from '../store/db.ts';
import { writeNewResources, type NewResource } from '../store/write.ts';

type Pending = { event: AuditEvent; resolve: () => void; reject: (err: unknown) => void };
type Stored = AuditEvent & { id: string; meta: { lastUpdated: string } };
/** Events this process appended, seq `first`..`last`, waiting to be projected from memory. */
type Appended = { first: number; last: number; events: Stored[] };

const MAX_BATCH = 500;
const PROJECT_BATCH = 200;
/** Appends that lost the race for the head to another process's, in a row, before giving up. */
const MAX_HEAD_RACES = 100;
/** Flushes kept in memory for projection; beyond (projection failing for long), the oldest are read from the log. */
const MAX_APPENDED = 1000;
/**
 * Unprojected events of this process beyond which projection stops yielding the CPU. Sequential searches keep
 * the backlog at one or two; messages on 8 connections pass it within a second, and then a low-priority writer
 * only costs them (it shares the tables they extend: 500 measured worse pipelined, 100 no worse than normal).
 */
const MAX_BACKLOG = 100;
/** How often the background connection's priority is checked (it may have reconnected). */
const LOWER_EVERY_MS = 60_000;

/** The searchable copy of a log record: an AuditEvent resource, first version. */
const copyOf = (e: Stored): NewResource => ({ type: 'AuditEvent', id: e.id, lastUpdated: e.meta.lastUpdated, resource: e });

export class AuditTrail {
  private readonly sql: Sql;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  /** The chain head as this process last wrote or read it; another process's append makes it stale (retried). */
  private head: { seq: number; hash: Buffer } | undefined;
  /** Committed appends not yet projected, in order. */
  private appended: Appended[] = [];
  /** The projection running now, and whether another run must follow it (events committed since it started). */
  private projecting: Promise<void> | undefined;
  private again = false;
  private againFromLog = false;
  /** Set by the gateway: a projection that fails is retried later; its error is only logged. */
  onProjectionError: (err: unknown) => void = () => undefined;

  /** Where projection runs while it keeps up: the database's low-priority connection (store/db.ts). */
  private readonly background: Background;
  private lowered = 0;
  /** A reader waits for the copies (catchUp): the run finishes at normal priority. */
  private urgent = false;

  constructor(sql: Sql, background: Background = onMainPool(sql)) {
    this.sql = sql;
    this.background = background;
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
    this.urgent = true;
    await this.project(true);
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
    this.project(false).catch((err: unknown) => this.onProjectionError(err));
  }

  /**
   * One projection at a time per process. A call during a run makes that run look again before it ends (what
   * was committed before the call is then included), and shares its promise. `fromLog`: also what other
   * processes appended (read back from the log); otherwise this process's own appends, from memory.
   */
  private project(fromLog: boolean): Promise<void> {
    if (this.projecting) {
      this.again = true;
      this.againFromLog ||= fromLog;
      return this.projecting;
    }
    this.projecting = (async () => {
      try {
        if (Date.now() - this.lowered > LOWER_EVERY_MS) {
          this.lowered = Date.now();
          await this.background.lower();
        }
        let log = fromLog;
        do {
          this.again = false;
          this.againFromLog = false;
          if (!(await this.projectAppended())) log = true;
          if (log) {
            const known = this.appended.length; // committed before the log is read: projected with it
            while ((await this.projectSome()) === PROJECT_BATCH);
            this.appended.splice(0, known);
          }
          log = this.againFromLog;
        } while (this.again);
      } catch (err) {
        this.lowered = 0; // the connection may be new: check its priority on the next run
        throw err;
      } finally {
        this.projecting = undefined;
        this.urgent = false;
      }
    })();
    return this.projecting;
  }

  /**
   * The pool for the next projection statement. Background projection yields the CPU to requests and messages
   * (its copies are derived, and every reader catches up first); when a reader waits, or this process's backlog
   * passes MAX_BACKLOG under sustained load, it runs at normal priority so the copies never fall far behind.
   */
  private projector(): Sql {
    if (this.urgent || this.background.sql === this.sql) return this.sql;
    let backlog = 0;
    for (const a of this.appended) backlog += a.events.length;
    return backlog > MAX_BACKLOG ? this.sql : this.background.sql;
  }

  /**
   * This process's appends, from memory, each batch in one statement that also moves the position — only if the
   * position is just before the batch (else another process projected it, or the log holds records of others
   * before it: false, and the log is read instead).
   */
  private async projectAppended(): Promise<boolean> {
    while (this.appended.length > 0) {
      const a = this.appended[0]!;
      const sql = this.projector();
      const moved = await writeNewResources(sql, a.events.map(copyOf), sql`UPDATE audit_projection SET seq = ${a.last} WHERE id = 1 AND seq = ${a.first - 1} RETURNING 1`);
      if (!moved) return false;
      this.appended.shift();
    }
    return true;
  }

  /** Copies the next log records into searchable AuditEvents; the position moves in the same transaction. */
  private async projectSome(): Promise<number> {
    return this.projector().begin(async (tx) => {
      // The row lock makes projectors of several processes take turns; the second finds the work done.
      const rows = await tx<{ seq: string; content: string }[]>`
        SELECT l.seq, l.content FROM (SELECT seq FROM audit_projection WHERE id = 1 FOR UPDATE) p
          JOIN audit_log l ON l.seq > p.seq ORDER BY l.seq LIMIT ${PROJECT_BATCH}`;
      if (rows.length === 0) return 0;
      await Promise.all([
        writeNewResources(tx as unknown as Sql, rows.map((row) => copyOf(JSON.parse(row.content) as Stored))),
        tx`UPDATE audit_projection SET seq = ${rows[rows.length - 1]!.seq} WHERE id = 1`,
      ]);
      return rows.length;
    });
  }

  /**
   * Appends in one statement, which commits on its own: the head moves from the seq this process believes it
   * has to the new one, and the records go in only if it did. When another process appended in between, the
   * head is read again and the chain recomputed.
   */
  private async write(events: AuditEvent[]): Promise<void> {
    const recorded = new Date().toISOString();
    const resources: Stored[] = events.map((e) => ({ ...e, id: randomUUID(), recorded: e.recorded ?? recorded, meta: { versionId: '1', lastUpdated: recorded } }));
    const contents = resources.map((r) => JSON.stringify(r));
    for (let race = 0; race < MAX_HEAD_RACES; race++) {
      const head = this.head ?? (await this.readHead());
      let seq = head.seq;
      let prev = head.hash;
      const seqs: number[] = [];
      const prevs: string[] = [];
      const hashes: string[] = [];
      for (const content of contents) {
        const hash = chainHash(prev, content);
        seqs.push(++seq);
        prevs.push(prev.toString('hex'));
        hashes.push(hash.toString('hex'));
        prev = hash;
      }
      const [row] = await this.sql<{ moved: boolean }[]>`
        WITH h AS (UPDATE audit_head SET seq = ${seq}, hash = ${prev} WHERE id = 1 AND seq = ${head.seq} RETURNING 1),
        ins AS (INSERT INTO audit_log (seq, id, recorded, content, prev_hash, hash)
          SELECT x.seq, x.id, x.recorded, x.content, decode(x.prev, 'hex'), decode(x.hash, 'hex')
          FROM unnest(${seqs}::bigint[], ${resources.map((r) => r.id)}::text[], ${resources.map((r) => r.recorded as string)}::timestamptz[],
                      ${contents}::text[], ${prevs}::text[], ${hashes}::text[]) AS x(seq, id, recorded, content, prev, hash)
          WHERE EXISTS (SELECT 1 FROM h))
        SELECT EXISTS (SELECT 1 FROM h) AS moved`;
      if (row?.moved) {
        this.head = { seq, hash: prev };
        this.appended.push({ first: head.seq + 1, last: seq, events: resources });
        if (this.appended.length > MAX_APPENDED) this.appended.shift(); // its projection's guard then fails: the log is read
        return;
      }
      this.head = undefined; // another process appended: read the head again
    }
    throw new Error(`audit append lost the chain head to other writers ${MAX_HEAD_RACES} times in a row`);
  }

  private async readHead(): Promise<{ seq: number; hash: Buffer }> {
    const [head] = await this.sql<{ seq: string; hash: Buffer }[]>`SELECT seq, hash FROM audit_head WHERE id = 1`;
    return { seq: Number(head!.seq), hash: head!.hash };
  }
}

export function chainHash(prev: Buffer, content: string): Buffer {
  return createHash('sha256').update(prev).update(content, 'utf8').digest();
}
