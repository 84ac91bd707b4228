#!/usr/bin/env node
// `npx frontdesk <command>`: Node >= 22.18 runs the TypeScript sources directly (type stripping). Older versions
// would fail on the first `.ts` import with an error that does not say why: say it, and exit 1.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`frontdesk needs Node.js 22.18 or newer (this is ${process.version}); see README, "Run it"\n`);
  process.exit(1);
}
await import('../src/cli.ts');
