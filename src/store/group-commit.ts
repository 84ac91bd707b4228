/**
 * @module store/group-commit — writes that arrive together share one statement and one commit.
 *
 * Callers queue items; one flush at a time takes everything queued (at most `max`) and writes it with one call of
 * `writeBatch`, then answers every caller of the batch; what arrived meanwhile goes in the next flush. Nothing waits
 * for company beyond the current turn of the event loop: a flush starts once the I/O callbacks of the turn that
 * queued its first item have run, so items that become ready together (the audit records of an HL7 v2 batch, the
 * requests read from several sockets at once) share it instead of the first going alone. A batch that fails is
 * handed to `onFailure`, which settles each item (by default, every caller gets the batch's error).
 */
export type Queued<T> = { item: T; resolve: () => void; reject: (err: unknown) => void };

export class GroupCommit<T> {
  private queue: Queued<T>[] = [];
  private flushing: Promise<void> | undefined;
  private readonly writeBatch: (items: T[]) => Promise<void>;
  private readonly max: number;
  private readonly onFailure: (batch: Queued<T>[], err: unknown) => Promise<void>;

  constructor(
    writeBatch: (items: T[]) => Promise<void>,
    max: number,
    onFailure: (batch: Queued<T>[], err: unknown) => Promise<void> = async (batch, err) => {
      for (const q of batch) q.reject(err);
    }
  ) {
    this.writeBatch = writeBatch;
    this.max = max;
    this.onFailure = onFailure;
  }

  /** Resolves once `item` is committed. */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.flushing ??= new Promise<void>((next) => setImmediate(next)).then(() => this.flush());
    });
  }

  /** Resolves once everything added so far is settled. */
  async settled(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.max);
      try {
        await this.writeBatch(batch.map((q) => q.item));
        for (const q of batch) q.resolve();
      } catch (err) {
        await this.onFailure(batch, err);
      }
    }
    this.flushing = undefined;
  }
}
