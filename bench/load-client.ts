/**
 * The load generator of `npm run bench:load` (bench/load.ts), forked as its own process so that what it spends
 * (building requests, parsing answers) is not counted as the gateway's; its CPU is reported beside the rest.
 *
 * FHIR over node:http with a keep-alive agent of one socket per worker (no new connection per request), a real
 * bearer token from the bootstrap client; HL7 v2 over bare MLLP sockets, each sender waiting for its ACK, every
 * ACK checked to be AA for its own MSH-10. Inputs are synthetic (bench/load-data.ts).
 */
import { Agent, request } from 'node:http';
import { openSender, type Sender } from './mllp-sender.ts';
import { adtA04, benchToken, patient } from './load-data.ts';
import { drive, serveCalls, type Op, type RunArgs } from './load-loop.ts';

export type Target = { httpPort: number; mllpPort: number; echoPort: number; httpFloorPort: number };

const RUN = process.env.BENCH_RUN ?? 'x';
let target: Target = { httpPort: 0, mllpPort: 0, echoPort: 0, httpFloorPort: 0 };
let headers: Record<string, string> = {};
/** Patients this process created: what reads ask for (they outlive a gateway restart, in the database). */
const ids: string[] = [];

type Answer = { status: number; location?: string };

/** `port`: the gateway's, unless another (the HTTP floor's) is named. */
function send(agent: Agent, method: string, path: string, body?: string, port = target.httpPort): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const h = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: h }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function create(agent: Agent, i: number, port = target.httpPort): Promise<string | undefined> {
  const res = await send(agent, 'POST', '/fhir/Patient', JSON.stringify(patient(i, RUN)), port);
  if (res.status !== 201) return `create: HTTP ${res.status}`;
  // Location: <base>/Patient/<id>/_history/<version> (http.html#create)
  if (port === target.httpPort) ids.push(res.location!.split('/').at(-3)!);
  return undefined;
}

async function read(agent: Agent, i: number, port = target.httpPort): Promise<string | undefined> {
  const res = await send(agent, 'GET', `/fhir/Patient/${ids[i % ids.length]}`, undefined, port);
  return res.status === 200 ? undefined : `read: HTTP ${res.status}`;
}

function mllpOp(senders: Sender[]): Op {
  return async (i, worker) => {
    const m = adtA04(i, RUN);
    const ack = await senders[worker]!.send(m.bytes);
    // MSA-1 AA and MSA-2 echoing this message's MSH-10 (v2.5 2.14.8); MSA and ERR carry no PHI.
    const msa = ack.split('\r')[1] ?? '';
    return msa.startsWith(`MSA|AA|${m.controlId}|`) || msa === `MSA|AA|${m.controlId}`
      ? undefined
      : ack.split('\r').slice(1, 3).join(' ');
  };
}

async function run(a: RunArgs, warm: () => Promise<void>) {
  const agent = new Agent({ keepAlive: true, maxSockets: a.concurrency });
  const port = a.op === 'adt' ? target.mllpPort : target.echoPort;
  const senders = a.op.startsWith('adt')
    ? await Promise.all(Array.from({ length: a.concurrency }, () => openSender(port)))
    : [];
  const ops: Record<string, Op> = {
    create: (i) => create(agent, i),
    read: (i) => read(agent, i),
    'create-http-floor': (i) => create(agent, i, target.httpFloorPort),
    'read-http-floor': (i) => read(agent, i, target.httpFloorPort),
    adt: mllpOp(senders),
    'adt-echo': mllpOp(senders),
  };
  try {
    return await drive(a, ops[a.op]!, warm);
  } finally {
    agent.destroy();
    for (const s of senders) s.close();
  }
}

serveCalls(
  {
    /** A new gateway (and baseline) to drive, and a token from it. */
    target: async (t: Target) => {
      target = t;
      const { access_token } = await benchToken(`http://127.0.0.1:${t.httpPort}`);
      const fhir = 'application/fhir+json';
      headers = { authorization: `Bearer ${access_token}`, accept: fhir, 'content-type': fhir };
    },
    /** Patients to read, at least `count`, created before the row is measured. */
    prepare: async ({ count }: { count: number }) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      let next = 1e9;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (ids.length < count) {
          const failure = await create(agent, next++);
          if (failure) throw new Error(failure);
        }
      }));
      agent.destroy();
    },
    run,
    stop: async () => undefined,
  },
  { pid: process.pid }
);
