/**
 * @module translate/hl7v2/batch — HL7 v2 batches (v2.5 §2.10.3): `[FHS] {BHS {MSH…} BTS} [FTS]` split into
 * their messages, the envelope checked.
 *
 * A text without FHS/BHS is one message, or several messages one after the other (a file of messages): each
 * MSH starts one. BTS-1 (batch message count) and FTS-1 (file batch count), when present, must agree with
 * what was found: a count that does not means the batch was cut, which is reported rather than guessed at.
 */
import { splitSegments } from './header.ts';

export type SplitBatch = {
  /** True when the text had a batch envelope (FHS or BHS). */
  batch: boolean;
  /** The messages, each its segments joined by CR. */
  messages: string[];
  /** The envelope segments as received (FHS, BHS), for the batch acknowledgment. */
  fhs?: string;
  bhs?: string;
  /** Problems with the envelope (counts that do not match, segments outside any message). */
  problems: string[];
};

export function splitBatch(text: string): SplitBatch {
  const out: SplitBatch = { batch: false, messages: [], problems: [] };
  let current: string[] | undefined;
  let batchStart = 0;
  let batches = 0;
  const flush = () => {
    if (current) out.messages.push(current.join('\r') + '\r');
    current = undefined;
  };
  for (const seg of splitSegments(text)) {
    const name = seg.slice(0, 3);
    switch (name) {
      case 'FHS':
        out.batch = true;
        out.fhs ??= seg;
        break;
      case 'BHS':
        flush();
        out.batch = true;
        out.bhs ??= seg;
        batchStart = out.messages.length;
        batches++;
        break;
      case 'BTS': {
        flush();
        const declared = seg.split(seg.charAt(3))[1];
        const counted = out.messages.length - batchStart;
        if (declared && Number(declared) !== counted) out.problems.push(`BTS-1 declares ${declared} messages, the batch holds ${counted}`);
        break;
      }
      case 'FTS': {
        flush();
        const declared = seg.split(seg.charAt(3))[1];
        if (declared && Number(declared) !== batches) out.problems.push(`FTS-1 declares ${declared} batches, the file holds ${batches}`);
        break;
      }
      case 'MSH':
        flush();
        current = [seg];
        break;
      default:
        if (current) current.push(seg);
        else out.problems.push(`${name} segment outside any message`);
    }
  }
  flush();
  // The envelope and the problems go into the batch acknowledgment, which is stored as text: a NUL there (no HL7
  // character; PostgreSQL text cannot hold one) left the whole batch unrecorded and answered AR 207. Shown as U+FFFD.
  const visible = (s: string) => s.replaceAll('\u0000', '\uFFFD');
  out.problems = out.problems.map(visible);
  if (out.fhs !== undefined) out.fhs = visible(out.fhs);
  if (out.bhs !== undefined) out.bhs = visible(out.bhs);
  return out;
}
