// Leaf value parsers shared by the schema: durations, listen addresses, URLs.
import * as z from 'zod/mini';

export interface ListenAddress {
  host: string;
  port: number;
}

/** The one duration grammar: a decimal number and a unit, as in "250ms", "1.5s", "5m", "1h". */
export const DURATION_GRAMMAR = 'a number and a unit (ms, s, m or h), e.g. "250ms", "1.5s", "5m", "1h"';
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
/** Node's timers hold at most 2^31-1 ms (about 24.8 days); 24h keeps every duration well inside. */
const MAX_DURATION_MS = UNIT_MS.h * 24;

/** Milliseconds, or why the text is not a duration. A bare number is refused: "30" could mean seconds or ms. */
function parseDuration(text: string): number | Invalid {
  const match = DURATION.exec(text);
  if (!match) return new Invalid(`invalid duration "${text}": write ${DURATION_GRAMMAR}`);
  const value = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  const whole = Math.round(value);
  if (Math.abs(value - whole) > 1e-6) return new Invalid(`invalid duration "${text}": durations are whole milliseconds`);
  if (whole > MAX_DURATION_MS) return new Invalid(`invalid duration "${text}": at most 24h`);
  return whole;
}

export const duration = textTo(`must be a duration: ${DURATION_GRAMMAR}`, parseDuration);

/** A duration in the grammar for a value nobody wrote (a default, a derived one): the largest whole unit, else seconds with decimals. */
export function formatDuration(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  return ms >= 1000 || ms === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * "127.0.0.1:15080", "[::1]:15080", ":15080" (all interfaces) or a bare port "15080", which listens
 * on `barePortHost`: the interface of the key's default, so a bare port changes only the port.
 */
export function parseListen(text: string, barePortHost: string): ListenAddress | undefined {
  const match = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  const host = match[1] ?? (match[2] === undefined ? barePortHost : match[2] || '0.0.0.0');
  return { host, port };
}

const listenOn = (barePortHost: string) =>
  textTo('must be an address like "0.0.0.0:15080" or a port', (text) => parseListen(text, barePortHost) ?? new Invalid(`invalid listen address "${text}" (use "host:port", e.g. "127.0.0.1:15081", or a port)`));

/** ingress and admin: a bare port listens on all interfaces */
export const listen = listenOn('0.0.0.0');
/** egress and an upstream's own listener: a bare port listens on loopback, where the app is */
export const loopbackListen = listenOn('127.0.0.1');

/**
 * An app's or an upstream's origin. `h2c://host:port` (Traefik's spelling) is HTTP/2 without TLS
 * by prior knowledge: the URL is then the http:// one, with `h2c` set.
 */
export type ServiceUrl = URL & { readonly h2c: boolean };

export const httpUrl = textTo('must be a URL like "http://127.0.0.1:8080"', (text): ServiceUrl | Invalid => {
  let url: URL | undefined;
  const h2c = /^h2c:\/\//i.test(text);
  try {
    url = new URL(h2c ? `http://${text.slice(6)}` : text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    return new Invalid(`invalid URL "${text}" (needs http://, https:// or h2c:// and a host)`);
  }
  if (url.username || url.password) return new Invalid('credentials in the URL are not allowed; send them as headers from the app');
  if (url.pathname !== '/' || url.search || url.hash) {
    return new Invalid(`"${text}": each request goes to this origin with its own path, so a path, query or fragment here would be ignored; write "${h2c ? `h2c://${url.host}` : url.origin}"`);
  }
  return Object.assign(url, { h2c });
});

/** a ServiceUrl as it is written in the config */
export function formatServiceUrl(url: ServiceUrl): string {
  return url.h2c ? `h2c://${url.host}` : url.origin;
}

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

/** An upstream's name: a metric label value, a path prefix on the egress port and part of a listener name. */
export const UPSTREAM_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const UPSTREAM_NAME_RULE = 'upstream names are lowercase letters, digits, "-" and "_" (at most 63, the first a letter or digit)';

export function formatListen(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
