/**
 * @module config — parse and check the environment once; every default lives in the one table below.
 *
 * The result is passed in to whoever needs it (no global getter). `DATABASE_URL` is left as a string for
 * `postgres()`, which also reads the `PG*` variables itself.
 */
import { totalmem } from 'node:os';
import { resolve } from 'node:path';

/** Every setting, its environment variable and its default — the table the README mirrors. */
export const DEFAULTS = {
  PORT: '8080',
  HOST: '127.0.0.1',
  DATABASE_URL: '',
  FRONTDESK_DATA_DIR: './.frontdesk',
  FRONTDESK_MLLP_PORT: '2575',
  FRONTDESK_MLLP_HOST: '',
  FRONTDESK_MLLP_MAX_FRAME_BYTES: String(4 * 1024 * 1024),
  FRONTDESK_MLLP_IDLE_TIMEOUT_MS: '300000',
  FRONTDESK_MLLP_TLS_CERT: '',
  FRONTDESK_MLLP_TLS_KEY: '',
  FRONTDESK_MLLP_TLS_CA: '',
  FRONTDESK_PARTNERS: '',
  FRONTDESK_BASE_URL: '',
  FRONTDESK_LOG_LEVEL: 'info',
  FRONTDESK_MAX_BODY_BYTES: String(16 * 1024 * 1024),
  FRONTDESK_DB_POOL: '10',
  /** Embedded PostgreSQL's shared_buffers in MB; default: a quarter of the memory, between 128 and 2048. */
  FRONTDESK_DB_SHARED_BUFFERS_MB: '',
  FRONTDESK_SHUTDOWN_TIMEOUT_MS: '10000',
  FRONTDESK_AUTH: 'on',
  FRONTDESK_BOOTSTRAP_CLIENT: '',
  FRONTDESK_TOKEN_TTL_SECONDS: '300',
  FRONTDESK_RATE_LIMIT_PER_MINUTE: '6000',
  FRONTDESK_RATE_LIMIT_BURST: '300',
  /** IANA zone for HL7 v2 times without an offset, unless the sending partner has its own; default: the host's. */
  FRONTDESK_TIME_ZONE: '',
  /** HL7 v2 processing ids (MSH-11, table 0103) this gateway accepts; others get AR 202. `P,D`: also debugging. */
  FRONTDESK_HL7_PROCESSING_ID: 'P',
  /** An eligibility answer for the same coverage, date and service types younger than this is reused (0 = never). */
  FRONTDESK_ELIGIBILITY_REUSE_MINUTES: '720',
  /** Outbound HL7 v2: tries before a message becomes a dead letter, the first retry's delay, the ACK wait. */
  FRONTDESK_OUTBOX_MAX_ATTEMPTS: '10',
  FRONTDESK_OUTBOX_MAX_AGE_MINUTES: '1440',
  FRONTDESK_OUTBOX_RETRY_MS: '1000',
  FRONTDESK_HL7_APPLICATION: 'FRONTDESK',
  FRONTDESK_HL7_FACILITY: 'FRONTDESK',
  FRONTDESK_OUTBOX_ACK_TIMEOUT_MS: '30000',
} as const satisfies Record<string, string>;

