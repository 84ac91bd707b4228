/**
 * @module test/outbound/payer-client-resilience — the outbound 270 client when payers are slow or failing: the
 * CORE real-time deadline, which failures are retried (only those that cannot repeat a check), and the circuit
 * breaker that answers at once while a payer is down. Payers are simulated with msw.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { http, HttpResponse, delay } from 'msw';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PayerClient } from '../../src/outbound/payer-client.ts';
import { ENVELOPE, mockPayers, X270, X271, PAYER_URL, payerEndpoint, TOKEN_URL } from '../helpers/payer.ts';

const URL_ = PAYER_URL;
const endpoint = payerEndpoint;
const status = (code: number, headers: Record<string, string> = {}) =>
  new HttpResponse(null, { status: code, headers });
const closedPort = async (): Promise<number> => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
};

const server = mockPayers();
beforeAll(() => server.start());
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

describe('PayerClient when payers are slow or failing', () => {
  describe('deadline and retries', () => {
    it('answers timeout after about timeoutMs when the payer is slower', async () => {
      server.use(http.post(URL_, async () => (await delay(10_000), HttpResponse.text(X271))));
      const t0 = Date.now();
      const result = await new PayerClient(endpoint({ timeoutMs: 300 })).send(X270, ENVELOPE);
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(result).toMatchObject({ ok: false, failure: 'timeout', attempts: 1 });
      expect(result.ms).toBeGreaterThanOrEqual(290);
      expect(!result.ok && result.message).toBe('The payer did not answer within 0.3 seconds; try again later');
    });

    it('counts the token request against the same deadline', async () => {
      server.use(http.post(TOKEN_URL, async () => (await delay(10_000), HttpResponse.json({ access_token: 't' }))));
      const auth = { type: 'bearer', tokenUrl: TOKEN_URL, clientId: 'c', clientSecret: 's' } as const;
      const t0 = Date.now();
      const result = await new PayerClient(endpoint({ timeoutMs: 300, auth })).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'timeout' });
      expect(Date.now() - t0).toBeLessThan(1500);
    });

    it('returns a slow answer that arrives within the limit', async () => {
      server.use(http.post(URL_, async () => (await delay(300), HttpResponse.text(X271))));
      const result = await new PayerClient(endpoint({ timeoutMs: 2000 })).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: true, body: X271, attempts: 1 });
      expect(result.ms).toBeGreaterThanOrEqual(290);
    });

    it('does not send again after a 500 without Retry-After: the payer may have run the check', async () => {
      let calls = 0;
      server.use(http.post(URL_, () => (calls++, new HttpResponse('oops', { status: 500 }))));
      const result = await new PayerClient(endpoint()).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'http-error', httpStatus: 500, attempts: 1 });
      expect(!result.ok && result.message).toBe("The payer's system is unavailable (HTTP 500); try again later");
      expect(calls).toBe(1);
    });

    it.each([
      ['0', '0'],
      ['an HTTP date already past', new Date(Date.now() - 5000).toUTCString()],
    ])('sends again after a 503 with Retry-After: %s and returns the answer', async (_what, retryAfter) => {
      let calls = 0;
      server.use(
        http.post(URL_, () =>
          ++calls === 1 ? status(503, { 'retry-after': retryAfter }) : HttpResponse.text(X271)
        )
      );
      const result = await new PayerClient(endpoint()).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: true, body: X271, attempts: 2 });
      expect(calls).toBe(2);
    });

    it('does not wait for a Retry-After that ends beyond the deadline', async () => {
      let calls = 0;
      const later = new Date(Date.now() + 60_000).toUTCString();
      server.use(http.post(URL_, () => (calls++, status(503, { 'retry-after': later }))));
      const t0 = Date.now();
      const result = await new PayerClient(endpoint({ timeoutMs: 2000 })).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'http-error', httpStatus: 503, attempts: 1 });
      expect(calls).toBe(1);
      expect(Date.now() - t0).toBeLessThan(1000);
    });

    it('stops after `retries` extra attempts when the payer keeps asking to retry', async () => {
      let calls = 0;
      server.use(http.post(URL_, () => (calls++, status(503, { 'retry-after': '0' }))));
      const result = await new PayerClient(endpoint({ retries: 1 })).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'http-error', httpStatus: 503, attempts: 2 });
      expect(calls).toBe(2);
    });

    it('does not send again after a 4xx', async () => {
      let calls = 0;
      server.use(http.post(URL_, () => (calls++, status(400, { 'retry-after': '0' }))));
      const result = await new PayerClient(endpoint()).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'http-error', httpStatus: 400 });
      expect(calls).toBe(1);
    });

    it('tries a refused connection again with a backoff, then answers unreachable', async () => {
      const port = await closedPort();
      const client = new PayerClient(endpoint({ url: `http://127.0.0.1:${port}/eligibility` }));
      const result = await client.send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'unreachable', attempts: 3 });
      expect(result.ms).toBeGreaterThanOrEqual(490); // 100 ms + 400 ms
      expect(!result.ok && result.message).toBe("The payer's system could not be reached; try again later");
    });
  });

  describe('circuit breaker', () => {
    const failing = () => {
      const state = { calls: 0, status: 500 };
      const answer = () => (state.status === 200 ? HttpResponse.text(X271) : status(state.status));
      server.use(http.post(URL_, () => (state.calls++, answer())));
      return state;
    };

    it('opens after N consecutive outages and then answers circuit-open without calling the payer', async () => {
      const payer = failing();
      let now = 0;
      const client = new PayerClient(endpoint({ circuit: { failures: 3, resetMs: 30_000 } }), { now: () => now });
      for (let i = 0; i < 3; i++) expect(await client.send(X270, ENVELOPE)).toMatchObject({ failure: 'http-error' });
      now += 1000;
      const result = await client.send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'circuit-open', attempts: 0 });
      const message = 'Eligibility checks to this payer are paused for 29 s after repeated failures; try again then';
      expect(!result.ok && result.message).toBe(message);
      expect(payer.calls).toBe(3);
    });

    it('lets one trial through after resetMs: success closes the circuit', async () => {
      const payer = failing();
      let now = 0;
      const client = new PayerClient(endpoint({ circuit: { failures: 2, resetMs: 10_000 } }), { now: () => now });
      await client.send(X270, ENVELOPE);
      await client.send(X270, ENVELOPE);
      now += 9_999;
      expect(await client.send(X270, ENVELOPE)).toMatchObject({ failure: 'circuit-open' });
      now += 1;
      payer.status = 200;
      // Half-open: of two checks arriving together, one is the trial and the other still waits.
      const [a, b] = await Promise.all([client.send(X270, ENVELOPE), client.send(X270, ENVELOPE)]);
      expect([a.ok, !b.ok && b.failure]).toEqual([true, 'circuit-open']);
      expect(await client.send(X270, ENVELOPE)).toMatchObject({ ok: true });
      expect(payer.calls).toBe(4);
    });

    it('opens again at once when the half-open trial fails', async () => {
      const payer = failing();
      let now = 0;
      const client = new PayerClient(endpoint({ circuit: { failures: 2, resetMs: 10_000 } }), { now: () => now });
      await client.send(X270, ENVELOPE);
      await client.send(X270, ENVELOPE);
      now += 10_000;
      expect(await client.send(X270, ENVELOPE)).toMatchObject({ failure: 'http-error', httpStatus: 500 });
      expect(await client.send(X270, ENVELOPE)).toMatchObject({ failure: 'circuit-open' });
      expect(payer.calls).toBe(3);
    });

    it('does not count 4xx, auth or unreadable answers as an outage', async () => {
      const payer = failing();
      const client = new PayerClient(endpoint({ circuit: { failures: 2, resetMs: 10_000 } }));
      for (const status of [400, 401, 404]) {
        payer.status = status;
        await client.send(X270, ENVELOPE);
      }
      server.use(http.post(URL_, () => (payer.calls++, HttpResponse.html('<p>hi</p>'))));
      await client.send(X270, ENVELOPE);
      await client.send(X270, ENVELOPE);
      expect(payer.calls).toBe(5);
    });
  });
});
