/**
 * The group-commit queue (src/store/group-commit.ts) under the audit trail and plain creates: items ready in one
 * turn of the event loop share one write, items arriving during a write go into the next, each caller is answered
 * after the write that holds its item, and a failed write reaches every caller of its batch.
 */
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/store/group-commit.ts';

/** A writer that records each batch and finishes when the test says so. */
function gatedWriter() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const write = (items: number[]) => {
    batches.push(items);
    return new Promise<void>((resolve) => gates.push(resolve));
  };
  const open = async () => {
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    (gates.shift() as () => void)();
  };
  return { batches, write, open };
}

describe('GroupCommit', () => {
  it('writes the items added in one turn together, and those added during a write in the next', async () => {
    const w = gatedWriter();
    const commits = new GroupCommit<number>(w.write, 100);
    const answered: number[] = [];
    const first = [1, 2, 3].map((n) => commits.add(n).then(() => void answered.push(n)));
    await new Promise((r) => setImmediate(r));
    const second = [4, 5].map((n) => commits.add(n).then(() => void answered.push(n)));
    expect(w.batches).toEqual([[1, 2, 3]]);
    expect(answered).toEqual([]); // nobody is answered before the write holding its item is done
    await w.open();
    await Promise.all(first);
    expect(answered).toEqual([1, 2, 3]);
    await w.open();
    await Promise.all(second);
    expect(w.batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    await commits.settled();
  });

  it('caps a write at `max` items and fails every caller of a failed batch', async () => {
    const batches: number[][] = [];
    const commits = new GroupCommit<number>(async (items) => {
      batches.push(items);
      if (items.includes(3)) throw new Error('refused');
    }, 2);
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => commits.add(n)));
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
  });
});
