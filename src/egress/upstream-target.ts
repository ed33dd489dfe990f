// One undici pool per upstream, TLS verification always on, with the upstream's interceptors
// composed onto it. Order, outermost first: retry → per-try observers (metrics, client span)
// → admission (maxInflight, breaker) → per-try timeout → stale-connection resend → pool, so
// every retry is a try that metrics and traces see, and a circuit_open / overloaded refusal is
// observed as a try with that error type.
import { createSecureContext, rootCertificates } from 'node:tls';
import type { Dispatcher } from 'undici';
import type { GrpcFaults } from '../net/grpc-faults.js';
import { h2TrailersInterceptor } from '../proxy/h2-trailers.js';
import { H2cClient } from '../proxy/h2c-client.js';
import { Client, Pool, type PoolOptions } from '../proxy/undici.js';
import { compileRoutes } from '../proxy/route-matcher.js';
import type { Upstream } from '../config/load.js';
import { UpstreamAdmission } from './admission.js';
import { admissionInterceptor } from './dispatch/admission.js';
import { retryInterceptor } from './dispatch/retry.js';
import { reuseAwareConnector, staleConnectionRetryInterceptor, type ConnectionObserver } from '../proxy/stale-connection.js';
import { tryTimeoutInterceptor } from './dispatch/try-timeout.js';
import type { Target, TryInterceptorFactory } from '../proxy/layer.js';
import { UpstreamBreaker } from './circuit-breaker.js';
import type { EgressObserver } from './observer.js';
import { RetryBudget } from './retry-budget.js';
import { UpstreamRateLimiter } from './rate-limiter.js';

export interface UpstreamTarget extends Target {
  readonly pool: Pool | H2cClient;
  readonly breaker: UpstreamBreaker;
  readonly admission: UpstreamAdmission;
  readonly budget: RetryBudget;
}

export interface UpstreamHooks {
  /** per-try concerns from other parts (metrics, tracing), composed between retry and breaker */
  tryInterceptors: readonly TryInterceptorFactory[];
  observers: readonly EgressObserver[];
  connectionObservers: readonly ConnectionObserver[];
}

/**
 * `maxHeaderBytes`: the largest response head accepted from the upstream (limits.maxHeaderBytes);
 * `grpcFaults`: the gRPC statuses the breaker counts as failures (grpc.errorCodes).
 */
export function createUpstreamTarget(upstream: Upstream, hooks: UpstreamHooks, maxHeaderBytes: number, grpcFaults: GrpcFaults): UpstreamTarget {
  const { name, url, retry } = upstream;
  const origin = url.origin;
  // HTTP/2: by prior knowledge to an h2c:// upstream, on one connection that carries every call
  // (src/proxy/h2c-client.ts); offered by ALPN to an https:// one with http2 on, where undici's
  // pool negotiates it. There each connection carries one request at a time, as over HTTP/1.1
  // (undici's default pipelining of 1): undici holds a POST or a streamed body back until the
  // connection's other requests are done, so a deeper pipeline would queue calls behind a long
  // stream while the pool's others sit idle. `connections` bounds the concurrency.
  const alpnH2 = !url.h2c && upstream.http2 === true;
  const connection: PoolOptions = {
    keepAliveTimeout: 4_000,
    maxHeaderSize: maxHeaderBytes,
    // The per-try limit is tryTimeoutInterceptor's, on time; undici's timers are ~500 ms coarse.
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: reuseAwareConnector({
      // still bounds the socket attempt itself after the try has been answered
      timeout: upstream.timeout,
      // SNI (undici sends the URL's host name) and verification stay on; `ca` adds trust to the
      // system CAs, it never turns checking off. One secure context: parsed once, not per connection.
      rejectUnauthorized: true,
      secureContext: upstream.caPem ? createSecureContext({ ca: [...rootCertificates, upstream.caPem] }) : undefined,
      allowH2: alpnH2,
    }),
  };
  const pool = url.h2c
    ? new H2cClient(url, { connectTimeout: upstream.timeout, idleTimeout: connection.keepAliveTimeout!, maxHeaderBytes })
    : new Pool(origin, { ...connection, connections: upstream.connections });
  // undici's h2 pool: h2TrailersInterceptor innermost, on the pool and on the stale-connection
  // resend's own client. The h2c client needs neither: its connection is replaced once it closes
  // or goes away, and a call lost with it is a reset the retry policy judges.
  const h2Trailers = alpnH2 ? [h2TrailersInterceptor()] : [];
  const transport: Dispatcher.DispatcherComposeInterceptor[] = url.h2c
    ? []
    : [...h2Trailers, staleConnectionRetryInterceptor(name, () => new Client(origin, connection).compose(h2Trailers), hooks.connectionObservers)];
  const breaker = new UpstreamBreaker(name, { ...upstream.breaker, grpcFaults }, hooks.observers);
  const limiter = upstream.rateLimit ? new UpstreamRateLimiter(upstream.rateLimit) : undefined;
  const admission = new UpstreamAdmission(name, upstream.maxInflight, breaker, hooks.observers, limiter);
  const budget = new RetryBudget(retry.budgetPercent, retry.budgetMinRetries, upstream.breaker.rollingWindow);
  const interceptors: Dispatcher.DispatcherComposeInterceptor[] = [
    ...transport,
    tryTimeoutInterceptor(upstream.timeout),
    admissionInterceptor(admission),
    ...hooks.tryInterceptors.map((make) => make(name)),
    retryInterceptor(
      { upstream: name, attempts: retry.attempts, backoff: retry.backoff, maxBackoff: retry.maxBackoff, maxBodyBytes: retry.maxBodyBytes },
      budget,
      hooks.observers,
    ),
  ];
  return {
    name,
    dispatcher: pool.compose(interceptors),
    pool,
    breaker,
    admission,
    budget,
    origin,
    host: url.host,
    // The app's call to Stripe is the app's: no sidecar or pod addresses leak to a third party.
    setForwarded: false,
    http2: url.h2c || alpnH2,
    routes: upstream.routes.length > 0 ? compileRoutes(upstream.routes) : undefined,
    timeout: upstream.requestTimeout ?? upstream.timeout * (1 + retry.attempts),
  };
}
