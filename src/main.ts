/**
 * @module main — `npm start`: runs the gateway until SIGINT/SIGTERM, then stops it in order.
 */
import { loadConfig } from './config.ts';
import { startGateway } from './gateway.ts';
import { createLogger } from './log.ts';

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const log = createLogger(config);
try {
  const gateway = await startGateway(config, log);
  // Before the banner: whoever waits for it (a supervisor, a test) may signal at once.
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    signalled = true;
    log.info({ signal }, 'stopping: no new connections, finishing in-flight requests');
    gateway.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err: { name: (err as Error).name } }, 'error while stopping');
        process.exit(1);
      }
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  log.info({ fhir: gateway.fhirUrl, mllp: gateway.mllpAddress, database: gateway.db.describe }, 'Frontdesk is up');
  console.log(`Frontdesk FHIR R4 API: ${gateway.fhirUrl}`);
  console.log(`Frontdesk MLLP:        ${gateway.mllpAddress}`);
  console.log(`Database:              ${gateway.db.describe}`);
  if (!config.auth) {
    console.warn('WARNING: FRONTDESK_AUTH=off — no access control: anyone who can reach this machine\'s loopback can read and write patient data. Development only.');
    log.warn('authentication is OFF (FRONTDESK_AUTH=off)');
  }
  if (gateway.access.firstAdmin) {
    const a = gateway.access.firstAdmin;
    console.log(`\nFirst start: created the admin client. Its secret is shown only now (also saved in ${a.file}):`);
    console.log(`  client_id:     ${a.id}\n  client_secret: ${a.secret}`);
    console.log(`  get a token:   curl -s -u '${a.id}:<secret>' -d grant_type=client_credentials ${new URL(gateway.fhirUrl).origin}/auth/token\n`);
  }
} catch (err) {
  console.error(`Frontdesk failed to start: ${(err as Error).message}`);
  process.exit(1);
}
