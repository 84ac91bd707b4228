/**
 * @module test/fuzz/acks — what an HL7 v2 door must answer, for the fuzz tests of MLLP and of `POST /hl7v2`: which
 * inputs get no acknowledgment (rightly), what a sound acknowledgment is, and the stack of whatever a handler threw
 * behind an AE 207 (the ACK and the log say only that something did: no PHI in either).
 */
import type { TestGateway } from '../helpers/gateway.ts';
import { decodeHl7 } from '../../src/translate/hl7v2/charset.ts';
import { readHeader } from '../../src/translate/hl7v2/header.ts';

/**
 * Inputs the gateway rightly answers with no acknowledgment, or with as many as the sender asks (v2.5 §2.9):
 * acknowledgments themselves (ACK, MCF) and enhanced mode (MSH-15/MSH-16 valued). Left out of the generated
 * inputs, so that every one sent must get exactly one answer. Read as the gateway reads them
 * (workflows/hl7v2-input.ts, receive-hl7v2.ts).
 */
export function unanswerable(bytes: Uint8Array): boolean {
  const raw = Buffer.from(bytes);
  const body = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? raw.subarray(3) : raw;
  const latin1 = body.toString('latin1').replace(/^[\r\n ]+/, '');
  if (latin1.startsWith('FHS') || latin1.startsWith('BHS')) return false; // a batch: one batch acknowledgment
  if (latin1.startsWith('MSH') && /[\r\n]MSH/.test(latin1)) return false; // several messages: one AR (MLLP)
  return [latin1, decodeHl7(raw).text].some((text) => {
    try {
      const h = readHeader(text);
      return h.code === 'ACK' || h.code === 'MCF' || h.acceptAckType !== '' || h.applicationAckType !== '';
    } catch {
      return false; // unreadable: AR
    }
  });
}

/** Wraps the gateway's HL7 v2 handlers to keep what they throw, with its stack and the message's MSH-10. */
export function recordThrown(g: TestGateway): string[] {
  const thrown: string[] = [];
  for (const [type, handler] of g.receive.handlers) {
    g.receive.handlers.set(type, (header, text, within) => handler(header, text, within).catch((err: Error) => {
      const code = (err as { code?: string }).code ?? '';
      thrown.push(`${type} ${header.controlId}: ${err.name} ${code} ${err.message}\n${err.stack ?? ''}`);
      throw err;
    }));
  }
  return thrown;
}

/**
 * An answer: acknowledgments (one, several, or a batch of them) whose MSA-1 is an acknowledgment code, whose AE/AR
 * carry an ERR saying why, and none of them 207 (application internal error). `id`: the MSH-10 a single ACK must
 * echo in MSA-2 (when it could read it).
 */
export function checkAcks(text: string, o: { id?: string; single?: boolean; thrown: readonly string[] }): void {
  const segments = text.split('\r').filter(Boolean);
  const F = text.charAt(3) || '|';
  const msas = segments.map((s, i) => [s, i] as const).filter(([s]) => s.startsWith('MSA'));
  if (!segments[0]?.match(/^(MSH|FHS|BHS)/)) {
    throw new Error(`an answer that is no acknowledgment: ${text.slice(0, 200)}`);
  }
  if (o.single && segments[0].startsWith('MSH') && msas.length !== 1) {
    throw new Error(`an ACK with ${msas.length} MSA: ${text}`);
  }
  for (const [msa, i] of msas) {
    const [, code = '', control = ''] = msa.split(F);
    if (!['AA', 'AE', 'AR', 'CA', 'CE', 'CR'].includes(code)) throw new Error(`MSA-1 "${code}": ${text}`);
    if (o.single && o.id && control && control !== o.id) {
      throw new Error(`MSA-2 ${control} answers another message than ${o.id}`);
    }
    const next = segments.slice(i + 1).findIndex((s) => s.startsWith('MSH') || s.startsWith('MSA'));
    const err = segments.slice(i + 1, next < 0 ? undefined : i + 1 + next).find((s) => s.startsWith('ERR'));
    if (code !== 'AA' && code !== 'CA' && !err) throw new Error(`${code} without an ERR segment: ${text}`);
    if (err?.split(F)[3]?.startsWith('207')) {
      const why = o.thrown.filter((t) => control && t.includes(control)).join('\n') || 'no handler threw';
      throw new Error(`${code} 207, an application internal error: ${text}\n${why}`);
    }
  }
}

let serial = 0;
/**
 * Every MSH-10 made unique (a resend of a control id gets the first answer again, whatever its content): the
 * bytes to send, and the first message's new MSH-10 (what a single ACK must echo), '' when there was no MSH.
 */
export function withControlIds(bytes: Uint8Array): { bytes: Buffer; id: string } {
  let first = '';
  const text = Buffer.from(bytes).toString('latin1');
  const out = text.replace(/(^(?:\xEF\xBB\xBF)?|[\r\n])(MSH[^\r\n]*)/g, (all, lead: string, line: string) => {
    const F = line.charAt(3);
    const fields = line.split(F);
    if (!F || fields.length < 10) return all;
    fields[9] = `FZ${Date.now().toString(36)}${(serial++).toString(36)}`.slice(-20);
    first ||= fields[9];
    return lead + fields.join(F);
  });
  return { bytes: Buffer.from(out, 'latin1'), id: first };
}
