// The config file's shape, validated once at the edge into typed objects.
// Unknown keys are errors (strictObject): a typo must never be silently ignored.
// zod/mini, not classic zod: the same validator and messages, and a small part of classic zod's
// load time on every start (bench/RESULTS.md has the figures).
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { DEFAULT_GRPC_ERROR_CODES, GRPC_STATUS_NAMES } from '../net/grpc-status.js';
import { duration, httpUrl, listen, loopbackListen, UPSTREAM_NAME, UPSTREAM_NAME_RULE } from './values.js';

z.config(en());

const nonNegativeInt = z.int().check(z.minimum(0));
const positiveInt = z.int().check(z.minimum(1));
const number = (min: number, max: number) => z.number().check(z.minimum(min), z.maximum(max));
// (`as never`: mini types a default by the schema's exact output; these helpers stay generic)
const withDefault = <T extends z.ZodMiniType>(schema: T, value: z.output<T>) => z._default(schema, value as never);
/** a section that may be left out: its keys then take their defaults */
const section = <T extends z.core.$ZodLooseShape>(shape: T) => z.prefault(z.strictObject(shape), {} as never);

const retry = section({
  attempts: withDefault(nonNegativeInt.check(z.maximum(10)), 2),
  backoff: z.prefault(duration, '100ms'),
  maxBackoff: z.prefault(duration, '2s'),
  /** retries may be at most this share of requests per upstream over the breaker's rolling window */
  budgetPercent: withDefault(number(0, 100), 20),
  /** retries always allowed per rolling window, so a quiet upstream still gets its retries */
  budgetMinRetries: withDefault(nonNegativeInt, 10),
  /** a request body larger than this is streamed and never replayed */
  maxBodyBytes: withDefault(nonNegativeInt, 64 * 1024),
});

const breaker = section({
  enabled: withDefault(z.boolean(), true),
  errorThresholdPercentage: withDefault(number(1, 100), 50),
  volumeThreshold: withDefault(nonNegativeInt, 10),
  resetTimeout: z.prefault(duration, '30s'),
  rollingWindow: z.prefault(duration, '10s'),
  /** upstream statuses that count as failures; 4xx are the caller's problem (429 may be added: a rate limit the API enforces) */
  failureStatuses: z.optional(z.array(z.int().check(z.refine((s) => s === 429 || (s >= 500 && s <= 599), 'must be 429 or a status from 500 to 599')))),
});

const rps = z.number().check(z.gt(0, 'must be more than 0 requests per second'));
/** a token bucket: `rps` on average, `burst` at once (default: one second's worth, at least 1) */
const rateLimit = {
  rps,
  burst: z.optional(positiveInt),
};

/** the burst left out: one second's worth */
const withBurst = <T extends { rps: number; burst?: number }>(limit: T) => ({ ...limit, burst: limit.burst ?? Math.max(1, Math.ceil(limit.rps)) });

/** egress.upstreams.NAME.rateLimit: callers over it wait up to maxWait for their turn, then get 429 */
const upstreamRateLimit = z.pipe(z.strictObject({ ...rateLimit, maxWait: z.prefault(duration, '0s') }), z.transform(withBurst));

