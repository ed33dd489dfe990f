// sidelight assembled: listeners, their layer stacks, the admin port and the lifecycle.
// This is the one place where cross-cutting concerns are composed onto the data path.
import type { Config, Upstream } from './config/load.js';
import { formatListen, type ListenAddress } from './config/values.js';
import { addConfigRoute } from './admin/config-route.js';
import { addDrainRoute } from './admin/drain-route.js';
import { addBreakerRoutes, upstreamsHealth } from './admin/breakers-route.js';
import { addHealthRoute, type HealthSection } from './admin/health.js';
import { addMetricsRoute } from './admin/metrics-route.js';
import { addPageRoute } from './admin/page-route.js';
import { addProbeRoutes } from './admin/probes.js';
import { addStatsRoute } from './admin/stats-route.js';
import { addTapRoute } from './admin/tap-route.js';
import { AdminRouter } from './admin/server.js';
import { createRouter } from './egress/router.js';
import { closeTunnels, tunnelHandler, type Tunnel, type TunnelOptions, type TunnelUpstream } from './egress/tunnel.js';
import { createTunnelAllowlist, type TunnelAddress } from './egress/tunnel-allowlist.js';
import { createUpstreamTarget, type UpstreamHooks, type UpstreamTarget } from './egress/upstream-target.js';
import { createAppTarget } from './ingress/app-target.js';
import { accessLogLayer } from './layers/access-log.js';
import { logUpstreamProtocolErrors } from './telemetry/upstream-protocol-log.js';
import { protocolAbuseReporter } from './telemetry/protocol-abuse.js';
import { clientMetricsInterceptor } from './egress/dispatch/client-metrics.js';
import { egressRejectionsLayer, serverMetricsLayer } from './layers/server-metrics.js';
import { routeLayer } from './layers/route.js';
import { ingressLimits as buildIngressLimits, rateLimitLayer } from './layers/rate-limit.js';
import { DerivedCounters } from './layers/derived-counters.js';
import { RateLimitHits } from './telemetry/rate-limit-metrics.js';
import { drainLayer } from './layers/drain.js';
import { overloadLayer } from './layers/overload.js';
import { requestIdLayer } from './layers/request-id.js';
import { requestTargetLayer } from './layers/request-target.js';
import { clientTracingInterceptor } from './egress/dispatch/client-tracing.js';
import { tapLayer } from './layers/tap.js';
import { egressTracingLayer } from './layers/egress-tracing.js';
import { serverTracingLayer } from './layers/server-tracing.js';
import { tunnelTracing } from './egress/tunnel-tracing.js';
import { DrainState } from './lifecycle/drain.js';
import { Readiness } from './lifecycle/readiness.js';
import { Shutdown } from './lifecycle/shutdown.js';
import { Inflight } from './proxy/inflight.js';
import { refuseConnect, type ConnectHandler, type Layer } from './proxy/layer.js';
import type { Closable } from './proxy/front-door.js';
import { createProxyListener, listen } from './proxy/listener.js';
import { Pipeline } from './proxy/pipeline.js';
import { LiveStats } from './stats/live-stats.js';
import { TapHub } from './tap/hub.js';
import type { LogSink } from './telemetry/logger.js';
import { Metrics } from './telemetry/metrics.js';
import { TunnelMetrics } from './egress/tunnel-metrics.js';
import { egressMetrics } from './egress/egress-metrics.js';
import { watchRateLimiters } from './egress/rate-limit-metrics.js';
import { breakerLog } from './egress/breaker-log.js';
import { logReadiness } from './lifecycle/readiness-log.js';
import { watchLifecycle } from './lifecycle/lifecycle-metrics.js';
import { watchTap } from './tap/tap-metrics.js';
import { startTracing } from './telemetry/tracing.js';
import { GrpcFaults } from './net/grpc-faults.js';
import { UpstreamGrpcMethods } from './telemetry/grpc-methods.js';
import { RpcMetrics } from './telemetry/rpc-metrics.js';
import { VERSION } from './version.js';

