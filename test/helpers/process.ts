/**
 * A gateway started as users start it (`node src/main.ts`), for tests of whole processes: its output, and its
 * FHIR base once the start banner names it (the MLLP line follows the FHIR one).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export type GatewayProcess = { child: ChildProcess; fhir: string; output: () => string; exited: Promise<number | null> };

/**
 * `ownGroup`: the gateway leads a process group of its own (with its embedded PostgreSQL in it), so a test can kill
 * the whole group, as `systemctl kill -s KILL` does, and not itself: `process.kill(-child.pid, 'SIGKILL')`.
 */
export async function startGatewayProcess(
  env: NodeJS.ProcessEnv,
  o: { ownGroup?: boolean } = {}
): Promise<GatewayProcess> {
  const detached = o.ownGroup ?? false;
  const child = spawn(process.execPath, ['src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const fhir = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start banner:\n${out}`)), 60_000);
    child.stdout!.on('data', () => {
      const m = /FHIR R4 API: (\S+)/.exec(out);
      if (m && /MLLP/.test(out)) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', () => reject(new Error(`exited early:\n${out}`)));
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return { child, fhir, output: () => out, exited };
}

/** SIGKILLs a process group started with `ownGroup` (the gateway and its embedded PostgreSQL); gone already is fine. */
export function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * The environment of a gateway process on its embedded PostgreSQL in `dataDir` (DATABASE_URL removed), on free
 * ports, authentication off (it listens on loopback only); `extra` added last.
 */
export async function embeddedGatewayEnv(dataDir: string, extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  const { freePort } = await import('./gateway.ts'); // on first use: the imports above stay Node's own
  const env: NodeJS.ProcessEnv = {
    ...process.env, PORT: String(await freePort()), FRONTDESK_MLLP_PORT: String(await freePort()),
    FRONTDESK_AUTH: 'off', FRONTDESK_DATA_DIR: dataDir, ...extra,
  };
  delete env.DATABASE_URL;
  return env;
}

/** Every resource a FHIR search on a gateway process finds (authentication off), page after page. */
export async function searchAll(fhir: string, query: string): Promise<Resource[]> {
  const found: Resource[] = [];
  for (let url: string | undefined = `${fhir}/${query}${query.includes('?') ? '&' : '?'}_count=1000`; url;) {
    const res = await fetch(url, { headers: { accept: 'application/fhir+json' } });
    if (res.status !== 200) throw new Error(`GET ${query}: HTTP ${res.status} ${await res.text()}`);
    const page = (await res.json()) as FhirBundle;
    found.push(...(page.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])));
    url = page.link?.find((l) => l.relation === 'next')?.url;
  }
  return found;
}

type Resource = import('@medplum/fhirtypes').Resource;
type FhirBundle = import('@medplum/fhirtypes').Bundle;

/** The message log of a gateway process (`GET /messages?query`, authentication off), every page, newest first. */
export async function messageLog(fhir: string, query = ''): Promise<MessageSummary[]> {
  const all: MessageSummary[] = [];
  for (let offset = 0; ; offset += 500) {
    const res = await fetch(`${new URL(fhir).origin}/messages?${query}&_count=500&_offset=${offset}`);
    if (res.status !== 200) throw new Error(`GET /messages?${query}: HTTP ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { messages: MessageSummary[]; next: string | null };
    all.push(...page.messages);
    if (!page.next) return all;
  }
}

type MessageSummary = import('../../src/store/messages.ts').MessageSummary;
