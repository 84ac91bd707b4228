/**
 * @module bench/soak-client — the load generator of `npm run soak` (bench/soak.ts), forked as its own process.
 *
 * Open loop, unlike bench/load-client.ts: operations start on a fixed schedule (`httpRate` per second, in the
 * weighted mix of `mix`; `mllpRate` ADT^A04 per second) whatever the answers' latency, as a front office's
 * traffic does — a gateway that slows down gets a queue, not a lighter load. Past `maxInFlight` operations
 * waiting, the next ones are shed and counted: the gateway has fallen behind, which fails the run.
 * Inputs are bench/load-data.ts's; the token is renewed at half its life, as a long-running client must.
 */
import { openSender, type Sender } from './mllp-sender.ts';
import { adtA04, benchToken, patient } from './load-data.ts';
import { serveCalls } from './load-loop.ts';
import { quantile } from './stats.ts';
import { HTTP_KINDS, KINDS, type HttpKind, type Kind } from './soak-report.ts';

export type LoadArgs = {
  seconds: number; httpRate: number; mllpRate: number; mix: Record<HttpKind, number>;
  mllpConnections: number; maxInFlight: number;
};
export type KindTick = { ok: number; errors: number; p99: number; firstError?: string };
export type Tick = { kinds: Record<Kind, KindTick>; shed: number };

const RUN = process.env.BENCH_RUN ?? 'x';
/** An answer slower than this is an error, so a hung request cannot hold the end of the run. */
const TIMEOUT_MS = 30_000;
let base = '';
let mllpPort = 0;
let headers: Record<string, string> = {};
/** Patients created here (seed and `create`): what reads, updates and identifier searches ask for. */
const pool: { id: string; i: number }[] = [];
let seq = 0;

type Acc = { ok: number; errors: number; ms: number[]; firstError?: string };
const fresh = (): Record<Kind, Acc> =>
  Object.fromEntries(KINDS.map((k) => [k, { ok: 0, errors: 0, ms: [] }])) as unknown as Record<Kind, Acc>;
let acc = fresh();
let shed = 0;

async function token(): Promise<number> {
  const t = await benchToken(base);
  const fhir = 'application/fhir+json';
  headers = { authorization: `Bearer ${t.access_token}`, accept: fhir, 'content-type': fhir };
  return t.expires_in;
}

function renewToken(ttlS: number): void {
  setTimeout(() => {
    token().then(renewToken, () => renewToken(10)); // failed: again soon; requests answered 401 meanwhile count
  }, ttlS * 500).unref();
}

type Answer = { status: number; body: string; location: string | null };

async function http(method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  return { status: res.status, body: await res.text(), location: res.headers.get('location') };
}

/** What went wrong, for the report: the status and the first issue's code — never the diagnostics (PHI rule). */
function failure(kind: string, a: Answer): string {
  let code = '';
  try {
    code = (JSON.parse(a.body) as { issue?: { code?: string }[] }).issue?.[0]?.code ?? '';
  } catch {
    // not JSON: the status says enough
  }
  return `${kind}: HTTP ${a.status}${code ? ` (${code})` : ''}`;
}

const entries = (a: Answer): number => ((JSON.parse(a.body) as { entry?: unknown[] }).entry ?? []).length;
const pick = (i: number) => pool[(i * 7919) % pool.length]!;

type Op = (i: number) => Promise<string | undefined>;
const ops: Record<HttpKind, Op> = {
  read: async (i) => {
    const a = await http('GET', `/fhir/Patient/${pick(i).id}`);
    return a.status === 200 ? undefined : failure('read', a);
  },
  'search-family': async (i) => {
    const family = patient(i, RUN).name![0]!.family!;
    const a = await http('GET', `/fhir/Patient?family=${encodeURIComponent(family)}&_count=10`);
    if (a.status !== 200) return failure('search-family', a);
    return entries(a) > 0 ? undefined : 'search-family: no match'; // the seed holds every family
  },
  'search-identifier': async (i) => {
    const id = patient(pick(i).i, RUN).identifier![0]!;
    const a = await http('GET', `/fhir/Patient?identifier=${encodeURIComponent(`${id.system}|${id.value}`)}`);
    if (a.status !== 200) return failure('search-identifier', a);
    const n = entries(a);
    return n === 1 ? undefined : `search-identifier: ${n} matches`;
  },
  create: async (i) => {
    const a = await http('POST', '/fhir/Patient', patient(i, RUN));
    if (a.status !== 201) return failure('create', a);
    // Location: <base>/Patient/<id>/_history/<version> (http.html#create)
    pool.push({ id: a.location!.split('/').at(-3)!, i });
    return undefined;
  },
  update: async (i) => {
    // Same identifier as at creation (identity by identifiers), a new phone: a new version (http.html#update).
    const p = pick(i);
    const body = { ...patient(p.i, RUN), id: p.id, telecom: [{ system: 'phone', value: `555-02${i % 100}` }] };
    const a = await http('PUT', `/fhir/Patient/${p.id}`, body);
    return a.status === 200 ? undefined : failure('update', a);
  },
};

