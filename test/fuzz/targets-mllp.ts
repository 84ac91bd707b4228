/**
 * @module test/fuzz/targets-mllp — the MLLP framer (src/inbound/mllp/framer.ts) under fuzz, run in the sandbox
 * worker. A TCP stream arrives cut anywhere, so what the framer yields must not depend on where the cuts fall, its
 * buffer must stay within the frame limit, and messages framed by `frame()` must come out exactly as they went in.
 */
import { CR, FS, frame, MllpFramer, VT, type FrameEvent } from '../../src/inbound/mllp/framer.ts';
import { Violation } from './verdict.ts';

/** `cuts`: fractions of the stream's length where a TCP chunk ends. */
export type StreamInput = { bytes: Uint8Array; cuts: number[]; max: number };
/** `junk`: bytes a sender puts between frames (keep-alive newlines, garbage without VT). */
export type RoundTripInput = { messages: Uint8Array[]; junk: Uint8Array[]; cuts: number[] };

function feed(bytes: Buffer, cuts: number[], max: number): FrameEvent[] {
  const f = new MllpFramer(max, 16);
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const events: FrameEvent[] = [];
  let from = 0;
  for (const to of [...points, bytes.length]) {
    if (to <= from && to !== bytes.length) continue;
    events.push(...f.push(bytes.subarray(from, to)));
    from = to;
    if (f.pending > max + 3) throw new Violation(`the framer holds ${f.pending} bytes, over the limit ${max} + 3`);
  }
  return events;
}

const frames = (events: FrameEvent[]) =>
  events.flatMap((e) => ('frame' in e ? [Buffer.from(e.frame).toString('hex')] : []));

/**
 * Any bytes, cut anywhere: no frame over the limit, none holding FS CR, and — unless a frame was too large, which
 * drops bytes at a point that depends on the cuts — the same frames as the stream read in one piece.
 */
export function framerStream(input: StreamInput): number {
  const bytes = Buffer.from(input.bytes);
  const whole = feed(bytes, [], input.max);
  const cut = feed(bytes, input.cuts, input.max);
  for (const e of cut) {
    if (!('frame' in e)) continue;
    if (e.frame.length > input.max) {
      throw new Violation(`a frame of ${e.frame.length} bytes passed the limit ${input.max}`);
    }
    for (let i = e.frame.indexOf(FS); i >= 0; i = e.frame.indexOf(FS, i + 1)) {
      if (e.frame[i + 1] === CR) throw new Violation('a frame holds FS CR, the end of a frame');
    }
  }
  const tooLarge = [...whole, ...cut].some((e) => 'error' in e && e.error === 'too-large');
  if (!tooLarge && frames(whole).join() !== frames(cut).join()) {
    const counts = `${frames(whole).length} vs ${frames(cut).length}`;
    throw new Violation(`cut into chunks the stream gives other frames: ${counts}`);
  }
  return cut.length;
}

/** Messages without FS CR, framed, with junk between them and cut anywhere: the same messages, in order. */
export function framerRoundTrip(input: RoundTripInput): number {
  const parts = input.messages.map((m, i) => Buffer.concat([Buffer.from(input.junk[i] ?? []), frame(Buffer.from(m))]));
  const events = feed(Buffer.concat(parts), input.cuts, 1 << 26);
  const got = frames(events);
  const sent = input.messages.map((m) => Buffer.from(m).toString('hex'));
  if (got.join() !== sent.join()) {
    throw new Violation(`sent ${sent.length} messages, the framer gave ${got.length} (or others)`);
  }
  if (events.some((e) => 'error' in e && e.error !== 'junk')) throw new Violation('a framing error other than junk');
  return got.length;
}

/** For the generators: message bytes without an FS CR pair, and junk without VT. */
export function withoutFrameEnd(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.from(Buffer.from(bytes).toString('latin1').replaceAll('\x1c\r', '\x1c '), 'latin1'));
}

export function withoutVt(bytes: Uint8Array): Uint8Array {
  return bytes.filter((b) => b !== VT);
}
