// Leaf value parsers shared by the schema: durations, listen addresses, URLs.
import ms from 'ms';
import * as z from 'zod/mini';

export interface ListenAddress {
  host: string;
  port: number;
}

/** "250ms", "10s", "1m", "1.5h". A bare number is refused: "30" could mean seconds or ms. */
export const duration = textTo('must be a duration string like "250ms", "10s" or "1m"', (text) => {
  const trimmed = text.trim();
  const value = /[a-z]/i.test(trimmed) ? ms(trimmed as ms.StringValue) : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return new Invalid(`invalid duration "${text}" (use a unit: "250ms", "10s", "1m")`);
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

export const listen = textTo(
  'must be an address like "0.0.0.0:15080"',
  (text) => parseListen(text) ?? new Invalid(`invalid listen address "${text}" (use "host:port", e.g. "127.0.0.1:15081")`),
);

export const httpUrl = textTo('must be a URL like "http://127.0.0.1:8080"', (text) => {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    return new Invalid(`invalid URL "${text}" (needs http:// or https:// and a host)`);
  }
  if (url.username || url.password) return new Invalid('credentials in the URL are not allowed; send them as headers from the app');
  return url;
});

/** Why a text was refused: the message the config error shows for its key. */
class Invalid {
  constructor(readonly message: string) {}
}

/** A string value that `parse` turns into a typed one, or refuses with the key's message. */
function textTo<T>(notText: string, parse: (text: string) => T | Invalid) {
  return z.pipe(
    z.string({ error: notText }),
    z.transform((text: string, ctx) => {
      const value = parse(text);
      if (!(value instanceof Invalid)) return value;
      ctx.issues.push({ code: 'custom', message: value.message, input: text });
      return z.NEVER;
    }),
  );
}

export function formatListen(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
