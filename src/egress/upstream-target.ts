// One undici pool per upstream, TLS verification always on, with the upstream's interceptors
// composed onto it. Order, outermost first: retry → per-try observers (metrics, client span)
// → admission (maxInflight, breaker) → per-try timeout → stale-connection resend → pool, so
// every retry is a try that metrics and traces see, and a circuit_open / overloaded refusal is
// observed as a try with that error type.
import { createSecureContext, rootCertificates } from 'node:tls';
import type { Dispatcher } from 'undici';
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
  readonly pool: Pool;
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

/** `maxHeaderBytes`: the largest response head accepted from the upstream (limits.maxHeaderBytes) */
export function createUpstreamTarget(upstream: Upstream, hooks: UpstreamHooks, maxHeaderBytes: number): UpstreamTarget {
  const { name, url, retry } = upstream;
  const origin = url.origin;
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
    }),
  };
  const pool = new Pool(origin, { ...connection, connections: upstream.connections });
  const breaker = new UpstreamBreaker(name, upstream.breaker, hooks.observers);
  const limiter = upstream.rateLimit ? new UpstreamRateLimiter(upstream.rateLimit) : undefined;
  const admission = new UpstreamAdmission(name, upstream.maxInflight, breaker, hooks.observers, limiter);
  const budget = new RetryBudget(retry.budgetPercent, retry.budgetMinRetries, upstream.breaker.rollingWindow);
  const interceptors: Dispatcher.DispatcherComposeInterceptor[] = [
    staleConnectionRetryInterceptor(name, () => new Client(origin, connection), hooks.connectionObservers),
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
    http2: url.h2c,
    routes: upstream.routes.length > 0 ? compileRoutes(upstream.routes) : undefined,
    timeout: upstream.requestTimeout ?? upstream.timeout * (1 + retry.attempts),
  };
}
