/**
 * @module access/rate-limit — per-client token buckets: `burst` requests at once, refilled at `perMinute`.
 * Over the limit → 429 with `Retry-After` (RFC 6585). Per process: several gateway processes each allow the rate.
 */
import { OperationOutcomeError } from '@medplum/core';
import type { MiddlewareHandler } from 'hono';
import { outcome } from '../outcome.ts';
import type { AccessEnv } from './guard.ts';

type Bucket = { tokens: number; at: number };

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly burst: number;

  constructor(perMinute: number, burst: number) {
    this.perMs = perMinute / 60_000;
    this.burst = burst;
  }

  /** Takes one request from `key`'s bucket; returns 0 when allowed, else the seconds until one is available. */
  take(key: string, now = Date.now()): number {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    this.buckets.set(key, b);
    if (this.buckets.size > 10_000) this.sweep(now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000));
  }

  private sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * this.perMs >= this.burst) this.buckets.delete(k);
  }
}

export function rateLimit(limiter: RateLimiter | undefined): MiddlewareHandler<AccessEnv> {
  return async (c, next) => {
    const wait = limiter?.take(c.get('principal').clientId) ?? 0;
    if (wait > 0) {
      const err = new OperationOutcomeError(outcome('throttled', `Too many requests for this client: retry in ${wait} s`));
      Object.assign(err, { status: 429, headers: { 'Retry-After': String(wait) } });
      throw err;
    }
    await next();
  };
}