/** ingress.rateLimit and a route's: over it, 429 at once; `key` splits the limit per client or per header value */
const ingressRateLimit = z.pipe(
  z.strictObject({
    ...rateLimit,
    key: withDefault(z.string().check(z.regex(/^(none|client|header:[A-Za-z0-9!#$%&'*+.^_`|~-]+)$/, 'must be "none", "client" or "header:NAME"')), 'none'),
  }),
  z.transform(withBurst),
);

const routeTemplate = z.string().check(z.startsWith('/', 'route templates start with "/"'));
/** a route template, or one with its own rate limit */
const route = z.union([routeTemplate, z.strictObject({ path: routeTemplate, rateLimit: z.optional(ingressRateLimit) })]);

/** a status matcher of a derived counter: 200, "2xx", or a list of them */
const statusMatch = z.union([z.int().check(z.minimum(100), z.maximum(599)), z.string().check(z.regex(/^[1-5]xx$/, 'must be a status (404) or a class ("2xx")'))]);

/** metrics.counters.NAME: the exchanges it counts (every key given must match) */
const derivedCounter = z.strictObject({
  listener: z.optional(z.enum(['ingress', 'egress'])),
  upstream: z.optional(z.string().check(z.regex(UPSTREAM_NAME, UPSTREAM_NAME_RULE))),
  method: z.optional(z.string().check(z.regex(/^[A-Z]+$/, 'an HTTP method in capitals, e.g. POST'))),
  route: z.optional(z.string().check(z.startsWith('/', 'route templates start with "/"'))),
  status: z.optional(z.union([statusMatch, z.array(statusMatch).check(z.minLength(1))])),
});

/** a Prometheus metric name outside sidelight's own: sidelight_*, http_server_*, http_client_*, and prom-client's nodejs_* and process_* */
const derivedCounterName = z.string().check(
  z.regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'must be a Prometheus metric name (letters, digits, "_" and ":", not starting with a digit)'),
  z.refine((name) => !/^(sidelight_|http_server_|http_client_|nodejs_|process_)/.test(name), 'names starting sidelight_, http_server_, http_client_, nodejs_ or process_ are sidelight\'s own'),
);

const upstream = z.strictObject({
  url: httpUrl,
  hosts: z.optional(z.array(z.string().check(z.minLength(1)))),
  listen: z.optional(loopbackListen),
  /** per try: connect and response head (from the end of the request body), then each gap between body chunks */
  timeout: z.prefault(duration.check(z.refine((ms) => ms > 0, 'must be longer than 0: a try that never ends would hold the app\'s call (requestTimeout: 0s lifts the whole-request limit)')), '10s'),
  /** until the final try's response head, retries and backoff included; default timeout × (1 + retry.attempts); 0: no limit */
  requestTimeout: z.optional(duration),
  connections: withDefault(positiveInt.check(z.maximum(4096)), 32),
  maxInflight: withDefault(positiveInt, 1000),
  ca: z.optional(z.string().check(z.minLength(1))),
  /** an https:// upstream: offer HTTP/2 by ALPN (the API picks); an h2c:// one always speaks it */
  http2: z.optional(z.boolean()),
  rateLimit: z.optional(upstreamRateLimit),
  /** route templates for the http_route label of client metrics and spans */
  routes: withDefault(z.array(z.string().check(z.startsWith('/', 'route templates start with "/"'))), []),
  retry,
  breaker,
});

// Exchange limits; 0 is no limit (docs/ingress.md, "Timeouts").
const exchangeTimeouts = {
  /** from the request body fully received until the response head, then 504 */
  timeout: z.prefault(duration, '30s'),
  /** the longest silence while a body moves, either way */
  idleTimeout: z.prefault(duration, '5m'),
  /** the whole exchange; off when absent */
  maxDuration: z.optional(duration),
};
const routeTimeouts = { timeout: z.optional(duration), idleTimeout: z.optional(duration), maxDuration: z.optional(duration) };

const upstreamName = z.string().check(z.regex(UPSTREAM_NAME, UPSTREAM_NAME_RULE));

export const configSchema = z.strictObject({
  service: z.optional(z.string().check(z.minLength(1))),
  ingress: section({
    listen: z.prefault(listen, '0.0.0.0:15080'),
    app: z.prefault(httpUrl, 'http://127.0.0.1:8080'),
    ...exchangeTimeouts,
    routes: withDefault(z.array(route), []),
    rateLimit: z.optional(ingressRateLimit),
    /** the same limits for the exchanges of one route (its template is added to `routes`) */
    routeTimeouts: withDefault(z.record(routeTemplate, z.strictObject(routeTimeouts)), {}),
  }),
  egress: section({
    listen: z.prefault(loopbackListen, '127.0.0.1:15081'),
    upstreams: withDefault(z.record(upstreamName, upstream), {}),
    /** CONNECT tunnels to the configured upstreams' hosts (HTTPS_PROXY clients) */
    tunnels: section({
      enabled: withDefault(z.boolean(), true),
      /** a tunnel with no byte either way for this long is closed (so abandoned ones cannot pile up) */
      idleTimeout: z.prefault(duration.check(z.refine((ms) => ms > 0, 'must be longer than 0: idle tunnels are always closed in the end')), '5m'),
    }),
  }),
  admin: section({
    listen: z.prefault(listen, '0.0.0.0:15090'),
    token: z.optional(z.string()),
    tap: section({
      /** concurrent GET /tap streams; 0 turns the tap off */
      maxClients: withDefault(nonNegativeInt.check(z.maximum(1000)), 8),
      /** per client: lines beyond this rate are dropped and counted */
      maxLinesPerSecond: withDefault(positiveInt, 1000),
      /** per client: bytes waiting on a slow socket before new lines are dropped */
      maxBufferBytes: withDefault(z.int().check(z.minimum(1024)), 256 * 1024),
    }),
  }),
  readiness: section({
    path: z.optional(z.string().check(z.startsWith('/'))),
    /** ask the app grpc.health.v1.Health/Check instead (an h2c:// app); `grpcService` is the service asked about, none: the whole server */
    grpcHealth: withDefault(z.boolean(), false),
    grpcService: z.optional(z.string()),
    interval: z.prefault(duration, '5s'),
    timeout: z.prefault(duration, '1s'),
  }),
  drain: section({
    delay: z.prefault(duration, '0s'),
    timeout: z.prefault(duration, '25s'),
  }),
  tracing: section({
    exporter: withDefault(z.enum(['otlp', 'console', 'none']), 'otlp'),
    sampleRatio: withDefault(number(0, 1), 1),
  }),
  grpc: section({
    /** gRPC statuses that are the server's fault: RED error rates, error spans and the egress breakers count them */
    errorCodes: withDefault(z.array(z.enum(GRPC_STATUS_NAMES)), [...DEFAULT_GRPC_ERROR_CODES]),
  }),
  metrics: section({
    enabled: withDefault(z.boolean(), true),
    maxSeries: withDefault(positiveInt, 2000),
    /** counters derived from traffic (sms_sent_total, auth_failures_total, …), by their Prometheus names */
    counters: withDefault(z.record(derivedCounterName, derivedCounter), {}),
  }),
  logging: section({
    level: withDefault(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
    accessLog: withDefault(z.boolean(), true),
    /** the query string can hold tokens and personal data; it is logged only when asked for */
    logQuery: withDefault(z.boolean(), false),
  }),
  limits: section({
    maxHeaderBytes: withDefault(positiveInt.check(z.maximum(1024 * 1024)), 16384),
    /** HTTP/2 streams one client connection may have open at once (the SETTINGS it is sent) */
    maxConcurrentStreams: withDefault(positiveInt.check(z.maximum(10000)), 100),
    maxInflight: withDefault(positiveInt, 10000),
  }),
});

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type UpstreamConfig = ParsedConfig['egress']['upstreams'][string];
export type IngressRateLimit = z.output<typeof ingressRateLimit>;
export type RouteConfig = z.output<typeof route>;
export type DerivedCounterConfig = z.output<typeof derivedCounter>;
