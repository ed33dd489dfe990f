// Upgrade (WebSocket) tunnels: after the upstream's 101, the two sockets are joined byte for byte.
import type { Duplex } from 'node:stream';
import type { ResponseHeaders } from './layer.js';

export function writeSwitchingProtocols(client: Duplex, headers: ResponseHeaders, upgrade: string): void {
  let head = `HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${upgrade}\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  }
  client.write(`${head}\r\n`);
}

/** Joins the sockets; either side closing or failing closes both. */
export function join(client: Duplex, upstream: Duplex, head: Buffer): void {
  if (head.length) upstream.write(head);
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', closeBoth).on('close', closeBoth);
  upstream.on('error', closeBoth).on('close', closeBoth);
  upstream.pipe(client);
  client.pipe(upstream);
  client.resume();
}
