/**
 * @module store/create-batch — plain creates that arrive together share one statement and one commit.
 *
 * A create outside a transaction (POST of a resource no change hook watches) is one statement on its own: its
 * current row, history row and search rows, committed before the answer. Under load most of that statement's cost
 * is per statement — the round trip, planning, the commit — not per row. So creates are group-committed
 * (./group-commit.ts) with the multi-row `writeNewResources` (./write.ts), and each caller is answered once that
 * statement has committed: the guarantee of one create's own commit, at a share of the cost. A failed batch (one
 * resource's id taken, a value PostgreSQL refuses) is written again one by one, so each caller gets its own answer.
 */
import type { Sql } from 'postgres';
import { GroupCommit } from './group-commit.ts';
import { writeNewResources, type NewResource } from './write.ts';

/** Enough to carry the load of the busiest moment, small enough that one statement stays cheap to plan and send. */
const MAX_BATCH = 200;

export class CreateBatcher {
  private readonly commits: GroupCommit<NewResource>;

  constructor(sql: Sql) {
    this.commits = new GroupCommit<NewResource>(
      async (items) => void (await writeNewResources(sql, items)),
      MAX_BATCH,
      async (batch, err) => {
        if (batch.length === 1) batch[0]!.reject(err);
        else await Promise.all(batch.map((q) => writeNewResources(sql, [q.item]).then(q.resolve, q.reject)));
      }
    );
  }

  /** Resolves once `item` is committed; rejects with the error its own write met. */
  write(item: NewResource): Promise<void> {
    return this.commits.add(item);
  }
}

const batchers = new WeakMap<Sql, CreateBatcher>();

/** The batcher of a connection pool (one per pool, shared by every repository on it). */
export function batcherFor(sql: Sql): CreateBatcher {
  let b = batchers.get(sql);
  if (!b) batchers.set(sql, (b = new CreateBatcher(sql)));
  return b;
}
