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
 * 500s found by this suite in src/inbound/fhir/ and src/store/ (which it may not change), reported, and kept as
 * `open` entries in regressions/fhir-*.json: recognised by the gateway's log of the error, so that only a new one
 * fails a generated run. Remove an entry with its fix.
 */
const KNOWN: { what: string; matches: (f: Failure) => boolean }[] = [
  {
    what: 'a NUL (%00) in a search value reaches PostgreSQL: 22021',
    matches: (f) => f.log.includes('"code":"22021"') && isSearch(f),
  },
  {
    what: 'a lone surrogate (\\ud800) in a string reaches PostgreSQL jsonb: 22P02',
    matches: (f) => f.log.includes('"code":"22P02"') && /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/.test(f.body),
  },
  {
    what: 'JSON nested thousands deep overflows the stack',
    matches: (f) => f.log.includes('"name":"RangeError"') && depth(f.body) > 1000,
  },
  {
    what: 'Bundle.entry not an array of objects, or request.url not a string (transaction.ts)',
    matches: (f) => /"name":"TypeError".*(checkBundle|toRequest|transaction\.ts)/.test(f.log),
  },
  {
    what: '_count or _offset that is no number, or past bigint: NaN or overflow in LIMIT/OFFSET (22P02, 22003)',
    matches: (f) => /"code":"22(P02|003)"/.test(f.log) && paramNames(f).some((n) => /^_(count|offset)\b/.test(n)),
  },
  {
    what: 'a JSON Patch operation that applyPatch (@medplum/core) throws on',
    matches: (f) => f.method === 'PATCH' && f.log.includes('@medplum/core'),
  },
  {
    what: 'a FHIRPath Patch whose parameter is no array (fhirpath-patch.ts)',
    matches: (f) => f.method === 'PATCH' && /"name":"TypeError".*fhirPathPatchToJsonPatch/.test(f.log),
  },
];

function isSearch(f: Failure): boolean {
  return f.method === 'GET' || f.path.includes('/_search');
}

/** The parameter names of a search, from the URL and from a form body. */
function paramNames(f: Failure): string[] {
  return [...new URLSearchParams(f.path.split('?')[1] ?? '').keys(), ...new URLSearchParams(f.body).keys()];
}

/** The deepest nesting of brackets and braces in a JSON text (strings included: an upper bound is enough). */
function depth(text: string): number {
  let d = 0;
  let max = 0;
  for (const c of text) {
    if (c === '[' || c === '{') max = Math.max(max, ++d);
    else if (c === ']' || c === '}') d--;
  }
  return max;
}

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
