/**
 * @module workflows/hl7v2-handlers — the handler of every HL7 v2 message type the gateway accepts: translate
 * (pure) and apply the plan in one transaction (./apply-plan.ts), shared with the messages in flight with it
 * (./plan-batch.ts), before the ACK, written on behalf of the sender (the change hook sends nothing back to it).
 * The referral loop (./referral-loop.ts) adds to RRI and SIU.
 */
import type { Logger } from '../log.ts';
import type { Repository } from '../store/repository.ts';
import { Hl7v2Message } from '../translate/hl7v2/parse.ts';
import { translateWith, TRANSLATORS, type TranslateOptions } from '../translate/hl7v2/translate.ts';
import type { MessageHeader } from '../translate/hl7v2/header.ts';
import { applyPlan } from './apply-plan.ts';
import { PlanBatcher } from './plan-batch.ts';
import type { Hl7Handler } from './receive-hl7v2.ts';
import { answeredByAck, linkAppointment } from './referral-loop.ts';

/** Handlers by `CODE^TRIGGER`; `optionsFor` gives the sender's settings (its time zone and character set). */
export function hl7v2Handlers(
  repo: Repository,
  optionsFor: (header: MessageHeader) => TranslateOptions,
  partnerOf: (header: MessageHeader) => string | undefined = () => undefined,
  log?: Logger
): Map<string, Hl7Handler> {
  const handlers = new Map<string, Hl7Handler>();
  // A batch that fails is applied again message by message: a resend or a refused message among others is the
  // usual reason; the log line (the error's kind, never its text) shows when batches fail for another.
  const batcher = new PlanBatcher(repo, undefined, (messages, err) => {
    const e = err as { name?: string; code?: string };
    log?.info(
      { messages, err: { name: e?.name, code: e?.code } },
      'hl7v2 batch failed: its messages applied one by one'
    );
  });
  for (const [type, translator] of TRANSLATORS) {
    handlers.set(type, async (header, text, within) => {
      const opts = optionsFor(header);
      // \Xhh\ escapes are bytes in the message's character set: the partner's when it overrides MSH-18.
      const msg = new Hl7v2Message(text, { charset: opts.charset });
      const partner = partnerOf(header);
      const writer = repo.from({ application: header.sendingApplication, facility: header.sendingFacility, partner });
      if (type === 'RRI^I12') {
        const answered = await answeredByAck(repo, msg, partner);
        if (answered) opts.answered = answered;
      }
      const plan = translateWith(translator, msg, opts);
      if (!type.startsWith('SIU^')) return batcher.apply(writer, plan, within);
      // The message's row is written after the link, so what the link reports is recorded with it.
      return writer.transaction(async (tx) => {
        const applied = await applyPlan(tx, plan);
        await linkAppointment(tx, msg, applied);
        await within?.(tx.sql, applied);
        return applied;
      });
    });
  }
  return handlers;
}
