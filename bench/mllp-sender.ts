/**
 * @module bench/mllp-sender — a bare MLLP sender for the benchmarks (VT … FS CR), one connection, ACKs handed
 * back in the order the messages were written (the listener answers each connection in order).
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { CR, FS, VT } from '../src/inbound/mllp/framer.ts';

export type Sender = { send: (m: Buffer) => Promise<string>; close: () => void };

export async function openSender(port: number): Promise<Sender> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const waiting: { resolve: (ack: string) => void; reject: (err: Error) => void }[] = [];
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    for (let end = pending.indexOf(FS); end > 0 && pending[end + 1] === CR; end = pending.indexOf(FS)) {
      waiting.shift()?.resolve(pending.toString('utf8', pending.indexOf(VT) + 1, end));
      pending = pending.subarray(end + 2);
    }
  });
  const fail = (): void => void waiting.splice(0).forEach((w) => w.reject(new Error('MLLP connection closed before its ACK')));
  socket.on('error', fail).on('close', fail);
  return {
    send: (m) =>
      new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        socket.write(m);
      }),
    close: () => void socket.end(),
  };
}
