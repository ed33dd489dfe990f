// 1xx answers from the upstream (102 Processing, 103 Early Hints, 100 Continue, …) passed on to
// the client in order, before the final answer. An HTTP/1.0 client gets none (RFC 9110 §15.2);
// an HTTP/2 client gets them as HEADERS frames before the final one (RFC 9113 §8.1), except 100,
// which node:http2 answers for itself.
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Http2ServerResponse, OutgoingHttpHeaders } from 'node:http2';
import { stripResponseHopByHop } from './headers.js';
import type { ResponseHeaders } from './layer.js';

/** Node's own writer for 100 and 102; any other 1xx goes through the same raw write. */
type RawWriter = ServerResponse & { _writeRaw(data: string, encoding: BufferEncoding): boolean };

export function writeInformational(res: ServerResponse, statusCode: number, headers: ResponseHeaders, statusMessage: string | undefined): void {
  const req = res.req;
  if (req.httpVersionMajor === 2) return writeInformationalH2(res as unknown as Http2ServerResponse, statusCode, headers);
  if (res.headersSent || req.httpVersionMajor !== 1 || req.httpVersionMinor === 0) return;
  // writeContinue also tells Node the client was told to go on, so the connection is kept.
  if (statusCode === 100) return void res.writeContinue();
  stripResponseHopByHop(headers);
  let head = `HTTP/1.1 ${statusCode} ${statusMessage || STATUS_CODES[statusCode] || 'Informational'}\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') head += `${name}: ${value}\r\n`;
    else for (const v of value) head += `${name}: ${v}\r\n`;
  }
  // latin1, as Node writes the final head.
  (res as RawWriter)._writeRaw(`${head}\r\n`, 'latin1');
}

function writeInformationalH2(res: Http2ServerResponse, statusCode: number, headers: ResponseHeaders): void {
  if (res.headersSent || statusCode === 100 || res.stream.destroyed) return;
  stripResponseHopByHop(headers);
  res.stream.additionalHeaders({ ...(headers as OutgoingHttpHeaders), ':status': statusCode });
}
