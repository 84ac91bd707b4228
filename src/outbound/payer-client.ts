/**
 * @module outbound/payer-client — sends one X12 270 to one payer and brings back its 271 (or 999/TA1), or a
 * failure a front-desk clerk can act on. Speaks raw X12 over HTTP, `{"x12": …}` JSON (Optum/Stedi raw-X12 APIs)
 * and CAQH CORE Phase II connectivity (rule vC2.2.0, HTTP MIME multipart). The whole send, retries and token
 * included, fits the CORE real-time limit (`timeoutMs`, 20 s); only requests that cannot have reached the payer,
 * or that it asked to repeat (5xx + Retry-After), are sent again, because a repeated 270 is a repeated check.
 *
 * Uses `node:http`/`node:https` rather than fetch: client certificates (CORE X.509 option) are plain request
 * options there, and msw intercepts them in tests. Nothing here logs or quotes a message body (PHI).
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { CircuitBreaker, type Clock } from './circuit-breaker.ts';
import { ClientCredentialsToken, TokenRefused, type TokenPost } from './oauth-client-credentials.ts';
import { decode, encode, type PayerEnvelope, type PayerMode } from './payer-wire.ts';

export type { PayerEnvelope, PayerMode };

export type PayerAuth =
  | { type: 'none' }
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; tokenUrl: string; clientId: string; clientSecret: string; scope?: string }
  | { type: 'mtls'; cert: string; key: string; ca?: string };
export type PayerEndpoint = {
  url: string;
  mode: PayerMode;
  timeoutMs: number;
  auth: PayerAuth;
  retries?: number;
  circuit?: { failures: number; resetMs: number };
};
export type PayerFailure = 'unreachable' | 'timeout' | 'http-error' | 'circuit-open' | 'bad-response' | 'auth';
export type PayerResult =
  | { ok: true; body: string; httpStatus: number; ms: number; attempts: number }
  | { ok: false; failure: PayerFailure; message: string; httpStatus?: number; ms: number; attempts: number };
/** The part of a pino logger this client uses; it receives host, status, timings and failure class only. */
export type PayerLog = { info(fields: object, msg: string): void; warn(fields: object, msg: string): void };
export type PayerClientOptions = { log?: PayerLog; now?: Clock };

