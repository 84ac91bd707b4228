/**
 * @module outbound/mllp-client — sends HL7 v2 messages to a partner's MLLP listener (`mllp://`, or `mllps://` with
 * TLS and an optional client certificate) and reads its ACK (MSA-1, MSA-2, MSA-3 / ERR), one message at a time.
 *
 * One connection is kept open and reused, as MLLP partners expect (HL7 v2.x Appendix C: a long-lived connection,
 * one message in flight). The framing is the listener's own (`inbound/mllp/framer.ts`). Whenever the stream can no
 * longer be trusted to pair an ACK with its message — no ACK in time, an ACK for another control id — the connection
 * is destroyed, so a late ACK can never be read as the answer to the next message. Network problems are results,
 * never throws: the outbox decides what to retry. Logs carry host:port, control id, code and ms, never the bodies.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { frame, MllpFramer } from '../inbound/mllp/framer.ts';
import { decodeHl7 } from '../translate/hl7v2/charset.ts';
import { Hl7v2Message, type Segment } from '../translate/hl7v2/parse.ts';

export type MllpDestination = {
  host: string;
  port: number;
  /** PEM contents. `ca` replaces the system roots; `cert` + `key` are the client certificate, when asked for. */
  tls?: { ca?: string; cert?: string; key?: string; servername?: string };
};

export type AckResult =
  | { ok: true; code: 'AA' | 'CA'; ack: string; ms: number }
  /** The partner answered and refused the message: sending it again will not help. */
  | { ok: false; kind: 'rejected'; code: 'AE' | 'AR' | 'CE' | 'CR'; text: string; ack: string; ms: number }
  /** No usable answer: the message may or may not have arrived, so it may be sent again. */
  | { ok: false; kind: 'unreachable' | 'timeout' | 'closed' | 'bad-ack'; text: string; ms: number };

export type MllpClientOptions = {
  connectTimeoutMs?: number;
  ackTimeoutMs?: number;
  log?: { info(o: object, m: string): void; warn(o: object, m: string): void };
};

/** HL7 table 0008: original mode (A*) and enhanced mode commit (C*) acknowledgment codes. */
const ACCEPTED = ['AA', 'CA'] as const;
const REFUSED = ['AE', 'AR', 'CE', 'CR'] as const;
/** An ACK is a few hundred bytes; anything near this is not one, and must not grow the buffer without bound. */
const MAX_ACK_BYTES = 1 << 20;

type Answer = { frame: Buffer } | { end: string } | { bad: string };
type Connection = { socket: Socket; framer: MllpFramer; waiter?: (answer: Answer) => void };

export class MllpClient {
  private readonly dest: MllpDestination;
  private readonly connectTimeoutMs: number;
  private readonly ackTimeoutMs: number;
  private readonly log: MllpClientOptions['log'];
  private readonly peer: string;
  private connection: Connection | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(dest: MllpDestination, options: MllpClientOptions = {}) {
    this.dest = dest;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.log = options.log;
    this.peer = `${dest.host}:${dest.port}`;
  }

  /**
   * Sends one message (bytes, already encoded in the partner's charset) and waits for its ACK. One at a time:
   * a second call waits for the first, since MLLP pairs an ACK with a message only by their order on the wire.
   */
  send(message: Buffer, controlId: string): Promise<AckResult> {
    const run = this.tail.then(() => this.exchange(message, controlId));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Ends the connection; a send still waiting gets `closed`, and later sends are refused as `closed`. */
  async close(): Promise<void> {
    this.closed = true;
    const c = this.connection;
    this.connection = undefined;
    if (!c || c.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      c.socket.once('close', () => resolve());
      c.socket.end(); // TLS: close_notify first
      setTimeout(() => c.socket.destroy(), 1000).unref();
    });
  }

  private async exchange(message: Buffer, controlId: string): Promise<AckResult> {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    const fail = (kind: 'unreachable' | 'timeout' | 'closed' | 'bad-ack', text: string): AckResult => {
      this.log?.warn({ peer: this.peer, control: controlId, kind, ms: ms() }, 'mllp send failed');
      return { ok: false, kind, text, ms: ms() };
    };
    if (this.closed) return fail('closed', 'The MLLP client was closed');
    let c = this.connection;
    if (!c || c.socket.destroyed || !c.socket.writable) {
      const opened = await this.open();
      if (typeof opened === 'string') return fail('unreachable', `Cannot connect to ${this.peer}: ${opened}`);
      c = opened;
      if (this.closed) {
        this.drop(c); // close() was called while this connection was being made
        return fail('closed', 'The MLLP client was closed');
      }
    }
    const conn = c;
    const answer = await new Promise<Answer | 'timeout'>((resolve) => {
      // The first answer only: a second frame in the same chunk finds no waiter and is logged as unexpected.
      const timer = setTimeout(() => {
        conn.waiter = undefined;
        resolve('timeout');
      }, this.ackTimeoutMs);
      conn.waiter = (a) => {
        conn.waiter = undefined;
        clearTimeout(timer);
        resolve(a);
      };
      conn.socket.write(frame(message));
    });
    if (answer === 'timeout') {
      this.drop(conn);
      return fail('timeout', `No ACK from ${this.peer} within ${this.ackTimeoutMs} ms; connection dropped`);
    }
    if ('end' in answer) return fail('closed', `${this.peer} closed the connection before its ACK: ${answer.end}`);
    const result = 'bad' in answer ? badAck(answer.bad, ms()) : readAck(answer.frame, controlId, ms());
    if (!result.ok && result.kind === 'bad-ack') {
      this.drop(conn); // the next frame on this stream might be this message's real ACK, not the next one's
      return fail('bad-ack', result.text);
    }
    if (result.ok || result.kind === 'rejected') {
      const o = { peer: this.peer, control: controlId, code: result.code, ms: result.ms };
      if (result.ok) this.log?.info(o, 'mllp ack');
      else this.log?.warn(o, 'mllp ack refused the message');
    }
    return result;
  }

