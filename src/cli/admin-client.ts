// How `sidelight tap` and `sidelight stat` reach a running sidelight: its admin URL, the admin
// token as a Bearer header, and failures turned into one message and an exit code (2: fix the
// command, its URL or token; 1: the admin port could not be reached or answered badly).
import { request, type Dispatcher } from 'undici';

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:15090';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

export interface AdminOptions {
  admin?: string;
  token?: string;
}

export interface AdminClient {
  base: URL;
  get(path: string, headers?: Record<string, string>): Promise<Dispatcher.ResponseData>;
}

/** "http://host:port", or "host:port" as `run --admin` takes it. */
export function adminUrl(text: string | undefined): URL {
  const raw = text ?? DEFAULT_ADMIN_URL;
  let url: URL | undefined;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new CliError(`--admin: "${raw}" is not an admin URL (e.g. ${DEFAULT_ADMIN_URL})`, 2);
  }
  if (url.username || url.password) throw new CliError('--admin: put the token in SIDELIGHT_ADMIN_TOKEN or --token, not in the URL', 2);
  return url;
}

export function adminClient(options: AdminOptions, env: NodeJS.ProcessEnv = process.env): AdminClient {
  const base = adminUrl(options.admin);
  const token = options.token ?? (env.SIDELIGHT_ADMIN_TOKEN || undefined);
  return {
    base,
    async get(path, headers = {}) {
      const url = new URL(path, base);
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, { headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
      } catch (err) {
        const e = err as { code?: string; cause?: { code?: string }; message: string };
        throw new CliError(`cannot reach sidelight's admin port at ${base.origin}: ${e.code ?? e.cause?.code ?? e.message}`, 1);
      }
      if (res.statusCode >= 200 && res.statusCode < 300) return res;
      const text = await res.body.text().catch(() => '');
      let message = text.trim();
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: keep the text
      }
      const usage = res.statusCode === 400 || res.statusCode === 401 || res.statusCode === 403 || res.statusCode === 404;
      const hint = res.statusCode === 401 ? ' (set SIDELIGHT_ADMIN_TOKEN or --token)' : '';
      throw new CliError(`${url.pathname}: ${res.statusCode} ${message}${hint}`, usage ? 2 : 1);
    },
  };
}
