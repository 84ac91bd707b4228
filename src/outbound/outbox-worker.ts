/**
 * @module outbound/outbox-worker — delivers the outbox (store/outbox.ts): the head of each destination's queue,
 * one message in flight per destination, every destination at once.
 *
 * What an answer means is decided here, once: an ACK AA/CA delivers the message; AE/AR (and CE/CR) are the
 * partner's refusal, recorded as `failed` with its reason — sending the same bytes again would be refused again;
 * no usable answer (timeout, connection closed, an ACK for another message) is retried with exponential backoff
 * and jitter (so partners coming back are not hit by every gateway at the same instant) until `maxAttempts` or
 * `maxAgeMs`, then the message is a dead letter (`failed`), and the destination's next message goes. A partner
 * that cannot be reached at all (nothing was written to it) counts against the age only: an office down for the
 * night keeps its queue, in order, rather than turning it into dead letters one by one. The worker wakes on {@link OutboxWorker.kick} (a commit that enqueued) or every `pollMs` (other processes'
 * commits, retry times).
 */
import type { Sql } from 'postgres';
import type { Logger } from '../log.ts';
import { claim, followedUp, pendingFollowUps, settle, type Claimed, type FollowUp } from '../store/outbox.ts';
import type { AckResult } from './mllp-client.ts';

export type Deliver = (row: Claimed) => Promise<AckResult>;

export type OutboxOptions = {
  sql: Sql;
  log: Logger;
  deliver: Deliver;
  /** Called after each attempt's fate is recorded (the audit trail records it). */
  attempted?: (row: Claimed, result: AckResult, fate: 'delivered' | 'failed' | 'retry') => Promise<void>;
  /**
   * What a message's final fate means to the workflow that queued it (a referral's Task). Durable: a fate not yet
   * followed up when the process died is followed up by the next worker to start.
   */
  followUp?: (f: FollowUp) => Promise<void>;
  pollMs?: number;
  /** Longer than a delivery can take (connect + ACK timeout): a lease that runs out gives the row to another worker. */
  leaseMs?: number;
  maxAttempts?: number;
  maxAgeMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
};

export class OutboxWorker {
  private readonly o: Required<Omit<OutboxOptions, 'attempted' | 'followUp'>> & Pick<OutboxOptions, 'attempted' | 'followUp'>;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly followUps = new Set<Promise<void>>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(options: OutboxOptions) {
    this.o = {
      pollMs: 250, leaseMs: 120_000, maxAttempts: 10, maxAgeMs: 24 * 3600_000, ...RETRY_DEFAULTS,
      ...options,
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
    this.detach(this.catchUp());
  }

  /** Something was enqueued (or a destination came free): look now rather than at the next poll. */
  kick(): void {
    this.wake?.();
  }

  /** No new deliveries; the ones in flight end (bounded by their ACK timeout). */
  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
    await Promise.all(this.inFlight.values());
    await Promise.all(this.followUps);
  }

