/**
 * @module test/fuzz/verdict — what became of one fuzz input, and which errors count as a proper refusal.
 *
 * A refusal is one of the project's structured errors, each mapped to a precise answer at its edge: an
 * `OperationOutcomeError` (contentError of translate/hl7v2/datatypes.ts and every outcome of src/outcome.ts), a
 * `HeaderError` (an unreadable MSH: ACK AR) and an `X12SyntaxError` (TA1/999, or an error outcome; the serializer's
 * X12SerializeError is one). Anything else thrown is a crash: at the edge it would be an HTTP 500 or AE 207.
 */
import { OperationOutcomeError } from '@medplum/core';
import { HeaderError } from '../../src/translate/hl7v2/header.ts';
import { X12SyntaxError } from '../../src/translate/x12/tokens.ts';

export type Verdict =
  | { kind: 'ok'; ms: number; value?: unknown }
  | { kind: 'refused'; ms: number; name: string; message: string }
  | { kind: 'crash' | 'violation'; ms: number; name: string; message: string; stack: string }
  | { kind: 'hang'; ms: number };

/** Thrown by a target when a result breaks a property (a framer that loses a frame, an ACK we cannot read back). */
export class Violation extends Error {
  override readonly name = 'Violation';
}

export function isStructured(err: unknown): boolean {
  return err instanceof OperationOutcomeError || err instanceof HeaderError || err instanceof X12SyntaxError;
}

/** Runs `fn` and says what happened, timed. */
export function judge(fn: () => unknown): Verdict {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const value = fn();
    return { kind: 'ok', ms: ms(), value };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    if (isStructured(err)) return { kind: 'refused', ms: ms(), name: e.name, message: e.message.slice(0, 300) };
    const kind = err instanceof Violation ? 'violation' : 'crash';
    return { kind, ms: ms(), name: e.name, message: e.message.slice(0, 2000), stack: e.stack ?? '' };
  }
}

/** Passes for a result or a structured refusal; throws with the details for a crash, a broken property or a hang. */
export function assertSound(v: Verdict): void {
  if (v.kind === 'ok' || v.kind === 'refused') return;
  if (v.kind === 'hang') throw new Error(`no answer within ${v.ms} ms (the worker was ended)`);
  throw new Error(`${v.kind} after ${v.ms} ms — ${v.name}: ${v.message}\n${v.stack}`);
}
