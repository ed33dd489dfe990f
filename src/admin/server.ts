// The admin port's router: a table of method + path patterns (":name" segments), JSON answers,
// and one rule for every state-changing call, and for GETs that show traffic (the tap): the admin
// token, or loopback when none is set.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { authorize } from './auth.js';

export type Params = Record<string, string>;
export type AdminHandler = (req: IncomingMessage, res: ServerResponse, params: Params) => void | Promise<void>;

interface Route {
  method: string;
  segments: string[];
  handler: AdminHandler;
  guarded: boolean;
}

export interface RouteOptions {
  /** needs the admin token (or loopback when none is set); every POST is guarded */
  guarded?: boolean;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export class AdminRouter {
  private readonly routes: Route[] = [];

  constructor(private readonly token: string | undefined) {}

  get(path: string, handler: AdminHandler, options: RouteOptions = {}): this {
    return this.add('GET', path, handler, options.guarded ?? false);
  }

  post(path: string, handler: AdminHandler): this {
    return this.add('POST', path, handler, true);
  }

  private add(method: string, path: string, handler: AdminHandler, guarded: boolean): this {
    this.routes.push({ method, segments: path.split('/').filter(Boolean), handler, guarded });
    return this;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const parts = path.split('/').filter(Boolean).map(safeDecode);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = match(route.segments, parts);
      if (!params) continue;
      pathMatched = true;
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      if (route.method !== method) continue;
      if (route.guarded) {
        const denied = authorize(req, this.token);
        if (denied) return sendJson(res, denied.status, { error: denied.code, message: denied.message }, denied.headers);
      }
      Promise.resolve(route.handler(req, res, params)).catch((err: Error) => {
        if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: err.message });
        else res.destroy();
      });
      return;
    }
    if (pathMatched) return sendJson(res, 405, { error: 'method_not_allowed', message: `${req.method} is not allowed on ${path}` });
    sendJson(res, 404, { error: 'not_found', message: `no admin endpoint at ${path}` });
  };

  createServer(): Server {
    const server = createServer(this.handle);
    server.keepAliveTimeout = 65_000;
    return server;
  }
}

function match(segments: string[], parts: string[]): Params | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Params = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s.startsWith(':')) params[s.slice(1)] = parts[i];
    else if (s !== parts[i]) return undefined;
  }
  return params;
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
