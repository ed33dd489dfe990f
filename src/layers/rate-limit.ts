// Ingress rate limits: ingress.rateLimit for every request and a route's own ({ path, rateLimit }),
// each a token bucket per key (one for all, one per client address, or one per value of a
// header). Over a limit the client gets 429 rate_limited with Retry-After at once; nothing waits.
// Per-key state is a capped LRU: past MAX_KEYS the least recently seen key is forgotten (its
// next request starts with a full bucket) and counted. A key is moved to the recent end at most
// once a generation (MAX_KEYS / 2 new keys), not on every request, so "least recently seen" is
// to within a generation. A header's value (an API key) is kept only as a 30-bit hash keyed by a
// random seed chosen at start: never the value itself, and no collisions can be prepared offline.
import { randomBytes } from 'node:crypto';
import type { IngressRateLimit, RouteConfig } from '../config/schema.js';
import { rejection } from '../errors.js';
import type { Exchange } from '../proxy/exchange.js';
import type { Layer } from '../proxy/layer.js';
import { retryAfterSeconds, TokenBucket } from '../proxy/token-bucket.js';

/** keys remembered per limit */
export const MAX_KEYS = 10_000;
const GENERATION_KEYS = MAX_KEYS / 2;

/** this process's hash seed */
const SEED = randomBytes(4).readUInt32LE(0);

/**
 * A header value's key: cyrb53 (a multiply-xorshift string hash), seeded, folded to 30 bits so
 * the key is a small integer (no allocation per request). Two of MAX_KEYS values share a bucket
 * with a chance of about 5 % at most; they then share its limit.
 */
function hashKey(text: string): number {
  let h1 = 0xdeadbeef ^ SEED;
  let h2 = 0x41c6ce57 ^ SEED;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h1 ^ (h2 << 7)) & 0x3fffffff;
}

/** a key's bucket, with the generation it was last moved to the recent end in */
class KeyBucket extends TokenBucket {
  seen = 0;
}

/** An ingress limit's state in GET /stats. */
export interface IngressLimitView {
  /** "ingress.rateLimit" or the route's template */
  scope: string;
  rps: number;
  burst: number;
  key: string;
  /** keys with a bucket now (at most MAX_KEYS), keys forgotten to stay there, requests refused */
  keys: number;
  evicted: number;
  refused: number;
  /** key "none": the tokens there now */
  tokens?: number;
}

/** one limit's buckets, by key */
export class KeyedLimit {
  /** keys forgotten to stay under MAX_KEYS */
  evicted = 0;
  /** requests refused */
  refused = 0;
  /** by client address, by header value's hash, or '' for the one shared bucket */
  private readonly buckets = new Map<string | number, KeyBucket>();
  private generation = 0;
  /** keys added in this generation */
  private added = 0;
  private readonly header: string | undefined;
  private readonly byClient: boolean;

  constructor(
    /** "ingress.rateLimit" or the route's template */
    readonly scope: string,
    readonly settings: IngressRateLimit,
  ) {
    this.byClient = settings.key === 'client';
    this.header = settings.key.startsWith('header:') ? settings.key.slice('header:'.length).toLowerCase() : undefined;
  }

  /** keys with a bucket now */
  get keys(): number {
    return this.buckets.size;
  }

  /** 0: within the limit (a token taken); else the ms to wait before one comes */
  take(ex: Exchange, now: number): number {
    const bucket = this.bucketOf(this.keyOf(ex), now);
    if (bucket.take(now) === 0) return 0;
    this.refused++;
    return Math.max(1, bucket.waitFor(now));
  }

  /** the tokens of the bucket every unkeyed request shares, or undefined when keyed */
  sharedTokens(now: number): number | undefined {
    return this.settings.key === 'none' ? (this.buckets.get('')?.available(now) ?? this.settings.burst) : undefined;
  }

  /** the state /stats shows */
  view(): IngressLimitView {
    const { rps, burst, key } = this.settings;
    const tokens = this.sharedTokens(performance.now());
    return { scope: this.scope, rps, burst, key, keys: this.keys, evicted: this.evicted, refused: this.refused, ...(tokens === undefined ? {} : { tokens: Math.round(tokens * 100) / 100 }) };
  }

  private keyOf(ex: Exchange): string | number {
    if (this.byClient) return ex.remoteAddress;
    if (this.header === undefined) return '';
    const value = ex.req.headers[this.header];
    if (value === undefined) return '';
    return hashKey(Array.isArray(value) ? value.join(',') : value);
  }

  private bucketOf(key: string | number, now: number): TokenBucket {
    const buckets = this.buckets;
    let bucket = buckets.get(key);
    if (bucket !== undefined) {
      if (bucket.seen !== this.generation) {
        // the Map's order is the LRU order: most recently seen last
        buckets.delete(key);
        buckets.set(key, bucket);
        bucket.seen = this.generation;
      }
      return bucket;
    }
    if (buckets.size >= MAX_KEYS) {
      buckets.delete(buckets.keys().next().value!);
      this.evicted++;
    }
    if (++this.added >= GENERATION_KEYS) {
      this.generation++;
      this.added = 0;
    }
    bucket = new KeyBucket(this.settings.rps, this.settings.burst, 0, now);
    bucket.seen = this.generation;
    buckets.set(key, bucket);
    return bucket;
  }
}

/** the configured limits, built once: the layer, /stats and the metrics read them */
export function ingressLimits(global: IngressRateLimit | undefined, routes: readonly RouteConfig[]): KeyedLimit[] {
  const limits: KeyedLimit[] = [];
  for (const r of routes) if (typeof r !== 'string' && r.rateLimit) limits.push(new KeyedLimit(r.path, r.rateLimit));
  if (global) limits.push(new KeyedLimit('ingress.rateLimit', global));
  return limits;
}

/**
 * After the route layer (a route's limit needs ex.route). `limited` hears each refusal. A
 * request passes a route's limit first, then the global one.
 */
export function rateLimitLayer(limits: readonly KeyedLimit[], limited: () => void): Layer {
  const byRoute = new Map<string, KeyedLimit>();
  let global: KeyedLimit | undefined;
  for (const l of limits) {
    if (l.scope === 'ingress.rateLimit') global = l;
    else byRoute.set(l.scope, l);
  }
  return {
    name: 'rate-limit',
    onRequest(ex) {
      // the request's arrival is the limiter's clock: no clock read of its own
      const now = ex.startedAt;
      let limit = byRoute.size === 0 || ex.route === '' ? undefined : byRoute.get(ex.route);
      let wait = limit === undefined ? 0 : limit.take(ex, now);
      if (wait === 0 && global !== undefined) {
        limit = global;
        wait = global.take(ex, now);
      }
      if (wait === 0) return undefined;
      limited();
      return rejection('rate_limited', `over the rate limit of ${limit!.settings.rps} requests per second (${limit!.scope})`, {
        headers: ['retry-after', retryAfterSeconds(wait)],
      });
    },
  };
}
