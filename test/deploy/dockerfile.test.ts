// The Dockerfile without Docker: its shape (stages, user, healthcheck, entrypoint, ports) and a
// reproduction of its runtime stage — dist/ alone, no node_modules — started as the image's
// non-root user, so a dependency the bundle left out (a dynamic require) fails here.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');
const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));

/** instructions of one stage: from its FROM line to the next */
function stage(name: string): string[] {
  const start = lines.findIndex((l) => new RegExp(`^FROM\\s+\\S+\\s+AS\\s+${name}$`, 'i').test(l.trim()));
  if (start < 0) throw new Error(`no stage ${name}`);
  const end = lines.findIndex((l, i) => i > start && /^FROM\s/i.test(l));
  return lines.slice(start, end < 0 ? undefined : end);
}

describe('Dockerfile', () => {
  it('is multi-stage on Node 24 with a numeric non-root user, healthcheck, entrypoint and ports', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    for (const s of ['build', 'runtime']) expect(stage(s)[0]).toMatch(/^FROM \$\{NODE_IMAGE\} AS/);
    expect(stage('build').join('\n')).toMatch(/node scripts\/build\.mjs/);
    const runtime = stage('runtime');
    const user = runtime.find((l) => l.startsWith('USER '));
    expect(user).toMatch(/^USER [1-9]\d*:[1-9]\d*$/);
    expect(runtime.indexOf(user!)).toBeGreaterThan(runtime.findIndex((l) => l.startsWith('RUN ')));
    expect(runtime).toContain('EXPOSE 15080 15081 15090');
    expect(runtime).toContain('ENTRYPOINT ["sidelight"]');
    expect(runtime).toContain('CMD ["run"]');
    expect(runtime.find((l) => l.startsWith('HEALTHCHECK'))).toMatch(/http:\/\/127\.0\.0\.1:15090\/live/);
    // The runtime stage gets exactly the bundle.
    expect(runtime.filter((l) => l.startsWith('COPY'))).toEqual(['COPY --from=build /opt/sidelight/dist ./dist']);
  });

  it('.dockerignore lets in only what the build needs', () => {
    const ignore = readFileSync(`${ROOT}.dockerignore`, 'utf8');
    expect(ignore).toMatch(/^\*\*$/m);
    for (const keep of ['package.json', 'package-lock.json', 'scripts/build.mjs', 'src/**']) expect(ignore).toContain(`!${keep}`);
  });

  describe('runtime stage, reproduced without Docker', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sidelight-runtime-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('is dist alone, within the size budget, and runs as uid 10001 from /', { timeout: 120_000 }, async () => {
      // scripts/image-size.mjs copies dist and measures it.
      const report = JSON.parse(execFileSync(process.execPath, [`${ROOT}scripts/image-size.mjs`, '--dir', dir, '--json'], { encoding: 'utf8' })) as {
        totalMB: number;
        withinBudget: boolean;
      };
      console.log(`runtime stage adds ${report.totalMB} MB (budget 10 MB)`);
      expect(report.totalMB).toBeLessThanOrEqual(10);
      expect(readdirSync(dir)).toEqual(['dist']);

      // As root, drop to the image's user the way the container runtime would; the files are root's, read-only to it.
      const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid=10001', '--regid=10001', '--clear-groups', '--'] : [];
      if (asUser.length) chmodSync(dir, 0o755);
      const cmd = (args: string[]) => [...asUser, process.execPath, join(dir, 'dist', 'cli.js'), ...args];
      // The image's own environment: Node refuses to start on a flag NODE_OPTIONS may not carry.
      const imageEnv = Object.fromEntries(
        stage('runtime')
          .map((l) => /^ENV (\w+)=(.*)$/.exec(l))
          .filter((m) => m !== null)
          .map((m) => [m[1], m[2]]),
      );
      expect(imageEnv.NODE_OPTIONS).toMatch(/--max-semi-space-size=\d+/);
      const env = { PATH: process.env.PATH, NODE_ENV: 'production', OTEL_TRACES_EXPORTER: 'none', NODE_OPTIONS: imageEnv.NODE_OPTIONS };

      const [bin, ...versionArgs] = cmd(['--version']);
      const version = execFileSync(bin, versionArgs, { env, encoding: 'utf8', cwd: '/' }).trim();
      expect(version).toBe(JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).version);

      // The build-time warm-up of V8's compile cache runs from the bundle alone and succeeds (a
      // failing RUN fails the image build); Node 22+ writes the cache where NODE_COMPILE_CACHE says.
      const runtime = stage('runtime');
      const cacheEnv = runtime.find((l) => l.startsWith('ENV NODE_COMPILE_CACHE='));
      const warmUp = runtime.find((l) => l.startsWith('RUN node dist/cli.js '));
      expect(cacheEnv).toBeDefined();
      expect(runtime.indexOf(cacheEnv!)).toBeLessThan(runtime.indexOf(warmUp!));
      const cacheDir = join(dir, 'compile-cache');
      execFileSync('sh', ['-c', warmUp!.slice('RUN '.length)], { cwd: dir, env: { ...env, NODE_COMPILE_CACHE: cacheDir }, stdio: 'ignore' });
      if (Number(process.versions.node.split('.')[0]) >= 22) expect(readdirSync(cacheDir).length).toBeGreaterThan(0);

      const [runBin, ...runArgs] = cmd(['run', '--ingress', '127.0.0.1:0', '--egress', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
      const proc = spawn(runBin, runArgs, { env, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
      try {
        const admin = await new Promise<string>((resolve, reject) => {
          let out = '';
          let err = '';
          proc.stderr.on('data', (d: Buffer) => (err += d));
          proc.stdout.on('data', (d: Buffer) => {
            out += d;
            const m = /"admin":"([\d.]+:\d+)"/.exec(out);
            if (m) resolve(m[1]);
          });
          void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
        });
        const res = await fetch(`http://${admin}/live`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ status: 'alive' });
      } finally {
        proc.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
    });
  });
});
