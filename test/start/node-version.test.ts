/**
 * A newcomer on a Node.js older than 22.18 gets one line naming the version needed and how to get it — from
 * `npm start`, `npm test` and `npx frontdesk` — not a stack trace about a `.ts` file extension. The old version is
 * simulated by redefining `process.versions.node` before anything runs (NODE_OPTIONS=--import), which npm passes
 * on to the scripts it starts.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tooOld } from '../../scripts/node-version.js';

const OLD = "--import=data:text/javascript,Object.defineProperty(process.versions,'node',{value:'20.11.1'})";
const ROOT = new URL('../..', import.meta.url).pathname;

function run(command: string, args: string[]) {
  const r = spawnSync(command, args, {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_OPTIONS: OLD },
  });
  return { status: r.status, lines: r.stderr.split('\n').filter(Boolean), stdout: r.stdout };
}

describe('the Node.js version check', () => {
  it('accepts 22.18 and newer, refuses what is older with the version needed and how to get it', () => {
    for (const ok of ['22.18.0', '22.20.1', '23.0.0', '24.21.0', 'v26.1.0']) expect(tooOld(ok), ok).toBeUndefined();
    for (const old of ['20.20.2', '22.17.9', '18.0.0', 'v21.7.3']) {
      const line = tooOld(old);
      expect(line, old).toMatch(/^Frontdesk needs Node\.js 22\.18 or newer \(this is v\d/);
      expect(line).toContain('node@24');
      expect(line).not.toContain('\n');
    }
  });

  it.each([
    ['npm start', 'npm', ['start', '--silent']],
    ['npm test', 'npm', ['test', '--silent']],
    ['npx frontdesk', process.execPath, ['bin/frontdesk.js', 'audit', 'verify']],
  ])('%s on Node 20 prints that one line and exits 1', (_name, command, args) => {
    const r = run(command, args as string[]);
    expect(r.status).toBe(1);
    expect(r.lines).toEqual([expect.stringMatching(/^Frontdesk needs Node\.js 22\.18 or newer \(this is v20\.11\.1\)/)]);
  });
});
