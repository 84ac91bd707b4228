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
