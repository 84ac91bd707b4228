/**
 * The circuit breaker's bookkeeping when sends overlap: a send let through before the circuit opened that fails
 * late must not restart the wait nor let a second half-open trial through.
 */
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/outbound/circuit-breaker.ts';

describe('CircuitBreaker with overlapping sends', () => {
  it('ignores a late failure of a send admitted before it opened', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failures: 1, resetMs: 1000, now: () => now });
    const a = breaker.acquire();
    const b = breaker.acquire();
    expect([a.ok, b.ok]).toEqual([true, true]);
    breaker.failure(a as { ok: true; trial: boolean }); // opens at 0
    now = 1000;
    const trial = breaker.acquire();
    expect(trial).toEqual({ ok: true, trial: true });
    breaker.failure(b as { ok: true; trial: boolean }); // late, from before: says nothing new
    expect(breaker.state).toBe('half-open');
    expect(breaker.acquire().ok).toBe(false); // the trial still holds the only place
    breaker.failure(trial as { ok: true; trial: boolean });
    expect(breaker.state).toBe('open'); // the trial's failure re-opens it, from now
    now = 1999;
    expect(breaker.acquire().ok).toBe(false);
    now = 2000;
    expect(breaker.acquire()).toEqual({ ok: true, trial: true });
  });

  it('closes on any answer, the trial included', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failures: 2, resetMs: 10, now: () => now });
    breaker.failure({ trial: false });
    breaker.failure({ trial: false });
    expect(breaker.state).toBe('open');
    now = 10;
    expect(breaker.acquire()).toEqual({ ok: true, trial: true });
    breaker.success();
    expect(breaker.state).toBe('closed');
  });
});
