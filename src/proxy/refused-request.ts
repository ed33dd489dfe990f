// A request Node's HTTP parser refused (a header section past maxHeaderSize, a bad header line,
// an unknown HTTP version, no request line at all) never becomes an IncomingMessage; this builds
// the one the pipeline completes instead, from the request line when the bytes start with one,
// and the answer the parser's error calls for.
import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { rejection, type Rejection } from '../errors.js';

/** "METHOD target" at the start of what the parser read; the target is printable ASCII */
const REQUEST_LINE = /^([A-Z]{1,20}) ([\x21-\x7e]{1,2048})(?=[ \r\n]|$)/;

const TOO_LARGE = rejection('headers_too_large', 'request headers are larger than limits.maxHeaderBytes', { close: true });
const MALFORMED = rejection('bad_request', 'malformed HTTP request', { close: true });

export interface RefusedRequest {
  readonly req: IncomingMessage;
  readonly answer: Rejection;
}

/** `err`: the parser's error, as Node's 'clientError' event hands it over (rawPacket: the bytes it read) */
export function refusedRequest(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): RefusedRequest {
  const req = new IncomingMessage(socket);
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  const line = err.rawPacket === undefined ? null : REQUEST_LINE.exec(err.rawPacket.subarray(0, 2100).toString('latin1'));
  // A method the parser never vouched for is not written to the log as it came: "_OTHER", as metrics name it.
  req.method = line?.[1] ?? '_OTHER';
  req.url = line?.[2] ?? '';
  return { req, answer: err.code === 'HPE_HEADER_OVERFLOW' ? TOO_LARGE : MALFORMED };
}
