import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

describe('smoke: a request through the ingress', () => {
  let app: TestApp;
  let sl: RunningSidelight;
  beforeAll(async () => {
    app = await startTestApp();
    sl = await startSidelight({ args: ['--app', app.url] });
  });
  afterAll(async () => {
    await sl?.stop();
    await app?.close();
  });

  it('reaches the app and carries a request id both ways', async () => {
    const res = await fetch(`${sl.ingress}/echo?x=1`);
    const body = (await res.json()) as { headers: Record<string, string> };
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.headers['x-request-id']).toBe(res.headers.get('x-request-id'));
  });
});
