/**
 * @module workflows/hl7v2-exchange — one HL7 v2 message's way to its outcome, once its header is known to be
 * acceptable or not (./receive-hl7v2.ts decides which): the acknowledgments it gets in its mode, the stored row
 * that records the outcome, and what a resend of a message already recorded gets (its first acknowledgment).
 *
 * Acknowledgment modes (v2.5 §2.9): original mode (AA/AE/AR) unless MSH-15 or MSH-16 is valued; then enhanced mode:
 * a commit acknowledgment (CA once the message is stored, CR when it is refused) as MSH-15 asks (AL always, NE
 * never, ER only on error, SU only on success; empty → AL), then the application acknowledgment (AA/AE) as MSH-16
 * asks.
 */
import { OperationOutcomeError } from '@medplum/core';
import type { Sql } from 'postgres';
import { outcome } from '../outcome.ts';
import { inboundBatcherFor } from '../store/inbound-batch.ts';
import { finishMessage, recordInbound, type MessageOutcome, type NewInbound } from '../store/messages.ts';
import { buildAck, errorCode, type AckCode, type AckError } from '../translate/hl7v2/ack.ts';
import type { MessageHeader } from '../translate/hl7v2/header.ts';
import type { Hl7Applied, Hl7Handler, ReceiveContext } from './receive-hl7v2.ts';

export type Processed = { acks: string[]; status: string; resources: string[] };
export type Outcome = Processed & { messageId: string };

/**
 * Where the outcome goes: the stored row of a message processed again, or a new row for a message just received
 * (written with its outcome, in the transaction of its resources when there is one).
 */
export type Slot = { id: string } | { inbound: NewInbound };

type Stored = { id: string; first?: Processed };

/** A message recorded before (same sender and MSH-10): thrown inside its transaction, so its writes roll back. */
class Resent extends Error {
  readonly stored: Stored;
  constructor(stored: Stored) {
    super('resent');
    this.stored = stored;
  }
}

/** Table 0155: whether an acknowledgment is wanted for this outcome. Empty (in enhanced mode) counts as AL. */
function wanted(mode: string, success: boolean): boolean {
  return mode === '' || mode === 'AL' || (mode === 'ER' && !success) || (mode === 'SU' && success);
}

export class Hl7Exchange {
  private readonly ctx: ReceiveContext;
  private readonly slot: Slot;
  private readonly header: MessageHeader | undefined;

  constructor(ctx: ReceiveContext, slot: Slot, header: MessageHeader | undefined) {
    this.ctx = ctx;
    this.slot = slot;
    this.header = header;
  }

  /** Refused (AR, or CR in enhanced mode) or failed (AE): stored with the error, answered with it. */
  async fail(level: 'reject' | 'error', error: AckError): Promise<Outcome> {
    const acks = this.acks(level, error);
    const status = level === 'reject' ? 'rejected' : 'error';
    const code = level === 'reject' ? 'not-supported' : 'invalid';
    const stored = await this.store(this.ctx.sql, {
      status,
      response: acks.join(''),
      outcome: outcome(code, error.text, error.location),
    });
    if (stored.first) return this.resent(stored);
    const h = this.header;
    this.ctx.log.info(
      { messageId: stored.id, controlId: h?.controlId, type: h?.messageType, code: error.code },
      `hl7v2 ${status}`
    );
    return { acks, status, resources: [], messageId: stored.id };
  }

  /** An acknowledgment is never acknowledged (v2.5 2.9.2): kept in the log, nothing sent back. */
  async keepAcknowledgment(refused: AckError | undefined): Promise<Outcome> {
    const status = refused ? 'rejected' : 'processed';
    const why = refused
      ? refused.text
      : 'An acknowledgment: stored, not answered (an acknowledgment is never acknowledged)';
    const said = outcome(refused ? 'forbidden' : 'informational', why, undefined, refused ? 'error' : 'information');
    const stored = await this.store(this.ctx.sql, { status, response: '', outcome: said });
    return { acks: [], status, resources: [], messageId: stored.id };
  }

