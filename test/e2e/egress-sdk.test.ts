// The real stripe and twilio SDKs, pointed at sidelight's egress the way the README says, in
// front of a local HTTPS fake: the SDKs' own headers arrive intact, sidelight originates TLS,
// and when the breaker is open the SDKs get its fast 503 instead of hanging. An API's 429 (Stripe's
// rate_limit error, Twilio's 20429) with Retry-After: retried after the advised wait when the
// request may be retried, else passed on, and the upstream's limiter then holds the next calls.
import Stripe from 'stripe';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeApi, type FakeApi } from '../helpers/fake-api.js';
import { send } from '../helpers/http.js';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';

describe('real SDKs through sidelight', () => {
  let api: FakeApi;
  let sl: RunningSidelight;
  beforeAll(async () => {
    api = await startFakeApi();
    sl = await startSidelight({
      config: {
        egress: {
          upstreams: {
            // In production: url https://api.stripe.com (system CAs), no `ca`.
            stripe: { url: api.url, hosts: ['api.stripe.com'], ca: api.caFile, listen: '127.0.0.1:0', retry: { attempts: 0 } },
            twilio: { url: api.url, hosts: ['api.twilio.com'], ca: api.caFile, retry: { attempts: 0 }, rateLimit: { rps: 1000, maxWait: '0s' } },
            // retries on: a 429 with Retry-After is retried after the advised wait
            'stripe-retrying': { url: api.url, hosts: ['stripe-retrying.test'], ca: api.caFile, listen: '127.0.0.1:0', retry: { attempts: 2, backoff: '10ms' } },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await sl?.stop();
    await api?.close();
  });

  const stripeClient = (listener = 'egress:stripe') => {
    const { hostname, port } = new URL(sl.url[listener]);
    return new Stripe('sk_test_sidelight_4242', { host: hostname, port: Number(port), protocol: 'http', maxNetworkRetries: 0 });
  };

  /** Twilio's SDK has no host/protocol option: a RequestClient that sends to the /twilio prefix. */
  class SidecarRequestClient extends twilio.RequestClient {
    override request<TData>(opts: RequestClient.RequestOptions<TData>) {
      return super.request<TData>({ ...opts, uri: opts.uri.replace(/^https:\/\/api\.twilio\.com/, `${sl.egress}/twilio`) });
    }
  }
  const twilioClient = () => twilio('AC00000000000000000000000000000000', 'twilio_auth_token_secret', { httpClient: new SidecarRequestClient() });

  it('stripe-node (host/port/protocol → the dedicated listener): Authorization, Stripe-Version and Idempotency-Key arrive intact', async () => {
    api.reset();
    const stripe = stripeClient();
    const customer = await stripe.customers.create({ email: 'a@example.com' }, { idempotencyKey: 'idem-key-42' });
    expect(customer.id).toBe('obj_1');
    const got = api.requests[0];
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/v1/customers');
    expect(got.headers.authorization).toBe('Bearer sk_test_sidelight_4242');
    expect(got.headers['stripe-version']).toBe(Stripe.API_VERSION);
    expect(got.headers['idempotency-key']).toBe('idem-key-42');
    expect(got.headers['user-agent']).toMatch(/^Stripe\/v1 NodeBindings/);
    expect(got.headers['x-request-id']).toBeTruthy();
    expect(got.body).toBe('email=a%40example.com');
  });

  it('twilio-node (prefix route): Basic auth, form body and its User-Agent arrive intact', async () => {
    api.reset();
    const client = twilioClient();
    await client.messages.create({ to: '+15005550006', from: '+15005550001', body: 'hello through sidelight' });
    const got = api.requests[0];
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json');
    expect(got.headers.authorization).toBe(`Basic ${Buffer.from('AC00000000000000000000000000000000:twilio_auth_token_secret').toString('base64')}`);
    expect(got.headers['user-agent']).toMatch(/^twilio-node\//);
    expect(new URLSearchParams(got.body).get('Body')).toBe('hello through sidelight');
    expect(got.headers.host).toBe(`localhost:${api.port}`);
  });

  it('both SDKs get the breaker\'s fast 503 while the circuit is open, and the API sees nothing', async () => {
    for (const name of ['stripe', 'twilio']) expect((await send(`${sl.admin}/circuit-breakers/${name}/open`, { method: 'POST' })).status).toBe(200);
    api.reset();
    try {
      const started = performance.now();
      const stripeError = await stripeClient()
        .charges.create({ amount: 2000, currency: 'usd' })
        .then(() => undefined, (err: unknown) => err as { statusCode?: number; headers?: Record<string, string> });
      expect(stripeError?.statusCode).toBe(503);
      const twilioError = await twilioClient()
        .messages.create({ to: '+15005550006', from: '+15005550001', body: 'x' })
        .then(() => undefined, (err: unknown) => err as { status?: number });
      expect(twilioError?.status).toBe(503);
      // Fast: nowhere near any timeout (generous bound; a hang would be 10 s+).
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(api.requests).toHaveLength(0);
      expect(api.connections()).toBe(0);
    } finally {
      for (const name of ['stripe', 'twilio']) await send(`${sl.admin}/circuit-breakers/${name}/reset`, { method: 'POST' });
    }
  });

  it("stripe-node: Stripe's 429 rate_limit with Retry-After is retried after the advised wait, and the SDK gets the customer", async () => {
    api.reset();
    api.failNext(1, { kind: 'rate-limited', vendor: 'stripe', retryAfter: '1' });
    const customer = await stripeClient('egress:stripe-retrying').customers.create({ email: 'b@example.com' }, { idempotencyKey: 'idem-429' });
    expect(customer.id).toBe('obj_2');
    expect(api.requests.map((r) => r.headers['idempotency-key'])).toEqual(['idem-429', 'idem-429']);
    expect(api.requests[1].at - api.requests[0].at).toBeGreaterThanOrEqual(990);
  });

  it("stripe-node: without a retry the SDK reads Stripe's own 429 as a StripeRateLimitError", async () => {
    api.reset();
    api.failNext(1, { kind: 'rate-limited', vendor: 'stripe', retryAfter: '1' });
    const err = await stripeClient()
      .charges.create({ amount: 2000, currency: 'usd' })
      .then(() => undefined, (e: unknown) => e as { type?: string; code?: string; statusCode?: number });
    expect(err).toMatchObject({ type: 'StripeRateLimitError', code: 'rate_limit', statusCode: 429 });
  });

  it("twilio-node: Twilio's 20429 reaches the SDK, and the limiter holds the next call for the advised time without the API hearing it", async () => {
    api.reset();
    api.failNext(1, { kind: 'rate-limited', vendor: 'twilio', retryAfter: '30' });
    const sendSms = () =>
      twilioClient()
        .messages.create({ to: '+15005550006', from: '+15005550001', body: 'x' })
        .then(() => undefined, (e: unknown) => e as { status?: number; code?: number; message?: string });
    expect(await sendSms()).toMatchObject({ status: 429, code: 20429 });
    const held = await sendSms();
    expect(held?.status).toBe(429);
    expect(held?.message).toMatch(/twilio is limited/);
    expect(api.requests).toHaveLength(1);
  });
});
