/**
 * @module test/docs/coverage — where each command the docs give is exercised (issue #16 point 6: a doc that rots is
 * worse than none). Every command test/docs/doc-commands.ts reads out of the docs must match exactly one entry;
 * every entry must match a command; a covering file must exist and contain its strings, so renaming the test or
 * dropping the call it makes breaks the build. `here`: test/docs/commands.int.test.ts runs it (the title names
 * the test that does, and the run records it).
 */
import type { DocCommand } from './doc-commands.ts';

export type Where = { here: string } | { file: string; contains: string[] };
export type Entry = {
  /** The commands it accounts for: those matching `match`, or every command of one shell block of a doc. */
  match?: RegExp;
  block?: { doc: string; heading: string };
  where: Where | Where[];
  /** Said when what runs is not the very text of the doc. */
  note?: string;
  /** Not exercised anywhere, and the doc itself says so (the `contains` of `where` is that sentence). */
  gap?: string;
};

export const HERE = 'test/docs/commands.int.test.ts';
const ci = (...contains: string[]): Where => ({ file: '.ci/run', contains });
const BENCHES = ['load', 'search', 'mllp', 'eligibility', 'outbound'];

export const COVERAGE: Entry[] = [
  // Set-up, test and CI.
  {
    match: /^npm install$/,
    where: ci('npm ci --no-audit --no-fund'),
    note: 'npm ci installs what npm install would from package-lock.json, and fails when package.json disagrees',
  },
  { match: /^npm ci$/, where: ci('npm ci --no-audit --no-fund') },
  { match: /^tsc --noEmit$/, where: ci('npx tsc --noEmit') },
  { match: /^npm test$/, where: ci('env -u DATABASE_URL npm test') },
  { match: /^npm run test:int$/, where: ci('DATABASE_URL="${SERVER_URL%/*}/$DB" npm run test:int') },

  // Running the gateway.
  { match: /^npm start$/, where: { here: 'the README referral walk-through' } },
  {
    match: /^FRONTDESK_PARTNERS=\S+ FRONTDESK_HL7_FACILITY=\S+ npm start$/,
    where: { here: 'the README referral walk-through' },
  },
  {
    match: /^kill -TERM <pid>$/,
    where: {
      file: 'test/lifecycle.int.test.ts',
      contains: ["first.child.kill('SIGTERM')", 'stops gracefully on SIGTERM'],
    },
  },
  {
    match: /^docker compose up --build$/,
    where: { file: 'README.md', contains: ['(Not exercised in CI: the CI machines have no Docker engine.)'] },
    gap: 'the CI machines have no Docker engine',
  },

  // The doc examples, run here against a real gateway.
  {
    block: { doc: 'README.md', heading: 'Send a referral to a specialist office' },
    where: { here: 'the README referral walk-through' },
  },
  { block: { doc: 'docs/access.md', heading: 'Access control and audit' }, where: { here: 'docs/access.md: a token' } },
  {
    block: { doc: 'docs/referrals.md', heading: 'Destinations' },
    where: { here: 'docs/referrals.md: an office made over the FHIR API' },
  },
  {
    block: { doc: 'docs/eligibility.md', heading: 'Eligibility (X12 270/271)' },
    where: { here: 'docs/eligibility.md: $submit from an empty gateway' },
  },
  {
    match: /^openssl x509 -noout -fingerprint -sha256 -in \S+$/,
    where: { here: 'docs/partners.md: openssl prints a fingerprint that tls.fingerprint256 takes as it is' },
  },

  // The CLI.
  { match: /^npx frontdesk <command>$/, where: { here: 'the CLI on the database' } },
  { match: /^frontdesk start$/, where: { here: 'frontdesk start' } },
  {
    match: /^frontdesk (migrate|clients (add|list|revoke)\b.*|keys rotate)$/,
    where: { here: 'the CLI on the database' },
  },
  {
    match: /^frontdesk audit verify$/,
    where: [
      { file: 'test/audit/audit.int.test.ts', contains: ["'src/cli.ts', 'audit', 'verify'"] },
      { file: 'test/lifecycle.int.test.ts', contains: ["cli('audit', 'verify')"] },
    ],
    note: 'node src/cli.ts is what bin/frontdesk.js runs once the Node.js version is checked',
  },
  {
    match: /^frontdesk translate( FILE \[--time-zone Zone\])?$/,
    where: [
      { file: 'test/translate/hl7v2/cli.int.test.ts', contains: ["'bin/frontdesk.js'), 'translate'", "'--time-zone'"] },
      { file: 'test/translate/x12/cli.int.test.ts', contains: ["'bin/frontdesk.js'), 'translate'"] },
    ],
  },
  {
    match: /^(npx )?frontdesk verify-coverage( \[--date YYYY-MM-DD\]| --date \d{4}-\d\d-\d\d)?$/,
    where: {
      file: 'test/verify-coverage-cli.int.test.ts',
      contains: ["'bin/frontdesk.js'), 'verify-coverage'", "'--date', date"],
    },
  },

  // Benchmarks and soak: .ci/run runs each at smoke size.
  { match: /^npm run bench$/, where: ci('smoke npm run bench -- --profile') },
  { match: /^npm run bench -- --profile$/, where: ci('smoke npm run bench -- --profile') },
  { match: /^npm run bench:<name>$/, where: ci(...BENCHES.map((b) => `smoke npm run bench:${b}\n`)) },
  ...BENCHES.map((b): Entry => ({
    match: new RegExp(`^npm run bench:${b}$`),
    where: ci(`smoke npm run bench:${b}\n`),
  })),
  { match: /^npm run soak \[minutes\]$/, where: ci('smoke npm run soak 0.25') },
];

/** The entries a command matches. */
export function entriesFor(c: DocCommand): Entry[] {
  return COVERAGE.filter(
    (e) =>
      (!e.match || e.match.test(c.text)) &&
      (!e.block || (c.kind === 'sh' && c.doc === e.block.doc && c.heading === e.block.heading))
  );
}

export const wheres = (e: Entry): Where[] => (Array.isArray(e.where) ? e.where : [e.where]);
