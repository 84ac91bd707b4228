/**
 * The outbox worker's retry delay (src/outbound/outbox-worker.ts): base × 2^attempts, capped at `maxDelayMs`,
 * times a jitter factor in [0.5, 1) drawn from the injectable `random` — so a partner coming back is not hit by
 * every queued retry at the same instant, and a long outage never waits longer than the cap.
 */
import { describe, expect, it } from 'vitest';
import { RETRY_DEFAULTS, retryDelay, type RetryTiming } from '../../src/outbound/outbox-worker.ts';

function delays(timing: Partial<RetryTiming> = {}): (attempts: number) => number {
  return (attempts) => retryDelay(attempts, { ...RETRY_DEFAULTS, ...timing });
}

describe('the retry delay', () => {
  it('doubles with every attempt (the jitter held still)', () => {
    const delay = delays({ baseDelayMs: 100, random: () => 0.5 });
    // factor 0.5 + 0.5 / 2 = 0.75
    expect([0, 1, 2, 3, 4, 5].map(delay)).toEqual([75, 150, 300, 600, 1200, 2400]);
  });

  it('has jitter between half the exponential step and just under the whole of it', () => {
    const low = delays({ baseDelayMs: 1000, random: () => 0 });
    const high = delays({ baseDelayMs: 1000, random: () => 0.999_999 });
    for (const attempts of [0, 1, 2, 3, 6]) {
      const step = 1000 * 2 ** attempts;
      expect(low(attempts)).toBe(step / 2);
      expect(high(attempts)).toBeLessThanOrEqual(step);
      expect(high(attempts)).toBeGreaterThan(step * 0.99);
    }
  });

  it('spreads retries over the whole jitter range with the real random source', () => {
    const delay = delays({ baseDelayMs: 1000 });
    const samples = Array.from({ length: 400 }, () => delay(3));
    for (const d of samples) {
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(8000);
    }
    // Not one instant for everybody: the samples cover most of [4000, 8000).
    expect(new Set(samples).size).toBeGreaterThan(100);
    expect(Math.max(...samples) - Math.min(...samples)).toBeGreaterThan(3000);
  });

  it('never exceeds the cap, however many attempts, and stays a finite number', () => {
    const high = delays({ baseDelayMs: 1000, maxDelayMs: 60_000, random: () => 0.999_999 });
    const low = delays({ baseDelayMs: 1000, maxDelayMs: 60_000, random: () => 0 });
    for (const attempts of [6, 7, 10, 31, 1000]) {
      expect(high(attempts)).toBeLessThanOrEqual(60_000);
      expect(low(attempts)).toBe(30_000);
      expect(Number.isFinite(high(attempts))).toBe(true);
    }
    // Below the cap the step is still exponential: 32 s at attempt 5, the cap from attempt 6 on.
    expect(high(5)).toBeGreaterThan(31_000);
    expect(high(5)).toBeLessThanOrEqual(32_000);
  });

  it('defaults to 1 s doubling, capped at 5 minutes', () => {
    const delay = delays({ random: () => 0 });
    expect(delay(0)).toBe(500);
    expect(delay(1)).toBe(1000);
    expect(delay(20)).toBe(150_000);
  });
});