export type Config = {
  readonly host: string;
  readonly port: number;
  /** `undefined` → run the embedded PostgreSQL in `dataDir`. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly mllpHost: string;
  readonly mllpPort: number;
  readonly mllpMaxFrameBytes: number;
  readonly mllpIdleTimeoutMs: number;
  /** MLLP over TLS: certificate and key files; with a CA file, client certificates are required and verified. */
  readonly mllpTls: { cert: string; key: string; ca?: string } | undefined;
  /** The partners file (src/partners.ts), if any. */
  readonly partnersFile: string | undefined;
  /** Absolute base of the FHIR API as clients see it, used in `Location`, `fullUrl` and paging links. */
  readonly baseUrl: string;
  readonly logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  readonly maxBodyBytes: number;
  readonly dbPoolSize: number;
  /** shared_buffers of the embedded PostgreSQL (MB): its working set stays in its own memory, not the page cache. */
  readonly dbSharedBuffersMb: number;
  readonly shutdownTimeoutMs: number;
  /** false only for local development (`FRONTDESK_AUTH=off`), refused unless every listener is on loopback. */
  readonly auth: boolean;
  /** `id:secret:scopes` — a client created or updated at start, for automation. */
  readonly bootstrapClient: { id: string; secret: string; scopes: string } | undefined;
  readonly tokenTtlSeconds: number;
  /** Per client: sustained requests per minute and the burst allowed above it (0 = no limit). */
  readonly rateLimitPerMinute: number;
  readonly rateLimitBurst: number;
  /** IANA time zone in which HL7 v2 times without an offset are read (a partner's own zone takes precedence). */
  readonly timeZone: string;
  /** MSH-11 values accepted (P production, D debugging, T training): a training feed must not write production data. */
  readonly hl7ProcessingIds: readonly string[];
  /** Payers and clearinghouses charge per check: an answer younger than this is reused unless a fresh one is asked. */
  readonly eligibilityReuseMinutes: number;
  /** Outbound HL7 v2 delivery: dead letter after this many tries or this age; first retry delay (doubling); ACK wait. */
  readonly outbox: { maxAttempts: number; maxAgeMinutes: number; retryMs: number; ackTimeoutMs: number };
  /** MSH-3/MSH-4 of the messages the gateway sends (referrals, appointments). */
  readonly hl7Sender: { application: string; facility: string };
};

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/**
 * Reads the configuration from an environment (normally `process.env`).
 * @throws Error naming every invalid variable at once, so an operator fixes them in one go.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const get = (key: keyof typeof DEFAULTS): string => {
    const value = env[key];
    return value === undefined || value === '' ? DEFAULTS[key] : value;
  };
  const problems: string[] = [];
  const int = (key: keyof typeof DEFAULTS, min: number, max: number): number => {
    const raw = get(key);
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key} must be an integer from ${min} to ${max} (got "${raw}")`);
    }
    return n;
  };
  const host = get('HOST');
  const port = int('PORT', 0, 65535);
  const mllpPort = int('FRONTDESK_MLLP_PORT', 0, 65535);
  const logLevel = get('FRONTDESK_LOG_LEVEL');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`FRONTDESK_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  }
  const databaseUrl = get('DATABASE_URL') || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must start with postgres:// or postgresql://');
  }
  const baseUrl = get('FRONTDESK_BASE_URL');
  if (baseUrl && !/^https?:\/\/[^/]+/.test(baseUrl)) {
    problems.push('FRONTDESK_BASE_URL must be an absolute http(s) URL');
  }
  const config = {
    host,
    port,
    databaseUrl,
    dataDir: resolve(get('FRONTDESK_DATA_DIR')),
    mllpHost: get('FRONTDESK_MLLP_HOST') || host,
    mllpPort,
    mllpMaxFrameBytes: int('FRONTDESK_MLLP_MAX_FRAME_BYTES', 1024, 256 * 1024 * 1024),
    mllpIdleTimeoutMs: int('FRONTDESK_MLLP_IDLE_TIMEOUT_MS', 1000, 24 * 3600 * 1000),
    baseUrl: (baseUrl || `http://${host.includes(':') ? `[${host}]` : host}:${port}/fhir`).replace(/\/+$/, ''),
    logLevel: logLevel as Config['logLevel'],
    maxBodyBytes: int('FRONTDESK_MAX_BODY_BYTES', 1024, 1024 * 1024 * 1024),
    dbPoolSize: int('FRONTDESK_DB_POOL', 1, 200),
    dbSharedBuffersMb: get('FRONTDESK_DB_SHARED_BUFFERS_MB')
      ? int('FRONTDESK_DB_SHARED_BUFFERS_MB', 16, 1024 * 1024)
      : Math.min(2048, Math.max(128, Math.floor(totalmem() / 4 / 2 ** 20))),
    shutdownTimeoutMs: int('FRONTDESK_SHUTDOWN_TIMEOUT_MS', 0, 600_000),
    eligibilityReuseMinutes: int('FRONTDESK_ELIGIBILITY_REUSE_MINUTES', 0, 7 * 24 * 60),
    outbox: {
      maxAttempts: int('FRONTDESK_OUTBOX_MAX_ATTEMPTS', 1, 1000),
      maxAgeMinutes: int('FRONTDESK_OUTBOX_MAX_AGE_MINUTES', 1, 30 * 24 * 60),
      retryMs: int('FRONTDESK_OUTBOX_RETRY_MS', 10, 3_600_000),
      ackTimeoutMs: int('FRONTDESK_OUTBOX_ACK_TIMEOUT_MS', 100, 600_000),
    },
    hl7Sender: { application: get('FRONTDESK_HL7_APPLICATION'), facility: get('FRONTDESK_HL7_FACILITY') },
  };
  for (const [k, v] of Object.entries(config.hl7Sender)) {
    if (/[|^~\\&\r\n]/.test(v)) problems.push(`FRONTDESK_HL7_${k.toUpperCase()} must be text without HL7 delimiters`);
  }
  const authSetting = get('FRONTDESK_AUTH');
  if (authSetting !== 'on' && authSetting !== 'off') problems.push('FRONTDESK_AUTH must be "on" or "off"');
  const auth = authSetting !== 'off';
  if (!auth && (!isLoopback(config.host) || !isLoopback(config.mllpHost))) {
    problems.push('FRONTDESK_AUTH=off is only allowed when HOST and FRONTDESK_MLLP_HOST are loopback addresses');
  }
  let bootstrapClient: Config['bootstrapClient'];
  const bootstrap = get('FRONTDESK_BOOTSTRAP_CLIENT');
  if (bootstrap) {
    const [id, secret, ...scopes] = bootstrap.split(':');
    if (!id || !secret || scopes.join(':').trim() === '') {
      problems.push('FRONTDESK_BOOTSTRAP_CLIENT must be id:secret:scopes (scopes space-separated)');
    } else {
      bootstrapClient = { id, secret, scopes: scopes.join(':').trim() };
    }
  }
  const tokenTtlSeconds = int('FRONTDESK_TOKEN_TTL_SECONDS', 30, 3600);
  const rateLimitPerMinute = int('FRONTDESK_RATE_LIMIT_PER_MINUTE', 0, 10_000_000);
  const rateLimitBurst = int('FRONTDESK_RATE_LIMIT_BURST', 1, 10_000_000);
  const [tlsCert, tlsKey, tlsCa] = (['FRONTDESK_MLLP_TLS_CERT', 'FRONTDESK_MLLP_TLS_KEY', 'FRONTDESK_MLLP_TLS_CA'] as const).map((k) => get(k));
  let mllpTls: Config['mllpTls'];
  if (!!tlsCert !== !!tlsKey) problems.push('FRONTDESK_MLLP_TLS_CERT and FRONTDESK_MLLP_TLS_KEY go together');
  else if (tlsCert && tlsKey) mllpTls = { cert: resolve(tlsCert), key: resolve(tlsKey), ...(tlsCa ? { ca: resolve(tlsCa) } : {}) };
  if (tlsCa && !tlsCert) problems.push('FRONTDESK_MLLP_TLS_CA needs FRONTDESK_MLLP_TLS_CERT and FRONTDESK_MLLP_TLS_KEY');
  const partnersFile = get('FRONTDESK_PARTNERS') ? resolve(get('FRONTDESK_PARTNERS')) : undefined;
  const timeZone = get('FRONTDESK_TIME_ZONE') || Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!isTimeZone(timeZone)) problems.push(`FRONTDESK_TIME_ZONE must be an IANA time zone such as America/Chicago (got "${timeZone}")`);
  const hl7ProcessingIds = get('FRONTDESK_HL7_PROCESSING_ID').split(',').map((p) => p.trim()).filter(Boolean);
  if (!hl7ProcessingIds.length || hl7ProcessingIds.some((p) => !['P', 'D', 'T'].includes(p))) {
    problems.push(`FRONTDESK_HL7_PROCESSING_ID must list P, D and/or T (HL7 table 0103), e.g. "P" or "P,D" (got "${get('FRONTDESK_HL7_PROCESSING_ID')}")`);
  }
  if (problems.length > 0) {
    throw new Error(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return { ...config, auth, bootstrapClient, tokenTtlSeconds, rateLimitPerMinute, rateLimitBurst, timeZone, hl7ProcessingIds, mllpTls, partnersFile };
}

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
