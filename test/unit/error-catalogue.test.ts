// The error tables of the README and docs/ against the one error catalogue (src/errors.ts): every
// row names codes the catalogue has, with the catalogue's status, and every code a client can
// receive is in docs/errors.md. A code added, renamed or given another status fails here until
// the docs follow.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, rejection, type ErrorCode } from '../../src/errors.js';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
const DOCS = ['README.md', ...readdirSync(new URL('../../docs/', import.meta.url)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** rows of every table whose header is `| situation | status | `error` |`: [statuses, codes] */
function errorRows(markdown: string): Array<{ line: string; statuses: number[]; codes: string[] }> {
  const rows: Array<{ line: string; statuses: number[]; codes: string[] }> = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^\| situation \| status \| `error` \|/.test(lines[i])) continue;
    for (let j = i + 2; j < lines.length && lines[j].startsWith('|'); j++) {
      const cells = lines[j].split('|').map((c) => c.trim());
      const statuses = [...cells[2].matchAll(/\d{3}/g)].map((m) => Number(m[0]));
      const codes = [...cells[3].matchAll(/`([a-z][a-z0-9_]*)`/g)].map((m) => m[1]);
      rows.push({ line: lines[j], statuses, codes });
    }
  }
  return rows;
}

describe('the error catalogue', () => {
  const rows = DOCS.flatMap((file) => errorRows(read(file)));

  it('finds the error tables', () => {
    expect(rows.length).toBeGreaterThan(10);
  });

  it('gives every row the status the catalogue has for its code', () => {
    const wrong: string[] = [];
    for (const { line, statuses, codes } of rows) {
      const known = codes.filter((c) => c in ERRORS) as ErrorCode[];
      if (known.length === 0) wrong.push(`no catalogue code in: ${line}`);
      for (const code of known) if (!statuses.includes(ERRORS[code].status)) wrong.push(`${code} is ${ERRORS[code].status} in src/errors.ts: ${line}`);
    }
    expect(wrong).toEqual([]);
  });

  it('documents every code a client can receive in docs/errors.md', () => {
    const documented = new Set(errorRows(read('docs/errors.md')).flatMap((r) => r.codes));
    const sent = (Object.keys(ERRORS) as ErrorCode[]).filter((c) => c !== 'client_aborted');
    expect(sent.filter((c) => !documented.has(c))).toEqual([]);
  });

  it("makes each answer with its code's status", () => {
    for (const code of Object.keys(ERRORS) as ErrorCode[]) expect(rejection(code, 'm').status).toBe(ERRORS[code].status);
  });
});
