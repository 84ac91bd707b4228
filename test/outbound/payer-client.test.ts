/**
 * @module test/outbound/payer-client — what each kind of payer receives from the outbound 270 client and how its
 * answer comes back (raw X12, JSON, CAQH CORE multipart), the credentials it presents (basic, OAuth client
 * credentials), and what it logs. Payers are simulated with msw; the end-to-end file uses real sockets.
 */
import { http, HttpResponse, delay } from 'msw';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PayerClient, type PayerLog } from '../../src/outbound/payer-client.ts';
import {
  coreResponse, encodeForm, ENVELOPE, mockPayers, X270, X271, X999, CORE_REQUEST_FIELDS, PAYER_URL, payerEndpoint,
  TOKEN_URL,
} from '../helpers/payer.ts';

const URL_ = PAYER_URL;
const endpoint = payerEndpoint;
/** A CORE payer's answer: an envelope around `payload` (ErrorCode Success unless `fields` says otherwise). */
const coreAnswer = async (payload: string | undefined, fields: Record<string, string> = {}) => {
  const { body, contentType } = await encodeForm(coreResponse(payload, fields));
  return new HttpResponse(body, { headers: { 'content-type': contentType } });
};

const server = mockPayers();
beforeAll(() => server.start());
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

describe('PayerClient: what the payer receives and what comes back', () => {
  describe('answers in each mode', () => {
    it('posts the raw interchange as application/edi-x12 and returns the payer’s 271 (x12 mode)', async () => {
      const seen: { type: string | null; body: string }[] = [];
      server.use(
        http.post(URL_, async ({ request }) => {
          seen.push({ type: request.headers.get('content-type'), body: await request.text() });
          return HttpResponse.text(X271, { headers: { 'content-type': 'application/edi-x12' } });
        })
      );
      const result = await new PayerClient(endpoint()).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: true, body: X271, httpStatus: 200, attempts: 1 });
      expect(seen).toEqual([{ type: 'application/edi-x12', body: X270 }]);
    });

    it('posts {"x12": …} as application/json and returns the x12 of the answer (json mode)', async () => {
      const seen: { type: string | null; json: unknown }[] = [];
      server.use(
        http.post(URL_, async ({ request }) => {
          seen.push({ type: request.headers.get('content-type'), json: await request.json() });
          return HttpResponse.json({ x12: X271, meta: { traceId: 't-1' } });
        })
      );
      const result = await new PayerClient(endpoint({ mode: 'json' })).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: true, body: X271 });
      expect(seen).toEqual([{ type: 'application/json', json: { x12: X270 } }]);
    });

    it('sends a CAQH CORE vC2.2.0 multipart envelope and returns its Payload (core mode)', async () => {
      const seen: { type: string; fields: Record<string, string> }[] = [];
      server.use(
        http.post(URL_, async ({ request }) => {
          const form = await request.formData();
          const fields = Object.fromEntries([...form].map(([k, v]) => [k, String(v)]));
          seen.push({ type: request.headers.get('content-type') ?? '', fields });
          return coreAnswer(X271);
        })
      );
      const before = Date.now();
      const result = await new PayerClient(endpoint({ mode: 'core' })).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: true, body: X271, httpStatus: 200 });
      expect(seen[0]!.type).toMatch(/^multipart\/form-data; ?boundary=.+/);
      const { TimeStamp, ...fields } = seen[0]!.fields;
      expect(fields).toEqual({ ...CORE_REQUEST_FIELDS, Payload: X270 });
      expect(TimeStamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Math.abs(Date.parse(TimeStamp!) - before)).toBeLessThan(5000);
    });

    it('puts basic credentials in the CORE envelope as UserName and Password parts', async () => {
      const seen: Record<string, string>[] = [];
      server.use(
        http.post(URL_, async ({ request }) => {
          seen.push(Object.fromEntries([...(await request.formData())].map(([k, v]) => [k, String(v)])));
          return coreAnswer(X271);
        })
      );
      const auth = { type: 'basic', username: 'clinic01', password: 'pw-from-env' } as const;
      await new PayerClient(endpoint({ mode: 'core', auth })).send(X270, ENVELOPE);
      expect(seen[0]).toMatchObject({ UserName: 'clinic01', Password: 'pw-from-env' });
      await new PayerClient(endpoint({ mode: 'core' })).send(X270, ENVELOPE);
      expect(seen[1]!.UserName).toBeUndefined();
    });

    it('reports a CORE ErrorCode other than Success as bad-response quoting the code, not its message', async () => {
      const error = { ErrorCode: 'PayloadIDIllegal', ErrorMessage: 'member SMITH not found' };
      server.use(http.post(URL_, () => coreAnswer(undefined, error)));
      const result = await new PayerClient(endpoint({ mode: 'core' })).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'bad-response', httpStatus: 200 });
      expect(!result.ok && result.message).toContain('"PayloadIDIllegal"');
      expect(!result.ok && result.message).not.toContain('SMITH');
    });

    it.each([
      ['x12', 'a 200 with an HTML page', () => HttpResponse.html('<html><body>Down: SMITH ROBERT</body></html>')],
      ['json', 'JSON without x12', () => HttpResponse.json({ errors: [{ code: '42' }] })],
      ['json', 'an x12 field that is not X12', () => HttpResponse.json({ x12: 'hello' })],
      ['core', 'a CORE envelope without Payload', () => coreAnswer(undefined)],
      ['core', 'a CORE answer that is not multipart', () => HttpResponse.text(X271)],
    ] as const)('reports %s mode: %s as bad-response, without quoting the body', async (mode, _what, answer) => {
      server.use(http.post(URL_, answer));
      const result = await new PayerClient(endpoint({ mode })).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'bad-response', httpStatus: 200, attempts: 1 });
      expect(!result.ok && result.message).not.toMatch(/SMITH|html|ISA/i);
    });

    it('accepts an X12 answer after a byte-order mark and blank lines, returning it from ISA on', async () => {
      server.use(http.post(URL_, () => HttpResponse.text(`\uFEFF\r\n${X999}`)));
      const result = await new PayerClient(endpoint()).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: true, body: X999 });
    });
  });

  describe('credentials', () => {
    it('sends basic credentials in the Authorization header', async () => {
      const auth: string[] = [];
      server.use(
        http.post(
          URL_,
          ({ request }) => (auth.push(request.headers.get('authorization') ?? ''), HttpResponse.text(X271))
        )
      );
      const client = new PayerClient(endpoint({ auth: { type: 'basic', username: 'clinic-7', password: 'pässwd:1' } }));
      expect((await client.send(X270, ENVELOPE)).ok).toBe(true);
      expect(auth).toEqual([`Basic ${Buffer.from('clinic-7:pässwd:1').toString('base64')}`]);
    });

    /** A token endpoint (client_secret_basic) and a payer that accepts the tokens it issued and not revoked. */
    const oauthPayer = (expiresIn = 3600) => {
      const state = {
        issued: 0,
        tokenRequests: [] as { auth: string; form: Record<string, string> }[],
        payerSaw: [] as string[],
        valid: new Set<string>(),
      };
      server.use(
        http.post(TOKEN_URL, async ({ request }) => {
          const form = Object.fromEntries(new URLSearchParams(await request.text()));
          state.tokenRequests.push({ auth: request.headers.get('authorization') ?? '', form });
          await delay(50); // long enough for concurrent sends to pile up behind one request
          const token = `token-${++state.issued}`;
          state.valid.add(token);
          return HttpResponse.json({ access_token: token, token_type: 'bearer', expires_in: expiresIn });
        }),
        http.post(URL_, ({ request }) => {
          const token = (request.headers.get('authorization') ?? '').replace(/^Bearer /, '');
          state.payerSaw.push(token);
          return state.valid.has(token) ? HttpResponse.text(X271) : new HttpResponse(null, { status: 401 });
        })
      );
      return state;
    };
    const bearer = {
      type: 'bearer',
      tokenUrl: TOKEN_URL,
      clientId: 'fd client',
      clientSecret: 's3cr&t',
      scope: 'eligibility',
    } as const;

    it('fetches one client-credentials token for concurrent sends and reuses it', async () => {
      const state = oauthPayer();
      const client = new PayerClient(endpoint({ auth: bearer }));
      const results = await Promise.all([1, 2, 3].map(() => client.send(X270, ENVELOPE)));
      expect(results.map((r) => r.ok)).toEqual([true, true, true]);
      expect(await client.send(X270, ENVELOPE)).toMatchObject({ ok: true });
      expect(state.tokenRequests).toEqual([
        // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
        {
          auth: `Basic ${Buffer.from('fd+client:s3cr%26t').toString('base64')}`,
          form: { grant_type: 'client_credentials', scope: 'eligibility' },
        },
      ]);
      expect(state.payerSaw).toEqual(['token-1', 'token-1', 'token-1', 'token-1']);
    });

    it('fetches a new token once the cached one is within 30 s of its expiry', async () => {
      const state = oauthPayer(3600);
      let now = 1_000_000;
      const client = new PayerClient(endpoint({ auth: bearer }), { now: () => now });
      await client.send(X270, ENVELOPE);
      now += (3600 - 31) * 1000;
      await client.send(X270, ENVELOPE);
      now += 2000;
      await client.send(X270, ENVELOPE);
      expect(state.payerSaw).toEqual(['token-1', 'token-1', 'token-2']);
    });

    it('fetches a new token once when the payer refuses the cached one (401), and sends again', async () => {
      const state = oauthPayer();
      const client = new PayerClient(endpoint({ auth: bearer }));
      await client.send(X270, ENVELOPE);
      state.valid.clear(); // the payer rotated its keys
      const result = await client.send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: true, body: X271, attempts: 2 });
      expect(state.payerSaw).toEqual(['token-1', 'token-1', 'token-2']);
    });

    it('answers auth, without a loop, when the payer refuses a freshly fetched token too', async () => {
      const state = oauthPayer();
      const refuse = (request: Request) => {
        state.payerSaw.push(request.headers.get('authorization')!);
        return new HttpResponse(null, { status: 401 });
      };
      server.use(http.post(URL_, ({ request }) => refuse(request)));
      const client = new PayerClient(endpoint({ auth: bearer }));
      await client.send(X270, ENVELOPE); // token-1 fetched and refused: no second token for a fresh one
      const result = await client.send(X270, ENVELOPE); // cached token-1 refused: one new token, refused too
      expect(result).toMatchObject({ ok: false, failure: 'auth', httpStatus: 401, attempts: 2 });
      expect(!result.ok && result.message).toMatch(/refused the gateway's credentials \(HTTP 401\)/);
      expect(state.tokenRequests).toHaveLength(2);
      expect(state.payerSaw).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2']);
    });

    it('answers auth when the token endpoint refuses the client credentials; the payer gets nothing', async () => {
      let payerCalls = 0;
      server.use(
        http.post(TOKEN_URL, () => HttpResponse.json({ error: 'invalid_client' }, { status: 401 })),
        http.post(URL_, () => (payerCalls++, HttpResponse.text(X271)))
      );
      const result = await new PayerClient(endpoint({ auth: bearer })).send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'auth', httpStatus: 401 });
      expect(!result.ok && result.message).toContain('sign-in service');
      expect(payerCalls).toBe(0);
    });

    it('answers auth for a 403 from the payer', async () => {
      server.use(http.post(URL_, () => new HttpResponse('forbidden', { status: 403 })));
      const client = new PayerClient(endpoint({ auth: { type: 'basic', username: 'u', password: 'p' } }));
      const result = await client.send(X270, ENVELOPE);
      expect(result).toMatchObject({ ok: false, failure: 'auth', httpStatus: 403, attempts: 1 });
    });
  });

  it('logs the host, status, timing and attempts only, never a body or a patient detail', async () => {
    server.use(http.post(URL_, () => HttpResponse.text(X271)));
    const lines: { level: string; fields: object; msg: string }[] = [];
    const log: PayerLog = {
      info: (fields, msg) => lines.push({ level: 'info', fields, msg }),
      warn: (fields, msg) => lines.push({ level: 'warn', fields, msg }),
    };
    const auth = { type: 'basic', username: 'u', password: 'secret-pw' } as const;
    const client = new PayerClient(endpoint({ auth }), { log });
    await client.send(X270, ENVELOPE);
    server.use(http.post(URL_, () => HttpResponse.html('<p>SMITH ROBERT 19430519</p>', { status: 200 })));
    await client.send(X270, ENVELOPE);
    expect(lines.map((l) => [l.level, Object.keys(l.fields).sort()])).toEqual([
      ['info', ['attempts', 'host', 'ms', 'status']],
      ['warn', ['attempts', 'failure', 'host', 'ms', 'status']],
    ]);
    expect(lines[0]!.fields).toMatchObject({ host: 'payer.example.test', status: 200, attempts: 1 });
    expect(JSON.stringify(lines)).not.toMatch(/SMITH|19430519|11122333301|ISA\*|secret-pw/);
  });
});
