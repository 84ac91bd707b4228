/**
 * @module audit/trail — appends AuditEvents to the hash-chained, append-only audit log.
 *
 * Writers queue events; one flush at a time (store/group-commit.ts) takes everything queued, hashes the events in
 * order from the chain head and appends them in one statement that moves the head only if no other process moved
 * it first (one round trip; a lost race reads the head and hashes again), then resolves every waiter. A caller
 * awaits {@link AuditTrail.record} before answering, so no access is answered without its trace committed.
 *
 * The same statement writes each record's search terms (store/audit-terms.ts): its own, and the id of its shape
 * (the shared terms, registered once by store/audit-shapes.ts), so an AuditEvent is searchable from the moment it
 * is committed, read from the log itself (store/audit-search.ts): no copy, no history, no generic search rows.
 *
 * A plain create comes with its record ({@link AuditTrail.recordCreate}): the resource is written by the statement
 * that appends its record, so the request costs one commit, not a create's commit followed by the audit's. If such
 * a statement fails (a value PostgreSQL refuses), each create is written again alone with its record, and the
 * records that came without a resource together, so each caller gets the outcome of its own write.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { AuditEvent } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { AuditShapes } from '../store/audit-shapes.ts';
import { auditTerms, splitTerms } from '../store/audit-terms.ts';
import { GroupCommit, type Queued } from '../store/group-commit.ts';
import { writeNewResources, type NewResource } from '../store/write.ts';

type Stored = AuditEvent & { id: string; meta: { lastUpdated: string } };
/** An event to append; with `create`, the first version of the resource whose creation it records. */
type Entry = { event: AuditEvent; create?: NewResource };

const MAX_BATCH = 500;
/** Appends that lost the race for the head to another process's, in a row, before giving up. */
const MAX_HEAD_RACES = 100;
const BACKFILL_BATCH = 500;

export class AuditTrail {
  private readonly sql: Sql;
  private readonly commits: GroupCommit<Entry>;
  private readonly shapes: AuditShapes;
  /** The chain head as this process last wrote or read it; another process's append makes it stale (retried). */
  private head: { seq: number; hash: Buffer } | undefined;

  constructor(sql: Sql) {
    this.sql = sql;
    this.shapes = new AuditShapes(sql);
    this.commits = new GroupCommit(
      (entries) => this.write(entries),
      MAX_BATCH,
      (batch, err) => this.apart(batch, err)
    );
  }

  /** Appends one AuditEvent (id, recorded and meta are assigned here); resolves once committed. */
  record(event: AuditEvent): Promise<void> {
    return this.commits.add({ event });
  }

  /** Writes a new resource and appends the event recording its creation, in one statement; resolves once committed. */
  recordCreate(create: NewResource, event: AuditEvent): Promise<void> {
    return this.commits.add({ event, create });
  }

  /** Resolves once every event recorded so far is committed. */
  settled(): Promise<void> {
    return this.commits.settled();
  }

  /** A failed batch with creates in it: each create again alone with its event, the other events together. */
  private async apart(batch: Queued<Entry>[], err: unknown): Promise<void> {
    const creates = batch.filter((q) => q.item.create);
    const plain = batch.filter((q) => !q.item.create);
    if (creates.length === 0 || batch.length === 1) {
      for (const q of batch) q.reject(err);
      return;
    }
    const settle = (qs: Queued<Entry>[]) =>
      this.write(qs.map((q) => q.item)).then(
        () => qs.forEach((q) => q.resolve()),
        (e: unknown) => qs.forEach((q) => q.reject(e))
      );
    if (plain.length) await settle(plain);
    for (const q of creates) await settle([q]);
  }

