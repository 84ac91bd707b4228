/**
 * The measured process of `npm run bench:load` (bench/load.ts), forked once per scenario so its CPU time is its
 * own (and, with `--profile`, so `--cpu-prof` writes one profile per scenario when it exits).
 *
 * `gateway`: the real gateway, started as `npm start` would with no `DATABASE_URL` (embedded PostgreSQL over its
 * Unix socket), on free ports, with a bootstrap client for the token.
 * `baseline`: no gateway. The same postgres.js settings and pool size as the gateway's (`connect` from
 * store/db) running a bare autocommit INSERT of one jsonb row or a primary-key SELECT, and the project's MLLP
 * listener with a handler that only parses the message and builds AA — the floor each gateway row is set beside;
 * and the HTTP stack alone answering from memory (./load-http-floor.ts).
 */
import { loadConfig } from '../src/config.ts';
import { startGateway } from '../src/gateway.ts';
import { startMllpListener } from '../src/inbound/mllp/listener.ts';
import { createLogger } from '../src/log.ts';
import { connect } from '../src/store/db.ts';
import { buildAck, newControlId } from '../src/translate/hl7v2/ack.ts';
import { readHeader } from '../src/translate/hl7v2/header.ts';
import { Hl7v2Message } from '../src/translate/hl7v2/parse.ts';
import { BOOTSTRAP, patient } from './load-data.ts';
import { startHttpFloor } from './load-http-floor.ts';
import { drive, serveCalls, type Op, type RunArgs } from './load-loop.ts';

export type GatewayReady = { httpPort: number; mllpPort: number };
export type BaselineReady = { mllpPort: number; httpPort: number };

const RUN = process.env.BENCH_RUN ?? 'x';
const config = loadConfig({
  ...process.env,
  PORT: '0',
  FRONTDESK_MLLP_PORT: '0',
  FRONTDESK_LOG_LEVEL: 'silent',
  FRONTDESK_BOOTSTRAP_CLIENT: `${BOOTSTRAP.id}:${BOOTSTRAP.secret}:system/*.*`,
  FRONTDESK_RATE_LIMIT_PER_MINUTE: '0',
});
const log = createLogger(config);

async function gateway(): Promise<void> {
  const g = await startGateway({ ...config, port: 0 }, log);
  const ready: GatewayReady = { httpPort: g.port, mllpPort: g.mllp.port };
  serveCalls(
    {
      // The AuditEvent copies still being projected belong to the operations that caused them.
      settle: () => g.audit.settled(),
      stop: () => g.stop(),
    },
    ready
  );
}

async function baseline(): Promise<void> {
  const table = process.env.BENCH_TABLE!;
  const sql = connect(process.env.BENCH_PG_URL!, config.dbPoolSize, process.env.BENCH_PG_SOCKET || undefined);
  await sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (id uuid PRIMARY KEY, content jsonb NOT NULL)`;
  const echo = await startMllpListener(
    {
      host: '127.0.0.1', port: 0, maxFrameBytes: config.mllpMaxFrameBytes, idleTimeoutMs: config.mllpIdleTimeoutMs,
      log, newControlId,
    },
    async (raw) => {
      const text = raw.toString('utf8');
      const header = readHeader(text);
      if (!new Hl7v2Message(text).first('PID')) throw new Error('no PID');
      return [buildAck(header, { code: 'AA', controlId: newControlId(), time: new Date() })];
    }
  );
  const http = await startHttpFloor(patient(0, RUN));
  let ids: string[] = [];
  const insert: Op = async (i) => {
    await sql`INSERT INTO ${sql(table)} VALUES (gen_random_uuid(), ${sql.json(patient(i, RUN) as never)})`;
    return undefined;
  };
  const ops: Record<string, Op> = {
    'sql-insert': insert,
    'sql-select': async (i) => {
      const rows = await sql`SELECT content FROM ${sql(table)} WHERE id = ${ids[i % ids.length]!}`;
      return rows.length === 1 ? undefined : 'row not found';
    },
  };
  const ready: BaselineReady = { mllpPort: echo.port, httpPort: http.port };
  serveCalls(
    {
      /** Rows for the PK SELECT: at least `count`, made before the row is measured. */
      prepare: async ({ count }: { count: number }) => {
        const [{ n } = { n: 0 }] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM ${sql(table)}`;
        for (let i = n; i < count; i++) await insert(-1 - i, 0);
        ids = (await sql<{ id: string }[]>`SELECT id FROM ${sql(table)} LIMIT ${count}`).map((r) => r.id);
      },
      run: (a: RunArgs, warm) => drive(a, ops[a.op]!, warm),
      stop: async () => {
        await echo.close();
        await http.close();
        await sql.end({ timeout: 5 });
      },
    },
    ready
  );
}

await (process.argv[2] === 'gateway' ? gateway() : baseline());
