// The config file's shape, validated once at the edge into typed objects.
// Unknown keys are errors (strictObject): a typo must never be silently ignored.
// zod/mini, not classic zod: the same validator and messages, and a small part of classic zod's
// load time on every start (bench/RESULTS.md has the figures).
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
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
  /** upstream statuses that count as failures; 4xx are the caller's problem */
  failureStatuses: z.optional(z.array(z.int().check(z.minimum(500), z.maximum(599)))),
});

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
const routeTemplate = z.string().check(z.startsWith('/', 'route templates start with "/"'));

const upstreamName = z.string().check(z.regex(UPSTREAM_NAME, UPSTREAM_NAME_RULE));

export const configSchema = z.strictObject({
  service: z.optional(z.string().check(z.minLength(1))),
  ingress: section({
    listen: z.prefault(listen, '0.0.0.0:15080'),
    app: z.prefault(httpUrl, 'http://127.0.0.1:8080'),
    ...exchangeTimeouts,
    routes: withDefault(z.array(routeTemplate), []),
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
  metrics: section({
    enabled: withDefault(z.boolean(), true),
    maxSeries: withDefault(positiveInt, 2000),
  }),
  logging: section({
    level: withDefault(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
    accessLog: withDefault(z.boolean(), true),
    /** the query string can hold tokens and personal data; it is logged only when asked for */
    logQuery: withDefault(z.boolean(), false),
  }),
  limits: section({
    maxHeaderBytes: withDefault(positiveInt.check(z.maximum(1024 * 1024)), 16384),
    maxInflight: withDefault(positiveInt, 10000),
  }),
});

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type UpstreamConfig = ParsedConfig['egress']['upstreams'][string];