/** Connection errors raised before a request leaves this machine: repeating them cannot repeat a check. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const BACKOFF_MS = [100, 400];
const CHECK = 'ask the administrator to check the payer settings';
/** Far above any real 271; a bigger answer is a misconfigured endpoint, not something to hold in memory. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

type Answer = { status: number; headers: IncomingHttpHeaders; body: Buffer };
type Failed = { ok: false; failure: PayerFailure; message: string; httpStatus?: number };
type Outcome = { ok: true; body: string; httpStatus: number } | Failed;
type Tls = { cert?: string; key?: string; ca?: string };

export class PayerClient {
  readonly #endpoint: PayerEndpoint;
  readonly #url: URL;
  readonly #retries: number;
  readonly #breaker: CircuitBreaker;
  readonly #token: ClientCredentialsToken | undefined;
  readonly #tls: Tls;
  readonly #log: PayerLog | undefined;

  constructor(endpoint: PayerEndpoint, options: PayerClientOptions = {}) {
    this.#url = new URL(endpoint.url);
    if (this.#url.protocol !== 'http:' && this.#url.protocol !== 'https:') throw new Error('payer url must be http(s)');
    if (!(endpoint.timeoutMs > 0)) throw new Error('payer timeoutMs must be positive');
    if (endpoint.auth.type === 'mtls' && this.#url.protocol !== 'https:') throw new Error('mtls needs an https url');
    this.#endpoint = endpoint;
    this.#retries = Math.max(0, Math.floor(endpoint.retries ?? 2));
    const circuit = endpoint.circuit ?? { failures: 5, resetMs: 30_000 };
    this.#breaker = new CircuitBreaker({ ...circuit, now: options.now });
    const { auth } = endpoint;
    this.#tls = auth.type === 'mtls' ? { cert: auth.cert, key: auth.key, ca: auth.ca } : {};
    const post: TokenPost = async (url, form, headers, signal) => {
      const answer = await exchange(new URL(url), headers, Buffer.from(form), signal, {});
      return { status: answer.status, body: answer.body.toString('utf8') };
    };
    const fetchTimeoutMs = endpoint.timeoutMs;
    this.#token = auth.type === 'bearer'
      ? new ClientCredentialsToken(auth, post, { fetchTimeoutMs, now: options.now })
      : undefined;
    this.#log = options.log;
  }

  /** Sends `x12` (one 270 interchange); resolves with the payer's answer or a classified failure, never rejects. */
  async send(x12: string, envelope: PayerEnvelope): Promise<PayerResult> {
    const started = performance.now();
    const permit = this.#breaker.acquire();
    if (!permit.ok) {
      const seconds = Math.max(1, Math.ceil(permit.retryInMs / 1000));
      const paused = `Eligibility checks to this payer are paused for ${seconds} s after repeated failures`;
      return this.#report(started, 0, fail('circuit-open', `${paused}; try again then`));
    }
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.#endpoint.timeoutMs);
    const tries = { attempts: 0 };
    let outage = false;
    try {
      const outcome = await this.#sendWithRetries(x12, envelope, deadline.signal, started, tries);
      outage = isOutage(outcome);
      return this.#report(started, tries.attempts, outcome);
    } finally {
      clearTimeout(timer);
      // Settled even if this module faults, so a half-open trial can never hold the circuit open for good.
      if (outage) this.#breaker.failure(permit.ok ? permit : undefined);
      else this.#breaker.success();
    }
  }

  async #sendWithRetries(
    x12: string,
    envelope: PayerEnvelope,
    signal: AbortSignal,
    started: number,
    tries: { attempts: number }
  ): Promise<Outcome> {
    const { mode, timeoutMs } = this.#endpoint;
    // CORE vC2.2.0 HTTP MIME carries a username/password in the envelope itself (UserName, Password parts), besides
    // the Authorization header some endpoints read instead.
    const login = mode === 'core' && this.#endpoint.auth.type === 'basic'
      ? { userName: this.#endpoint.auth.username, password: this.#endpoint.auth.password }
      : undefined;
    const request = await encode(mode, x12, envelope, login);
    const remaining = () => started + timeoutMs - performance.now();
    const timeout = fail('timeout', `The payer did not answer within ${formatSeconds(timeoutMs)}; try again later`);
    let retriesLeft = this.#retries;
    let refreshedToken = false;
    for (;;) {
      tries.attempts++;
      let answer: Answer;
      let cachedToken: string | undefined;
      try {
        const headers = { ...request.headers };
        const { auth } = this.#endpoint;
        if (auth.type === 'basic') {
          headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
        } else if (this.#token) {
          const { token, cached } = await this.#token.get(signal);
          headers.authorization = `Bearer ${token}`;
          if (cached) cachedToken = token;
        }
        answer = await exchange(this.#url, headers, request.body, signal, this.#tls);
      } catch (err) {
        if (signal.aborted || isTimeout(err)) return timeout;
        if (err instanceof TokenRefused) return tokenFailure(err);
        if (err instanceof TooLarge) return badResponse();
        const code = errorCode(err);
        const wait = BACKOFF_MS[this.#retries - retriesLeft] ?? BACKOFF_MS.at(-1)!;
        const notSent = NOT_SENT.has(code) || (code === 'ECONNRESET' && !(err as { connected?: boolean }).connected);
        if (notSent && retriesLeft > 0 && wait < remaining()) {
          retriesLeft--;
          await sleep(wait, undefined, { signal }).catch(() => undefined);
          if (signal.aborted) return timeout;
          continue;
        }
        return connectionFailure(code);
      }
      const { status } = answer;
      if (status === 401 || status === 403) {
        if (cachedToken && !refreshedToken) {
          // The cached token may have been revoked or rotated early; one fresh token settles it.
          this.#token?.invalidate(cachedToken);
          refreshedToken = true;
          continue;
        }
        return fail('auth', `The payer refused the gateway's credentials (HTTP ${status}); ${CHECK}`, status);
      }
      if (status >= 500) {
        const wait = retryAfterMs(answer.headers['retry-after']);
        if (wait !== undefined && retriesLeft > 0 && wait < remaining()) {
          retriesLeft--;
          await sleep(wait, undefined, { signal }).catch(() => undefined);
          if (signal.aborted) return timeout;
          continue;
        }
        return fail('http-error', `The payer's system is unavailable (HTTP ${status}); try again later`, status);
      }
      if (status < 200 || status > 299) {
        return fail('http-error', `The payer refused the eligibility request (HTTP ${status}); ${CHECK}`, status);
      }
      const decoded = await decode(mode, answer.headers['content-type'], answer.body);
      if (decoded.x12 !== undefined) return { ok: true, body: decoded.x12, httpStatus: status };
      return { ...badResponse('errorCode' in decoded ? decoded.errorCode : undefined), httpStatus: status };
    }
  }

  #report(started: number, attempts: number, outcome: Outcome): PayerResult {
    const ms = Math.round(performance.now() - started);
    const fields = { host: this.#url.host, status: outcome.httpStatus, ms, attempts };
    if (outcome.ok) this.#log?.info(fields, 'payer answered');
    else this.#log?.warn({ ...fields, failure: outcome.failure }, 'payer send failed');
    return { ...outcome, ms, attempts };
  }
}

class TooLarge extends Error {}

/** One HTTP POST; rejects with the transport error, marked `connected` once the request could have been sent. */
function exchange(
  url: URL,
  headers: Record<string, string>,
  body: Buffer,
  signal: AbortSignal,
  tls: Tls
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let connected = false;
    const fail = (err: Error) => reject(Object.assign(err, { connected }));
    // Called through the module objects so that msw's interceptors, which patch them, see the request.
    const lib = url.protocol === 'https:' ? https : http;
    // agent: false — a fresh connection per check, so a reset never comes from a stale pooled socket and the
    // "was it sent?" question stays answerable; a handshake is cheap next to the 20 s budget.
    const all = { ...headers, 'content-length': String(body.length) };
    const options = { method: 'POST', headers: all, signal, agent: false, ...tls };
    const req = lib.request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new TooLarge('answer too large'));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', fail);
    });
    const ready = url.protocol === 'https:' ? 'secureConnect' : 'connect';
    req.on('socket', (socket) => socket.once(ready, () => (connected = true)));
    req.on('error', fail);
    req.end(body);
  });
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; errors?: { code?: unknown }[] };
  // Happy-eyeballs connects (several addresses) fail with an AggregateError of the per-address errors.
  return String(e?.code ?? e?.errors?.[0]?.code ?? '');
}

