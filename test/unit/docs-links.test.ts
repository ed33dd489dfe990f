// Every relative link in the README and docs/ reaches a file that exists, and a `#anchor` a
// heading of that file (as GitHub makes anchors from headings): moving text between pages must
// not leave a reader at a dead link.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

const anchors = (markdown: string) => new Set([...markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));

describe('links in the README and docs/', () => {
  it('reach files and headings that exist', () => {
    const dead: string[] = [];
    for (const page of PAGES) {
      const markdown = readFileSync(join(ROOT, page), 'utf8');
      for (const [, target] of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [path, anchor] = target.split('#');
        const file = path ? join(ROOT, dirname(page), path) : join(ROOT, page);
        if (!existsSync(file)) dead.push(`${page}: ${target} (no such file)`);
        else if (anchor && !anchors(readFileSync(file, 'utf8')).has(anchor)) dead.push(`${page}: ${target} (no such heading)`);
      }
    }
    expect(dead).toEqual([]);
  });
});
