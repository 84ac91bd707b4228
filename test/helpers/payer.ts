/**
 * @module test/helpers/payer — payers for tests of the outbound payer client: a real one on a local port that
 * answers a 270 in raw X12, `{"x12": …}` JSON or CAQH CORE vC2.2.0 multipart, optionally behind basic auth, an
 * OAuth client-credentials token (served at `/token`) or mutual TLS; the msw set-up for simulated ones; the 270/271
 * texts they exchange; and throwaway certificates made with the machine's openssl, as the MLLP TLS tests do, so
 * nothing that expires or is secret lives in the repository.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import type { PayerEndpoint } from '../../src/outbound/payer-client.ts';
import { join } from 'node:path';
import { setupServer, type SetupServer } from 'msw/node';
import type { PayerEnvelope, PayerMode } from '../../src/outbound/payer-client.ts';

const FIXTURE_270 = new URL('../fixtures/x12/270-subscriber-request-by-clinic.edi', import.meta.url);
/** A 270 from the stupidedi fixtures (BSD-3-Clause, see test/fixtures/x12/README.md). */
export const X270 = readFileSync(FIXTURE_270, 'utf8');
/** A small 271 answering X270; the tests need it back byte for byte, not its benefits. */
export const X271 = [
  'ISA*00*          *00*          *ZZ*123456789012346*ZZ*123456789012345*080503*1705*>*00501*000010217*0*T*:',
  'GS*HB*1234567890*1234567890*20080503*1706*20214*X*005010X279A1',
  'ST*271*0001*005010X279A1',
  'BHT*0022*11*10001234*20060501*1319',
  'HL*1**20*1',
  'NM1*PR*2*ABC COMPANY*****PI*842610001',
  'HL*2*1*21*1',
  'NM1*1P*2*BONE AND JOINT CLINIC*****SV*2000035',
  'HL*3*2*22*0',
  'NM1*IL*1*SMITH*ROBERT****MI*11122333301',
  'EB*1**30**GOLD PLAN',
  'SE*10*0001',
  'GE*1*20214',
  'IEA*1*000010217~',
].join('~');
export const X999 = X271.replace('ST*271*0001*005010X279A1', 'ST*999*0001*005010X231A1').replace('GS*HB', 'GS*FA');
export const ENVELOPE: PayerEnvelope = {
  senderId: 'FRONTDESK01',
  receiverId: 'PAYER842610001',
  payloadId: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
};

/** msw for simulated payers; local addresses pass through (a closed port must really refuse). */
export function mockPayers(): SetupServer & { start(): void } {
  const server = setupServer();
  return Object.assign(server, {
    start: () =>
      server.listen({
        onUnhandledFrame: ({ frame, defaults }) => {
          const url = (frame as { data?: { request?: Request } }).data?.request?.url ?? '';
          if (!url.startsWith('http://127.0.0.1')) defaults.error();
        },
      }),
  });
}

/** A CORE vC2.2.0 real-time response envelope (ErrorCode Success) around `payload`, typed by what it carries. */
export function coreResponse(payload: string | undefined, fields: Record<string, string> = {}): FormData {
  const has = (segment: string) => new RegExp(`~\\s*${segment}\\*`).test(payload ?? '');
  const type = has('ST\\*999')
    ? 'X12_999_Response_005010X231A1'
    : has('TA1') && !has('ST')
      ? 'X12_TA1_Response_00501X231A1'
      : 'X12_271_Response_005010X279A1';
  const form = new FormData();
  const all: Record<string, string | undefined> = {
    PayloadType: type,
    ProcessingMode: 'RealTime',
    PayloadID: randomUUID(),
    TimeStamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    SenderID: ENVELOPE.receiverId,
    ReceiverID: ENVELOPE.senderId,
    CORERuleVersion: '2.2.0',
    ErrorCode: 'Success',
    ErrorMessage: 'None',
    Payload: payload,
    ...fields,
  };
  for (const [name, value] of Object.entries(all)) if (value !== undefined) form.set(name, value);
  return form;
}

/** A multipart body and its content type (with the boundary), written by undici. */
export async function encodeForm(form: FormData): Promise<{ body: Buffer; contentType: string }> {
  const encoded = new Response(form);
  return { body: Buffer.from(await encoded.arrayBuffer()), contentType: encoded.headers.get('content-type') ?? '' };
}

export type SeenRequest = { path: string; headers: IncomingHttpHeaders; body: string; fields?: Record<string, string> };
type Basic = { username: string; password: string };
type ClientCredentials = { clientId: string; clientSecret: string; expiresIn?: number };
export type StartPayerOptions = {
  mode: PayerMode;
  /** The payer's answer (a 271, 999 or TA1) to the X12 it received. */
  answer: (x12: string) => string | Promise<string>;
  status?: number;
  delayMs?: number;
  auth?: { basic: Basic } | { bearer: ClientCredentials };
  /** Serve https; with `ca`, client certificates signed by it are required (mutual TLS). */
  tls?: { cert: string; key: string; ca?: string };
};
export type TestPayer = {
  url: string;
  tokenUrl: string;
  requests: SeenRequest[];
  tokenRequests: SeenRequest[];
  /** Makes every token issued so far invalid, as a payer rotating keys would. */
  revokeTokens(): void;
  close(): Promise<void>;
};

