/**
 * Used by `.ci/run`: `node test/helpers/ci-db.ts create|drop <server-url> <name>` makes or removes a fresh
 * database on a PostgreSQL server (no psql needed), and prints the server version it talked to.
 */
import postgres from 'postgres';

const [command, serverUrl, name] = process.argv.slice(2);
if (!command || !serverUrl || !name || !/^[a-z0-9_]+$/.test(name)) {
  console.error('usage: ci-db.ts create|drop <postgres://server/db> <name>');
  process.exit(2);
}
const sql = postgres(serverUrl, { max: 1, onnotice: () => undefined });
try {
  if (command === 'create') {
    const [row] = await sql<{ server_version: string }[]>`SHOW server_version`;
    const server_version = row?.server_version;
    await sql.unsafe(`CREATE DATABASE "${name}"`);
    console.log(`created database ${name} on PostgreSQL ${server_version}`);
  } else {
    await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
} finally {
  await sql.end();
}
