/**
 * @module partners-x12 — the `x12` section of a partner in the partners file: a payer (or a clearinghouse acting
 * for payers) reached with 005010X279A1 eligibility inquiries.
 *
 * The shape is a contract (docs/partners.md "Payers"): `payerId` (2100A NM109, and how a 270 posted to `/x12` is routed),
 * ISA/GS `senderId`/`receiverId` with their qualifiers, `usage` (ISA15), `traceOriginator` (TRN03), and
 * `endpoint` {url, mode core|x12|json, timeoutMs, auth}. Secrets are never written in the file: a password or
 * client secret is named by environment variable (`passwordEnv`) or file (`passwordFile`), read once at start,
 * so a missing secret stops the gateway with its name rather than failing the first check of the day.
 */
import { readFileSync } from 'node:fs';
import type { PayerAuth, PayerEndpoint } from './outbound/payer-client.ts';

export type PayerSettings = {
  payerId: string;
  senderQualifier: string;
  senderId: string;
  receiverQualifier: string;
  receiverId: string;
  /** ISA15: P production, T test. */
  usage: 'P' | 'T';
  /** TRN03 of our traces: 10 characters, `1` or `9` followed by the submitter's EIN or an assigned number. */
  traceOriginator: string;
  /** Whole-day verification: checks in flight at once to this payer. */
  maxConcurrent: number;
  endpoint: PayerEndpoint;
};

/** What the gateway calls itself in ISA06 when a payer's section names no `senderId`. */
export const DEFAULT_SENDER_ID = 'FRONTDESK';
const KEYS = new Set([
  'payerId',
  'senderId',
  'senderQualifier',
  'receiverId',
  'receiverQualifier',
  'usage',
  'traceOriginator',
  'maxConcurrent',
  'endpoint',
]);
const ENDPOINT_KEYS = new Set(['url', 'mode', 'timeoutMs', 'auth', 'retries', 'circuit']);
const ID = /^[A-Za-z0-9 .\-_/]{1,15}$/;

/** Reads one partner's `x12` section; every problem goes to `bad`. */
export function parsePayerSettings(
  raw: Record<string, any>,
  bad: (message: string) => void,
  env: Record<string, string | undefined>
): PayerSettings | undefined {
  if (typeof raw !== 'object' || raw === null) return void bad('x12 must be an object');
  for (const k of Object.keys(raw)) if (!KEYS.has(k)) bad(`x12: unknown key "${k}" (allowed: ${[...KEYS].join(', ')})`);
  const id = (key: string, fallback: string | undefined): string => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'string' || !ID.test(v))
      bad(`x12.${key} must be 1–15 letters, digits, spaces or . - _ / (ISA/NM1 ids)`);
    return String(v ?? '');
  };
  const payerId = id('payerId', undefined);
  const qualifier = (key: string): string => {
    const v = raw[key] ?? 'ZZ';
    if (typeof v !== 'string' || !/^[A-Z0-9]{2}$/.test(v)) bad(`x12.${key} must be an ISA qualifier such as ZZ or 30`);
    return String(v);
  };
  const usage = raw.usage ?? 'P';
  if (usage !== 'P' && usage !== 'T') bad('x12.usage must be "P" (production) or "T" (test)');
  const traceOriginator = raw.traceOriginator ?? '9FRONTDESK';
  if (typeof traceOriginator !== 'string' || !/^[A-Za-z0-9]{10}$/.test(traceOriginator)) {
    bad('x12.traceOriginator must be 10 letters or digits (TRN03: "1" + the EIN, or an assigned id)');
  }
  const maxConcurrent = raw.maxConcurrent ?? 4;
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 64)
    bad('x12.maxConcurrent must be 1–64');
  // Every key is checked before giving up on a broken endpoint, so one start names every problem.
  const ids = {
    senderQualifier: qualifier('senderQualifier'),
    senderId: id('senderId', DEFAULT_SENDER_ID),
    receiverQualifier: qualifier('receiverQualifier'),
    receiverId: id('receiverId', payerId),
  };
  const endpoint = parseEndpoint(raw.endpoint, bad, env);
  if (!endpoint) return undefined;
  return {
    payerId,
    ...ids,
    usage,
    traceOriginator: String(traceOriginator),
    maxConcurrent: Number(maxConcurrent),
    endpoint,
  };
}

