/**
 * @module outbound/oauth-client-credentials — the access token a payer API wants (OAuth 2.0 client credentials,
 * RFC 6749 §4.4, client authenticated with HTTP Basic per §2.3.1), fetched once and reused until shortly before it
 * expires, so an eligibility check does not pay for a token round trip each time (Optum issues 1 h tokens).
 * Concurrent checks share one token request. The HTTP call itself is handed in, so this module stays free of
 * transport choices (TLS, interception in tests).
 */
import type { Clock } from './circuit-breaker.ts';

export type ClientCredentials = { tokenUrl: string; clientId: string; clientSecret: string; scope?: string };

/** POSTs a form and returns the answer; rejects only for transport problems (refused, reset, aborted). */
export type TokenPost = (
  url: string,
  form: string,
  headers: Record<string, string>,
  signal: AbortSignal
) => Promise<{ status: number; body: string }>;

/** The token endpoint answered, but not with a usable token: `httpStatus` is its status. */
export class TokenRefused extends Error {
  readonly httpStatus: number;
  constructor(httpStatus: number, reason: string) {
    super(`token endpoint: ${reason}`);
    this.name = 'TokenRefused';
    this.httpStatus = httpStatus;
  }
}

/** A token is dropped this long before it expires, so it cannot run out on its way to the payer. */
export const EXPIRY_MARGIN_MS = 30_000;
/** When the endpoint omits `expires_in` (RFC 6749 §5.1 only recommends it); a 401 still forces a new token. */
const DEFAULT_LIFETIME_S = 300;

export class ClientCredentialsToken {
  readonly #credentials: ClientCredentials;
  readonly #post: TokenPost;
  readonly #now: Clock;
  readonly #fetchTimeoutMs: number;
  #cached: { token: string; until: number } | undefined;
  #inFlight: Promise<string> | undefined;

  constructor(credentials: ClientCredentials, post: TokenPost, options: { fetchTimeoutMs: number; now?: Clock }) {
    this.#credentials = credentials;
    this.#post = post;
    this.#now = options.now ?? Date.now;
    this.#fetchTimeoutMs = options.fetchTimeoutMs;
  }

  /**
   * A valid token; `cached` tells whether it came from the cache (and so may have been revoked meanwhile).
   * `signal` bounds this caller's wait only: a shared request goes on for the others.
   */
  async get(signal: AbortSignal): Promise<{ token: string; cached: boolean }> {
    const hit = this.#cached;
    if (hit && this.#now() < hit.until) return { token: hit.token, cached: true };
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = undefined;
    });
    return { token: await raceSignal(this.#inFlight, signal), cached: false };
  }

  /** Forgets `token` after the payer refused it; a newer token fetched meanwhile is kept. */
  invalidate(token: string): void {
    if (this.#cached?.token === token) this.#cached = undefined;
  }

  async #fetch(): Promise<string> {
    const { tokenUrl, clientId, clientSecret, scope } = this.#credentials;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scope) form.set('scope', scope);
    // §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded.
    const basic = Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64');
    const headers = {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    const started = this.#now();
    const answer = await this.#post(tokenUrl, form.toString(), headers, AbortSignal.timeout(this.#fetchTimeoutMs));
    if (answer.status < 200 || answer.status > 299) throw new TokenRefused(answer.status, `HTTP ${answer.status}`);
    const json = parseJson(answer.body) as { access_token?: unknown; token_type?: unknown; expires_in?: unknown };
    const token = json?.access_token;
    if (typeof token !== 'string' || token === '') throw new TokenRefused(answer.status, 'no access_token');
    if (json.token_type !== undefined && String(json.token_type).toLowerCase() !== 'bearer') {
      throw new TokenRefused(answer.status, 'token_type is not Bearer');
    }
    const lifetime = Number(json.expires_in ?? DEFAULT_LIFETIME_S);
    const seconds = Number.isFinite(lifetime) && lifetime > 0 ? lifetime : DEFAULT_LIFETIME_S;
    this.#cached = { token, until: started + seconds * 1000 - EXPIRY_MARGIN_MS };
    return token;
  }
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Settles with `promise`, or rejects with the signal's reason as soon as it aborts. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