  /**
   * The handler writes the message's resources; the message row goes in with them, in their transaction (one
   * commit for both). A resend of a message already recorded conflicts there: its writes are rolled back and the
   * first acknowledgment stands. Content errors → AE with the element; anything else → AE 207, kept for reprocessing.
   */
  async apply(handler: Hl7Handler, text: string, charsetProblem: string | undefined): Promise<Outcome> {
    const header = this.header as MessageHeader;
    const acks = this.acks('ok');
    let stored: Stored | undefined;
    const within = async (sql: Sql, r: Hl7Applied) => {
      const unmapped = charsetProblem ? [...r.unmapped, `MSH-18: ${charsetProblem}`] : r.unmapped;
      const done: MessageOutcome = { status: 'processed', response: acks.join(''), resources: r.resources, unmapped };
      stored = await this.store(sql, done, true);
      if (stored.first) throw new Resent(stored);
    };
    try {
      const result = await handler(header, text, within);
      if (!stored) await within(this.ctx.sql, result); // a handler that writes without a transaction
      return { acks, status: 'processed', resources: result.resources, messageId: stored?.id ?? '' };
    } catch (err) {
      if (err instanceof Resent) return this.resent(err.stored);
      if (err instanceof OperationOutcomeError) {
        const issue = err.outcome.issue?.[0];
        const text = issue?.diagnostics ?? issue?.details?.text ?? 'Invalid content';
        return this.fail('error', { code: errorCode(issue), text, location: issue?.expression?.[0] });
      }
      this.ctx.log.error({ messageId: stored?.id, err: { name: (err as Error).name } }, 'hl7v2 handler failed');
      return this.fail('error', {
        code: '207',
        text: 'Application internal error; the message is kept and can be reprocessed',
      });
    }
  }

  private acks(level: 'reject' | 'error' | 'ok', error?: AckError): string[] {
    const h = this.header;
    const ack = (code: AckCode, e?: AckError): string =>
      buildAck(h, { code, controlId: this.ctx.newControlId(), time: new Date(), text: e?.text, error: e });
    if (!h || (h.acceptAckType === '' && h.applicationAckType === '')) {
      return [ack(level === 'reject' ? 'AR' : level === 'error' ? 'AE' : 'AA', error)];
    }
    const out: string[] = [];
    if (wanted(h.acceptAckType, level !== 'reject'))
      out.push(ack(level === 'reject' ? 'CR' : 'CA', level === 'reject' ? error : undefined));
    if (level !== 'reject' && wanted(h.applicationAckType, level === 'ok'))
      out.push(ack(level === 'error' ? 'AE' : 'AA', error));
    return out;
  }

  /**
   * Records the outcome. A message received before (same sender and MSH-10) keeps its first outcome: `first`.
   * `together`: in the transaction of its resources, whose batch's rows share one insert (store/inbound-batch.ts);
   * a failed insert fails that transaction, whose messages are then applied alone.
   */
  private async store(sql: Sql, done: MessageOutcome, together = false): Promise<Stored> {
    if ('id' in this.slot) {
      await finishMessage(sql, this.slot.id, done);
      return { id: this.slot.id };
    }
    const s = together
      ? await inboundBatcherFor(sql).record(this.slot.inbound, done)
      : await recordInbound(sql, this.slot.inbound, done);
    if (!s.duplicate) return { id: s.id };
    if (s.response === null) {
      await finishMessage(sql, s.id, done); // a row an interrupted earlier run left without an outcome
      return { id: s.id };
    }
    return { id: s.id, first: { acks: splitAcks(s.response), status: s.status, resources: [] } };
  }

  private resent(stored: Stored): Outcome {
    this.ctx.log.info(
      { messageId: stored.id, controlId: this.header?.controlId },
      'hl7v2 duplicate: first acknowledgment resent'
    );
    return { ...(stored.first as Processed), messageId: stored.id };
  }
}

/** The stored acknowledgment text back into messages (each starts with MSH). */
export function splitAcks(response: string): string[] {
  if (!response) return [];
  return response.split(/\r(?=MSH)/).map((m) => (m.endsWith('\r') ? m : `${m}\r`));
}
