/**
 * @module store/read-batch — reads by id that arrive in the same turn of the event loop share one statement; the
 * single-row reads of the current version (plain, and locked for a write) beside them.
 *
 * Under load most of what a read by id costs is per statement, not per row: postgres.js building and sending the
 * query (a socket write that wakes a backend), the backend planning it, the answer's framing. Requests read from
 * several sockets in one turn of the event loop each ask for one row; they are sent together, as one statement over
 * the keys, once the turn's I/O callbacks have run. Nothing waits beyond the current turn, and each statement starts
 * after every read it answers was asked, so a read still sees every commit that preceded it. A lone read keeps its
 * own primary-key statement. Batches do not wait for one another: reads carry no order.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';

/** The current row of a resource, deleted or not. */
export type CurrentRow = { version_id: string; deleted: boolean; content: Resource | null; last_updated: Date };
type Asked = { type: string; id: string; resolve: (row: CurrentRow | undefined) => void; reject: (e: unknown) => void };

/** Enough for a busy turn; small enough that one statement stays cheap to plan. */
const MAX_BATCH = 100;

export class ReadBatcher {
  private readonly sql: Sql;
  private queue: Asked[] = [];

  constructor(sql: Sql) {
    this.sql = sql;
  }

  /** The current row of `type/id`, or undefined when there is none. */
  read(type: string, id: string): Promise<CurrentRow | undefined> {
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ type, id, resolve, reject });
    });
  }

  private flush(): void {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.rowsOf(batch).then(
        (rows) => batch.forEach((a, k) => a.resolve(rows[k])),
        (err: unknown) => batch.forEach((a) => a.reject(err))
      );
    }
  }

  /** The rows in the order asked (a key asked twice gets a row of its own each time: callers may change them). */
  private async rowsOf(batch: Asked[]): Promise<(CurrentRow | undefined)[]> {
    if (batch.length === 1) return [await readCurrent(this.sql, batch[0]!.type, batch[0]!.id)];
    const rows = await this.sql<(CurrentRow & { n: string })[]>`
      SELECT k.n, r.version_id, r.deleted, r.content, r.last_updated
      FROM unnest(${batch.map((a) => a.type)}::text[], ${batch.map((a) => a.id)}::text[]) WITH ORDINALITY AS k(t, i, n)
      JOIN resource r ON r.resource_type = k.t AND r.id = k.i`;
    const out: (CurrentRow | undefined)[] = new Array(batch.length);
    for (const { n, ...row } of rows) out[Number(n) - 1] = row;
    return out;
  }
}

/** The current row of one resource, deleted or not, by its primary key. */
export async function readCurrent(sql: Sql, type: string, id: string): Promise<CurrentRow | undefined> {
  const [row] = await sql<CurrentRow[]>`
    SELECT version_id, deleted, content, last_updated FROM resource WHERE resource_type = ${type} AND id = ${id}`;
  return row;
}

/** The same row, locked until the end of the caller's transaction: what an update or a delete writes over. */
export async function lockCurrent(sql: Sql, type: string, id: string): Promise<CurrentRow | undefined> {
  const [row] = await sql<CurrentRow[]>`
    SELECT version_id, deleted, content, last_updated FROM resource
    WHERE resource_type = ${type} AND id = ${id} FOR UPDATE`;
  return row;
}

const batchers = new WeakMap<Sql, ReadBatcher>();

/** The read batcher of a connection pool (one per pool, shared by every repository on it). */
export function readBatcherFor(sql: Sql): ReadBatcher {
  let b = batchers.get(sql);
  if (!b) batchers.set(sql, (b = new ReadBatcher(sql)));
  return b;
}
