// An egress CONNECT tunnel: through the upstream's admission (src/egress/admission.ts, the same
// as for requests: maxInflight, breaker, rate limit, whose token it may wait for), a TCP connection to the
// upstream's configured address within its connect timeout, `200 Connection Established` only
// once connected, then the two sockets spliced byte for byte with backpressure (pipe: nothing is
// held beyond the sockets' own buffers). The client's TLS runs end to end: sidelight neither
// terminates nor reads it, so a tunnel is L4 only (no status codes, no retries). It knows
// nothing of metrics, traces or logs: observers hear when a tunnel starts, opens and ends, and
// the pipeline completes its exchange (access log, tap) when it is over.
import { connect, type Socket } from 'node:net';
import type { UpstreamAdmission } from './admission.js';
import type { RateWaiter } from './rate-limiter.js';
import type { TunnelAddress } from './tunnel-allowlist.js';
import { classify, rejection, TryTimeoutError, type Rejection } from '../errors.js';
import type { Abortable, Exchange, TunnelFacts } from '../proxy/exchange.js';
import type { ConnectHandler, TunnelOwner } from '../proxy/layer.js';

/** who ended an established tunnel */
export type TunnelClose = 'client' | 'upstream' | 'idle_timeout' | 'shutdown';

/** What one upstream gives its tunnels. */
export interface TunnelUpstream {
  readonly name: string;
  readonly address: TunnelAddress;
  /** ms to get a TCP connection (the upstream's per-try `timeout`) */
  readonly connectTimeout: number;
  readonly admission: UpstreamAdmission;
}

/** Told about every tunnel to a configured upstream; metrics and spans are observers. */
export interface TunnelObserver {
  /** an allowed CONNECT, before anything is decided */
  tunnelStarted?(t: Tunnel): void;
  /** the open is decided: `t.outcome` says how */
  tunnelOpened?(t: Tunnel): void;
  /** the tunnel is over (at once after a failed open); its counts are final */
  tunnelEnded?(t: Tunnel): void;
}

export interface TunnelOptions {
  /** a tunnel with no byte either way for this long is closed */
  idleTimeout: number;
  /** tunnels not yet ended, so the shutdown can close them (see closeTunnels) */
  open: Set<Tunnel>;
  observers: readonly TunnelObserver[];
}

export class Tunnel implements TunnelFacts, Abortable, RateWaiter {
  /** "" until the open is decided; then "established" or why not (an error type, "circuit_open", …) */
  outcome = '';
  closedBy: TunnelClose | '' = '';
  connectMs = 0;
  /** performance.now() when it ended; 0 while it lasts */
  endedAt = 0;
  private upstreamSocket: Socket | undefined = undefined;
  private client: Socket | undefined = undefined;
  private owner: TunnelOwner | undefined = undefined;
  private head: Buffer | undefined = undefined;
  private connectTimer: NodeJS.Timeout | undefined = undefined;
  /** the breaker's ticket; -1 until admitted */
  private ticket = -1;
  private connectStartedAt = 0;
  private holdsSlot = false;
  private closedSockets = 0;

  constructor(
    readonly ex: Exchange,
    readonly upstream: TunnelUpstream,
    /** the host:port the client asked for */
    readonly target: string,
    private readonly options: TunnelOptions,
  ) {}

  /** bytes from the app to the upstream */
  get bytesSent(): number {
    return this.upstreamSocket?.bytesWritten ?? 0;
  }

  /** bytes from the upstream to the app */
  get bytesReceived(): number {
    return this.upstreamSocket?.bytesRead ?? 0;
  }

  /** Starts the connect, or returns the answer to give at once (too many in flight, circuit open, rate limited). */
  open(head: Buffer, owner: TunnelOwner): Rejection | undefined {
    for (const o of this.options.observers) o.tunnelStarted?.(this);
    const admission = this.upstream.admission;
    const ticket = admission.enter();
    if (typeof ticket !== 'number') return this.refuse(ticket.errorType, { ...ticket, close: true });
    const wait = admission.pace(ticket, this);
    if (typeof wait !== 'number') return this.refuse(wait.errorType, { ...wait, close: true });
    // A tunnel holds its slot for its whole life: maxInflight caps concurrent tunnels too.
    this.ticket = ticket;
    this.holdsSlot = true;
    this.owner = owner;
    this.head = head;
    this.ex.upstreamCall = this;
    this.options.open.add(this);
    if (wait === 0) this.connect();
    return undefined;
  }

  /** The rate limiter's go-ahead, after a wait: connect, unless the tunnel was given up meanwhile. */
  admitted(): void {
    if (this.outcome === '') this.connect();
  }

  private connect(): void {
    const address = this.upstream.address;
    this.connectStartedAt = performance.now();
    const socket = connect({ host: address.host, port: address.port, noDelay: true, allowHalfOpen: true });
    this.upstreamSocket = socket;
    socket.once('connect', this.onConnect);
    socket.once('error', this.onConnectError);
    this.connectTimer = setTimeout(this.onConnectTimeout, this.upstream.connectTimeout);
  }

  /** The client left while the connect was under way (the pipeline completes the exchange). */
  abort(_reason: Error): void {
    if (this.outcome === '') this.giveUp('client_aborted');
  }