function parseEndpoint(
  e: any,
  bad: (m: string) => void,
  env: Record<string, string | undefined>
): PayerEndpoint | undefined {
  if (typeof e !== 'object' || e === null) return void bad('x12.endpoint {url, mode, timeoutMs, auth} is required');
  for (const k of Object.keys(e)) if (!ENDPOINT_KEYS.has(k)) bad(`x12.endpoint: unknown key "${k}"`);
  const url = webUrl(e.url, 'x12.endpoint.url', bad);
  const mode = e.mode ?? 'core';
  if (!['core', 'x12', 'json'].includes(mode)) bad('x12.endpoint.mode must be "core", "x12" or "json"');
  const timeoutMs = e.timeoutMs ?? 20000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 120000)
    bad('x12.endpoint.timeoutMs must be 100–120000');
  const retries = e.retries ?? 2;
  if (!Number.isInteger(retries) || retries < 0 || retries > 5) bad('x12.endpoint.retries must be 0–5');
  const circuit = e.circuit ?? { failures: 5, resetMs: 30000 };
  if (
    !Number.isInteger(circuit?.failures) ||
    circuit.failures < 1 ||
    !Number.isInteger(circuit?.resetMs) ||
    circuit.resetMs < 0
  ) {
    bad('x12.endpoint.circuit must be {failures ≥ 1, resetMs ≥ 0}');
  }
  const auth = parseAuth(e.auth ?? { type: 'none' }, bad, env);
  if (!url || !auth) return undefined;
  return { url: url.toString(), mode, timeoutMs, retries, circuit, auth };
}

/**
 * An https URL, or http on this machine only (a local test payer, a sidecar): eligibility carries PHI and
 * credentials, which never cross a network in clear.
 */
function webUrl(value: unknown, at: string, bad: (m: string) => void): URL | undefined {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    return void bad(`${at} "${String(value)}" is not a URL`);
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) || url.hostname.startsWith('127.');
  if (url.protocol === 'https:' || (url.protocol === 'http:' && local)) return url;
  return void bad(`${at} "${String(value)}" must be https (http only to this machine)`);
}

function parseAuth(a: any, bad: (m: string) => void, env: Record<string, string | undefined>): PayerAuth | undefined {
  const secret = (name: string): string => {
    const fromEnv = a[`${name}Env`];
    const fromFile = a[`${name}File`];
    if (a[name] !== undefined) {
      bad(`x12.endpoint.auth.${name}: secrets are not written in the partners file; use ${name}Env or ${name}File`);
      return '';
    }
    if (typeof fromEnv === 'string') {
      const v = env[fromEnv];
      if (!v) bad(`x12.endpoint.auth.${name}Env: environment variable ${fromEnv} is not set`);
      return v ?? '';
    }
    if (typeof fromFile === 'string') return readSecretFile(fromFile, `x12.endpoint.auth.${name}File`, bad);
    bad(`x12.endpoint.auth needs ${name}Env or ${name}File`);
    return '';
  };
  switch (a?.type) {
    case 'none':
      return { type: 'none' };
    case 'basic':
      if (typeof a.username !== 'string' || !a.username) bad('x12.endpoint.auth.username is required for basic');
      return { type: 'basic', username: String(a.username ?? ''), password: secret('password') };
    case 'bearer':
      if (typeof a.tokenUrl !== 'string' || typeof a.clientId !== 'string')
        bad('x12.endpoint.auth bearer needs tokenUrl and clientId');
      else webUrl(a.tokenUrl, 'x12.endpoint.auth.tokenUrl', bad);
      return {
        type: 'bearer',
        tokenUrl: String(a.tokenUrl),
        clientId: String(a.clientId),
        clientSecret: secret('clientSecret'),
        ...(typeof a.scope === 'string' ? { scope: a.scope } : {}),
      };
    case 'mtls': {
      const file = (k: string) => (typeof a[k] === 'string' ? readSecretFile(a[k], `x12.endpoint.auth.${k}`, bad) : '');
      if (typeof a.certFile !== 'string' || typeof a.keyFile !== 'string')
        bad('x12.endpoint.auth mtls needs certFile and keyFile');
      const ca = file('caFile');
      return { type: 'mtls', cert: file('certFile'), key: file('keyFile'), ...(ca ? { ca } : {}) };
    }
    default:
      bad('x12.endpoint.auth.type must be none, basic, bearer or mtls');
      return undefined;
  }
}

function readSecretFile(path: string, at: string, bad: (m: string) => void): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    bad(`${at}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    return '';
  }
}
