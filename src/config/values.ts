// Leaf value parsers shared by the schema: durations, listen addresses, URLs.
import ms from 'ms';
import { z } from 'zod';

export interface ListenAddress {
  host: string;
  port: number;
}

/** "250ms", "10s", "1m", "1.5h". A bare number is refused: "30" could mean seconds or ms. */
export const duration = z.string({ error: 'must be a duration string like "250ms", "10s" or "1m"' }).transform((text, ctx) => {
  const trimmed = text.trim();
  const value = /[a-z]/i.test(trimmed) ? ms(trimmed as ms.StringValue) : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    ctx.addIssue({ code: 'custom', message: `invalid duration "${text}" (use a unit: "250ms", "10s", "1m")` });
    return z.NEVER;
  }
  return value;
});

/** "0.0.0.0:15080", "[::1]:15080", ":15080" or "15080" (all interfaces). */
export function parseListen(text: string): ListenAddress | undefined {
  const trimmed = text.trim();
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*))?:?(\d{1,5})$/.exec(trimmed);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  const host = match[1] ?? (match[2] || '0.0.0.0');
  return { host, port };
}

export const listen = z.string({ error: 'must be an address like "0.0.0.0:15080"' }).transform((text, ctx) => {
  const address = parseListen(text);
  if (!address) {
    ctx.addIssue({ code: 'custom', message: `invalid listen address "${text}" (use "host:port", e.g. "127.0.0.1:15081")` });
    return z.NEVER;
  }
  return address;
});

export const httpUrl = z.string({ error: 'must be a URL like "http://127.0.0.1:8080"' }).transform((text, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    ctx.addIssue({ code: 'custom', message: `invalid URL "${text}" (needs http:// or https:// and a host)` });
    return z.NEVER;
  }
  if (url.username || url.password) {
    ctx.addIssue({ code: 'custom', message: 'credentials in the URL are not allowed; send them as headers from the app' });
    return z.NEVER;
  }
  return url;
});

export function formatListen(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
