/**
 * @module test/docs/doc-commands — every command the docs give a reader, read out of the Markdown mechanically, so
 * that a command added to a doc later is caught by test/docs/commands.int.test.ts without anyone listing it: the
 * lines of ```sh blocks (a command spanning lines by a quote, a `$(` or a trailing `\` kept whole), inline code
 * spans that start like a command, the rows of a `| command |` table (the CLI's, read as `frontdesk …`), and the
 * ```json blocks that are partners files. docs/benchmarks-history.md is history, not instructions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');

export type Kind = 'sh' | 'inline' | 'cli-table';
export type DocCommand = {
  doc: string;
  line: number;
  kind: Kind;
  /** The Markdown heading it is under. */
  heading: string;
  /** Comments stripped, whitespace collapsed: what the coverage table matches. */
  text: string;
  /** As written (sh only: the lines of the command, comments included), to run. */
  raw: string;
  /** sh only: which block of the doc it is in (0, 1, …), and that block's text. */
  block?: { index: number; text: string };
};
export type DocJson = { doc: string; line: number; heading: string; text: string; value: unknown };

/** A command word, after any environment assignments (`FUZZ_RUNS=20 npx …`); a gateway setting alone counts too. */
const COMMAND = /^(?:(?:[A-Z][A-Z0-9_]*=\S*\s+)*(?:npm|npx|node|frontdesk|curl|openssl|docker|kill|tsc|bash) |FRONTDESK_[A-Z0-9_]+=)/;

export function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md') && f !== 'benchmarks-history.md')
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs.sort()];
}

type Fence = { lang: string; start: number; lines: string[] };

/** The doc's fenced blocks, and its lines with those blocks blanked (line numbers kept). */
function split(text: string): { fences: Fence[]; prose: string[]; headings: string[] } {
  const lines = text.split('\n');
  const fences: Fence[] = [];
  const prose: string[] = [];
  const headings: string[] = [];
  let open: Fence | undefined;
  let heading = '';
  lines.forEach((line, i) => {
    const fence = /^\s*```\s*(\S*)/.exec(line);
    if (!open && /^#{1,6} /.test(line)) heading = line.replace(/^#+ /, '');
    headings.push(heading);
    if (fence && !open) open = { lang: fence[1] ?? '', start: i + 1, lines: [] };
    else if (fence && open) (fences.push(open), (open = undefined));
    else if (open) open.lines.push(line);
    prose.push(open || fence ? '' : line);
  });
  return { fences, prose, headings };
}

/**
 * Splits a shell block into commands: a newline ends one only outside quotes and `$(…)`/`(…)`, and not after
 * `\`; a `#` starting a word outside quotes comments out the rest of its line.
 */
export function shellCommands(lines: string[], firstLine: number): { line: number; raw: string; text: string }[] {
  const out: { line: number; raw: string; text: string }[] = [];
  let raw: string[] = [];
  let text = '';
  let start = firstLine;
  let quote: string | undefined;
  let depth = 0;
  lines.forEach((line, i) => {
    if (!raw.length) start = firstLine + i;
    raw.push(line);
    for (let k = 0; k < line.length; k++) {
      const c = line[k]!;
      if (quote) {
        if (c === '\\' && quote === '"') ((text += c + (line[k + 1] ?? '')), k++);
        else (c === quote && (quote = undefined), (text += c));
        continue;
      }
      if (c === '#' && (k === 0 || /\s/.test(line[k - 1]!))) break;
      if (c === '\\' && k === line.length - 1) continue;
      if (c === '\\') ((text += c + (line[k + 1] ?? '')), k++);
      else if (c === "'" || c === '"') ((quote = c), (text += c));
      else if (c === '(') (depth++, (text += c));
      else if (c === ')') (depth--, (text += c));
      else text += c;
    }
    if (quote || depth > 0 || line.endsWith('\\')) return void (text += '\n');
    const collapsed = text.replace(/\s+/g, ' ').trim();
    if (collapsed) out.push({ line: start, raw: raw.join('\n'), text: collapsed });
    raw = [];
    text = '';
  });
  if (raw.length) throw new Error(`unterminated shell command at line ${start}: ${raw.join('\n')}`);
  return out;
}

/** The first cell of a table row (`\|` is a literal bar there). */
const firstCell = (row: string): string => /^\|((?:[^|\\]|\\.)*)\|/.exec(row)?.[1] ?? '';
const spans = (s: string): string[] => [...s.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\\\|/g, '|'));

export function readDoc(doc: string): { commands: DocCommand[]; json: DocJson[] } {
  const { fences, prose, headings } = split(readFileSync(join(ROOT, doc), 'utf8'));
  const commands: DocCommand[] = [];
  const json: DocJson[] = [];
  fences.forEach((f) => {
    const heading = headings[f.start - 1] ?? '';
    if (['sh', 'bash', 'shell', 'console'].includes(f.lang)) {
      const index = commands.filter((c) => c.kind === 'sh').reduce((n, c) => Math.max(n, c.block!.index + 1), 0);
      const block = { index, text: f.lines.join('\n') };
      for (const c of shellCommands(f.lines, f.start + 1)) commands.push({ doc, kind: 'sh', heading, block, ...c });
    } else if (f.lang === 'json') {
      const text = f.lines.join('\n');
      json.push({ doc, line: f.start + 1, heading, text, value: JSON.parse(text) });
    }
  });
  // Inline spans may wrap onto the next line; the blanked fences keep them from pairing across a block.
  const text = prose.join('\n');
  for (const m of text.matchAll(/`([^`]+)`/g)) {
    const span = m[1]!.replace(/\\\|/g, '|').replace(/\s+/g, ' ').trim();
    const line = text.slice(0, m.index).split('\n').length;
    if (COMMAND.test(span))
      commands.push({ doc, line, kind: 'inline', heading: headings[line - 1] ?? '', text: span, raw: span });
  }
  // A `| command | … |` table lists subcommands of the CLI.
  prose.forEach((row, i) => {
    if (!/^\|\s*command\s*\|/.test(row)) return;
    for (let r = i + 2; prose[r]?.startsWith('|'); r++) {
      for (const s of spans(firstCell(prose[r]!))) {
        const text = `frontdesk ${s}`;
        commands.push({ doc, line: r + 1, kind: 'cli-table', heading: headings[r] ?? '', text, raw: text });
      }
    }
  });
  return { commands, json };
}

export function allDocs(): { commands: DocCommand[]; json: DocJson[] } {
  const read = docFiles().map(readDoc);
  return { commands: read.flatMap((r) => r.commands), json: read.flatMap((r) => r.json) };
}

/** Partners files: the JSON blocks with a `partners` list. */
export const isPartnersFile = (j: DocJson): boolean => Array.isArray((j.value as { partners?: unknown })?.partners);

export const where = (c: { doc: string; line: number }): string => `${c.doc}:${c.line}`;