  /**
   * Appends in one statement, which commits on its own: the head moves from the seq this process believes it
   * has to the new one, and the records (and the creates that came with them) go in only if it did. When another process appended in between, the
   * head is read again and the chain recomputed.
   */
  private async write(entries: Entry[]): Promise<void> {
    const events = entries.map((e) => e.event);
    const creates = entries.flatMap((e) => (e.create ? [e.create] : []));
    const recorded = new Date().toISOString();
    const resources: Stored[] = events.map((e) => ({
      ...e,
      id: randomUUID(),
      recorded: e.recorded ?? recorded,
      meta: { versionId: '1', lastUpdated: recorded },
    }));
    const contents = resources.map((r) => JSON.stringify(r));
    const split = resources.map((r) => splitTerms(auditTerms(r)));
    const shapes = await this.shapes.ids(split);
    const own = split.map((t) => JSON.stringify(t.own));
    for (let race = 0; race < MAX_HEAD_RACES; race++) {
      const head = this.head ?? (await this.readHead());
      let seq = head.seq;
      let prev = head.hash;
      const records: string[] = [];
      for (let k = 0; k < contents.length; k++) {
        const hash = chainHash(prev, contents[k]!);
        records.push(recordJson(++seq, resources[k]!, prev, hash, contents[k]!, shapes[k]!, own[k]!));
        prev = hash;
      }
      const sql = this.sql;
      const move = sql`UPDATE audit_head SET seq = ${seq}, hash = ${prev}
        WHERE id = 1 AND seq = ${head.seq} RETURNING 1`;
      // One JSON document for the whole batch: the json type keeps each record's content as the very text that was
      // hashed, and one parameter costs far less to send than six escaped text arrays.
      const append = sql`
        a AS (SELECT * FROM json_to_recordset(${'[' + records.join(',') + ']'}::text::json)
          AS x(seq bigint, id text, recorded timestamptz, prev text, hash text, content json, shape int, terms json)
          WHERE EXISTS (SELECT 1 FROM g)),
        ins AS (INSERT INTO audit_log (seq, id, recorded, content, prev_hash, hash)
          SELECT seq, id, recorded, content::text, decode(prev, 'hex'), decode(hash, 'hex') FROM a),
        idx AS (INSERT INTO audit_search (seq, shape, terms)
          SELECT seq, shape, ARRAY(SELECT json_array_elements_text(terms)) FROM a),`;
      const moved = creates.length
        ? await writeNewResources(sql, creates, move, append)
        : (
            await sql<{ moved: boolean }[]>`WITH g AS (${move}), ${append} x AS (SELECT 1)
            SELECT EXISTS (SELECT 1 FROM g) AS moved`
          )[0]?.moved === true;
      if (moved) {
        this.head = { seq, hash: prev };
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

/**
 * Indexes the records that migration 0017 found without search terms (appended, not yet projected, by the
 * gateway before it): once, by the first process to start; the others wait on the marker's row lock.
 */
export async function indexUnindexedRecords(sql: Sql): Promise<number> {
  return sql.begin(async (tx) => {
    const [marker] = await tx`SELECT 1 FROM audit_backfill WHERE id = 1 FOR UPDATE`;
    if (!marker) return 0;
    const shapes = new AuditShapes(tx as unknown as Sql);
    let indexed = 0;
    for (;;) {
      const rows = await tx<{ seq: string; content: string }[]>`
        SELECT l.seq, l.content FROM audit_log l
        WHERE NOT EXISTS (SELECT 1 FROM audit_search s WHERE s.seq = l.seq) ORDER BY l.seq LIMIT ${BACKFILL_BATCH}`;
      if (rows.length === 0) break;
      const split = rows.map((r) => splitTerms(auditTerms(JSON.parse(r.content))));
      const ids = await shapes.ids(split);
      await tx`INSERT INTO audit_search (seq, shape, terms)
        SELECT x.seq, x.shape, ARRAY(SELECT jsonb_array_elements_text(x.terms::jsonb))
        FROM unnest(${rows.map((r) => r.seq)}::bigint[], ${ids}::int[],
                    ${split.map((t) => JSON.stringify(t.own))}::text[]) AS x(seq, shape, terms)`;
      indexed += rows.length;
    }
    await tx`DELETE FROM audit_backfill WHERE id = 1`;
    return indexed;
  });
}

/** One record of an append as JSON; `content` and `own` (its own terms) are JSON texts already. */
function recordJson(seq: number, r: Stored, prev: Buffer, hash: Buffer, content: string, shape: number, own: string) {
  return (
    `{"seq":${seq},"id":"${r.id}","recorded":${JSON.stringify(r.recorded)},"prev":"${prev.toString('hex')}",` +
    `"hash":"${hash.toString('hex')}","content":${content},"shape":${shape},"terms":${own}}`
  );
}

export function chainHash(prev: Buffer, content: string): Buffer {
  return createHash('sha256').update(prev).update(content, 'utf8').digest();
}
