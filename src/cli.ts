/**
 * @module cli — `npx frontdesk <command>`.
 */
import { parseArgs } from 'node:util';
import { addClient, listClients, revokeClient } from './access/clients.ts';
import { TokenService } from './access/tokens.ts';
import { verifyAuditTrail } from './audit/verify.ts';
import { loadConfig } from './config.ts';
import { openDatabase, type Database } from './store/db.ts';
import { translateFile } from './translate/hl7v2/cli.ts';
import { isX12, printX12 } from './translate/x12/cli.ts';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { verifyCoverageCli } from './verify-coverage-cli.ts';

const USAGE = `usage: frontdesk <command>

commands:
  start                          run the gateway (same as npm start)
  migrate                        apply pending migrations and exit
  clients add --scopes "S" [--name N] [--id ID] [--jwks FILE | --jwks-url URL] [--no-secret]
                                 register an OAuth client; its secret is printed once
  clients list                   list clients (never their secrets)
  clients revoke ID              revoke a client: its next token request fails
  audit verify                   check the audit trail's hash chain; exit 1 if a record was edited or deleted
  keys rotate                    new token signing key; tokens signed by the old one stay valid until they expire
  translate FILE [--time-zone Z] print the FHIR of a message (no database needed): HL7 v2 → transaction Bundle
                                 (several messages or a batch: one Bundle per line); X12 271 →
                                 CoverageEligibilityResponse, 270 → CoverageEligibilityRequest, 999/TA1 →
                                 OperationOutcome
  verify-coverage [--date D]     check the coverage of every patient booked on D (default today) with the payers
                                 in FRONTDESK_PARTNERS; progress on stderr, a summary table on stdout
  help                           this text

Commands work on the configured database: DATABASE_URL, or the embedded PostgreSQL in FRONTDESK_DATA_DIR
(default ./.frontdesk), whether or not the gateway is running.`;

class UsageError extends Error {}

/** HL7 v2 or X12, told apart by the first bytes (an X12 interchange opens with ISA). */
async function translate(argv: string[]): Promise<number> {
  const file = argv.find((a) => !a.startsWith('--'));
  const { readFile } = await import('node:fs/promises');
  const head = file ? await readFile(file).catch(() => undefined) : undefined;
  if (!head || !isX12(head)) return translateFile(argv);
  const fail = (o: OperationOutcome): number => (process.stderr.write(`${JSON.stringify(o, null, 2)}\n`), 1);
  return printX12(head, (s) => process.stdout.write(s), fail);
}

const args = process.argv.slice(2);
const [command, sub] = args;

async function withDb(fn: (db: Database) => Promise<void>): Promise<void> {
  const config = loadConfig(process.env);
  const db = await openDatabase(config);
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

try {
  switch (command) {
    case 'start':
      await import('./main.ts');
      break;
    case 'translate':
      process.exitCode = await translate(args.slice(1));
      break;
    case 'verify-coverage':
      process.exitCode = await verifyCoverageCli(args.slice(1));
      break;
    case 'migrate':
      await withDb(async (db) => console.log(`migrations up to date (${db.describe})`));
      break;
    case 'clients':
      await clients(sub, args.slice(2));
      break;
    case 'audit':
      if (sub !== 'verify') throw new UsageError(`unknown audit command "${sub ?? ''}"`);
      await withDb(async (db) => {
        const result = await verifyAuditTrail(db.sql);
        if (result.ok) {
          console.log(`audit trail intact: ${result.checked} records verified`);
        } else {
          console.error(`AUDIT TRAIL BROKEN (${result.checked} records read):`);
          for (const p of result.problems) console.error(`  - ${p}`);
          process.exitCode = 1;
        }
      });
      break;
    case 'keys':
      if (sub !== 'rotate') throw new UsageError(`unknown keys command "${sub ?? ''}"`);
      await withDb(async (db) => {
        const config = loadConfig(process.env);
        const tokens = new TokenService(db.sql, { issuer: new URL(config.baseUrl).origin, audience: config.baseUrl, ttlSeconds: config.tokenTtlSeconds });
        await tokens.init();
        console.log(`new signing key ${await tokens.rotate()}`);
      });
      break;
    case 'help':
    case '--help':
    case '-h':
    case undefined:
      console.log(USAGE);
      break;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`${err.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(`frontdesk ${command ?? ''}: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}

async function clients(action: string | undefined, rest: string[]): Promise<void> {
  switch (action) {
    case 'add': {
      const { values } = parseArgs({
        args: rest,
        options: {
          scopes: { type: 'string' },
          name: { type: 'string' },
          id: { type: 'string' },
          jwks: { type: 'string' },
          'jwks-url': { type: 'string' },
          'no-secret': { type: 'boolean' },
        },
      });
      if (!values.scopes) throw new UsageError('clients add needs --scopes "system/Patient.rs ..."');
      const { readFile } = await import('node:fs/promises');
      const jwks = values.jwks ? JSON.parse(await readFile(values.jwks, 'utf8')) : undefined;
      await withDb(async (db) => {
        const { client, secret } = await addClient(db.sql, {
          id: values.id,
          name: values.name,
          scopes: values.scopes as string,
          jwks,
          jwksUrl: values['jwks-url'],
          secret: values['no-secret'] ? false : undefined,
        });
        console.log(`client_id:     ${client.id}`);
        if (secret) console.log(`client_secret: ${secret}   (shown once: it is stored only as a hash)`);
        console.log(`scopes:        ${client.scopes}`);
      });
      break;
    }
    case 'list':
      await withDb(async (db) => {
        for (const c of await listClients(db.sql)) {
          const auth = [c.secretHash ? 'secret' : '', c.jwks ? 'jwks' : '', c.jwksUrl ? 'jwks-url' : ''].filter(Boolean).join('+');
          console.log([c.id, c.revokedAt ? 'revoked' : 'active', auth, c.scopes, c.name].join('\t'));
        }
      });
      break;
    case 'revoke': {
      const id = rest[0];
      if (!id) throw new UsageError('clients revoke needs a client id');
      await withDb(async (db) => {
        if (!(await revokeClient(db.sql, id))) throw new Error(`no active client "${id}"`);
        console.log(`revoked ${id}`);
      });
      break;
    }
    default:
      throw new UsageError(`unknown clients command "${action ?? ''}"`);
  }
}

