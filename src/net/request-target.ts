// The absolute-form request-target (RFC 9112 §3.2.2: "GET http://host:port/path?q"), parsed
// once for every listener: HTTP_PROXY clients send it, and a server must accept it.

const ABSOLUTE_FORM = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i;

export interface AbsoluteTarget {
  /** lowercased scheme, without "://" */
  readonly scheme: string;
  /** the authority as written, userinfo included */
  readonly authority: string;
  /** the authority without userinfo: host[:port] */
  readonly host: string;
  /** userinfo was present ("user:pass@host") */
  readonly userinfo: boolean;
  /** where the path begins ("http://host:80/p?q" → 18); the target's length when it has none */
  readonly pathStart: number;
}

/** The parts of an absolute-form target; undefined for any other form (a path, "*", host:port). */
export function parseAbsoluteForm(target: string): AbsoluteTarget | undefined {
  if (target.charCodeAt(0) === 47 /* / */) return undefined;
  const m = ABSOLUTE_FORM.exec(target);
  if (m === null) return undefined;
  const authority = m[2];
  const at = authority.lastIndexOf('@');
  return { scheme: m[1].toLowerCase(), authority, host: authority.slice(at + 1), userinfo: at !== -1, pathStart: m[0].length };
}
