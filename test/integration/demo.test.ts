// `npm run demo` (deploy/examples/demo.mjs) as a newcomer runs it, moved off its default ports by
// the one setting DEMO_PORT_OFFSET: the app, the fake payments API and all three sidelight
// listeners move together, and the "Try:" list names the moved ports, the admin page, stat and tap.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { send, until } from '../helpers/http.js';
import { runCli } from '../helpers/sidelight.js';

const DEMO = fileURLToPath(new URL('../../deploy/examples/demo.mjs', import.meta.url));
const DEFAULT_PORTS = [15080, 15081, 15090, 18080, 18081];

/** true when nothing listens on 127.0.0.1:port */
function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** An offset that moves all five demo ports onto free ones. */
async function freeOffset(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const offset = 20_000 + Math.floor(Math.random() * 2_000) * 10;
    if ((await Promise.all(DEFAULT_PORTS.map((p) => free(p + offset)))).every(Boolean)) return offset;
  }
  throw new Error('no free block of demo ports');
}

let demo: ChildProcess | undefined;
afterAll(async () => {
  if (demo && demo.exitCode === null) {
    demo.kill('SIGTERM');
    await once(demo, 'exit');
  }
});

describe('npm run demo with DEMO_PORT_OFFSET', () => {
  it('moves every port by the offset, and the Try list names them, the admin page, stat and tap', async () => {
    const offset = await freeOffset();
    const [ingress, egress, admin] = [15080, 15081, 15090].map((p) => `http://127.0.0.1:${p + offset}`);
    demo = spawn(process.execPath, [DEMO], { env: { ...process.env, DEMO_PORT_OFFSET: String(offset), OTEL_TRACES_EXPORTER: 'none' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    demo.stdout!.on('data', (d: Buffer) => (out += d));
    demo.stderr!.on('data', (d: Buffer) => (out += d));
    await until(() => out.includes('Ctrl-C drains sidelight'), 20_000, "the demo's Try list");

    expect(out).toContain(`demo app on http://127.0.0.1:${18080 + offset}, fake payments API on http://127.0.0.1:${18081 + offset}`);
    const tryList = out.slice(out.indexOf('Try:'));
    for (const port of DEFAULT_PORTS) expect(tryList).not.toContain(`:${port}/`);
    expect(tryList).toContain(`curl -i ${ingress}/api/checkout`);
    expect(tryList).toContain(`curl -i -X POST ${egress}/payments/v1/charges`);
    expect(tryList).toContain(`open ${admin}/ in a browser`);
    expect(tryList).toContain(`npx sidelight stat --admin ${admin} --watch`);
    expect(tryList).toContain(`npx sidelight tap --admin ${admin}`);

    // ingress → the app → egress → the fake payments API, all on the moved ports
    const checkout = await until(async () => {
      const res = await send(`${ingress}/api/checkout`);
      return res.status === 200 ? res : undefined;
    }, 10_000, 'the app to be ready behind sidelight');
    expect(JSON.parse(checkout.body)).toMatchObject({ payment: { status: 200 } });
    expect((await send(`${admin}/`)).status).toBe(200);
    const stat = await runCli(['stat', '--admin', admin]);
    expect(stat.code, stat.stderr).toBe(0);
    expect(stat.stdout).toMatch(/^payments +closed /m);

    demo.kill('SIGTERM');
    const [code] = (await once(demo, 'exit')) as [number | null];
    expect(code).toBe(0);
  });
});
