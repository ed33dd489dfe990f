// npm run demo: the demo app and sidelight in front of it, with the curl lines to try.
// Ctrl-C drains sidelight and stops the app. The children get their own process group, so the
// terminal's SIGINT reaches only this script, which sends each exactly one SIGTERM.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const config = here('./sidelight.yaml');

const app = spawn(process.execPath, [here('./demo-app.mjs')], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
const sidelight = spawn(process.execPath, [here('../../dist/cli.js'), 'run', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });

let shown = false;
let buffered = '';
sidelight.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  buffered += chunk;
  if (!shown && buffered.includes('"msg":"listening"')) {
    shown = true;
    buffered = '';
    console.log(`
sidelight is in front of the demo app. Try:

  curl -i http://127.0.0.1:15080/api/items/42                          # note X-Request-ID
  curl -i -H 'X-Request-ID: my-id-123' http://127.0.0.1:15080/api/cart  # kept and echoed
  curl -i http://127.0.0.1:15080/api/checkout                          # app -> egress -> fake payments API
  curl -i -X POST http://127.0.0.1:15081/payments/v1/charges           # egress directly
  curl -s http://127.0.0.1:15090/metrics | grep http_server            # Prometheus
  curl -s http://127.0.0.1:15090/ready
  curl -s http://127.0.0.1:15090/health
  curl -s http://127.0.0.1:15090/config

Ctrl-C drains sidelight and stops the app.
`);
  }
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  sidelight.kill('SIGTERM');
  app.kill('SIGTERM');
};
process.on('SIGINT', stop).on('SIGTERM', stop);

const exited = (p) => new Promise((resolve) => p.once('exit', (code, signal) => resolve(code ?? signal)));
const [slCode] = await Promise.all([
  exited(sidelight).then((code) => {
    if (!stopping) {
      console.error(`sidelight exited (${code}); stopping the demo app`);
      stop();
    }
    return code;
  }),
  exited(app).then((code) => {
    if (!stopping) {
      console.error(`demo app exited (${code}); stopping sidelight`);
      stop();
    }
  }),
]);
process.exit(typeof slCode === 'number' ? slCode : 0);
