/**
 * Fuzzing the MLLP framer (src/inbound/mllp/framer.ts, issue #16 point 2): whatever bytes arrive, cut into
 * whatever TCP chunks, it yields the same frames as if they came in one piece, keeps no more than the frame limit,
 * never throws or loops; and messages framed with `frame()`, with junk between them, come out as they went in.
 */
import fc from 'fast-check';
import { afterAll, describe } from 'vitest';
import { CR, FS, VT } from '../../src/inbound/mllp/framer.ts';
import { HL7, HL7_SEEDS, mutated } from './corpus.ts';
import { fuzz } from './property.ts';
import { Sandbox } from './sandbox.ts';
import { withoutFrameEnd, withoutVt } from './targets-mllp.ts';
import { assertSound } from './verdict.ts';

const box = new Sandbox();
afterAll(() => box.close());
const run = (target: string) => async (input: unknown) => assertSound(await box.run(target, input));

const cuts = fc.array(fc.integer({ min: 0, max: 9999 }).map((n) => n / 10000), { maxLength: 12 });
/** Streams rich in the framing bytes themselves, so that starts, ends and half-ends meet in every order. */
const framingByte = fc.constantFrom(VT, FS, CR, 0x0a, 0x20, 0x4d);
const stream = fc
  .array(fc.oneof(framingByte, fc.integer({ min: 0, max: 255 })), { maxLength: 300 })
  .map((a) => Uint8Array.from(a));
const message = fc.oneof(mutated(HL7_SEEDS, HL7, 2), fc.uint8Array({ maxLength: 64 })).map(withoutFrameEnd);
const junk = fc.oneof(
  fc.constant(new Uint8Array()),
  fc.constantFrom('\r', '\n', ' \r\n').map((s) => new Uint8Array(Buffer.from(s))),
  fc.uint8Array({ maxLength: 8 }).map(withoutVt)
);
const framed = fc.record({
  messages: fc.array(message, { maxLength: 6 }),
  junk: fc.array(junk, { maxLength: 6 }),
  cuts,
});

describe('MLLP framer under fuzz', () => {
  fuzz('mllp-framer', 'yields the same frames however the stream is cut, within the frame limit',
    fc.record({ bytes: stream, cuts, max: fc.integer({ min: 0, max: 400 }) }), run('mllp.stream'), { numRuns: 1500 });
  fuzz('mllp-framer', 'gives back framed messages as they were sent, in order, whatever junk lies between them',
    framed, run('mllp.roundtrip'), { numRuns: 300 });
});