  /** Resolves with the connection, or with why there is none. */
  private open(): Promise<Connection | string> {
    const { host, port, tls } = this.dest;
    return new Promise((resolve) => {
      const socket = tls ? tlsConnect(tlsOptions(host, port, tls)) : netConnect({ host, port });
      const timer = setTimeout(() => failed(`no connection within ${this.connectTimeoutMs} ms`), this.connectTimeoutMs);
      const failed = (why: string) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(why);
      };
      const onError = (err: Error) => failed(describe(err));
      socket.once('error', onError);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        this.log?.info({ peer: this.peer, tls: Boolean(tls) }, 'mllp connected');
        resolve(this.attach(socket));
      });
    });
  }

  private attach(socket: Socket): Connection {
    const c: Connection = { socket, framer: new MllpFramer(MAX_ACK_BYTES) };
    this.connection = c;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000); // notices a partner that vanished while the connection sits idle
    let error: string | undefined;
    socket.on('data', (chunk: Buffer) => {
      for (const e of c.framer.push(chunk)) {
        if ('frame' in e) {
          if (c.waiter) c.waiter({ frame: e.frame });
          else this.log?.warn({ peer: this.peer, bytes: e.frame.length }, 'mllp frame with no message waiting');
        } else if (e.error === 'too-large') {
          c.waiter?.({ bad: `The answer is larger than ${MAX_ACK_BYTES} bytes, not an ACK` });
          socket.destroy();
        }
      }
    });
    socket.on('error', (err) => (error = describe(err))); // 'close' follows and reports it
    socket.on('close', () => {
      if (this.connection === c) this.connection = undefined;
      c.waiter?.({ end: error ?? 'connection closed' });
    });
    return c;
  }

  private drop(c: Connection): void {
    if (this.connection === c) this.connection = undefined;
    c.socket.destroy();
  }
}

function tlsOptions(host: string, port: number, tls: NonNullable<MllpDestination['tls']>): ConnectionOptions {
  const o: ConnectionOptions = { host, port, minVersion: 'TLSv1.2' };
  if (tls.ca) o.ca = tls.ca;
  if (tls.cert) o.cert = tls.cert;
  if (tls.key) o.key = tls.key;
  // SNI takes a host name only (RFC 6066 §3): none for an IP address unless configured.
  const servername = tls.servername ?? (isIP(host) ? undefined : host);
  if (servername) o.servername = servername;
  return o;
}

function describe(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
}

/**
 * An ACK read with its own delimiters (MSH-1, MSH-2) and character set (MSH-18): MSA-1 the code (HL7 table 0008),
 * MSA-2 the control id it acknowledges, MSA-3 or ERR the reason for a refusal.
 */
export function readAck(bytes: Buffer, controlId: string, ms: number): AckResult {
  const bad = (text: string) => badAck(text, ms);
  const ack = decodeHl7(bytes).text;
  let message: Hl7v2Message;
  try {
    message = new Hl7v2Message(ack);
  } catch (err) {
    return bad(`The answer is not an HL7 v2 message: ${(err as Error).message}`);
  }
  const msa = message.first('MSA');
  if (!msa) return bad('The answer holds no MSA segment');
  const acknowledged = msa.text(2)?.trim() ?? '';
  if (acknowledged !== controlId) return bad(`The ACK is for control id "${acknowledged}", not "${controlId}" (MSA-2)`);
  const code = msa.text(1)?.trim().toUpperCase() ?? '';
  if (isOneOf(code, ACCEPTED)) return { ok: true, code, ack, ms };
  if (isOneOf(code, REFUSED)) {
    const text = msa.text(3) ?? errText(message.all('ERR')) ?? `${code} with no reason given`;
    return { ok: false, kind: 'rejected', code, text, ack, ms };
  }
  return bad(`MSA-1 "${code}" is not an acknowledgment code (HL7 table 0008)`);
}

function badAck(text: string, ms: number): AckResult {
  return { ok: false, kind: 'bad-ack', text, ms };
}

/** ERR-8 user message (v2.5), else ERR-3.2 the error code's text, else ERR-1.4.2 (v2.3/v2.4 error location). */
function errText(errs: Segment[]): string | undefined {
  const texts = errs
    .map((e) => e.text(8) ?? e.text(3, 2) ?? e.text(1, 4, 2) ?? e.text(1, 4, 1))
    .filter((t) => t !== undefined);
  return texts.length > 0 ? texts.join('; ') : undefined;
}

function isOneOf<T extends string>(value: string, set: readonly T[]): value is T {
  return (set as readonly string[]).includes(value);
}
