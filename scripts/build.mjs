#!/usr/bin/env node
// Builds dist/: the CLI and everything it imports (node_modules included) bundled by esbuild into
// dist/cli.js, with each lazily imported command (inject, tap, stat, check) and the YAML parser in
// chunks of their own. One file to load instead of ~400 is faster to start and smaller at idle
// (bench/RESULTS.md, "Start-up and idle memory"). Types are checked by
// `npm run typecheck` (tsc), not here. Identifiers are not minified, so stack traces keep their names.
import { build } from 'esbuild';
import { chmodSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// Node's built-ins are taken with require(), never with an ES import: importing a built-in as ESM makes
// Node build a module facade that reads every export, lazy getters included (nodejs/node#59686). On
// Node 22+, node:http's getters load Node's internal copy of undici (start-up time on Node 24), and
// node:tls's `rootCertificates` parses the whole CA store on every Node.
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'import-statement' ? { path: args.path, namespace: 'builtin' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};
rmSync(`${root}dist`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.18',
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS dependencies (undici, pino, prom-client) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __sidelightRequire } from 'node:module'; const require = __sidelightRequire(import.meta.url);" },
  legalComments: 'none',
  // Whitespace and syntax only: V8 keeps every script's source in the heap, so a smaller bundle
  // is a smaller idle RSS. Names are kept for stack traces.
  minifyWhitespace: true,
  // `--sourcemap` writes dist/**/*.js.map beside the same code, for bench/profile-summary.mjs to name a profile's sources.
  sourcemap: process.argv.includes('--sourcemap') ? 'external' : false,
  minifySyntax: true,
  logLevel: 'warning',
  plugins: [builtinsByRequire],
});
chmodSync(`${root}dist/cli.js`, 0o755);
