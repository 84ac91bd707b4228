/**
 * @module translate/hl7v2/cli — `frontdesk translate FILE.hl7`: the FHIR transaction Bundle of each message in a
 * file, without a database. Every resource is validated as the gateway would; bad input → exit code 1 and an
 * OperationOutcome on stderr (nothing on stdout for that message).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { isTimeZone } from '../../config.ts';
import { outcome } from '../../outcome.ts';
import { validate } from '../../validate/validator.ts';
import { splitBatch } from './batch.ts';
import { decodeHl7 } from './charset.ts';
import { toTransactionBundle } from './bundle.ts';
import { HeaderError } from './header.ts';
import { translate } from './translate.ts';

export async function translateFile(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { 'time-zone': { type: 'string' } } });
  const file = positionals[0];
  const fail = (o: OperationOutcome): number => {
    process.stderr.write(`${JSON.stringify(o, null, 2)}\n`);
    return 1;
  };
  if (!file) return fail(outcome('required', 'usage: frontdesk translate FILE.hl7 [--time-zone America/Chicago]'));
  const timeZone = values['time-zone'] || process.env.FRONTDESK_TIME_ZONE || Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!isTimeZone(timeZone)) return fail(outcome('invalid', `Unknown time zone "${timeZone}"`));
  let text: string;
  try {
    text = decodeHl7(await readFile(file)).text;
  } catch (err) {
    return fail(outcome('not-found', `Cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`));
  }
  const { messages, problems } = splitBatch(text);
  if (problems.length) return fail(outcome('structure', problems.join('; ')));
  if (!messages.length) return fail(outcome('structure', `${file} holds no HL7 v2 message (no MSH segment)`));
  let status = 0;
  for (const message of messages) {
    try {
      const plan = translate(message, { timeZone });
      // A patch (update-existing) is validated by the server on the stored resource, not here.
      for (const e of plan.entries) if (e.mode !== 'update-existing') validate({ ...e.defaults, ...e.resource }, { profiles: e.profiles });
      const bundle = toTransactionBundle(plan);
      process.stdout.write(messages.length > 1 ? `${JSON.stringify(bundle)}\n` : `${JSON.stringify(bundle, null, 2)}\n`);
    } catch (err) {
      if (err instanceof OperationOutcomeError) status = fail(err.outcome);
      else if (err instanceof HeaderError) status = fail(outcome('structure', err.message, 'MSH'));
      else throw err;
    }
  }
  return status;
}
