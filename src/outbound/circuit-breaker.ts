/**
 * @module outbound/circuit-breaker — stops calling a payer that is down. After `failures` consecutive outages
 * (unreachable, timeout, 5xx) the circuit opens and sends fail at once for `resetMs`, so a front desk gets an
 * immediate answer instead of waiting out the 20 s real-time limit (CAQH CORE 156) on every check; then one trial
 * send is let through (half-open): success closes the circuit, an outage opens it again.
 */

export type Clock = () => number;

export type CircuitState = 'closed' | 'open' | 'half-open';

/** Either permission to send, or how long the circuit stays open. */
/** `trial`: the one send let through while half-open; its result alone decides whether the circuit re-opens. */
export type CircuitPermit = { ok: true; trial: boolean } | { ok: false; retryInMs: number };

export class CircuitBreaker {
  readonly failures: number;
  readonly resetMs: number;
  readonly #now: Clock;
  #consecutive = 0;
  #openedAt: number | undefined;
  #trialInFlight = false;

  constructor(options: { failures: number; resetMs: number; now?: Clock }) {
    if (!(options.failures >= 1)) throw new Error('circuit.failures must be at least 1');
    if (!(options.resetMs >= 0)) throw new Error('circuit.resetMs must not be negative');
    this.failures = options.failures;
    this.resetMs = options.resetMs;
    this.#now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    if (this.#openedAt === undefined) return 'closed';
    return this.#now() - this.#openedAt >= this.resetMs ? 'half-open' : 'open';
  }

  /**
   * Asks to send. In half-open only one caller gets through; the others are told to wait, because a payer
   * that is just coming back should not be hit by every queued check at once.
   */
  acquire(): CircuitPermit {
    const state = this.state;
    if (state === 'closed') return { ok: true, trial: false };
    if (state === 'half-open' && !this.#trialInFlight) {
      this.#trialInFlight = true;
      return { ok: true, trial: true };
    }
    const waited = this.#now() - (this.#openedAt ?? 0);
    return { ok: false, retryInMs: Math.max(0, this.resetMs - waited) };
  }

  /** The payer answered (whatever it said): it is up, so the outage count starts again and the circuit closes. */
  success(): void {
    this.#consecutive = 0;
    this.#openedAt = undefined;
    this.#trialInFlight = false;
  }

  /**
   * The payer could not be reached or failed (timeout, 5xx): an outage. A failed half-open trial re-opens the
   * circuit too, as the count is only reset by an answer.
   */
  failure(permit?: { trial: boolean }): void {
    // A send let through before the circuit opened that fails late says nothing new: it must neither restart the
    // wait nor free the half-open trial's place (which would let a second trial through).
    if (this.#openedAt !== undefined && !permit?.trial) return;
    this.#consecutive++;
    if (permit?.trial || this.#consecutive >= this.failures) this.#openedAt = this.#now();
    if (permit?.trial) this.#trialInFlight = false;
  }
}
