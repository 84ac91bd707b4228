/**
 * @module cli — `npx frontdesk <command>`.
 */
import { loadConfig } from './config.ts';
import { openDatabase } from './store/db.ts';

const USAGE = `usage: frontdesk <command>

commands:
  start       run the gateway (same as npm start)
  migrate     apply pending migrations to the configured database and exit
  help        this text

The database is DATABASE_URL, or the embedded PostgreSQL in FRONTDESK_DATA_DIR (default ./.frontdesk).`;

const [command] = process.argv.slice(2);
switch (command) {
  case 'start':
    await import('./main.ts');
    break;
  case 'migrate': {
    const config = loadConfig(process.env);
    const db = await openDatabase(config, (msg) => console.log(msg));
    console.log(`migrations up to date (${db.describe})`);
    await db.close();
    break;
  }
  case 'help':
  case '--help':
  case '-h':
  case undefined:
    console.log(USAGE);
    break;
  default:
    console.error(`unknown command "${command}"\n\n${USAGE}`);
    process.exitCode = 2;
}