  /** Closes the tunnel (idle timeout, shutdown): it ends at once, not when the sockets report closed. */
  close(reason: TunnelClose): void {
    if (this.endedAt !== 0) return;
    if (this.outcome === '') {
      // Still connecting at shutdown: the client gets an answer rather than a dropped connection.
      this.giveUp(reason);
      this.owner!.reply(this.ex, rejection('draining', 'sidelight is shutting down; retry on another instance', { headers: ['retry-after', '1'], close: true }));
      return;
    }
    this.closedBy ||= reason;
    this.client?.destroy();
    this.upstreamSocket?.destroy();
    this.finish();
  }

  private giveUp(outcome: string): void {
    // no socket yet while it waits for its rate-limit token
    this.upstreamSocket?.destroy();
    this.upstream.admission.report(this.ticket, null);
    this.decided(outcome);
    this.end();
  }

  private refuse(outcome: string, answer: Rejection): Rejection {
    this.decided(outcome);
    this.ex.errorType = outcome;
    this.end();
    return answer;
  }

  private decided(outcome: string): void {
    clearTimeout(this.connectTimer);
    this.outcome = outcome;
    for (const o of this.options.observers) o.tunnelOpened?.(this);
  }

  private readonly onConnect = (): void => {
    if (this.outcome !== '') return;
    const upstream = this.upstreamSocket!;
    upstream.off('error', this.onConnectError);
    this.connectMs = performance.now() - this.connectStartedAt;
    this.upstream.admission.report(this.ticket, undefined);
    this.decided('established');
    const client = this.owner!.tunneled(this.ex) as Socket;
    this.client = client;
    this.splice(client, upstream);
  };

  private readonly onConnectTimeout = (): void => {
    this.connectFailed(new TryTimeoutError(true), `no connection to ${this.upstream.name} within ${this.upstream.connectTimeout} ms`);
  };

  private readonly onConnectError = (err: Error): void => {
    this.connectFailed(err, undefined);
  };

  private connectFailed(err: Error, message: string | undefined): void {
    if (this.outcome !== '') return;
    this.upstreamSocket!.destroy();
    const failure = classify(err);
    this.upstream.admission.report(this.ticket, failure.errorType);
    this.connectMs = performance.now() - this.connectStartedAt;
    this.decided(failure.errorType);
    this.ex.errorType = failure.errorType;
    this.end();
    this.owner!.reply(this.ex, rejection(failure.code, message ?? `${failure.message} (${this.upstream.name}, ${failure.errorType})`, { close: true }));
  }

  private splice(client: Socket, upstream: Socket): void {
    // What the client sent right behind its CONNECT (an eager TLS ClientHello) goes first.
    const head = this.head!;
    this.head = undefined;
    if (head.length) upstream.write(head);
    client.on('end', this.onClientEnd).on('error', this.onClientEnd).on('close', this.onSocketClose);
    upstream.on('end', this.onUpstreamEnd).on('error', this.onUpstreamEnd).on('close', this.onSocketClose);
    // Activity either way moves both sockets' timers: either one firing means the tunnel is idle.
    client.setTimeout(this.options.idleTimeout, this.onIdle);
    upstream.setTimeout(this.options.idleTimeout, this.onIdle);
    upstream.pipe(client);
    client.pipe(upstream);
  }

  private readonly onClientEnd = (): void => {
    this.closedBy ||= 'client';
  };

  private readonly onUpstreamEnd = (): void => {
    this.closedBy ||= 'upstream';
  };

  private readonly onIdle = (): void => this.close('idle_timeout');

  /** One side is closed: the other gets what is still queued for it, then closes too. */
  private readonly onSocketClose = (): void => {
    if (++this.closedSockets === 2) return this.finish();
    this.client!.destroySoon();
    this.upstreamSocket!.destroySoon();
  };

  private finish(): void {
    if (this.endedAt !== 0) return;
    const ex = this.ex;
    ex.bytesIn = this.bytesSent;
    ex.bytesOut = this.bytesReceived;
    this.end();
    this.owner!.tunnelClosed(ex);
  }

  /** Releases what the tunnel held and tells the observers; once. */
  private end(): void {
    if (this.endedAt !== 0) return;
    this.endedAt = performance.now();
    if (this.holdsSlot) {
      this.holdsSlot = false;
      this.upstream.admission.release();
    }
    this.options.open.delete(this);
    for (const o of this.options.observers) o.tunnelEnded?.(this);
  }
}

/** Closes every tunnel still open (the drain timed out, or a second signal): each ends at once. */
export function closeTunnels(open: Set<Tunnel>): void {
  for (const t of [...open]) t.close('shutdown');
}

/**
 * An egress listener's CONNECT handler: `allow` names the upstream (or refuses: 400, 403), and a
 * Tunnel does the rest.
 */
export function tunnelHandler(allow: (authority: string) => TunnelUpstream | Rejection, options: TunnelOptions): ConnectHandler {
  return (ex, _socket, head, owner) => {
    const upstream = allow(ex.upstreamPath);
    if ('code' in upstream) return upstream;
    ex.upstream = upstream.name;
    const tunnel = new Tunnel(ex, upstream, ex.upstreamPath, options);
    ex.tunnel = tunnel;
    return tunnel.open(head, owner);
  };
}
