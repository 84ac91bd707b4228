/**
 * @module store/changes — what a transaction changed, for the composition root's change hook (the outbound
 * referral and appointment workflows): the changes of watched resource types are collected while the transaction
 * runs and handed to the hook just before it commits, in the same transaction, so whatever the hook writes (an
 * outbox row, a Task) commits or rolls back with the change itself. The store knows no workflow: it calls the hook
 * it was given.
 *
 * A resource changed several times in one transaction (a FHIR transaction Bundle, a message that creates then links
 * it) is one change: its state before the transaction and after it. The hook sees the whole transaction's writes,
 * whatever their order in a Bundle.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Repository } from './repository.ts';

/** One resource's change: absent `before` is a creation, absent `after` a deletion. */
export type Change = { type: string; id: string; before?: Resource; after?: Resource };

/** Who made the change when it is not a FHIR client: the sender of the message being applied (MSH-3/MSH-4). */
export type Origin = { application?: string; facility?: string; partner?: string };

export type ChangeHook = {
  /** The resource types whose changes the hook is given. */
  types: ReadonlySet<string>;
  /** Runs inside the transaction, before it commits; a throw rolls the whole transaction back. */
  changed(tx: Repository, change: Change): Promise<void>;
};

/** A hook writing what it watches could feed itself forever: beyond this many rounds the transaction fails. */
const MAX_ROUNDS = 8;

export class ChangeLog {
  private pending = new Map<string, Change>();
  private readonly after: (() => void)[] = [];
  private readonly hook: ChangeHook | undefined;

  constructor(hook: ChangeHook | undefined) {
    this.hook = hook;
  }

  watches(type: string): boolean {
    return this.hook?.types.has(type) ?? false;
  }

  record(c: Change): void {
    if (!this.watches(c.type)) return;
    const key = `${c.type}/${c.id}`;
    const earlier = this.pending.get(key);
    this.pending.set(key, earlier ? { ...c, before: earlier.before } : c);
  }

  /** Runs after the commit (never after a rollback): wakes what waits for the hook's writes. */
  afterCommit(fn: () => void): void {
    this.after.push(fn);
  }

  /** Hands every change to the hook; changes the hook makes itself get their own round. */
  async drain(tx: Repository): Promise<void> {
    for (let round = 0; this.pending.size > 0; round++) {
      if (round >= MAX_ROUNDS) throw new Error(`change hook still writing what it watches after ${MAX_ROUNDS} rounds`);
      const batch = [...this.pending.values()];
      this.pending = new Map();
      for (const c of batch) await this.hook?.changed(tx, c);
    }
  }

  committed(): void {
    for (const fn of this.after.splice(0)) fn();
  }
}
