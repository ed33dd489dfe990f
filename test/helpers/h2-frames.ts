// HTTP/2 frames written by hand (RFC 9113 §4, HPACK literals from RFC 7541 §6.2.2), for the
// inputs no well-behaved client sends: a bad preface, floods of RST_STREAM or SETTINGS, header
// blocks past the limit, streams past SETTINGS_MAX_CONCURRENT_STREAMS.
import { connect, type Socket } from 'node:net';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1) */
function hpackInt(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const out = [firstByte | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}

/** A header block of literals without indexing, new names (no Huffman) */
export function headerBlock(headers: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    parts.push(Buffer.from([0]), hpackInt(name.length, 7, 0), Buffer.from(name, 'latin1'), hpackInt(Buffer.byteLength(value), 7, 0), Buffer.from(value));
  }
  return Buffer.concat(parts);
}

/** A header block split into HEADERS and CONTINUATION frames of at most 16384 bytes (the default SETTINGS_MAX_FRAME_SIZE) */
export function headersFrames(streamId: number, block: Buffer, endStream = true): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < block.length; at += 16384) {
    const last = at + 16384 >= block.length;
    const type = at === 0 ? FRAME.HEADERS : FRAME.CONTINUATION;
    const flags = (last ? FLAG.END_HEADERS : 0) | (at === 0 && endStream ? FLAG.END_STREAM : 0);
    parts.push(frame(type, flags, streamId, block.subarray(at, at + 16384)));
  }
  return Buffer.concat(parts);
}

export function getHeaders(streamId: number, authority: string, path = '/', extra: Array<[string, string]> = []): Buffer {
  const block = headerBlock([[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', authority], ...extra]);
  return frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, streamId, block);
}

export function rstStream(streamId: number, code = 8 /* CANCEL */): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, payload);
}

export interface ReceivedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A raw connection that parses the frames it receives. */
export interface RawH2 {
  socket: Socket;
  frames: ReceivedFrame[];
  /** resolves when the server has closed the connection */
  closed: Promise<void>;
  /** resolves with the first received frame matching `match` (rejects if the connection closes first) */
  waitFor(match: (f: ReceivedFrame) => boolean): Promise<ReceivedFrame>;
  /** GOAWAY's error code, if one came */
  goawayCode(): number | undefined;
  write(data: Buffer): boolean;
}

export async function rawH2(port: number, opening: Buffer = Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)])): Promise<RawH2> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => {});
  const frames: ReceivedFrame[] = [];
  const waiters: Array<{ match: (f: ReceivedFrame) => boolean; resolve: (f: ReceivedFrame) => void; reject: (e: Error) => void }> = [];
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 9) {
      const length = buffered.readUIntBE(0, 3);
      if (buffered.length < 9 + length) break;
      const f = { type: buffered[3], flags: buffered[4], streamId: buffered.readUInt32BE(5) & 0x7fffffff, payload: buffered.subarray(9, 9 + length) };
      buffered = buffered.subarray(9 + length);
      frames.push(f);
      // Acknowledge the server's SETTINGS, as any client must.
      if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK) && !socket.destroyed) socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
      for (const w of waiters.filter((w) => w.match(f))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f);
      }
    }
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void closed.then(() => {
    for (const w of waiters.splice(0)) w.reject(new Error(`connection closed; frames: ${frames.map((f) => f.type).join(',')}`));
  });
  socket.write(opening);
  return {
    socket,
    frames,
    closed,
    waitFor: (match) =>
      new Promise((resolve, reject) => {
        const seen = frames.find(match);
        if (seen) return resolve(seen);
        if (socket.destroyed) return reject(new Error('connection closed'));
        waiters.push({ match, resolve, reject });
      }),
    goawayCode: () => {
      const g = frames.find((f) => f.type === FRAME.GOAWAY);
      return g ? g.payload.readUInt32BE(4) : undefined;
    },
    write: (data) => socket.write(data),
  };
}
