// GET /: the admin page, one self-contained HTML document (no CDN, no fonts, works offline), with
// the GET /stats document of the moment inside it. Its module is loaded on the first request, so
// `sidelight run` never pays for it otherwise.
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { AdminRouter } from './server.js';

interface Page {
  before: Buffer;
  after: Buffer;
  csp: string;
}

let page: Promise<Page> | undefined;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

async function build(): Promise<Page> {
  const { adminPage, SCRIPT, STYLE } = await import('./page/html.js');
  // Only this page's own script and style may run, and it may only call this origin.
  const csp =
    `default-src 'none'; script-src ${sha256(SCRIPT)}; style-src ${sha256(STYLE)}; connect-src 'self'; ` +
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  const { before, after } = adminPage();
  return { before: Buffer.from(before), after: Buffer.from(after), csp };
}

/** JSON inside a <script> element: "<" escaped, so no value can close the element. */
const scriptSafe = (doc: unknown): Buffer => Buffer.from(JSON.stringify(doc).replace(/</g, '\\u003c'));

function send(res: ServerResponse, p: Page, head: boolean, stats: unknown): void {
  const body = Buffer.concat([p.before, scriptSafe(stats), p.after]);
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(body.length),
    'cache-control': 'no-store',
    'content-security-policy': p.csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(head ? undefined : body);
}

/** `stats`: GET /stats' document now */
export function addPageRoute(router: AdminRouter, stats: () => unknown): void {
  router.get('/', async (req, res) => send(res, await (page ??= build()), req.method === 'HEAD', stats()));
}
