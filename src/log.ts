/**
 * @module log — JSON logs (pino). Callers log ids, types, control numbers and timings only: never names,
 * birth dates, identifiers or message bodies (no PHI in logs).
 */
import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';

export type { Logger };

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: 'frontdesk' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // A last line of defence: anything that looks like a body or a patient field is dropped if passed by mistake.
      redact: { paths: ['body', 'resource', 'message', 'patient', 'name', 'birthDate', 'identifier'], remove: true },
    },
    destination as pino.DestinationStream | undefined
  );
}
