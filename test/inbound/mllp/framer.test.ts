import { describe, expect, it } from 'vitest';
import { frame, MllpFramer } from '../../../src/inbound/mllp/framer.ts';

const frames = (events: ReturnType<MllpFramer['push']>) =>
  events.flatMap((e) => ('frame' in e ? [e.frame.toString('utf8')] : []));

describe('MLLP framer', () => {
  it('yields each of several frames that arrive pipelined in one chunk, in order', () => {
    const f = new MllpFramer(1024);
    const chunk = Buffer.concat([frame('MSH|one'), frame('MSH|two'), frame('MSH|three')]);
    expect(frames(f.push(chunk))).toEqual(['MSH|one', 'MSH|two', 'MSH|three']);
    expect(f.pending).toBe(0);
  });

  it('reassembles a frame split across many chunks, byte by byte', () => {
    const f = new MllpFramer(1024);
    const bytes = frame('MSH|^~\\&|A|B\rPID|1\r');
    const out: string[] = [];
    for (const b of bytes) out.push(...frames(f.push(Buffer.from([b]))));
    expect(out).toEqual(['MSH|^~\\&|A|B\rPID|1\r']);
  });

  it('handles a chunk holding the end of one frame and the start of the next', () => {
    const f = new MllpFramer(1024);
    const all = Buffer.concat([frame('MSH|first'), frame('MSH|second')]);
    const cut = all.indexOf('second') - 3;
    expect(frames(f.push(all.subarray(0, cut)))).toEqual(['MSH|first']);
    expect(frames(f.push(all.subarray(cut)))).toEqual(['MSH|second']);
  });

  it('does not end a frame at an FS that is not followed by CR', () => {
    const f = new MllpFramer(1024);
    const inner = Buffer.concat([Buffer.from('MSH|a'), Buffer.from([0x1c]), Buffer.from('b')]);
    expect(frames(f.push(frame(inner)))).toEqual(['MSH|a\x1cb']);
  });

  it('waits when FS is the last byte seen and CR has not arrived yet', () => {
    const f = new MllpFramer(1024);
    const bytes = frame('MSH|x');
    expect(frames(f.push(bytes.subarray(0, bytes.length - 1)))).toEqual([]);
    expect(frames(f.push(bytes.subarray(bytes.length - 1)))).toEqual(['MSH|x']);
  });

  it('reports bytes outside a frame, but ignores stray line ends', () => {
    const f = new MllpFramer(1024);
    expect(f.push(Buffer.from('\r\n'))).toEqual([]);
    const events = f.push(Buffer.concat([Buffer.from('garbage'), frame('MSH|ok')]));
    expect(events[0]).toEqual({ error: 'junk', bytes: 7 });
    expect(frames(events)).toEqual(['MSH|ok']);
  });

  it('refuses a frame over the size limit without holding it in memory', () => {
    const f = new MllpFramer(10);
    const events = f.push(Buffer.concat([Buffer.from([0x0b]), Buffer.alloc(50, 0x41)]));
    expect(events).toEqual([{ error: 'too-large', bytes: 51 }]);
    expect(f.pending).toBe(0);
    expect(frames(f.push(frame('MSH|small')))).toEqual(['MSH|small']);
  });
});
