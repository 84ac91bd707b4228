/**
 * @module store/create-batch — plain creates that arrive together share one statement and one commit.
 *
 * A create outside a transaction (POST of a resource no change hook watches) is one statement on its own: its
 * current row, history row and search rows, committed before the answer. Under load most of that statement's cost
 * is per statement — the round trip, planning, the commit — not per row. So creates queue here; one flush at a time
 * takes everything queued and writes it with one multi-row statement (store/write.ts `writeNewResources`), and each
 * caller is answered once that statement has committed: the guarantee of one create's own commit, at a share of the
 * cost. Nothing waits for company: a create arriving alone is flushed at once. A failed batch (one resource's id
 * taken, a value PostgreSQL refuses) is written again one by one, so each caller gets its own answer.
 */
import type { Sql } from 'postgres';
import { writeNewResources, type NewResource } from './write.ts';

type Pending = { item: NewResource; resolve: () => void; reject: (err: unknown) => void };

/** Enough to carry the load of the busiest moment, small enough that one statement stays cheap to plan and send. */
const MAX_BATCH = 200;

export class CreateBatcher {
  private readonly sql: Sql;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  /** Resolves once `item` is committed; rejects with the error its own write met. */
  write(item: NewResource): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        await writeNewResources(this.sql, batch.map((p) => p.item));
        for (const p of batch) p.resolve();
      } catch (err) {
        if (batch.length === 1) batch[0]!.reject(err);
        else await Promise.all(batch.map((p) => writeNewResources(this.sql, [p.item]).then(p.resolve, p.reject)));
      }
    }
    this.flushing = undefined;
  }
}

const batchers = new WeakMap<Sql, CreateBatcher>();

/** The batcher of a connection pool (one per pool, shared by every repository on it). */
export function batcherFor(sql: Sql): CreateBatcher {
  let b = batchers.get(sql);
  if (!b) batchers.set(sql, (b = new CreateBatcher(sql)));
  return b;
}