  private async run(): Promise<void> {
    while (this.running) {
      const woken = new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, this.o.pollMs).unref();
      });
      try {
        const rows = await claim(this.o.sql, { leaseMs: this.o.leaseMs, limit: 64, busy: [...this.inFlight.keys()] });
        for (const row of rows) this.startDelivery(row);
      } catch (err) {
        this.o.log.warn({ err: { name: (err as Error).name, code: (err as { code?: string }).code } }, 'outbox claim failed');
      }
      await woken;
    }
  }

  private startDelivery(row: Claimed): void {
    const done = this.deliverOne(row)
      .catch((err: unknown) => {
        // Not recorded: the lease runs out and the row is tried again — nothing is lost, at worst sent twice
        // with one MSH-10.
        this.o.log.warn({ messageId: row.id, err: { name: (err as Error).name } }, 'outbox delivery not recorded');
      })
      .finally(() => {
        this.inFlight.delete(row.destination);
        this.kick();
      });
    this.inFlight.set(row.destination, done);
  }

  private async deliverOne(row: Claimed): Promise<void> {
    const result = await this.o.deliver(row).catch(
      (err: unknown): AckResult => ({ ok: false, kind: 'closed', text: `delivery failed: ${(err as Error).name}`, ms: 0 })
    );
    const fate = this.fateOf(row, result);
    const kept =
      fate === 'retry'
        ? await settle(this.o.sql, row, { status: 'retry', delayMs: this.delay(row.attempts), error: errorOf(result) })
        : await settle(this.o.sql, row, {
            status: fate === 'delivered' ? 'processed' : 'failed',
            ...ackOf(result),
            ...(fate === 'failed' ? { error: reason(row, result, this.o.maxAttempts) } : {}),
          });
    const fields = { messageId: row.id, control: row.controlId, fate, attempt: row.attempts + 1, ms: result.ms };
    if (!kept) return void this.o.log.warn(fields, 'outbox lease lost before the fate was written: another worker has it');
    this.o.log.info(fields, 'outbox delivery');
    // The audit record and what the fate means to workflows (a referral's Task) run after the destination is free:
    // its next message need not wait for them.
    this.detach(
      (this.o.attempted?.(row, result, fate) ?? Promise.resolve()).catch((err: unknown) => {
        this.o.log.warn({ messageId: row.id, err: { name: (err as Error).name } }, 'outbox attempt not audited');
      })
    );
    if (fate !== 'retry' && row.subject) {
      const f = { id: row.id, subject: row.subject, messageType: row.messageType, delivered: fate === 'delivered' };
      this.detach(this.follow({ ...f, reason: fate === 'delivered' ? null : reason(row, result, this.o.maxAttempts) }));
    }
  }

  /** Work after a delivery that does not hold its destination; `stop()` waits for it. */
  private detach(p: Promise<void>): void {
    const tracked = p.finally(() => this.followUps.delete(tracked));
    this.followUps.add(tracked);
  }

  private async follow(f: FollowUp): Promise<void> {
    if (!this.o.followUp) return;
    try {
      await this.o.followUp(f);
      await followedUp(this.o.sql, f.id);
    } catch (err) {
      this.o.log.warn({ messageId: f.id, err: { name: (err as Error).name } }, 'outbox follow-up failed; tried again at the next start');
    }
  }

  /** The fates a stopped process left without their follow-up. */
  private async catchUp(): Promise<void> {
    if (!this.o.followUp) return;
    try {
      for (const f of await pendingFollowUps(this.o.sql, 1000)) await this.follow(f);
    } catch (err) {
      this.o.log.warn({ err: { name: (err as Error).name } }, 'outbox follow-ups not caught up');
    }
  }

  private fateOf(row: Claimed, result: AckResult): 'delivered' | 'failed' | 'retry' {
    if (result.ok) return 'delivered';
    if (result.kind === 'rejected') return 'failed';
    if (Date.now() - row.queuedAt.getTime() >= this.o.maxAgeMs) return 'failed';
    return result.kind !== 'unreachable' && row.attempts + 1 >= this.o.maxAttempts ? 'failed' : 'retry';
  }

  private delay(attempts: number): number {
    return retryDelay(attempts, this.o);
  }
}

export type RetryTiming = { baseDelayMs: number; maxDelayMs: number; random: () => number };
export const RETRY_DEFAULTS: RetryTiming = { baseDelayMs: 1000, maxDelayMs: 300_000, random: Math.random };

/**
 * base × 2^attempts, capped, times a random factor in [0.5, 1): a partner coming back is not hit by every queued
 * retry at the same instant, and a long outage never waits longer than the cap.
 */
export function retryDelay(attempts: number, t: RetryTiming): number {
  const ceiling = Math.min(t.maxDelayMs, t.baseDelayMs * 2 ** Math.min(attempts, 30));
  return Math.round(ceiling * (0.5 + t.random() / 2));
}

function ackOf(result: AckResult): { ack?: string } {
  return 'ack' in result ? { ack: result.ack } : {};
}

function errorOf(result: AckResult): string {
  return result.ok ? '' : result.kind === 'rejected' ? `${result.code}: ${result.text}` : `${result.kind}: ${result.text}`;
}

function reason(row: Claimed, result: AckResult, max: number): string {
  if (result.ok) return '';
  if (result.kind === 'rejected') return errorOf(result);
  return `Dead letter after ${row.attempts + 1} attempt(s) (at most ${max}, or older than allowed): ${errorOf(result)}`;
}
