// An answer that ends before the request body has fully arrived: the app refused an upload (a 413
// or 401 without reading it), or sidelight answered itself (504, 503, 502, …). RFC 9112 §9.6: the
// rest of the body is read and dropped when its size is known and small, and the connection is
// kept; otherwise the answer says `Connection: close` and the connection closes after it with a
// lingering close: sidelight's side is shut once the answer is flushed and what the client still
// sends is read and dropped for a while, so the client reads the answer rather than a reset (a
// socket closed with unread bytes resets the connection, and the client may lose the answer).
import type { ServerResponse } from 'node:http';
import { constants as h2constants } from 'node:http2';
import type { Socket } from 'node:net';
import type { Exchange } from './exchange.js';
import type { ResponseHeaders } from './layer.js';

/**
 * The most of an unread body that is read and dropped to keep the connection. A new connection
 * costs a round trip and a handshake; reading 1 MiB over a pod network costs about as much, and
 * beyond that closing is the cheaper way out. nginx reads the rest of a refused body too
 * (lingering close) but bounds only the time.
 */
export const DISCARD_LIMIT_BYTES = 1024 * 1024;

/**
 * How long a closing connection (or a kept one whose dropped remainder stalls) is read and
 * drained before it is destroyed: long enough for the client to read the answer, short enough
 * that a client that keeps sending cannot hold the socket.
 */
export const LINGER_MS = 2_000;

/** The request has a body that has not fully arrived (its reader is not undici's any more, or never was). */
export function bodyUnfinished(ex: Exchange): boolean {
  const source = ex.requestBody;
  if (source !== undefined) return !source.ended;
  const req = ex.req;
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return length !== undefined ? Number(length) > 0 : req.headers['transfer-encoding'] !== undefined;
}

/** Bytes of the body still to come; Infinity when unknown (chunked). */
function remaining(ex: Exchange): number {
  const length = ex.req.headers['content-length'];
  return length === undefined ? Infinity : Number(length) - ex.bytesIn;
}

/**
 * Before the head of an answer written while the body is unfinished. `final`: nobody will read
 * the body any more (sidelight's own answer, or an app that closes its connection); otherwise
 * the app may still be reading it while it answers (a full-duplex stream), and what happens is
 * decided once the answer is over.
 */
export function beforeEarlyHead(ex: Exchange, headers: ResponseHeaders, final: boolean): void {
  if (final) {
    ex.requestBody?.stop();
    if (remaining(ex) > DISCARD_LIMIT_BYTES && !ex.h2) headers.connection = 'close';
  }
  // node:http2's compatibility response says 'finish' only once the stream has closed; the
  // stream's own 'finish' is the answer sent.
  const sent = ex.h2 ? ex.stream : ex.res;
  sent.once('finish', () => afterEarlyAnswer(ex));
}

function afterEarlyAnswer(ex: Exchange): void {
  if (!bodyUnfinished(ex)) return;
  ex.requestIncomplete = true;
  const source = ex.requestBody;
  source?.stop();
  // HTTP/2: the rest of the upload is refused on its own stream, the connection is untouched.
  if (ex.h2) return endUpload(ex);
  const socket = ex.req.socket as Socket | null;
  if (!socket || socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  const closing = willClose(ex.res) || remaining(ex) > DISCARD_LIMIT_BYTES;
  if (closing) lingeringClose(socket);
  let dropped = 0;
  const onChunk = (n: number) => {
    dropped += n;
    if (!closing && dropped > DISCARD_LIMIT_BYTES) socket.destroy();
  };
  // Without a reader of its own, Node's server drops the body itself once the answer is out.
  const discarded = () => {
    if (!closing) clearTimeout(timer);
  };
  if (source) source.discard(onChunk, discarded);
  else if (!closing) ex.req.once('end', () => clearTimeout(timer));
}

/**
 * RFC 9113 §8.1: a server that answered before the request was complete asks the client to stop
 * sending with RST_STREAM(NO_ERROR); the answer already sent stays valid.
 */
function endUpload(ex: Exchange): void {
  const stream = ex.stream;
  if (!stream.destroyed) stream.close(h2constants.NGHTTP2_NO_ERROR);
}

/** Node closes the connection after this answer (Connection: close, HTTP/1.0, a refused 100-continue). */
function willClose(res: ServerResponse): boolean {
  return (res as ServerResponse & { _last?: boolean })._last === true;
}

/**
 * Node's server ends a closing connection and destroys it as soon as its side is flushed; with
 * the client's bytes unread that is a reset. Its side is shut as Node does, but the socket is
 * destroyed only when the client closes too or LINGER_MS has passed.
 */
function lingeringClose(socket: Socket): void {
  socket.removeListener('finish', socket.destroy);
  socket.end();
  socket.once('end', () => socket.destroy());
}
