// The config file's shape, validated once at the edge into typed objects.
// Unknown keys are errors (strictObject): a typo must never be silently ignored.
import { z } from 'zod';
import { duration, httpUrl, listen } from './values.js';

const nonNegativeInt = z.number().int().min(0);
const positiveInt = z.number().int().min(1);

const retry = z
  .strictObject({
    attempts: nonNegativeInt.max(10).default(2),
    backoff: duration.prefault('100ms'),
    maxBackoff: duration.prefault('2s'),
    /** retries may be at most this share of requests per upstream over the breaker's rolling window */
    budgetPercent: z.number().min(0).max(100).default(20),
    /** retries always allowed per rolling window, so a quiet upstream still gets its retries */
    budgetMinRetries: nonNegativeInt.default(10),
    /** a request body larger than this is streamed and never replayed */
    maxBodyBytes: nonNegativeInt.default(64 * 1024),
  })
  .prefault({});

const breaker = z
  .strictObject({
    enabled: z.boolean().default(true),
    errorThresholdPercentage: z.number().min(1).max(100).default(50),
    volumeThreshold: nonNegativeInt.default(10),
    resetTimeout: duration.prefault('30s'),
    rollingWindow: duration.prefault('10s'),
    /** upstream statuses that count as failures; 4xx are the caller's problem */
    failureStatuses: z.array(z.number().int().min(500).max(599)).optional(),
  })
  .prefault({});

const upstream = z.strictObject({
  url: httpUrl,
  hosts: z.array(z.string().min(1)).optional(),
  listen: listen.optional(),
  timeout: duration.prefault('10s'),
  /** whole request, retries and backoff included; default timeout × (1 + retry.attempts) */
  requestTimeout: duration.optional(),
  connections: positiveInt.max(4096).default(32),
  maxInflight: positiveInt.default(1000),
  ca: z.string().min(1).optional(),
  retry,
  breaker,
});

const upstreamName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'upstream names are lowercase letters, digits, "-" and "_"');

export const configSchema = z.strictObject({
  service: z.string().min(1).optional(),
  ingress: z
    .strictObject({
      listen: listen.prefault('0.0.0.0:15080'),
      app: httpUrl.prefault('http://127.0.0.1:8080'),
      timeout: duration.prefault('30s'),
      routes: z.array(z.string().startsWith('/', 'route templates start with "/"')).default([]),
    })
    .prefault({}),
  egress: z
    .strictObject({
      listen: listen.prefault('127.0.0.1:15081'),
      upstreams: z.record(upstreamName, upstream).default({}),
      /** CONNECT tunnels to the configured upstreams' hosts (HTTPS_PROXY clients) */
      tunnels: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** a tunnel with no byte either way for this long is closed (so abandoned ones cannot pile up) */
          idleTimeout: duration.refine((ms) => ms > 0, 'must be longer than 0: idle tunnels are always closed in the end').prefault('5m'),
        })
        .prefault({}),
    })
    .prefault({}),
  admin: z
    .strictObject({
      listen: listen.prefault('0.0.0.0:15090'),
      token: z.string().optional(),
      tap: z
        .strictObject({
          /** concurrent GET /tap streams; 0 turns the tap off */
          maxClients: nonNegativeInt.max(1000).default(8),
          /** per client: lines beyond this rate are dropped and counted */
          maxLinesPerSecond: positiveInt.default(1000),
          /** per client: bytes waiting on a slow socket before new lines are dropped */
          maxBufferBytes: positiveInt.min(1024).default(256 * 1024),
        })
        .prefault({}),
    })
    .prefault({}),
  readiness: z
    .strictObject({
      path: z.string().startsWith('/').optional(),
      interval: duration.prefault('5s'),
      timeout: duration.prefault('1s'),
    })
    .prefault({}),
  drain: z
    .strictObject({
      delay: duration.prefault('0s'),
      timeout: duration.prefault('25s'),
    })
    .prefault({}),
  tracing: z
    .strictObject({
      exporter: z.enum(['otlp', 'console', 'none']).default('otlp'),
      sampleRatio: z.number().min(0).max(1).default(1),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true),
      maxSeries: positiveInt.default(2000),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      accessLog: z.boolean().default(true),
      /** the query string can hold tokens and personal data; it is logged only when asked for */
      logQuery: z.boolean().default(false),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxHeaderBytes: positiveInt.max(1024 * 1024).default(16384),
      maxInflight: positiveInt.default(10000),
    })
    .prefault({}),
});

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type UpstreamConfig = ParsedConfig['egress']['upstreams'][string];