function adt(sender: Sender): Op {
  return async (i) => {
    const m = adtA04(i, RUN);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('\rno ACK in 30 s'), TIMEOUT_MS)));
    const ack = await Promise.race([sender.send(m.bytes), late]).finally(() => clearTimeout(timer));
    // MSA-1 AA and MSA-2 echoing this message's MSH-10 (v2.5 2.14.8); MSA and ERR carry no PHI.
    const msa = ack.split('\r')[1] ?? '';
    return msa === `MSA|AA|${m.controlId}` || msa.startsWith(`MSA|AA|${m.controlId}|`)
      ? undefined
      : `adt: ${ack.split('\r').slice(1, 3).join(' ')}`;
  };
}

/** Smooth weighted round-robin (as nginx balances): the mix holds in every short stretch, and runs repeat. */
function rotation(mix: Record<HttpKind, number>): () => HttpKind {
  const kinds = HTTP_KINDS.filter((k) => mix[k] > 0);
  const total = kinds.reduce((n, k) => n + mix[k], 0);
  const credit = new Map(kinds.map((k) => [k, 0]));
  return () => {
    let best = kinds[0]!;
    for (const k of kinds) {
      credit.set(k, credit.get(k)! + mix[k]);
      if (credit.get(k)! > credit.get(best)!) best = k;
    }
    credit.set(best, credit.get(best)! - total);
    return best;
  };
}

/** Calls `fire` `rate` times a second until `until`; after a stall it catches up, so the mean rate holds. */
async function schedule(rate: number, until: number, fire: (k: number) => void): Promise<void> {
  if (rate <= 0) return;
  const start = performance.now();
  for (let k = 0; ; k++) {
    const due = start + (k * 1000) / rate;
    if (due >= until) return;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    fire(k);
  }
}

async function load(a: LoadArgs): Promise<void> {
  const senders = await Promise.all(Array.from({ length: a.mllpRate > 0 ? a.mllpConnections : 0 }, () =>
    openSender(mllpPort)));
  const adts = senders.map(adt);
  const inFlight = new Set<Promise<void>>();
  const launch = (kind: Kind, op: Op): void => {
    if (inFlight.size >= a.maxInFlight) return void shed++;
    const t = performance.now();
    const p: Promise<void> = op(seq++)
      .catch((err: unknown) => `${kind}: ${(err as Error).message ?? err}`)
      .then((failed) => {
        const k = acc[kind];
        if (failed === undefined) {
          k.ok++;
          k.ms.push(performance.now() - t);
        } else {
          k.errors++;
          k.firstError ??= failed;
        }
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const next = rotation(a.mix);
  const until = performance.now() + a.seconds * 1000;
  await Promise.all([
    schedule(a.httpRate, until, () => {
      const kind = next();
      launch(kind, ops[kind]);
    }),
    schedule(a.mllpRate, until, (k) => launch('adt', adts[k % adts.length]!)),
  ]);
  while (inFlight.size > 0) await Promise.all([...inFlight]);
  for (const s of senders) s.close();
}

serveCalls(
  {
    /** The gateway to drive, and a token from it. */
    target: async (t: { httpPort: number; mllpPort: number }) => {
      base = `http://127.0.0.1:${t.httpPort}`;
      mllpPort = t.mllpPort;
      renewToken(await token());
    },
    /** `count` patients to read, update and search for from the first second, every family among them. */
    prepare: async ({ count }: { count: number }) => {
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (pool.length < count) {
          const failed = await ops.create(seq++);
          if (failed) throw new Error(failed);
        }
      }));
    },
    run: (a: LoadArgs) => load(a),
    /** What was answered since the previous tick. */
    tick: async (): Promise<Tick> => {
      const [was, wasShed] = [acc, shed];
      [acc, shed] = [fresh(), 0];
      const kinds = Object.fromEntries(KINDS.map((k) => {
        const { ok, errors, ms, firstError } = was[k];
        const p99 = quantile(ms.sort((x, y) => x - y), 0.99);
        return [k, { ok, errors, p99, ...(firstError ? { firstError } : {}) }];
      })) as Record<Kind, KindTick>;
      return { kinds, shed: wasShed };
    },
    stop: async () => undefined,
  },
  { pid: process.pid }
);
