// The retry interceptor on a real undici Pool against a real local server: a retry whose
// backoff would not fit in what is left of the request is not made, and backoff waits are
// at least the jittered delay.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryBudget } from '../../src/egress/retry-budget.js';
import { retryInterceptor, type RetryOptions } from '../../src/egress/dispatch/retry.js';
import { ForwardedRequest, TryContext, type ProxyDispatchOptions } from '../../src/proxy/layer.js';

let server: Server;
let origin: string;
const arrivals: number[] = [];

beforeAll(async () => {
  server = createServer((_req, res) => {
    arrivals.push(performance.now());
    res.writeHead(503, { 'content-length': '2' });
    res.end('no');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function run(options: Partial<RetryOptions>, deadlineInMs: number): Promise<{ status: number; tries: number }> {
  arrivals.length = 0;
  const pool = new Pool(origin);
  const budget = new RetryBudget(100, 100, 10_000);
  const dispatcher = pool.compose(
    retryInterceptor({ upstream: 'test', attempts: 2, backoff: 1000, maxBackoff: 1000, maxBodyBytes: 1024, random: () => 0.5, ...options }, budget, []),
  );
  // The request's body is all in now, and its final head is due within deadlineInMs.
  const body = { requestEndedAt: performance.now(), limits: { head: deadlineInMs, idle: Infinity, max: Infinity } };
  const request = new ForwardedRequest('id', undefined, 0, false, '', body as never, { tried: () => {} });
  return new Promise((resolve, reject) => {
    let status = 0;
    // onRequestStart marks it as a new-API handler for undici's compose
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: () => {},
      onResponseStart: (_c, s) => void (status = s),
      onResponseData: () => {},
      onResponseEnd: () => {
        void pool.close();
        resolve({ status, tries: arrivals.length });
      },
      onResponseError: (_c, err) => {
        void pool.close();
        reject(err);
      },
    };
    const opts: ProxyDispatchOptions = { origin, path: '/', method: 'GET', headers: [], context: new TryContext(request, 0, undefined) };
    dispatcher.dispatch(opts, handler);
  });
}

describe('retry timing', () => {
  it('does not retry when the backoff would outlast the request deadline', async () => {
    // jittered delay = 0.5 × 1000 ms = 500 ms, but only ~100 ms are left
    expect(await run({}, 100)).toEqual({ status: 503, tries: 1 });
  });

  it('retries after at least the jittered delay when there is time', async () => {
    const result = await run({ backoff: 100, maxBackoff: 100 }, 10_000);
    expect(result).toEqual({ status: 503, tries: 3 });
    // retry n waits random × min(maxBackoff, backoff × 2^(n-1)) = 50 ms (lower bound; timers never fire early)
    expect(arrivals[1] - arrivals[0]).toBeGreaterThanOrEqual(49);
    expect(arrivals[2] - arrivals[1]).toBeGreaterThanOrEqual(49);
  });
});
