// GET /: the admin page, one self-contained HTML document (no CDN, no fonts, works offline).
// Its module is loaded on the first request, so `sidelight run` never pays for it otherwise.
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { AdminRouter } from './server.js';

interface Page {
  body: Buffer;
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
  return { body: Buffer.from(adminPage()), csp };
}

function send(res: ServerResponse, p: Page, head: boolean): void {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(p.body.length),
    'cache-control': 'no-store',
    'content-security-policy': p.csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(head ? undefined : p.body);
}

export function addPageRoute(router: AdminRouter): void {
  router.get('/', async (req, res) => send(res, await (page ??= build()), req.method === 'HEAD'));
}
