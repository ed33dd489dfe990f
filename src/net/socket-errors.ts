// What a failed connection or socket says about the peer, read from the error codes Node and
// undici use. The one list of those codes: error answers, retries and the stale-connection
// resend all ask here.

/** How a transport failure happened, as a low-cardinality name for metrics, spans and retries. */
export type SocketFailureKind = 'connection_refused' | 'connect_timeout' | 'dns' | 'connection_reset' | 'tls' | 'headers_too_large' | 'timeout' | 'protocol_error';

/** llhttp's error codes (HPE_INVALID_CONSTANT, …): the bytes the peer answered with are not HTTP/1.1 */
const PARSER_CODE = /^HPE_/;
/** undici's error for an answer its llhttp refused; it does not always carry an HPE_ code */
const PARSER_ERROR = 'HTTPParserError';
const TLS_CODES = /^(CERT_|ERR_TLS_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_SSL|HOSTNAME_MISMATCH)/;

/** The connection broke: the peer closed or reset it, or a write hit a closed socket. */
export const RESET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

const KIND_BY_CODE: ReadonlyMap<string, SocketFailureKind> = new Map<string, SocketFailureKind>([
  ['ECONNREFUSED', 'connection_refused'],
  ['UND_ERR_CONNECT_TIMEOUT', 'connect_timeout'],
  ['ENOTFOUND', 'dns'],
  ['EAI_AGAIN', 'dns'],
  ['UND_ERR_HEADERS_OVERFLOW', 'headers_too_large'],
  ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
  ['UND_ERR_BODY_TIMEOUT', 'timeout'],
  ['ETIMEDOUT', 'timeout'],
  ...[...RESET_CODES].map((c): [string, SocketFailureKind] => [c, 'connection_reset']),
]);

/** The error's own code and its cause's (undici wraps socket errors), "" for none. */
export function errorCodes(err: unknown): [string, string] {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  return [typeof e?.code === 'string' ? e.code : '', typeof e?.cause?.code === 'string' ? e.cause.code : ''];
}

/** The kind of a transport failure, or undefined when the codes name none of them. */
export function socketFailureKind(err: unknown): SocketFailureKind | undefined {
  const [code, cause] = errorCodes(err);
  const kind = KIND_BY_CODE.get(code) ?? KIND_BY_CODE.get(cause);
  if (kind !== undefined) return kind;
  if (TLS_CODES.test(code) || TLS_CODES.test(cause)) return 'tls';
  if (PARSER_CODE.test(code) || (err as { name?: unknown } | undefined)?.name === PARSER_ERROR) return 'protocol_error';
  return undefined;
}

/**
 * What llhttp found wrong with a peer's answer ("Expected HTTP/", "Invalid header value char"):
 * undici puts it in parentheses after its own words; the code when there is none.
 */
export function parserReason(err: unknown): string {
  const message = (err as { message?: unknown }).message;
  const reason = typeof message === 'string' ? /\((.+)\)$/.exec(message)?.[1] : undefined;
  return reason ?? errorCodes(err)[0];
}
