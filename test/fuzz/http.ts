/**
 * @module test/fuzz/http — a gateway for fuzzing over real HTTP: raw requests (bytes as given, invalid UTF-8
 * included) under a time bound, and the check every answer must pass: below 500, and an OperationOutcome when it
 * is an error. The gateway's error log is kept, so a 500 is reported with the stack the gateway logged for it.
 */
import { Writable } from 'node:stream';
import { getToken, testGateway, type TestGateway } from '../helpers/gateway.ts';
import { KnownBug } from './property.ts';

export type Answer = { status: number; type: string; text: string };

export type FuzzGateway = {
  g: TestGateway;
  /** One request; `path` is appended to the origin as it is (no encoding), `body` sent byte for byte. */
  send: (method: string, path: string, body?: Uint8Array | string, headers?: Record<string, string>) => Promise<Answer>;
  stop: () => Promise<void>;
};

const TIME_BOUND_MS = 10_000;

type Failure = { method: string; path: string; body: string; log: string };

/**
 * 500s found by this suite and not fixed yet, each kept as an `open` entry in regressions/*.json: recognised by the
 * gateway's log of the error, so that only a new one fails a generated run. Remove an entry with its fix. The
 * fourteen found on 2026-12-05 (NUL and lone surrogates, 50 000-deep JSON, malformed Bundle entries, bad _count
 * and _offset, JSON Patch pointers applyPatch threw on) are fixed; their inputs stay as regressions.
 */
const KNOWN: { what: string; matches: (f: Failure) => boolean }[] = [];

export async function fuzzGateway(env: Record<string, string> = {}): Promise<FuzzGateway> {
  const errors: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      errors.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      errors.splice(0, Math.max(0, errors.length - 20));
      done();
    },
  });
  const g = await testGateway({ FRONTDESK_LOG_LEVEL: 'error', ...env }, undefined, sink);
  const token = await getToken(g);
  const origin = new URL(g.fhirUrl).origin;
  /** The last requests, to tell what came before an answer that never came. */
  const recent: string[] = [];
  const send: FuzzGateway['send'] = async (method, path, body, headers = {}) => {
    errors.length = 0;
    const type = JSON.stringify(headers['content-type'] ?? null);
    recent.push(`${method} ${path.slice(0, 80)} ${body?.length ?? 0} bytes ${type}`);
    recent.splice(0, Math.max(0, recent.length - 4));
    const init: RequestInit = {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', ...headers },
    };
    if (body !== undefined) init.body = body;
    let res: Response;
    try {
      res = await fetchAgain(`${origin}${path}`, init);
    } catch (err) {
      const e = err as Error;
      const cause = `${e.name}: ${e.message} ${String(e.cause ?? '')}`;
      const what = e.name === 'TimeoutError' ? `no answer within ${TIME_BOUND_MS} ms` : cause;
      const before = `requests before:\n${recent.join('\n')}`;
      throw new Error(`${method} ${path.slice(0, 300)}: ${what}\n${before}\n${errors.join('\n')}`);
    }
    const text = await res.text();
    recent[recent.length - 1] += ` → ${res.status} ${res.headers.get('connection') ?? ''}`;
    const answer = { status: res.status, type: res.headers.get('content-type') ?? '', text };
    if (answer.status >= 500) {
      const sent = typeof body === 'string' ? body : Buffer.from(body ?? []).toString('utf8');
      const failure = { method, path, body: sent, log: errors.join('\n') };
      const answered = `${method} ${path.slice(0, 300)} → ${answer.status} ${text.slice(0, 300)}`;
      const message = `${answered}\ngateway log:\n${failure.log}`;
      const known = KNOWN.find((k) => k.matches(failure));
      throw known ? new KnownBug(`known bug (${known.what}): ${message}`) : new Error(message);
    }
    return answer;
  };
  return { g, send, stop: () => g.stop() };
}

/**
 * A request sent on a keep-alive connection that the server closes under it gets no answer ("other side closed").
 * That happens after an early 413/415: the gateway answers `Connection: keep-alive` without reading the body, then
 * drops the connection (reported). Not about this request: sent again on another connection, as many times as
 * such connections may be waiting in the pool.
 */
async function fetchAgain(url: string, init: RequestInit, tries = 6): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(TIME_BOUND_MS) });
  } catch (err) {
    const e = err as Error;
    if (tries <= 1 || e.name === 'TimeoutError' || !/other side closed|ECONNRESET/.test(String(e.cause))) throw err;
    return fetchAgain(url, init, tries - 1);
  }
}

/** Below 500 (checked by `send`), JSON, and an OperationOutcome with an issue when it is an error. */
export function assertAnswer(a: Answer, what: string): void {
  if (a.status === 304 || a.status === 204) return;
  let body: { resourceType?: string; issue?: unknown[] } | undefined;
  try {
    body = JSON.parse(a.text) as typeof body;
  } catch {
    throw new Error(`${what} → ${a.status} with a body that is not JSON: ${a.text.slice(0, 200)}`);
  }
  if (a.status >= 400 && (body?.resourceType !== 'OperationOutcome' || !body.issue?.length)) {
    throw new Error(`${what} → ${a.status} without an OperationOutcome: ${a.text.slice(0, 300)}`);
  }
  if (!/json/.test(a.type)) throw new Error(`${what} → ${a.status} as ${a.type}`);
}
