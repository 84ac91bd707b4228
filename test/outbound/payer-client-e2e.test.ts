/**
 * @module test/outbound/payer-client-e2e — the outbound 270 client against real payers on local ports
 * (test/helpers/payer.ts): each mode with its credentials, a real timeout, connections reset before and after the
 * request was sent, and mutual TLS with certificates made for the run.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayerClient, type PayerEndpoint } from '../../src/outbound/payer-client.ts';
import { ENVELOPE, makeCertificates, startPayer, X270, X271, X999, CORE_REQUEST_FIELDS } from '../helpers/payer.ts';
import type { Certificates, TestPayer } from '../helpers/payer.ts';

const clientFor = (url: string, over: Partial<PayerEndpoint> = {}) =>
  new PayerClient({ url, mode: 'x12', timeoutMs: 5000, auth: { type: 'none' }, ...over });

describe('PayerClient end to end against a real local payer', () => {
  let certs: Certificates;
  const payers: TestPayer[] = [];
  const start = async (options: Parameters<typeof startPayer>[0]) => {
    const p = await startPayer(options);
    payers.push(p);
    return p;
  };
  beforeAll(() => {
    certs = makeCertificates();
  });
  afterAll(async () => {
    await Promise.all(payers.map((p) => p.close()));
  });

  it('gets a 271 in x12 mode behind basic auth', async () => {
    const auth = { basic: { username: 'clinic', password: 'pw' } };
    const payer = await start({ mode: 'x12', answer: () => X271, auth });
    const client = clientFor(payer.url, { auth: { type: 'basic', username: 'clinic', password: 'pw' } });
    expect(await client.send(X270, ENVELOPE)).toMatchObject({ ok: true, body: X271, httpStatus: 200 });
    expect(payer.requests.map((r) => [r.headers['content-type'], r.body])).toEqual([['application/edi-x12', X270]]);
    const wrong = clientFor(payer.url, { auth: { type: 'basic', username: 'clinic', password: 'nope' } });
    expect(await wrong.send(X270, ENVELOPE)).toMatchObject({ ok: false, failure: 'auth', httpStatus: 401 });
  });

  it('gets a 271 in json mode with an OAuth token, and a new token after the payer revokes it', async () => {
    const credentials = { clientId: 'fd', clientSecret: 'sec' };
    const payer = await start({ mode: 'json', answer: () => X271, auth: { bearer: credentials } });
    const auth = { type: 'bearer', tokenUrl: payer.tokenUrl, ...credentials } as const;
    const client = clientFor(payer.url, { mode: 'json', auth });
    expect(await client.send(X270, ENVELOPE)).toMatchObject({ ok: true, body: X271 });
    expect(await client.send(X270, ENVELOPE)).toMatchObject({ ok: true, body: X271, attempts: 1 });
    payer.revokeTokens();
    expect(await client.send(X270, ENVELOPE)).toMatchObject({ ok: true, body: X271, attempts: 2 });
    expect(payer.tokenRequests).toHaveLength(2);
    const tokens = payer.requests.map((r) => r.headers.authorization);
    expect(tokens).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-1', 'Bearer token-2']);
    expect(JSON.parse(payer.requests[0]!.body)).toEqual({ x12: X270 });
  });

  it('gets a 271 and a 999 in CORE mode, the payer reading the envelope fields', async () => {
    const payer = await start({ mode: 'core', answer: (x12) => (x12.includes('EQ*30') ? X271 : X999) });
    const client = clientFor(payer.url, { mode: 'core' });
    expect(await client.send(X270, ENVELOPE)).toMatchObject({ ok: true, body: X271 });
    expect(await client.send(X270.replace('EQ*30', 'EQ*98'), ENVELOPE)).toMatchObject({ ok: true, body: X999 });
    expect(payer.requests[0]!.fields).toMatchObject({ ...CORE_REQUEST_FIELDS, Payload: X270 });
  });

  it('answers timeout against a real payer that is too slow, and closes the connection', async () => {
    const payer = await start({ mode: 'x12', answer: () => X271, delayMs: 3000 });
    const client = clientFor(payer.url, { timeoutMs: 300 });
    const t0 = Date.now();
    expect(await client.send(X270, ENVELOPE)).toMatchObject({ ok: false, failure: 'timeout', attempts: 1 });
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('tries again when the connection is reset before the request could be sent (in the TLS handshake)', async () => {
    let connections = 0;
    const resetter = createServer((socket) => {
      connections++;
      socket.resetAndDestroy();
    });
    await new Promise<void>((r) => resetter.listen(0, '127.0.0.1', r));
    const { port } = resetter.address() as AddressInfo;
    try {
      const result = await clientFor(`https://127.0.0.1:${port}/`).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'unreachable', attempts: 3 });
      expect(connections).toBe(3);
    } finally {
      await new Promise((r) => resetter.close(r));
    }
  });

  it('does not repeat a check when the connection breaks after the request was sent', async () => {
    let received = 0;
    // A payer that reads the 270 and then drops the connection without answering.
    const dropper = createHttpServer((req, res) => {
      received++;
      req.resume();
      req.on('end', () => res.socket?.resetAndDestroy());
    });
    await new Promise<void>((r) => dropper.listen(0, '127.0.0.1', r));
    const { port } = dropper.address() as AddressInfo;
    try {
      const result = await clientFor(`http://127.0.0.1:${port}/`).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'unreachable', attempts: 1 });
      expect(received).toBe(1);
    } finally {
      dropper.closeAllConnections();
      await new Promise((r) => dropper.close(r));
    }
  });

  describe('mutual TLS', () => {
    const mtls = (payer: TestPayer, client: { cert: string; key: string }, ca = certs.ca) =>
      clientFor(payer.url, { auth: { type: 'mtls', ...client, ca } });

    it('gets a 271 presenting the gateway’s client certificate', async () => {
      const payer = await start({ mode: 'x12', answer: () => X271, tls: { ...certs.server, ca: certs.ca } });
      expect(await mtls(payer, certs.client).send(X270, ENVELOPE)).toMatchObject({ ok: true, body: X271 });
      expect(payer.requests).toHaveLength(1);
    });

    it('answers auth when the payer demands a client certificate the gateway lacks (TLS alert 116)', async () => {
      const payer = await start({ mode: 'x12', answer: () => X271, tls: { ...certs.server, ca: certs.ca } });
      const result = await mtls(payer, { cert: '', key: '' }).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'auth', attempts: 1 });
      const message = "The payer refused the gateway's certificate; ask the administrator to check the payer settings";
      expect(!result.ok && result.message).toBe(message);
      expect(payer.requests).toHaveLength(0);
    });

    it('does not repeat a check when a payer hangs up on a certificate of another CA after the handshake', async () => {
      // Node's TLS server drops such a connection without an alert, so the client cannot tell it from a crash.
      const payer = await start({ mode: 'x12', answer: () => X271, tls: { ...certs.server, ca: certs.ca } });
      const result = await mtls(payer, certs.stranger).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'unreachable', attempts: 1 });
      expect(payer.requests).toHaveLength(0);
    });

    it('does not talk to a server whose certificate the configured CA did not sign', async () => {
      const payer = await start({ mode: 'x12', answer: () => X271, tls: { ...certs.server, ca: certs.ca } });
      const result = await mtls(payer, certs.client, certs.stranger.cert).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'unreachable' });
      expect(!result.ok && result.message).toContain("payer's certificate could not be verified");
      expect(payer.requests).toHaveLength(0);
    });
  });
});
