// CONNECT tunnels in the live view, through the built CLI with real sockets: GET /stats has a
// row per upstream that takes tunnels (open now, opens, the share established, bytes per second
// each way) and `sidelight stat` shows it as a table of its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsReport } from '../../src/stats/live-stats.js';
import { send, until } from '../helpers/http.js';
import { runCli, startSidelight, type RunningSidelight } from '../helpers/sidelight.js';
import { connectThrough, freePort, startTcpServer, type TcpServer } from '../helpers/tunnel.js';

const stats = async (admin: string) => JSON.parse((await send(`${admin}/stats`)).body) as StatsReport;

describe('tunnels in /stats and sidelight stat', () => {
  let echo: TcpServer;
  let sl: RunningSidelight;
  beforeAll(async () => {
    let refusedPort: number;
    [echo, refusedPort] = await Promise.all([startTcpServer('echo'), freePort()]);
    sl = await startSidelight({
      config: {
        egress: {
          upstreams: {
            echo: { url: `http://127.0.0.1:${echo.port}`, hosts: ['echo.example'] },
            refused: { url: `http://127.0.0.1:${refusedPort}`, hosts: ['refused.example'], breaker: { enabled: false } },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await sl?.stop();
    await echo?.close();
  });

  it('lists every upstream that takes tunnels, with nothing open yet', async () => {
    const s = await stats(sl.admin);
    expect(s.tunnels.map((t) => t.upstream).sort()).toEqual(['echo', 'refused']);
    expect(s.tunnels.find((t) => t.upstream === 'echo')).toMatchObject({ open: 0, '1m': { opened: 0, establishedRatio: null } });
  });

  it('counts open tunnels, opens, the share established and the bytes each way', async () => {
    const open = await connectThrough(sl.egress, 'echo.example:443');
    expect(open.status).toBe(200);
    const back = new Promise<void>((resolve) => {
      let got = 0;
      open.socket.on('data', (d: Buffer) => (got += d.length) >= 4096 && resolve());
    });
    open.socket.write(Buffer.alloc(4096, 1));
    await back;
    const refused = await connectThrough(sl.egress, 'refused.example:443');
    expect(refused.status).toBe(502);

    const s = await until(async () => {
      const doc = await stats(sl.admin);
      const echoRow = doc.tunnels.find((t) => t.upstream === 'echo');
      return echoRow?.['10s'].sentBytesPerSecond && doc.tunnels.find((t) => t.upstream === 'refused')?.['10s'].opened ? doc : undefined;
    }, 10_000, 'the sampler to take in the tunnels');
    const echoRow = s.tunnels.find((t) => t.upstream === 'echo')!;
    expect(echoRow).toMatchObject({ open: 1, '10s': { opened: 1, establishedRatio: 1 } });
    expect(echoRow['10s'].sentBytesPerSecond! * echoRow['10s'].seconds).toBeCloseTo(4096, 0);
    expect(echoRow['10s'].receivedBytesPerSecond! * echoRow['10s'].seconds).toBeCloseTo(4096, 0);
    expect(s.tunnels.find((t) => t.upstream === 'refused')).toMatchObject({ open: 0, '10s': { opened: 1, establishedRatio: 0 } });

    const { code, stdout } = await runCli(['stat', '--admin', sl.admin, '--window', '1m']);
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    const header = lines.findIndex((l) => l.startsWith('TUNNELS (egress CONNECT)'));
    const rows = lines.slice(header + 1);
    expect(lines[header]).toMatch(/^TUNNELS \(egress CONNECT\) +OPEN +OPENS\/S +ESTABLISHED +SENT +RECEIVED$/);
    expect(rows.find((l) => l.startsWith('echo '))).toMatch(/^echo +1 +[\d.]+ +100\.00% +[\d.]+(?:B|KiB)\/s +[\d.]+(?:B|KiB)\/s$/);
    expect(rows.find((l) => l.startsWith('refused '))).toMatch(/^refused +0 +[\d.]+ +0\.00% +0B\/s +0B\/s$/);
    open.socket.destroy();
  });
});
