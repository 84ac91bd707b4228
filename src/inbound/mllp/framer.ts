/**
 * @module inbound/mllp/framer — MLLP framing (HL7 v2.x "Minimal Lower Layer Protocol", Appendix C):
 * each message travels as `<VT 0x0B> message <FS 0x1C><CR 0x0D>`.
 *
 * Written here rather than taken from `node-hl7-client`/`node-hl7-server`, whose codec splits a whole chunk on
 * FS CR and joins the parts into one message: frames that arrive pipelined in one TCP chunk get merged
 * (see ../shared/notes/hl7v2.md). This framer keeps a per-connection buffer and yields frames one by one,
 * whatever the chunking.
 */
export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;

/** `head`: of a frame too large, its first bytes (up to the framer's `keepHead`), to say what it was. */
export type FrameEvent = { frame: Buffer } | { error: 'too-large' | 'junk'; bytes: number; head?: Buffer };

export class MllpFramer {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly maxFrameBytes: number;
  private readonly keepHead: number;

  constructor(maxFrameBytes: number, keepHead = 0) {
    this.maxFrameBytes = maxFrameBytes;
    this.keepHead = keepHead;
  }

  /** Feeds bytes; returns the frames (and framing errors) they complete, in order. */
  push(chunk: Buffer): FrameEvent[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const events: FrameEvent[] = [];
    for (;;) {
      const start = this.buffer.indexOf(VT);
      if (start < 0) {
        // Bytes outside a frame (keep-alive newlines, garbage): dropped, reported if not just whitespace.
        if (this.buffer.some((b) => b !== CR && b !== 0x0a && b !== 0x20)) events.push({ error: 'junk', bytes: this.buffer.length });
        this.buffer = Buffer.alloc(0);
        break;
      }
      if (start > 0) {
        if (this.buffer.subarray(0, start).some((b) => b !== CR && b !== 0x0a && b !== 0x20)) events.push({ error: 'junk', bytes: start });
        this.buffer = this.buffer.subarray(start);
      }
      const end = findEnd(this.buffer);
      if (end < 0) {
        if (this.buffer.length > this.maxFrameBytes + 3) {
          events.push({ error: 'too-large', bytes: this.buffer.length, head: this.head(this.buffer.subarray(1)) });
          this.buffer = Buffer.alloc(0);
        }
        break;
      }
      const frame = this.buffer.subarray(1, end);
      this.buffer = this.buffer.subarray(end + 2);
      if (frame.length > this.maxFrameBytes) events.push({ error: 'too-large', bytes: frame.length, head: this.head(frame) });
      else events.push({ frame: Buffer.from(frame) });
    }
    return events;
  }

  private head(bytes: Buffer): Buffer | undefined {
    return this.keepHead > 0 ? Buffer.from(bytes.subarray(0, this.keepHead)) : undefined;
  }

  /** Bytes held for a frame not yet complete. */
  get pending(): number {
    return this.buffer.length;
  }
}

/** Index of the FS that is followed by CR (an FS alone may not end a frame). */
function findEnd(buf: Buffer): number {
  let from = 1;
  for (;;) {
    const i = buf.indexOf(FS, from);
    if (i < 0 || i + 1 >= buf.length) return -1;
    if (buf[i + 1] === CR) return i;
    from = i + 1;
  }
}

export function frame(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  return Buffer.concat([Buffer.from([VT]), body, Buffer.from([FS, CR])]);
}
