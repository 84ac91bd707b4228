/**
 * Fuzzing the MLLP door over a real socket (issue #16 point 2): a connection carries a stream of mutated messages
 * (all the public samples, the supported types most), pipelined and cut into arbitrary TCP chunks with junk between
 * frames, sometimes ending in a frame over the size limit. Every frame gets exactly one acknowledgment, in order,
 * within the time bound — AA, or AE/AR with an ERR segment saying why — and the connection is never dropped
 * before it; an oversized frame gets its AR, then the connection is closed. An AE or AR 207 (application internal
 * error: a crash inside, or a message that could not even be recorded) is a failure too.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe } from 'vitest';
import { frame } from '../../src/inbound/mllp/framer.ts';
import { TRANSLATORS } from '../../src/translate/hl7v2/translate.ts';
import { testGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectMllp } from '../helpers/hl7.ts';
import { checkAcks, recordThrown, unanswerable, withControlIds } from './acks.ts';
import { HL7, HL7_SEEDS, messageType, mutated } from './corpus.ts';
import { fuzz } from './property.ts';
import { withoutFrameEnd, withoutVt } from './targets-mllp.ts';

const MAX_FRAME = 64 * 1024;
const TIME_BOUND_MS = 15_000;
let g: TestGateway;
let thrown: string[] = [];
beforeAll(async () => {
  g = await testGateway({ FRONTDESK_MLLP_MAX_FRAME_BYTES: String(MAX_FRAME) });
  thrown = recordThrown(g);
}, 60_000);
afterAll(() => g?.stop());

const supported = HL7_SEEDS.filter((s) => TRANSLATORS.has(messageType(s.bytes)) && !unanswerable(s.bytes));
const others = HL7_SEEDS.filter((s) => !TRANSLATORS.has(messageType(s.bytes)) && !unanswerable(s.bytes));
const message = fc
  .oneof({ weight: 4, arbitrary: mutated(supported, HL7, 4) }, { weight: 1, arbitrary: mutated(others, HL7, 4) })
  .map(withoutFrameEnd)
  .filter((m) => !unanswerable(m));
const junk = fc.oneof(
  { weight: 3, arbitrary: fc.constant(new Uint8Array()) },
  fc.uint8Array({ maxLength: 6 }).map(withoutVt)
);
const stream = fc.record({
  messages: fc.array(fc.tuple(junk, message), { minLength: 1, maxLength: 5 }),
  cuts: fc.array(fc.integer({ min: 0, max: 9999 }).map((n) => n / 10000), { maxLength: 8 }),
  oversized: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const shown = (acks: string[]) => JSON.stringify(acks).slice(0, 2000);

describe('MLLP over a socket under fuzz', () => {
  const name = 'every frame of a mutated stream gets one ACK, AE/AR with ERR, and the connection stays until then';
  fuzz('mllp-socket', name, stream, async (s) => {
    const sent = s.messages.map(([j, m]) => ({ junk: Buffer.from(j), ...withControlIds(m) }));
    if (s.oversized) sent.push({ junk: Buffer.alloc(0), bytes: Buffer.alloc(MAX_FRAME + 10, 'A'), id: '' });
    const bytes = Buffer.concat(sent.flatMap((m) => [m.junk, frame(m.bytes)]));
    // A frame over the limit (a repeated segment makes one too) is answered AR, and nothing after it.
    const tooLarge = sent.findIndex((m) => m.bytes.length > MAX_FRAME);
    const expected = tooLarge < 0 ? sent.length : tooLarge + 1;
    const c = await connectMllp(g.mllp.port, { encoding: 'latin1' });
    let closed = false;
    void c.closed.then(() => (closed = true));
    try {
      const points = [...new Set(s.cuts.map((x) => Math.floor(x * bytes.length)))].sort((x, y) => x - y);
      let from = 0;
      for (const to of [...points, bytes.length]) {
        if (to > from) c.sendBytes(bytes.subarray(from, to));
        from = Math.max(from, to);
      }
      const acks = await c.next(expected, TIME_BOUND_MS);
      // A moment more: an ACK too many, or a close after the last ACK, shows up now.
      await new Promise((r) => setTimeout(r, 30));
      if (acks.length < expected) {
        const why = closed ? 'the connection was closed' : `no answer within ${TIME_BOUND_MS} ms`;
        throw new Error(`${acks.length} answers to ${expected} frames: ${why}; answers: ${shown(acks)}`);
      }
      if (c.frames.length) {
        throw new Error(`${expected + c.frames.length} answers to ${expected} frames: ${shown(c.frames)}`);
      }
      const answered = sent.slice(0, tooLarge < 0 ? undefined : tooLarge);
      answered.forEach((m, i) => checkAcks(acks[i] as string, { id: m.id, single: true, thrown }));
      if (tooLarge >= 0) {
        const last = acks[expected - 1] as string;
        if (!/\rMSA.AR/.test(last)) throw new Error(`the oversized frame got ${last}`);
      } else if (closed) throw new Error('the connection was closed after its ACKs, with nothing wrong');
    } finally {
      c.socket.destroy();
    }
  }, { numRuns: 30, timeoutMs: 120_000 });
});