export async function startPayer(options: StartPayerOptions): Promise<TestPayer> {
  const requests: SeenRequest[] = [];
  const tokenRequests: SeenRequest[] = [];
  const valid = new Set<string>();
  let issued = 0;
  const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const seen: SeenRequest = { path: req.url ?? '', headers: req.headers, body: raw.toString('utf8') };
    const auth = options.auth;
    if (req.url === '/token') {
      tokenRequests.push(seen);
      if (!auth || !('bearer' in auth)) return void res.writeHead(404).end();
      const { clientId, clientSecret, expiresIn = 3600 } = auth.bearer;
      const form = new URLSearchParams(seen.body);
      const clientOk = req.headers.authorization === basic(clientId, clientSecret);
      if (!clientOk) return json(res, 401, { error: 'invalid_client' });
      if (form.get('grant_type') !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type' });
      const token = `token-${++issued}`;
      valid.add(token);
      return json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: expiresIn });
    }
    if (options.mode === 'core') seen.fields = await formFields(raw, req.headers['content-type'] ?? '');
    requests.push(seen);
    if (auth && 'basic' in auth && req.headers.authorization !== basic(auth.basic.username, auth.basic.password)) {
      return void res.writeHead(401, { 'www-authenticate': 'Basic' }).end();
    }
    if (auth && 'bearer' in auth) {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!token || !valid.has(token)) return void res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
    }
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    const status = options.status ?? 200;
    switch (options.mode) {
      case 'x12': {
        const answer = await options.answer(seen.body);
        return void res.writeHead(status, { 'content-type': 'application/edi-x12' }).end(answer);
      }
      case 'json': {
        const x12 = (JSON.parse(seen.body) as { x12: string }).x12;
        return json(res, status, { x12: await options.answer(x12) });
      }
      case 'core': {
        const { body, contentType } = await encodeForm(coreResponse(await options.answer(seen.fields?.Payload ?? '')));
        return void res.writeHead(status, { 'content-type': contentType }).end(body);
      }
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => res.writeHead(500).end());
  };
  const tls = options.tls;
  const mutual = { requestCert: !!tls?.ca, rejectUnauthorized: !!tls?.ca };
  const server = tls ? https.createServer({ ...tls, ...mutual }, listener) : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // The test server certificate names localhost, so https payers are addressed by that name.
  const origin = `${tls ? 'https' : 'http'}://${tls ? 'localhost' : '127.0.0.1'}:${port}`;
  return {
    url: `${origin}/eligibility`,
    tokenUrl: `${origin}/token`,
    requests,
    tokenRequests,
    revokeTokens: () => valid.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** The text fields of a multipart body, read by undici as a server built on the Fetch API would. */
async function formFields(body: Buffer, contentType: string): Promise<Record<string, string>> {
  const headers = { 'content-type': contentType };
  const form = await new Request('http://payer.local/', { method: 'POST', headers, body }).formData();
  const fields: Record<string, string> = {};
  for (const [name, value] of form) fields[name] = typeof value === 'string' ? value : await value.text();
  return fields;
}

export type Certificates = {
  ca: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
  /** A client certificate from another CA, which the payer must refuse. */
  stranger: { cert: string; key: string };
};

/**
 * A CA, a server certificate for localhost/127.0.0.1, a client certificate it signed, and one it did not, as PEM
 * text; the files openssl needed are removed before this returns.
 */
export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'frontdesk-payer-tls-'));
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const days = ['-days', '3650'];
  const makeCa = (name: string) => {
    const files = ['-keyout', f(`${name}.key`), '-out', f(`${name}.crt`)];
    openssl('req', '-x509', ...ec, ...files, ...days, '-subj', `/CN=${name}`);
  };
  const makeCert = (name: string, ca: string, server: boolean) => {
    openssl('req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}.example.org`);
    const ext = f(`${name}.ext`);
    const serverExt = 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n';
    writeFileSync(ext, server ? serverExt : 'extendedKeyUsage=clientAuth\n');
    const signer = ['-CA', f(`${ca}.crt`), '-CAkey', f(`${ca}.key`), '-CAcreateserial'];
    openssl('x509', '-req', '-in', f(`${name}.csr`), ...signer, '-out', f(`${name}.crt`), ...days, '-extfile', ext);
    return { cert: readFileSync(f(`${name}.crt`), 'utf8'), key: readFileSync(f(`${name}.key`), 'utf8') };
  };
  try {
    makeCa('ca');
    makeCa('otherca');
    return {
      ca: readFileSync(f('ca.crt'), 'utf8'),
      server: makeCert('server', 'ca', true),
      client: makeCert('client', 'ca', false),
      stranger: makeCert('stranger', 'otherca', false),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The endpoint the msw-simulated payer answers at, and a client configuration for it (x12 mode, no auth). */
export const PAYER_URL = 'https://payer.example.test/eligibility';
export const TOKEN_URL = 'https://auth.payer.example.test/oauth2/token';
export const payerEndpoint = (over: Partial<PayerEndpoint> = {}): PayerEndpoint => ({
  url: PAYER_URL,
  mode: 'x12',
  timeoutMs: 5000,
  auth: { type: 'none' },
  ...over,
});

/** The CAQH CORE vC2.2.0 envelope fields of a real-time 270 sent with {@link ENVELOPE} (TimeStamp apart). */
export const CORE_REQUEST_FIELDS = {
  PayloadType: 'X12_270_Request_005010X279A1',
  ProcessingMode: 'RealTime',
  PayloadID: ENVELOPE.payloadId,
  SenderID: ENVELOPE.senderId,
  ReceiverID: ENVELOPE.receiverId,
  CORERuleVersion: '2.2.0',
} as const;

