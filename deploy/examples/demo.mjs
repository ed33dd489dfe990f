// npm run demo: the demo app and sidelight in front of it, with the commands to try.
// DEMO_PORT_OFFSET=N moves all five ports by N (15080 ingress, 15081 egress, 15090 admin, 18080
// the app, 18081 the fake payments API); both children get them as variables (sidelight.yaml
// reads them). Ctrl-C drains sidelight and stops the app. The children get their own process group, so the
// terminal's SIGINT reaches only this script, which sends each exactly one SIGTERM.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const config = here('./sidelight.yaml');

const offset = Number(process.env.DEMO_PORT_OFFSET ?? 0);
if (!Number.isInteger(offset) || offset < -15000 || offset > 47000) {
  console.error(`DEMO_PORT_OFFSET: "${process.env.DEMO_PORT_OFFSET}" must be a whole number that keeps the ports (15080…18081) between 80 and 65535`);
  process.exit(2);
}
const port = { ingress: 15080 + offset, egress: 15081 + offset, admin: 15090 + offset, app: 18080 + offset, payments: 18081 + offset };
const env = {
  ...process.env,
  DEMO_INGRESS_PORT: String(port.ingress),
  DEMO_EGRESS_PORT: String(port.egress),
  DEMO_ADMIN_PORT: String(port.admin),
  DEMO_APP_PORT: String(port.app),
  DEMO_PAYMENTS_PORT: String(port.payments),
  DEMO_EGRESS: `http://127.0.0.1:${port.egress}`,
};

const app = spawn(process.execPath, [here('./demo-app.mjs')], { stdio: ['ignore', 'inherit', 'inherit'], detached: true, env });
const sidelight = spawn(process.execPath, [here('../../dist/cli.js'), 'run', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'], detached: true, env });
const ingress = `http://127.0.0.1:${port.ingress}`;
const admin = `http://127.0.0.1:${port.admin}`;

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

  curl -i ${ingress}/api/items/42                          # note X-Request-ID
  curl -i -H 'X-Request-ID: my-id-123' ${ingress}/api/cart  # kept and echoed
  curl -i ${ingress}/api/checkout                          # app -> egress -> fake payments API
  curl -i -X POST ${env.DEMO_EGRESS}/payments/v1/charges           # egress directly
  curl -s ${admin}/metrics | grep http_server            # Prometheus
  curl -s ${admin}/ready
  curl -s ${admin}/health
  curl -s ${admin}/config

  open ${admin}/ in a browser                          # the admin page: live charts, breakers, failures
  npx sidelight stat --admin ${admin} --watch          # rates, success and latency per route and upstream
  npx sidelight tap --admin ${admin}                   # every request as it finishes (another terminal)

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