function isTimeout(err: unknown): boolean {
  const name = (err as Error | undefined)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

/** Unreachable, timed out or 5xx: the payer is down, as opposed to answering badly (4xx, auth, bad-response). */
function isOutage(outcome: Outcome): boolean {
  if (outcome.ok) return false;
  return outcome.failure === 'unreachable' || outcome.failure === 'timeout' || (outcome.httpStatus ?? 0) >= 500;
}

function fail(failure: PayerFailure, message: string, httpStatus?: number): Failed {
  return httpStatus === undefined ? { ok: false, failure, message } : { ok: false, failure, message, httpStatus };
}

function connectionFailure(code: string): Failed {
  // The payer's TLS server turned down our client certificate (mutual TLS): a credentials problem, not an outage.
  if (/ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|ACCESS_DENIED|CERTIFICATE_UNKNOWN)/.test(code)) {
    return fail('auth', `The payer refused the gateway's certificate; ${CHECK}`);
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) {
    return fail('unreachable', `The payer's certificate could not be verified; ${CHECK}`);
  }
  return fail('unreachable', "The payer's system could not be reached; try again later");
}

function tokenFailure(err: TokenRefused): Failed {
  const status = err.httpStatus;
  const service = "The payer's sign-in service";
  if (status === 400 || status === 401 || status === 403) {
    return fail('auth', `${service} refused the gateway's credentials (HTTP ${status}); ${CHECK}`, status);
  }
  if (status >= 500) return fail('http-error', `${service} is unavailable (HTTP ${status}); try again later`, status);
  if (status >= 300) return fail('http-error', `${service} refused the request (HTTP ${status}); ${CHECK}`, status);
  return fail('bad-response', `${service} gave no usable token; ${CHECK}`, status);
}

function badResponse(errorCode?: string): Failed {
  // Only a code-shaped ErrorCode is quoted: the help desk needs it, and free text (ErrorMessage) could carry PHI.
  const quotable = errorCode !== undefined && /^[A-Za-z0-9_.-]{1,64}$/.test(errorCode);
  const said = quotable ? `with error "${errorCode}"` : 'in a form the gateway cannot read';
  return fail('bad-response', `The payer answered ${said}; ${CHECK}`);
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} second${s === 1 ? '' : 's'}`;
}