export interface Sidecar {
  addresses: Record<string, string>;
  /** starts the drain (what SIGTERM does) */
  drain(reason: string): boolean;
  /** stops at once, skipping the drain (a second signal) */
  stop(code: number): Promise<void>;
  /** resolves with the exit code when the sidecar has stopped */
  exited: Promise<number>;
}

export async function startSidecar(config: Config, log: LogSink): Promise<Sidecar> {
  const { logger } = log;
  const drain = new DrainState();
  const readiness = new Readiness({ app: config.ingress.app, ...config.readiness }, drain);
  const healthSections: HealthSection[] = [];
  const flushers: Array<() => Promise<void> | void> = [];
  const accessLog = config.logging.accessLog ? [accessLogLayer(log, config.logging)] : [];
  // The live view: one summary per finished exchange to GET /tap clients, nothing without them.
  const tap = new TapHub(config.admin.tap);
  // grpc.errorCodes: the gRPC statuses that count as errors in the RED figures, the spans and the tap.
  const grpcFaults = new GrpcFaults(config.grpc.errorCodes);
  const tapLayers = config.admin.tap.maxClients > 0 ? [tapLayer(tap, config.logging, grpcFaults)] : [];
  const metrics = config.metrics.enabled ? new Metrics({ maxSeries: config.metrics.maxSeries }) : undefined;
  const rpcMetrics = metrics ? new RpcMetrics(metrics) : undefined;
  const rateLimitHits = metrics ? new RateLimitHits(metrics) : undefined;
  const resilienceMetrics = metrics ? egressMetrics(metrics, rateLimitHits!) : undefined;
  const derivedCounters = metrics ? new DerivedCounters(metrics, config.metrics.counters) : undefined;
  const derivedLayer = (listener: 'ingress' | 'egress'): Layer[] => {
    const layer = derivedCounters?.layerFor(listener);
    return layer ? [layer] : [];
  };
  // undefined when tracing is off: then no span work at all, and traceparent passes through untouched.
  const tracing = startTracing(config.spans, config.limits.maxInflight, logger, {
    spansExported: (n) => metrics?.countExportedSpans(n),
    spansDropped: (n, reason) => metrics?.countDroppedSpans(n, reason),
  });
  if (tracing) flushers.push(() => tracing.shutdown());

  // Ingress: client → app.
  const app = createAppTarget(config, metrics ? [metrics] : []);
  const ingressInflight = new Inflight();
  const ingressLimits = buildIngressLimits(config.ingress.rateLimit, config.ingress.routes);
  const ingressLayers: Layer[] = [
    requestIdLayer,
    ...(tracing ? [serverTracingLayer(tracing, { indexForEgress: config.egress.upstreams.length > 0, faults: grpcFaults })] : []),
    routeLayer(config.ingress.routes),
    ...(metrics ? [serverMetricsLayer(metrics, rpcMetrics!, grpcFaults)] : []),
    ...derivedLayer('ingress'),
    ...accessLog,
    ...tapLayers,
    requestTargetLayer({ forwardAsterisk: true }),
    drainLayer(drain),
    overloadLayer(ingressInflight, config.limits.maxInflight),
    // Last: a request the drain or the overload guard refuses takes no token.
    ...(ingressLimits.length > 0 ? [rateLimitLayer(ingressLimits, () => rateLimitHits?.hit('ingress', 'app', 'local'))] : []),
  ];
  const ingress = new Pipeline({
    listener: 'ingress',
    layers: ingressLayers,
    resolve: () => app,
    connect: refuseConnect('CONNECT tunnels are not offered on the ingress listener: send each request itself (GET /path) and sidelight forwards it to the app'),
    inflight: ingressInflight,
    upstreamDecidesContinue: !config.ingress.app.h2c,
  });

  // Egress: app → external APIs. It stays up through the drain: the app may still be finishing work.
  // Each upstream's dispatcher, outermost first: retry → per-try metrics/spans → admission
  // (maxInflight, breaker) → pool (src/egress/upstream-target.ts), so retries and local refusals are tries too.
  // Each upstream's first gRPC methods, shared by its tries' metrics and spans.
  const grpcMethods = new UpstreamGrpcMethods();
  const upstreamHooks: UpstreamHooks = {
    tryInterceptors: [
      ...(metrics ? [clientMetricsInterceptor(metrics, { metrics: rpcMetrics!, faults: grpcFaults, methods: grpcMethods })] : []),
      ...(tracing ? [clientTracingInterceptor(tracing, grpcMethods)] : []),
    ],
    observers: [breakerLog(logger), ...(resilienceMetrics ? [resilienceMetrics] : [])],
    connectionObservers: metrics ? [metrics] : [],
  };
  const upstreamTargets = config.egress.upstreams.map((u) => createUpstreamTarget(u, upstreamHooks, config.limits.maxHeaderBytes, grpcFaults));
  const targets = new Map<string, UpstreamTarget>(upstreamTargets.map((t) => [t.name, t]));
  const egressInflight = new Inflight();
  const egressLayers = (...targetForms: Layer[]): Layer[] => [
    requestIdLayer,
    ...(tracing ? [egressTracingLayer(tracing)] : []),
    ...(metrics ? [egressRejectionsLayer(metrics)] : []),
    ...derivedLayer('egress'),
    ...accessLog,
    ...tapLayers,
    ...targetForms,
    overloadLayer(egressInflight, config.limits.maxInflight),
  ];
  // CONNECT tunnels (HTTPS_PROXY clients) to the configured upstreams' hosts only, through each
  // upstream's admission, as requests; metrics and spans observe them as they do the tries.
  const openTunnels = new Set<Tunnel>();
  const tunnelMetrics = metrics && config.egress.tunnels.enabled ? new TunnelMetrics(metrics) : undefined;
  const tunnelOptions: TunnelOptions = {
    idleTimeout: config.egress.tunnels.idleTimeout,
    open: openTunnels,
    observers: [...(tunnelMetrics ? [tunnelMetrics] : []), ...(tracing ? [tunnelTracing(tracing)] : [])],
  };
  const tunnelUpstream = (u: Upstream, address: TunnelAddress): TunnelUpstream => {
    return { name: u.name, address, connectTimeout: u.timeout, admission: targets.get(u.name)!.admission };
  };
  const egressConnect = (upstreams: Upstream[]): ConnectHandler =>
    config.egress.tunnels.enabled
      ? tunnelHandler(createTunnelAllowlist(upstreams, tunnelUpstream), tunnelOptions)
      : refuseConnect(
          'CONNECT tunnels are off here (egress.tunnels.enabled: false): sidelight must see each request. ' +
            'Send plain HTTP instead (an http:// URL with HTTP_PROXY pointing here, a Host header, or /NAME/…); sidelight originates TLS to the upstream',
        );
  const egress = new Pipeline({
    listener: 'egress',
    // The router reads the request-target itself (absolute-form names the upstream).
    layers: egressLayers(),
    resolve: createRouter(config.egress.upstreams, targets),
    connect: egressConnect(config.egress.upstreams),
    inflight: egressInflight,
    upstreamDecidesContinue: false,
  });
  // Dedicated listeners (upstreams.NAME.listen): everything there goes to that one upstream.
  const dedicatedLayers = egressLayers(requestTargetLayer({ forwardAsterisk: false }));
  const dedicated = config.egress.upstreams
    .filter((u) => u.listen)
    .map((u) => {
      const target = targets.get(u.name)!;
      const pipeline = new Pipeline({
        listener: `egress:${u.name}`,
        layers: dedicatedLayers,
        resolve: () => target,
        // Everything here is for this upstream: tunnels too, to its own hosts only.
        connect: egressConnect([u]),
        inflight: egressInflight,
        upstreamDecidesContinue: false,
      });
      return { upstream: u, pipeline };
    });
  healthSections.push(upstreamsHealth(targets));
  flushers.push(logUpstreamProtocolErrors(logger, [app, ...upstreamTargets]));

  // Admin.
  const admin = new AdminRouter(config.admin.token);
  addProbeRoutes(admin, readiness);
  addHealthRoute(admin, { drain, readiness, sections: healthSections });
  addConfigRoute(admin, config);
  addBreakerRoutes(admin, targets);
  addTapRoute(admin, tap);
  const stats = new LiveStats({
    metrics,
    grpcCalls: rpcMetrics?.serverDuration,
    retries: resilienceMetrics?.retries,
    listeners: [
      { name: 'ingress', inflight: ingressInflight },
      { name: 'egress', inflight: egressInflight },
    ],
    upstreams: upstreamTargets,
    tunnels: tunnelMetrics,
    ingressLimits,
    draining: () => drain.draining,
    ready: () => readiness.report().ready,
  });
  addStatsRoute(admin, stats);
  addPageRoute(admin, () => stats.report());
  if (metrics) {
    watchTap(metrics, tap);
    addMetricsRoute(admin, metrics);
    watchLifecycle(metrics, { ready: () => readiness.report().ready, drain, drainTimeoutMs: config.drain.timeout });
    metrics.watchPool('app', app.pool);
    if (ingressLimits.length > 0) rateLimitHits!.declare('ingress', 'app');
    watchRateLimiters(
      metrics,
      upstreamTargets.flatMap((t) => (t.admission.limiter ? [{ name: t.name, limiter: t.admission.limiter }] : [])),
    );
    config.egress.upstreams.forEach((u, i) => {
      resilienceMetrics!.declareUpstream(u.name);
      metrics.clientActiveFor(u.name);
      tunnelMetrics?.declare(u.name);
      metrics.watchPool(u.name, upstreamTargets[i].pool, u.connections);
    });
  }

  // Bind everything; a port that cannot be had is named with its key.
  // Each proxy port takes HTTP/1.1 and HTTP/2 (src/proxy/front-door.ts); the admin port HTTP/1.1.
  const onAbuse = protocolAbuseReporter(logger, metrics);
  const proxyPort = (key: string, pipeline: Pipeline, address: ListenAddress) => {
    const door = createProxyListener(pipeline, config.limits, onAbuse);
    return { key, name: pipeline.listener, closable: door as Closable, listening: door.server as Parameters<typeof listen>[0], address };
  };
  const adminServer = admin.createServer();
  const servers = [
    proxyPort('ingress.listen', ingress, config.ingress.listen),
    proxyPort('egress.listen', egress, config.egress.listen),
    { key: 'admin.listen', name: 'admin', closable: adminServer as Closable, listening: adminServer, address: config.admin.listen },
    ...dedicated.map(({ upstream, pipeline }) => proxyPort(`egress.upstreams.${upstream.name}.listen`, pipeline, upstream.listen!)),
  ];
  const addresses: Record<string, string> = {};
  try {
    for (const s of servers) addresses[s.name] = formatListen(await listen(s.listening, s.address, s.key));
  } catch (err) {
    for (const s of servers) s.closable.close();
    throw err;
  }

  const shutdown = new Shutdown({
    drain,
    delay: config.drain.delay,
    timeout: config.drain.timeout,
    refusingServers: [servers[0].closable],
    servers: servers.map((s) => s.closable),
    inflight: [ingressInflight, egressInflight],
    flushers: [
      // First, and at once: each tunnel's span and log line are written before they are flushed.
      () => closeTunnels(openTunnels),
      ...flushers,
      () => readiness.stop(),
      () => stats.stop(),
      () => tap.close(),
      async () => {
        for (const t of upstreamTargets) t.breaker.shutdown();
        await Promise.all([app.pool.close(), ...upstreamTargets.map((t) => t.dispatcher.close())]);
      },
      () => {
        for (const t of [...ingress.tunnels, ...egress.tunnels, ...dedicated.flatMap((d) => [...d.pipeline.tunnels])]) t.destroy();
      },
    ],
    logger,
  });
  addDrainRoute(admin, (reason) => shutdown.begin(reason));

  logReadiness(readiness, logger, config.ingress.app.origin);
  readiness.start();
  readiness.markStarted();
  metrics?.startProcessMetrics();
  logger.info({ msg: 'listening', version: VERSION, app: config.ingress.app.origin, ...addresses });
  log.flush();

  return {
    addresses,
    drain: (reason) => shutdown.begin(reason),
    stop: (code) => shutdown.finish(code),
    exited: shutdown.exited,
  };
}
